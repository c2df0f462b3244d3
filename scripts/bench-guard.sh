#!/usr/bin/env bash
# SYN-ACKs per second under a flood: `synscope guard --mode cookies` against the kernel's own SYN cookies
# (`synscope harden --syncookies 2`), on the same topology, in the same run.
#
#   sudo scripts/bench-guard.sh
#   ATTACKER=synscope SECONDS_PER_RUN=5 sudo scripts/bench-guard.sh
#
# Topology (DESIGN.md, "The lab"): client ── gateway ── server namespaces, joined by veths on one subnet. The
# server runs `synscope listen`. The flood comes from the client namespace with random sources, and SYN-ACKs to
# them die in the client namespace, which does not forward:
#   - with ATTACKER=synscope, as in `synscope lab`: the SYNs carry the MAC of an upstream router that does not
#     exist (`flood --source-mac`) and the server's default route points at its address, so the guard's answers
#     and the kernel's alike leave for that MAC and are discarded at the client's link layer;
#   - with hping3, which cannot set the source MAC: the server's default route points at the client, and both the
#     guard's answers and the kernel's go up the client's IP stack to be dropped there.
#
#   guard run:  the gateway runs `synscope guard --mode cookies`; figure = the guard's SYN-ACKs sent per second.
#   kernel run: the gateway is a kernel bridge and the server has tcp_syncookies=2 (a cookie for every SYN);
#               figure = TcpExtSyncookiesSent per second in the server namespace.
#
# Environment:
#   ATTACKER         hping3 (default: `hping3 --flood --rand-source`) or synscope (`synscope flood`)
#   SECONDS_PER_RUN  length of each flood, at most 10 (default 10)
set -euo pipefail

cd "$(dirname "$0")/.."

ATTACKER=${ATTACKER:-hping3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
. scripts/lib/bench.sh
bounded_seconds "$SECONDS_PER_RUN"
require_root bench-guard.sh "makes network namespaces and floods them"
require_tools ip
if [[ $ATTACKER == hping3 ]] && ! command -v hping3 >/dev/null; then
    echo "hping3 is not installed (scripts/install-test-tools.sh), or use ATTACKER=synscope" >&2
    exit 1
fi
build_release

bump_in_the_wire sbg 10.78.0
UPSTREAM_MAC=02:00:00:5b:f0:fe
if [[ $ATTACKER == hping3 ]]; then
    ip -n "$S" route add default via 10.78.0.1
else
    ip -n "$S" neigh add 10.78.0.254 lladdr "$UPSTREAM_MAC" dev sbg-s nud permanent
    ip -n "$S" route add default via 10.78.0.254
fi
# Large enough that the listener's queue is not what limits the kernel's rate.
(ip netns exec "$S" "$BIN" listen --tcp 10.78.0.2:9999 --backlog 4096 >/dev/null 2>&1 &)

# One bounded flood from the client namespace; prints the SYNs the attacker says it sent.
flood() {
    if [[ $ATTACKER == hping3 ]]; then
        ip netns exec "$C" timeout -s INT -k 2 "$SECONDS_PER_RUN" hping3 -q -S -p 9999 --flood --rand-source 10.78.0.2 \
            >"$TMP/flood.out" 2>&1 || true
        awk '/packets transmitted/ { print $1 }' "$TMP/flood.out"
    else
        ip netns exec "$C" "$BIN" flood --target 10.78.0.2:9999 --spoof 198.18.0.0/15 --source-mac "$UPSTREAM_MAC" \
            --duration "${SECONDS_PER_RUN}s" --format json 2>/dev/null | sed -n 's/.*"sent": *\([0-9]*\).*/\1/p'
    fi
}

counter() {
    ip netns exec "$S" "$BIN" harden --netns "$S" --show --format json 2>/dev/null |
        sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" | head -1
}

# The guard's run.
ip netns exec "$G" "$BIN" guard -q --outside sbg-out --inside sbg-in --protect 10.78.0.2:9999 --mode cookies \
    >"$TMP/guard.json" 2>"$TMP/guard.err" &
GUARD=$!
for _ in $(seq 100); do grep -q guarding "$TMP/guard.err" 2>/dev/null && break; sleep 0.05; done
guard_sent=$(flood)
sleep 0.5
kill -INT "$GUARD"
wait "$GUARD" || true
guard_synacks=$(sed -n 's/.*"synacks_sent": *\([0-9]*\).*/\1/p' "$TMP/guard.json" | head -1)
guard_syns=$(sed -n 's/.*"syns_seen": *\([0-9]*\).*/\1/p' "$TMP/guard.json" | head -1)

# The kernel's run: a plain bridge, and cookies for every SYN.
ip -n "$G" link add sbg-br type bridge
ip -n "$G" link set sbg-out master sbg-br
ip -n "$G" link set sbg-in master sbg-br
ip -n "$G" link set sbg-br up
# Give the bridge's ports time to reach forwarding state (no STP: immediate, but be safe).
sleep 1
"$BIN" harden --netns "$S" --syncookies 2 >/dev/null
before=$(counter TcpExtSyncookiesSent)
kernel_sent=$(flood)
sleep 0.5
after=$(counter TcpExtSyncookiesSent)
kernel_synacks=$((after - before))

rate() { awk -v n="${1:-0}" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f", n / s }'; }
printf '%-34s %14s %14s %14s\n' "answering" "SYNs sent/s" "SYNs seen/s" "SYN-ACKs/s"
printf '%-34s %14s %14s %14s\n' "synscope guard --mode cookies" "$(rate "$guard_sent")" "$(rate "$guard_syns")" \
    "$(rate "$guard_synacks")"
printf '%-34s %14s %14s %14s\n' "kernel tcp_syncookies=2 (bridge)" "$(rate "$kernel_sent")" "-" \
    "$(rate "$kernel_synacks")"
awk -v g="${guard_synacks:-0}" -v k="$kernel_synacks" 'BEGIN {
    if (k > 0) printf "guard / kernel SYN-ACKs per second: %.2f\n", g / k }'
