#!/usr/bin/env bash
# SYN-flood generators compared: `synscope flood` (top speed) against `hping3 --flood -S --rand-source`, on the same
# veth, one after the other, in the same run.
#
#   sudo scripts/bench-flood.sh
#   SECONDS_PER_RUN=5 CONFIGS="ring:1 ring:2" SINKS=link sudo scripts/bench-flood.sh
#
# Topology: two network namespaces made for the run, joined by a veth pair. The generators run in `flood` and send
# to an address in `target`. Nothing leaves the two namespaces, and both are deleted when the script exits, however
# it exits.
#
# The figure is what arrived: the delta of the target veth's rx_packets (/sys/class/net/IF/statistics) over each
# run, divided by the run's length. A frame a generator counts as sent but the veth drops (the receiving CPU's
# backlog full, netdev_max_backlog) is not in it. Both generators send the same SYNs: random sources over all of
# IPv4 (hping3's --rand-source), no TCP options (hping3 sends none), one destination port.
#
# On a veth the receiving namespace's stack runs on the sending CPU: the softirq that `netif_rx` raises runs when
# the sender's path re-enables bottom halves. So each generator's figure also pays for the target's work on every
# SYN, the same amount for both, and a costly target squeezes the ratio towards 1. Each generator therefore runs
# against two targets (SINKS):
#   link   the flood namespace's neighbour entry for the target names a MAC no interface owns, as if the target
#          sat beyond an upstream router. The target veth still receives and counts every frame, then the IP
#          layer discards it as PACKET_OTHERHOST (ip_rcv_core), the cheapest drop there is without XDP. This row
#          measures the generators.
#   stack  the target veth's own MAC: the kernel there takes each SYN as far as TCP, which has no listener and
#          tries to answer with a RST it has no route for. This row measures a generator plus a costly receiver.
# hping3 has one thread; synscope is measured with one (the like-for-like rows) and with one per CPU.
#
# Environment:
#   SECONDS_PER_RUN  length of each run, at most 10 (default 10)
#   CONFIGS          synscope runs as METHOD:THREADS, METHOD one of ring, mmsg (default "ring:1 mmsg:1 ring:NPROC")
#   SINKS            targets, from link and stack (default "link stack")
set -euo pipefail

cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CONFIGS=${CONFIGS:-"ring:1 mmsg:1 ring:$(nproc)"}
SINKS=${SINKS:-"link stack"}
# Locally administered (the 0x02 bit), so no real interface has it.
NOBODYS_MAC=02:00:00:5b:f0:01
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
veth_pair "$FLOOD_NS" sbf-a 10.252.0.1/24 "$TARGET_NS" sbf-b 10.252.0.2/24
TARGET_MAC=$(ip netns exec "$TARGET_NS" cat /sys/class/net/sbf-b/address)

# use_sink link|stack: the target's MAC as a permanent neighbour (so neither generator waits for ARP inside its
# run), or a MAC nobody owns (see the header).
use_sink() {
    local mac=$TARGET_MAC
    [[ $1 == link ]] && mac=$NOBODYS_MAC
    ip -n "$FLOOD_NS" neigh replace 10.252.0.2 lladdr "$mac" dev sbf-a nud permanent
}

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

printf '%-6s %-36s %14s %14s\n' target generator "arrived/s" "own figure/s"
declare -A RESULT
for sink in $SINKS; do
    case $sink in link | stack) ;; *) echo "SINKS: '$sink' is neither link nor stack" >&2; exit 2 ;; esac
    use_sink "$sink"
    for config in $CONFIGS; do
        method=${config%%:*}
        threads=${config##*:}
        pps=$(measure "$BIN" flood --target "10.252.0.2:$PORT" --duration "${SECONDS_PER_RUN}s" --spoof 0.0.0.0/0 \
            --syn-options none --tx "$method" --threads "$threads" --format json)
        own=$(sed -n 's/.*"rate":\([0-9.]*\).*/\1/p' "$TMP/out" | awk '{ printf "%.0f", $1 }')
        RESULT[$sink:$config]=$pps
        printf '%-6s %-36s %14s %14s\n' "$sink" "synscope flood --tx $method --threads $threads" "$pps" "${own:-?}"
    done

    # hping3 prints its count on SIGINT; `timeout -s INT` bounds it, and -k kills it if it misses the signal.
    hping=$(measure timeout -s INT -k 2 "$SECONDS_PER_RUN" hping3 --flood -S -p "$PORT" --rand-source 10.252.0.2)
    sent=$(awk '/packets transmitted/ { print $1 }' "$TMP/out" "$TMP/err" | head -1)
    own=$(awk -v n="${sent:-0}" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f", n / s }')
    RESULT[$sink:hping3]=$hping
    printf '%-6s %-36s %14s %14s\n' "$sink" "hping3 --flood" "$hping" "$own"
done

for sink in $SINKS; do
    for config in $CONFIGS; do
        awk -v o="${RESULT[$sink:$config]}" -v h="${RESULT[$sink:hping3]}" -v c="$config" -v t="$sink" \
            'BEGIN { if (h > 0) printf "ratio synscope (%s) / hping3, %s target: %.2f\n", c, t, o / h }'
    done
done
