#!/usr/bin/env bash
# Instructions per packet of `synscope read` and `tcpdump -nn -r` on tcpdump's best-case capture, counted by
# valgrind's callgrind: the same count for the same binary and input whatever else the machine is doing, so it can
# be compared across runs on a shared, noisy machine where bench-read.sh's seconds move by 30%. It is not a time: a
# cache miss counts as one instruction. Quote it beside bench-read.sh's figures, not instead of them.
#
#   scripts/bench-instructions.sh                  # 100,000 packets
#   PACKETS=20000 scripts/bench-instructions.sh
#
# Needs valgrind (apt install valgrind). The best-case file is bench-read.sh's: short sessions between 200 hosts,
# no flood (`synscope gen bench --hosts 200 --flood-percent 0`).
set -euo pipefail

cd "$(dirname "$0")/.."

# tcpdump's best case, as in bench-read.sh: with TZ unset glibc checks /etc/localtime per packet.
export TZ=UTC

PACKETS=${PACKETS:-100000}
BENCH_DIR=${BENCH_DIR:-target/bench}
BIN=${CARGO_TARGET_DIR:-target}/release/synscope

if ! command -v valgrind >/dev/null; then
    echo "bench-instructions: valgrind is not installed (apt install valgrind)" >&2
    exit 1
fi

echo "building synscope (release)..." >&2
cargo build --release --quiet

mkdir -p "$BENCH_DIR"
BEST=$BENCH_DIR/best-$PACKETS.pcap
if [[ ! -s $BEST || $BIN -nt $BEST ]]; then
    echo "generating $BEST ($PACKETS packets, 200 hosts, no flood)..." >&2
    "$BIN" gen bench "$BEST" --packets "$PACKETS" --flood-percent 0 --hosts 200 >&2
fi
COUNT=$("$BIN" read -q --no-track "$BEST" 2>&1 >/dev/null | awk '/ packets read/ { print $1; exit }')

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# instructions COMMAND...: the total instruction count of COMMAND (all its threads), from callgrind's summary.
instructions() {
    valgrind --tool=callgrind --vgdb=no --callgrind-out-file="$OUT/cg.out" "$@" 2>"$OUT/err" >/dev/null || {
        echo "failed under valgrind: $*" >&2
        cat "$OUT/err" >&2
        exit 1
    }
    awk '/I *refs:/ { gsub(",", "", $NF); print $NF }' "$OUT/err"
}

declare -a LABELS=() COUNTS=()
row() {
    local label=$1
    shift
    echo "counting: $label" >&2
    LABELS+=("$label")
    COUNTS+=("$(instructions "$@")")
}
row "synscope read (text)" "$BIN" read "$BEST"
row "synscope read -q (tracking)" "$BIN" read -q "$BEST"
row "synscope read -q --no-track" "$BIN" read -q --no-track "$BEST"
TCPDUMP=""
if command -v tcpdump >/dev/null; then
    # -Z root: as root tcpdump would otherwise switch to its own user, which valgrind's files cannot follow.
    row "tcpdump -nn -r" tcpdump -Z root -nn -r "$BEST"
    TCPDUMP=${COUNTS[-1]}
fi

echo
echo "$COUNT packets ($BEST), instructions counted by callgrind, TZ=UTC"
printf '%-30s %16s %12s %14s\n' tool instructions "per packet" "tcpdump / it"
for i in "${!LABELS[@]}"; do
    ratio="n/a"
    if [[ -n $TCPDUMP ]]; then
        ratio=$(awk "BEGIN { printf \"%.2fx\", $TCPDUMP / ${COUNTS[$i]} }")
    fi
    printf '%-30s %16s %12.0f %14s\n' "${LABELS[$i]}" "${COUNTS[$i]}" \
        "$(awk "BEGIN { print ${COUNTS[$i]} / $COUNT }")" "$ratio"
done
