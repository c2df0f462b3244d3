#!/usr/bin/env bash
# Fails if the library's modules import each other in a cycle; prints each cycle with the line behind every edge.
#
#   scripts/module-cycles.sh [--tests] [--edges] [--known A,B,...]... [SRC_DIR]
#
# Exit 0 with "no import cycle among N modules", 1 with the cycles, 2 on a usage error. The work is done by
# scripts/lib/module_cycles.py (python3, no packages): a small lexer, not rustc, reading every src/**/*.rs reached
# from src/lib.rs through `mod` declarations.
#
# The graph:
# - A node is a top-level module of the library (`cli`, `cmd`, `wire`, ...) or one of its children (`cli::parse`,
#   `cmd::guard`, `lab::trial`). Deeper modules count as their ancestor at that depth: `lab::sim::world` is
#   `lab::sim`, `cmd::guard::bridge` is `cmd::guard`. A parent's node is its own file only (`cmd` is
#   src/cmd/mod.rs), not its children.
# - A -> B when code in A names an item that B defines: in a `use` (`crate::`, `super::`, `self::`, a child
#   module's name, a name imported before) or inline (`crate::a::b::X`, `super::f()`, `child::f()`), attributes
#   included (clap's `value_parser = crate::x::parse`). A path is followed to where the item is defined, through
#   `use` declarations and re-exports: naming `crate::xdp::ProgramSettings` is an edge to `xdp::settings`.
# - Not edges:
#   - `mod child;`: a child using its parent's items through `super::` is normal Rust, not a cycle, while the
#     parent merely declares the child (or re-exports it);
#   - a `pub use` that the module's own code does not otherwise use: the names pass through, and whoever names
#     them depends on the module that defines them;
#   - naming a module alone (`use crate::lab::trial;`): the edge comes from the items then named through it;
#   - `#[cfg(test)]` items and modules: tests may reach any layer (`--tests` counts them too);
#   - src/main.rs, which is a crate of its own; comments and doc links.
# - A cycle is a strongly connected component of more than one node. It includes a parent and a child that use
#   each other's items (the parent calls the child, and the child needs a type defined in the parent's file): the
#   shared types then belong in a leaf module both use. Each cycle is printed as its members, one shortest loop,
#   and every edge between members with the first line that makes it.
# - `--known A,B` lets exactly the cycle among A and B pass (named on the last line); a known cycle that is gone
#   fails, so the exception is removed with it.
# - Not seen: bare names brought in by glob imports (`use super::*`, found only in tests), what macros expand to,
#   and local items shadowing a module's.
set -euo pipefail
exec python3 "$(dirname "$0")/lib/module_cycles.py" "$@"
