#!/usr/bin/env bash
# Live capture under a SYN flood: `synscope sniff -q` against `tcpdump -w /dev/null`, on the same veth, in turn.
#
#   sudo scripts/bench-live.sh                 # four rates, 10 s each, for each capturer
#   RATES="u100 flood" SECONDS_PER_RUN=5 sudo scripts/bench-live.sh
#
# Topology: two network namespaces made for the run, joined by a veth pair. hping3 floods SYNs from the `flood`
# namespace at the `capture` namespace's address; the capturer listens on the veth end in `capture`. The kernel
# there answers each SYN with a RST (no listener), so the capturer sees both directions. Nothing leaves the two
# namespaces, and both are deleted when the script exits, however it exits.
#
# Environment:
#   RATES            hping3 intervals: uN is one SYN every N microseconds, `flood` is hping3 --flood
#                    (default "u1000 u100 u10 flood")
#   SECONDS_PER_RUN  length of each flood, at most 10 (default 10)
#
# Rows: synscope with its default ring (32 MiB), synscope with libpcap's default buffer (-B 2, the size tcpdump
# uses), and tcpdump. "captured/s" is frames captured over the flood's length; drops are the kernel's
# (PACKET_STATISTICS) plus, for synscope, frames its own channel refused.
set -euo pipefail

cd "$(dirname "$0")/.."

RATES=${RATES:-"u1000 u100 u10 flood"}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
. scripts/lib/bench.sh
bounded_seconds "$SECONDS_PER_RUN"
require_root bench-live.sh "makes network namespaces and floods a veth"
require_tools hping3 tcpdump ip
build_release

FLOOD_NS=sbl-flood-$$
CAPTURE_NS=sbl-capture-$$
make_namespace "$FLOOD_NS"
make_namespace "$CAPTURE_NS"
veth_pair "$FLOOD_NS" sbl-a 10.251.0.1/24 "$CAPTURE_NS" sbl-b 10.251.0.2/24

# One flood of SECONDS_PER_RUN at one rate; prints the number of SYNs hping3 says it sent.
flood() {
    local rate=$1 args
    if [[ $rate == flood ]]; then args=(--flood); else args=(-i "$rate"); fi
    ip netns exec "$FLOOD_NS" timeout -s INT -k 2 "$SECONDS_PER_RUN" hping3 -q -S -p 9999 "${args[@]}" 10.251.0.2 \
        >"$TMP/hping.out" 2>&1 || true
    awk '/packets transmitted/ { print $1 }' "$TMP/hping.out"
}

# Runs a capturer (the rest of the arguments) in the capture namespace during one flood, then stops it with
# SIGINT; its stderr is left in $TMP/capture.err. Prints the SYNs sent.
during_flood() {
    local rate=$1
    shift
    ip netns exec "$CAPTURE_NS" "$@" >/dev/null 2>"$TMP/capture.err" &
    local pid=$!
    # Wait for the capturer to say it is listening (both print "listening on").
    for _ in $(seq 100); do
        grep -q "listening on" "$TMP/capture.err" 2>/dev/null && break
        sleep 0.05
    done
    local sent
    sent=$(flood "$rate")
    sleep 1
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "${sent:-0}"
}

printf '%-8s %-22s %12s %14s %12s %12s\n' rate capturer "SYNs sent" "captured/s" "kernel drops" "own drops"
for rate in $RATES; do
    for capturer in synscope synscope-B2 tcpdump; do
        case $capturer in
            synscope) cmd=("$BIN" sniff -q -i sbl-b) ;;
            synscope-B2) cmd=("$BIN" sniff -q -B 2 -i sbl-b) ;;
            tcpdump) cmd=(tcpdump -n -i sbl-b -w /dev/null) ;;
        esac
        sent=$(during_flood "$rate" "${cmd[@]}")
        if [[ $capturer == tcpdump ]]; then
            captured=$(awk '/packets captured/ { print $1 }' "$TMP/capture.err")
            kdrops=$(awk '/dropped by kernel/ { print $1 }' "$TMP/capture.err")
            own=0
        else
            line=$(grep -E '^  sbl-b: ' "$TMP/capture.err" || true)
            captured=$(awk '{ print $2 }' <<<"$line")
            kdrops=$(awk -F', ' '{ split($3, a, " "); print a[1] }' <<<"$line")
            own=$(awk -F', ' '{ split($4, a, " "); print a[1] }' <<<"$line")
        fi
        per_second=$(awk -v c="${captured:-0}" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f", c / s }')
        printf '%-8s %-22s %12s %14s %12s %12s\n' "$rate" "$capturer" "$sent" "$per_second" "${kdrops:-?}" "${own:-?}"
    done
done
