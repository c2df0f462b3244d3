#!/usr/bin/env python3
"""Finds import cycles among the library's modules. Run by scripts/module-cycles.sh; see its header for the rules."""

import os
import re
import sys
from collections import defaultdict

KEYWORDS_ITEM = {"fn", "struct", "enum", "trait", "type", "const", "static", "union"}


def strip(text):
    """Blanks comments, string and char literals (keeping newlines and lifetimes), so only code is left."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        m = re.compile(r'b?r(#*)"').match(text, i)
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + m.group(1), m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:end]))
            i = end
            continue
        if c == '"' or (c == "b" and text.startswith('b"', i) and (i == 0 or not text[i - 1].isalnum())):
            j = i + (2 if c == "b" else 1)
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + re.sub(r"[^\n]", " ", text[i:j - 1 if j > i else j]))
            i = j + 1
            continue
        if c == "'":
            m = re.compile(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'").match(text, i)
            if m:
                out.append("' '")
                i = m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


TOKEN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*|::|#!?\[|[{}()\[\];,<>*=!&]|\n|\S")


def tokens(code):
    line = 1
    for m in TOKEN.finditer(code):
        t = m.group(0)
        if t == "\n":
            line += 1
            continue
        if t.startswith("$"):
            t = t[1:]
        yield t, line


class Module:
    def __init__(self, path, file, parent):
        self.path = path  # tuple of names below the crate root
        self.file = file
        self.parent = parent
        self.children = {}  # name -> Module
        self.items = set()  # names defined here
        self.imports = {}  # name -> (absolute path tuple, line, is_pub)
        self.globs = []  # absolute module paths glob-imported
        self.paths = []  # (relative path tuple, line) used in code
        self.names_used = defaultdict(int)  # bare identifiers, to see whether a re-export is also used here


def child_file(dir_of_children, name):
    for cand in (os.path.join(dir_of_children, name + ".rs"), os.path.join(dir_of_children, name, "mod.rs")):
        if os.path.exists(cand):
            return cand
    return None


def parse_file(module, file, include_tests, modules):
    code = strip(open(file, encoding="utf-8").read())
    toks = list(tokens(code))
    base = os.path.basename(file)
    if base in ("mod.rs", "lib.rs", "main.rs"):
        children_dir = os.path.dirname(file)
    else:
        children_dir = os.path.join(os.path.dirname(file), base[:-3])
    parse_tokens(module, toks, 0, len(toks), children_dir, include_tests, modules)


def skip_group(toks, i):
    """i at an opening bracket; returns the index after its match."""
    pairs = {"{": "}", "(": ")", "[": "]", "#[": "]", "#![": "]"}
    stack = [pairs[toks[i][0]]]
    i += 1
    while i < len(toks) and stack:
        t = toks[i][0]
        if t in ("{", "(", "[", "#[", "#!["):
            stack.append(pairs[t])
        elif stack and t == stack[-1]:
            stack.pop()
        i += 1
    return i


def parse_use(toks, i, prefix, out):
    """Parses a use tree starting at i; appends (path tuple, alias or None, line). Returns the index after it."""
    path = list(prefix)
    while i < len(toks):
        t, line = toks[i]
        if t == "{":
            i += 1
            while toks[i][0] != "}":
                i = parse_use(toks, i, path, out)
                if toks[i][0] == ",":
                    i += 1
            return i + 1
        if t == "*":
            out.append((tuple(path), "*", line))
            return i + 1
        if t == "::":
            i += 1
            continue
        if re.match(r"[A-Za-z_]", t):
            path.append(t)
            i += 1
            if i < len(toks) and toks[i][0] == "as":
                out.append((tuple(path), toks[i + 1][0], line))
                return i + 2
            if i >= len(toks) or toks[i][0] in (",", "}", ";"):
                alias = path[-2] if path[-1] == "self" else path[-1]
                out.append((tuple(path), alias, line))
                return i
            continue
        return i + 1
    return i


def parse_tokens(module, toks, i, end, children_dir, include_tests, modules):
    """Reads the items of one module body, toks[i:end]."""
    depth = 0
    attrs_test = False
    pending_pub = False
    while i < end:
        t, line = toks[i]
        if t in ("#[", "#!["):
            # Paths inside attributes count (`value_parser = crate::x::parse`); only `cfg(test)` is noted here.
            j = skip_group(toks, i)
            body = " ".join(x[0] for x in toks[i:j])
            if re.search(r"\bcfg\s*\(\s*test\s*\)", body):
                attrs_test = t == "#["
                if t == "#![" and depth == 0 and not include_tests:
                    module.test_only = True
            i += 1
            continue
        if t == "pub":
            pending_pub = True
            i += 1
            if i < end and toks[i][0] == "(":
                i = skip_group(toks, i)
            continue
        if t == "mod" and i + 1 < end and re.match(r"[A-Za-z_]", toks[i + 1][0]):
            name = toks[i + 1][0]
            skip = attrs_test and not include_tests
            attrs_test = pending_pub = False
            if i + 2 < end and toks[i + 2][0] == ";":
                if not skip and depth == 0:
                    f = child_file(children_dir, name)
                    if f:
                        child = Module(module.path + (name,), f, module)
                        module.children[name] = child
                        modules.append(child)
                        parse_file(child, f, include_tests, modules)
                i += 3
                continue
            if i + 2 < end and toks[i + 2][0] == "{":
                j = skip_group(toks, i + 2)
                if not skip and depth == 0:
                    child = Module(module.path + (name,), module.file, module)
                    module.children[name] = child
                    modules.append(child)
                    parse_tokens(child, toks, i + 3, j - 1, os.path.join(children_dir, name), include_tests, modules)
                i = j
                continue
        if t == "use":
            out = []
            j = parse_use(toks, i + 1, [], out)
            skip = attrs_test and not include_tests
            for path, alias, ln in out:
                if skip:
                    continue
                if alias == "*":
                    module.globs.append((path, ln))
                else:
                    module.imports[alias] = (path, ln, pending_pub and depth == 0)
            attrs_test = pending_pub = False
            while j < end and toks[j][0] != ";":
                j += 1
            i = j + 1
            continue
        if attrs_test and not include_tests and t in KEYWORDS_ITEM | {"impl", "{"}:
            # A test-only item: skip its body (up to its block or semicolon).
            j = i
            while j < end and toks[j][0] not in ("{", ";"):
                j += 1
            i = skip_group(toks, j) if j < end and toks[j][0] == "{" else j + 1
            attrs_test = pending_pub = False
            continue
        if depth == 0 and t in KEYWORDS_ITEM and i + 1 < end and re.match(r"[A-Za-z_]", toks[i + 1][0]):
            name = toks[i + 1][0]
            if not (t in ("const", "static") and name in ("fn", "mut", "unsafe")):
                module.items.add(name)
            elif i + 2 < end:
                module.items.add(toks[i + 2][0])
        if depth == 0 and t == "macro_rules" and i + 2 < end:
            module.items.add(toks[i + 2][0])
        if t in ("{", "("):
            depth += 1
        elif t in ("}", ")"):
            depth -= 1
        if t == ";" or t == "}":
            attrs_test = False
            pending_pub = False
        # A path: ident (:: ident)+, not preceded by `::` (that is the middle of a longer one).
        if re.match(r"[A-Za-z_]", t) and t not in ("use", "mod") and (i == 0 or toks[i - 1][0] != "::"):
            segs = [t]
            j = i + 1
            while j + 1 < end and toks[j][0] == "::" and re.match(r"[A-Za-z_]", toks[j + 1][0]):
                segs.append(toks[j + 1][0])
                j += 2
            if len(segs) > 1:
                module.paths.append((tuple(segs), line))
            else:
                module.names_used[t] += 1
        i += 1


class Resolver:
    def __init__(self, root):
        self.root = root

    def module_at(self, path):
        m = self.root
        for s in path:
            m = m.children.get(s)
            if m is None:
                return None
        return m

    def absolute(self, module, segs):
        """Turns a path as written in `module` into an absolute one, or None if it leaves the crate."""
        segs = list(segs)
        if segs[0] == "crate":
            return tuple(segs[1:])
        if segs[0] in ("super", "self"):
            base = module
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    base = base.parent if base.parent else base
                segs.pop(0)
            return base.path + tuple(segs)
        if segs[0] in module.children:
            return module.path + tuple(segs)
        if segs[0] in module.imports:
            target = module.imports[segs[0]][0]
            absolute = self.absolute(module, target) if target and target[0] in ("crate", "super", "self") or (
                target and target[0] in module.children) else None
            if absolute is None:
                return None
            return absolute + tuple(segs[1:])
        return None

    def resolve(self, path, seen=None):
        """The module that defines what an absolute path names, and whether that is the module itself."""
        seen = seen or set()
        if path in seen:
            return None, False
        seen.add(path)
        m = self.root
        for k, s in enumerate(path):
            if s == "self" and k == len(path) - 1:
                return m, True
            if s in m.children:
                m = m.children[s]
                continue
            if s in m.items:
                return m, False
            if s in m.imports:
                target = self.absolute(m, m.imports[s][0])
                if target is None:
                    return m, False
                return self.resolve(target + tuple(path[k + 1:]), seen)
            for glob, _ in m.globs:
                g = self.absolute(m, glob)
                if g is not None:
                    gm = self.module_at(g)
                    if gm is not None and (s in gm.items or s in gm.children or s in gm.imports):
                        return self.resolve(g + tuple(path[k:]), seen)
            return m, False
        return m, True


def node(module, depth):
    return "::".join(module.path[:depth]) or "crate"


def main():
    args = sys.argv[1:]
    include_tests = verbose = False
    known = []
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src")
    while args:
        a = args.pop(0)
        if a == "--tests":
            include_tests = True
        elif a == "--edges":
            verbose = True
        elif a == "--known" and args:
            known.append(sorted(args.pop(0).split(",")))
        elif not a.startswith("-"):
            src = a
        else:
            print(f"usage: module-cycles.sh [--tests] [--edges] [--known A,B,...]... [SRC_DIR]", file=sys.stderr)
            return 2
    depth = 2
    root = Module((), os.path.join(src, "lib.rs"), None)
    modules = [root]
    parse_file(root, root.file, include_tests, modules)
    resolver = Resolver(root)

    # edges[a][b] = first evidence (file:line: path)
    edges = defaultdict(dict)

    def add(src_mod, target_mod, is_module, evidence):
        if target_mod is None or is_module:
            return
        a, b = node(src_mod, depth), node(target_mod, depth)
        if a == b or b == "crate":
            return
        edges[a].setdefault(b, evidence)

    for m in modules:
        if getattr(m, "test_only", False):
            continue
        rel = os.path.relpath(m.file, os.path.dirname(os.path.abspath(src)))
        for alias, (path, line, is_pub) in m.imports.items():
            absolute = resolver.absolute(m, path)
            if absolute is None:
                continue
            target, is_module = resolver.resolve(absolute)
            if is_pub and m.names_used.get(alias, 0) == 0:
                continue  # a re-export: the names pass through; users are resolved to where they are defined
            add(m, target, is_module, f"{rel}:{line}: use {'::'.join(path)}")
        for segs, line in m.paths:
            absolute = resolver.absolute(m, segs)
            if absolute is None:
                continue
            target, is_module = resolver.resolve(absolute)
            add(m, target, is_module, f"{rel}:{line}: {'::'.join(segs)}")

    nodes = sorted({node(m, depth) for m in modules if m.path} | set(edges) | {b for a in edges for b in edges[a]})
    if verbose:
        for a in sorted(edges):
            for b in sorted(edges[a]):
                print(f"{a} -> {b}    ({edges[a][b]})")

    # Tarjan's strongly connected components.
    index, low, on, stack, sccs = {}, {}, set(), [], []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, {})):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            strong(v)

    gone = [k for k in known if k not in sccs]
    for k in gone:
        print(f"the known cycle among {', '.join(k)} is gone: take it off the --known list")
    allowed = [c for c in sccs if c in known]
    sccs = [c for c in sccs if c not in known]
    if not sccs and not gone:
        also = "".join(f"; known, still to break: {' <-> '.join(c)}" for c in allowed)
        print(f"no import cycle among {len(nodes)} modules{also}")
        return 0
    for comp in sorted(sccs):
        members = set(comp)
        print(f"import cycle among {len(comp)} modules: {', '.join(comp)}")
        # One shortest cycle through the first member, then every edge inside the component with its evidence.
        start = comp[0]
        prev, queue, found = {start: None}, [start], None
        while queue and found is None:
            v = queue.pop(0)
            for w in sorted(edges.get(v, {})):
                if w not in members:
                    continue
                if w == start:
                    found = v
                    break
                if w not in prev:
                    prev[w] = v
                    queue.append(w)
        cycle = [found]
        while prev[cycle[-1]] is not None:
            cycle.append(prev[cycle[-1]])
        cycle.reverse()
        print("  e.g. " + " -> ".join(cycle + [start]))
        for a in comp:
            for b in sorted(edges.get(a, {})):
                if b in members:
                    print(f"  {a} -> {b}    {edges[a][b]}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
