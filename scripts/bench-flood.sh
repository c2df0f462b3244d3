#!/usr/bin/env bash
# SYN-flood generators compared: `synscope flood` (top speed) against `hping3 --flood -S --rand-source`, on the same
# veth, one after the other, in the same run.
#
#   sudo scripts/bench-flood.sh
#   SECONDS_PER_RUN=5 CONFIGS="ring:1 ring:2" sudo scripts/bench-flood.sh
#
# Topology: two network namespaces made for the run, joined by a veth pair. The generators run in `flood`; the
# target address lives in `target`, which has no listener and no route back to the spoofed sources, so the kernel
# there takes each SYN as far as TCP (or rp_filter) and drops it. Nothing leaves the two namespaces, and both are
# deleted when the script exits, however it exits.
#
# The figure is what arrived: the delta of the target veth's rx_packets (/sys/class/net/IF/statistics) over each
# run, divided by the run's length. A frame a generator counts as sent but the veth drops (the receiving CPU's
# backlog full, netdev_max_backlog) is not in it. Both generators send the same SYNs: random sources over all of
# IPv4 (hping3's --rand-source), no TCP options (hping3 sends none), one destination port.
#
# On a veth the receiving namespace's stack runs on the sending CPU (the softirq that `netif_rx` raises runs when
# the sender's path re-enables bottom halves), so each generator's figure includes the target's cost per SYN, the
# same for both. hping3 has one thread; synscope is measured with one (the like-for-like row) and with one per CPU.
#
# Environment:
#   SECONDS_PER_RUN  length of each run, at most 10 (default 10)
#   CONFIGS          synscope runs as METHOD:THREADS, METHOD one of ring, mmsg (default "ring:1 mmsg:1 ring:NPROC")
set -euo pipefail

cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONFIGS=${CONFIGS:-"ring:1 mmsg:1 ring:$(nproc)"}
PORT=9999
. scripts/lib/bench.sh
bounded_seconds "$SECONDS_PER_RUN"
require_root bench-flood.sh "makes network namespaces and floods a veth"
require_tools hping3 ip timeout
build_release

FLOOD_NS=sbf-flood-$$
TARGET_NS=sbf-target-$$
make_namespace "$FLOOD_NS"
make_namespace "$TARGET_NS"
ip link add sbf-a netns "$FLOOD_NS" type veth peer name sbf-b netns "$TARGET_NS"
ip -n "$FLOOD_NS" addr add 10.252.0.1/24 dev sbf-a
ip -n "$TARGET_NS" addr add 10.252.0.2/24 dev sbf-b
ip -n "$FLOOD_NS" link set sbf-a up
ip -n "$TARGET_NS" link set sbf-b up
# The target's MAC as a permanent neighbour, so neither generator waits for ARP inside its run.
ip -n "$FLOOD_NS" neigh replace 10.252.0.2 lladdr "$(ip netns exec "$TARGET_NS" cat /sys/class/net/sbf-b/address)" \
    dev sbf-a nud permanent

rx_packets() {
    ip netns exec "$TARGET_NS" cat /sys/class/net/sbf-b/statistics/rx_packets
}

# Runs one generator (the arguments) in the flood namespace; prints the packets per second that arrived.
measure() {
    local before after start end
    before=$(rx_packets)
    start=$(date +%s.%N)
    ip netns exec "$FLOOD_NS" "$@" >"$TMP/out" 2>"$TMP/err" || true
    end=$(date +%s.%N)
    after=$(rx_packets)
    awk -v a="$after" -v b="$before" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", (a - b) / (e - s) }'
}

printf '%-36s %14s %14s\n' generator "arrived/s" "own figure/s"
declare -A RESULT
for config in $CONFIGS; do
    method=${config%%:*}
    threads=${config##*:}
    pps=$(measure "$BIN" flood --target "10.252.0.2:$PORT" --duration "${SECONDS_PER_RUN}s" --spoof 0.0.0.0/0 \
        --syn-options none --tx "$method" --threads "$threads" --format json)
    own=$(sed -n 's/.*"rate":\([0-9.]*\).*/\1/p' "$TMP/out" | awk '{ printf "%.0f", $1 }')
    RESULT[$config]=$pps
    printf '%-36s %14s %14s\n' "synscope flood --tx $method --threads $threads" "$pps" "${own:-?}"
done

# hping3 prints its count on SIGINT; `timeout -s INT` bounds it.
hping=$(measure timeout -s INT -k 2 "$SECONDS_PER_RUN" hping3 --flood -S -p "$PORT" --rand-source 10.252.0.2)
sent=$(awk '/packets transmitted/ { print $1 }' "$TMP/out" "$TMP/err" | head -1)
own=$(awk -v n="${sent:-0}" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f", n / s }')
printf '%-36s %14s %14s\n' "hping3 --flood" "$hping" "$own"

for config in $CONFIGS; do
    awk -v o="${RESULT[$config]}" -v h="$hping" -v c="$config" \
        'BEGIN { if (h > 0) printf "ratio synscope (%s) / hping3: %.2f\n", c, o / h }'
done
