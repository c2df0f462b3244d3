#!/usr/bin/env bash
# `synscope read` before and after a change, on one capture, in the same run: builds REV (default HEAD~1) in a
# temporary git worktree, then runs the old and the new binary alternately, RUNS times each, in four modes
# (`-q --no-track`, `-q`, `-q --conn-log`, text), and prints the median CPU seconds (user + sys) of each with the
# ratio new/old. Alternating keeps the machine's noise in both columns alike; quote the ratio, not the seconds.
# Issue 15 held its refactors to "within 5%" this way.
#
#   scripts/bench-read-ab.sh 835d8b6
#   PACKETS=200000 RUNS=9 scripts/bench-read-ab.sh v0.1.0
#
# The capture is `synscope gen bench` (as bench-read.sh's). The worktree and its build go at exit.
set -euo pipefail

cd "$(dirname "$0")/.."
REV=${1:-HEAD~1}
PACKETS=${PACKETS:-1000000}
RUNS=${RUNS:-5}
[[ -x /usr/bin/time ]] || { echo "bench-read-ab.sh: needs GNU time (apt install time)" >&2; exit 1; }

OLD_TREE=$(mktemp -d)
TMP=$(mktemp -d)
cleanup() {
    git worktree remove --force "$OLD_TREE" >/dev/null 2>&1 || rm -rf "$OLD_TREE"
    git worktree prune
    rm -rf "$TMP"
}
trap cleanup EXIT

echo "building synscope at $REV and at the working tree (release)..." >&2
git worktree add --detach --quiet "$OLD_TREE" "$REV"
(cd "$OLD_TREE" && CARGO_TARGET_DIR="$TMP/old-target" cargo build --release --quiet)
cargo build --release --quiet
OLD=$TMP/old-target/release/synscope
NEW=${CARGO_TARGET_DIR:-target}/release/synscope

FILE=$TMP/bench-$PACKETS.pcap
"$NEW" gen bench "$FILE" --packets "$PACKETS" >&2

# cpu BIN ARGS...: user + sys seconds of one run.
cpu() {
    /usr/bin/time -f '%U %S' -o "$TMP/t" "$@" >/dev/null 2>&1
    awk '{ printf "%.3f\n", $1 + $2 }' "$TMP/t"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-26s %10s %10s %8s\n' "synscope read" "old CPU s" "new CPU s" "new/old"
for mode in "-q --no-track" "-q" "-q --conn-log $TMP/conn.log" ""; do
    : >"$TMP/old"
    : >"$TMP/new"
    for _ in $(seq "$RUNS"); do
        # shellcheck disable=SC2086 # the mode is words
        cpu "$OLD" read "$FILE" $mode >>"$TMP/old"
        # shellcheck disable=SC2086
        cpu "$NEW" read "$FILE" $mode >>"$TMP/new"
    done
    old=$(median <"$TMP/old")
    new=$(median <"$TMP/new")
    label=${mode:-text}
    printf '%-26s %10s %10s %8s\n' "${label/$TMP\//}" "$old" "$new" \
        "$(awk -v a="$new" -v b="$old" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }')"
done
