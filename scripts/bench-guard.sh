#!/usr/bin/env bash
# SYN-ACKs per second under a flood: `synscope guard --mode cookies` against the kernel's own SYN cookies
# (`synscope harden --syncookies 2`), on the same topology, in the same run.
#
#   sudo scripts/bench-guard.sh
#   ATTACKER=synscope SECONDS_PER_RUN=5 sudo scripts/bench-guard.sh
#   FAST_PATH=xdp ATTACKER=synscope sudo scripts/bench-guard.sh     # XDP, the rings and the kernel, one run
#
# Topology (DESIGN.md, "The lab"): client ── gateway ── server namespaces, joined by veths on one subnet. The
# server runs `synscope listen`. The flood comes from the client namespace with random sources, and SYN-ACKs to
# them die in the client namespace, which does not forward:
#   - with ATTACKER=synscope, as in `synscope lab`: the SYNs carry the MAC of an upstream router that does not
#     exist (`flood --source-mac`) and the server's default route points at its address, so the guard's answers
#     and the kernel's alike leave for that MAC and are discarded at the client's link layer;
#   - with hping3, which cannot set the source MAC: the server's default route points at the client, and both the
#     guard's answers and the kernel's go up the client's IP stack to be dropped there.
# Nothing is pinned to a CPU: the flood, the guard and the kernel share the machine as the scheduler decides.
#
#   guard runs: the gateway runs `synscope guard --mode cookies`, SYNs answered from its packet rings
#               (`--fast-path packet`) and, with FAST_PATH=xdp, by its XDP program (`--fast-path xdp --xdp-stats`);
#               figure = the guard's SYN-ACKs sent per second.
#   kernel run: the gateway is a kernel bridge and the server has tcp_syncookies=2 (a cookie for every SYN);
#               figure = TcpExtSyncookiesSent per second in the server namespace.
# CPU: the guard process's own seconds, and the softirq seconds of the whole machine during the flood (where the
# XDP program, the kernel's cookies and every veth delivery run). For XDP, `program CPU s` is the program's own run
# time (BPF_ENABLE_STATS), and SYN-ACKs per program CPU-second is the fast path's cost per answer.
#
# Environment:
#   ATTACKER         hping3 (default: `hping3 --flood --rand-source`) or synscope (`synscope flood`)
#   FLOOD_THREADS    threads of `synscope flood` (default 2)
#   FAST_PATH        packet (default: the rings against the kernel) or xdp (XDP, the rings and the kernel)
#   SECONDS_PER_RUN  length of each flood, at most 10 (default 10)
set -euo pipefail

cd "$(dirname "$0")/.."

ATTACKER=${ATTACKER:-hping3}
FLOOD_THREADS=${FLOOD_THREADS:-2}
FAST_PATH=${FAST_PATH:-packet}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
if [[ $FAST_PATH != packet && $FAST_PATH != xdp ]]; then
    echo "FAST_PATH is packet or xdp" >&2
    exit 2
fi
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
            --threads "$FLOOD_THREADS" --duration "${SECONDS_PER_RUN}s" --format json 2>/dev/null | sed -n 's/.*"sent": *\([0-9]*\).*/\1/p'
    fi
}

counter() {
    ip netns exec "$S" "$BIN" harden --netns "$S" --show --format json 2>/dev/null |
        sed -n "s/.*\"$1\": *\([0-9]*\).*/\1/p" | head -1
}

# softirq seconds of the whole machine since boot (/proc/stat, field 7 of the cpu line, in clock ticks).
softirq_ticks() { awk '/^cpu / { print $8 }' /proc/stat; }
# user + system seconds of a process so far, in clock ticks (proc(5) fields 14 and 15).
process_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
TICKS=$(getconf CLK_TCK)

# One guard run: LABEL, then guard flags. Appends a row to $TMP/rows.
guard_run() {
    local label=$1
    shift
    ip netns exec "$G" "$BIN" guard -q --outside sbg-out --inside sbg-in --protect 10.78.0.2:9999 --mode cookies \
        "$@" >"$TMP/guard.json" 2>"$TMP/guard.err" &
    local guard=$!
    for _ in $(seq 100); do grep -q guarding "$TMP/guard.err" 2>/dev/null && break; sleep 0.05; done
    local soft0 proc0 sent soft1 proc1 seen synacks run_ns
    soft0=$(softirq_ticks)
    proc0=$(process_ticks "$guard")
    sent=$(flood)
    soft1=$(softirq_ticks)
    proc1=$(process_ticks "$guard")
    sleep 0.5
    kill -INT "$guard"
    wait "$guard" || true
    # SYNs the rings saw, SYN-ACKs from the rings and from XDP together, and the program's run time if timed.
    local figures
    figures=$(python3 -c '
import json, sys
g = json.load(open(sys.argv[1]))
fp = g.get("fast_path", {})
print(g["syns_seen"], g["synacks_sent"] + fp.get("xdp", {}).get("synacks_sent", 0), fp.get("xdp_run_ns", ""))
' "$TMP/guard.json")
    read -r seen synacks run_ns <<<"$figures"
    echo "$label ${sent:-0} $seen $synacks $((proc1 - proc0)) $((soft1 - soft0)) $run_ns" >>"$TMP/rows"
    grep -m1 "fast path" "$TMP/guard.err" >&2 || true
}

: >"$TMP/rows"
# With nothing in the gateway, ARP cannot resolve the server: the client learns its MAC once, for good (the
# answer ARP would give whenever the gateway bridges).
SERVER_MAC=$(ip netns exec "$S" cat /sys/class/net/sbg-s/address)
ip -n "$C" neigh replace 10.78.0.2 lladdr "$SERVER_MAC" dev sbg-c nud permanent
# The baseline: the same flood into a gateway that does nothing with it (no guard, no bridge: the frames die at
# its interface). Its softirq seconds per SYN are the cost of delivering the flood, which every run pays; the
# guard's own share of softirq is what a run adds beyond that.
soft0=$(softirq_ticks)
base_sent=$(flood)
soft1=$(softirq_ticks)
echo "delivery-only ${base_sent:-0} - 0 0 $((soft1 - soft0))" >>"$TMP/rows"
if [[ $FAST_PATH == xdp ]]; then
    guard_run "guard-cookies-xdp" --fast-path xdp --xdp-stats
fi
guard_run "guard-cookies-rings" --fast-path packet

# The kernel's run: a plain bridge, and cookies for every SYN.
ip -n "$G" link add sbg-br type bridge
ip -n "$G" link set sbg-out master sbg-br
ip -n "$G" link set sbg-in master sbg-br
ip -n "$G" link set sbg-br up
# Give the bridge's ports time to reach forwarding state (no STP: immediate, but be safe).
sleep 1
"$BIN" harden --netns "$S" --syncookies 2 >/dev/null
before=$(counter TcpExtSyncookiesSent)
soft0=$(softirq_ticks)
kernel_sent=$(flood)
soft1=$(softirq_ticks)
sleep 0.5
after=$(counter TcpExtSyncookiesSent)
echo "kernel-syncookies=2 ${kernel_sent:-0} - $((after - before)) 0 $((soft1 - soft0))" >>"$TMP/rows"

# The table: rates per second of flood, CPU in seconds, and SYN-ACKs per CPU-second of the answerer: the guard
# process plus the softirq time the run took beyond carrying its frames, both ways: the baseline's softirq per
# frame, times the SYNs sent and the SYN-ACKs that crossed back to the client namespace (a frame across a veth into
# a namespace that discards it, the same trip either way; on a NIC it would be the wire's). For XDP also per second
# of the program's own run time.
awk -v s="$SECONDS_PER_RUN" -v hz="$TICKS" '
    BEGIN { printf "%-22s %12s %12s %12s %10s %10s %12s %16s %16s\n", "answering", "SYNs sent/s", "SYNs seen/s",
        "SYN-ACKs/s", "guard CPU s", "softirq s", "program CPU s", "SYN-ACK/CPU-s", "SYN-ACK/prog-s" }
    $1 == "delivery-only" { delivery = ($2 > 0) ? $6 / $2 : 0 }
    {
        cpu = ($5 + $6 - delivery * ($2 + $4)) / hz
        seen = ($3 == "-") ? "-" : sprintf("%.0f", $3 / s)
        prog = ($7 == "") ? "-" : sprintf("%.2f", $7 / 1e9)
        per_prog = ($7 == "" || $7 == 0) ? "-" : sprintf("%.0f", $4 / ($7 / 1e9))
        per_cpu = ($1 == "delivery-only" || cpu <= 0) ? "-" : sprintf("%.0f", $4 / cpu)
        printf "%-22s %12.0f %12s %12.0f %10.2f %10.2f %12s %16s %16s\n", $1, $2 / s, seen, $4 / s, $5 / hz,
            $6 / hz, prog, per_cpu, per_prog
        if ($1 != "delivery-only") rate[$1] = $4 / s
    }
    END {
        k = rate["kernel-syncookies=2"]
        if (k > 0) for (name in rate) if (name != "kernel-syncookies=2")
            printf "%s / kernel SYN-ACKs per second: %.2f\n", name, rate[name] / k
    }' "$TMP/rows"
