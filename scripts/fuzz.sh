#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60), with AddressSanitizer, on the stable
# toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass -Zsanitizer=address, whose runtime stable ships.
# `SANITIZER=none` runs without it (faster, catches panics only). New inputs go to a scratch corpus, so the committed
# seeds in fuzz/corpus/ change only when you merge them in (`cargo fuzz cmin TARGET`). What the seed corpora hold:
#   decode       the first frames of every classic pcap in captures/, each behind the byte that picks its link type,
#                and crafted Ethernet frames for the payload printers: DNS over UDP and TCP, HTTP, SSH, AH and ESP;
#   pcap_reader  the first 2 KB of every capture in captures/ (cut at a record boundary), and crafted files: big-endian
#                and nanosecond pcap, pcapng in both byte orders with several sections, interfaces, if_tsresol and
#                if_tsoffset, enhanced, simple and obsolete packet blocks, blocks to skip, and damaged ones (a 16 MiB
#                snap length with a record claiming all of it, impossible lengths, an undefined interface, a caplen
#                past its block, no byte-order magic, a short header, an unknown magic or link type);
#   filter       expressions as text: every primitive, precedence, nesting, whitespace, two expressions split by a
#                NUL (the target checks how they combine), and errors of every kind;
#   tracker, cookie, proxy
#                32 inputs each from the fuzzer's first runs (the largest of a `-merge=1` minimised corpus): their
#                inputs are structured scripts decoded by `arbitrary`, not readable files;
#   guard        nothing (its input is a structured script).
# A crash leaves its input in fuzz/artifacts/TARGET/ and makes this script fail; turn it into a regression test.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#   FUZZ_RUNS=10000000 SANITIZER=none scripts/fuzz.sh 3600 tracker   # a campaign: 10M executions or an hour
#
# FUZZ_RUNS stops a target after that many executions (libFuzzer's -runs), or at SECONDS, whichever comes first.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null 2>&1 || { echo "fuzz.sh: needs cargo-fuzz: cargo install cargo-fuzz" >&2; exit 1; }
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
sanitizer=${SANITIZER:-address}
export RUSTC_BOOTSTRAP=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "corpus/$target"
    echo "== fuzz $target for ${seconds}s ($sanitizer)"
    if ! cargo fuzz run "$target" -O --sanitizer "$sanitizer" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -print_final_stats=1 2>"$scratch/$target.log"; then
        failed=1
        tail -n 40 "$scratch/$target.log" >&2
    fi
    grep -E "^Done|stat::number_of_executed_units" "$scratch/$target.log" || true
done
exit $failed
