#!/usr/bin/env bash
# What a restart of `synscope guard --mode cookies --secret-file F` (or another MODE) costs: the guard is killed
# with SIGKILL (a crash, the OOM killer) while legitimate clients use it, started again at once with the same flags
# (a supervisor with no restart delay), and the script prints how long new connections could not be made, and what
# became of the ones that were open.
#
#   sudo scripts/restart.sh
#   RESTARTS=9 FAST_PATH=xdp sudo scripts/restart.sh
#   MODE=limit sudo scripts/restart.sh         # a transparent guard: what it holds is only half-open connections
#
# Topology (DESIGN.md, "The lab"): client ── gateway ── server namespaces, joined by veths on one subnet, built
# with scripts/lib/bench.sh as the benchmarks build them, and removed with everything inside at exit, however the
# script ends. Traffic goes only between them; the only sysctls changed are the namespaces' own (IPv6 off), which
# go with them. Each side knows the other's MAC for good (a permanent neighbour entry), so the figures are the
# guard's and not ARP's (while no guard runs, nothing crosses the gateway, ARP included).
#
# Each round:
#   1. HELD connections are opened through the guard (the seed's protocol, greeted with `Welcome!`) and left idle;
#   2. `synscope connect --count --rate RATE` runs a steady stream of seed-echo sessions (5 s timeout each), from
#      1 s before the kill to 3 s after;
#   3. from just before the kill, a probe session (`synscope connect --timeout 900ms`, shorter than the client's
#      1 s SYN retransmission, so a SYN lost while no guard runs is a failed probe, not a late success) starts every
#      10 ms;
#   4. SIGKILL; once the process is gone, the same guard command again; its startup line ("guarding") is the moment
#      it is back;
#   5. each held connection sends `Ping` and waits 3 s for `Hello, Ping!`.
# Figures per round: down = SIGKILL to the new guard's startup line (the killed process's exit, as `wait` sees
# it, then the new one's start: rings, sockets, the XDP program, the secret file); served again = SIGKILL to the
# end of the first probe session, started after the killed process was gone, that completed the whole exchange;
# held connections cut; the stream's sessions failed and its slowest connect (a SYN sent while no guard ran waits
# for its retransmission, 1 s later).
# The summary gives the medians over the rounds.
#
# Environment:
#   RESTARTS   rounds, 1 to 20 (default 5)
#   MODE       cookies (default), limit or auto: the guard's --mode (the XDP fast path serves cookies only)
#   FAST_PATH  packet (default), xdp or auto: the guard's --fast-path
#   RATE       sessions per second of the steady stream, 1 to 500 (default 50)
#   HELD       connections held open across each kill, 0 to 200 (default 20)
set -euo pipefail

cd "$(dirname "$0")/.."

RESTARTS=${RESTARTS:-5}
MODE=${MODE:-cookies}
FAST_PATH=${FAST_PATH:-packet}
RATE=${RATE:-50}
HELD=${HELD:-20}
number_in() { [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) || { echo "$1 is from $3 to $4 (got '$2')" >&2; exit 2; }; }
number_in RESTARTS "$RESTARTS" 1 20
number_in RATE "$RATE" 1 500
number_in HELD "$HELD" 0 200
if [[ $MODE != cookies && $MODE != limit && $MODE != auto ]]; then
    echo "MODE is cookies, limit or auto (got '$MODE')" >&2
    exit 2
fi
if [[ $FAST_PATH != packet && $FAST_PATH != xdp && $FAST_PATH != auto ]]; then
    echo "FAST_PATH is packet, xdp or auto (got '$FAST_PATH')" >&2
    exit 2
fi
if [[ $FAST_PATH == xdp && $MODE != cookies ]]; then
    echo "FAST_PATH=xdp serves MODE=cookies only" >&2
    exit 2
fi
if ((BASH_VERSINFO[0] < 5)); then
    echo "restart.sh needs bash 5 (EPOCHREALTIME)" >&2
    exit 1
fi
. scripts/lib/bench.sh
require_root restart.sh "makes network namespaces and kills the guard it starts in one"
require_tools ip ss python3
build_release

bump_in_the_wire srs 10.79.0
ADDR=10.79.0.2:9999
ip -n "$C" neigh replace 10.79.0.2 lladdr "$(ip netns exec "$S" cat /sys/class/net/srs-s/address)" dev srs-c nud permanent
ip -n "$S" neigh replace 10.79.0.1 lladdr "$(ip netns exec "$C" cat /sys/class/net/srs-c/address)" dev srs-s nud permanent
(ip netns exec "$S" "$BIN" listen --tcp "$ADDR" --backlog 1024 --max-conns 4096 >/dev/null 2>&1 &)
for _ in $(seq 200); do
    ip netns exec "$S" ss -Htln "sport = :9999" | grep -q . && break
    sleep 0.05
done
SECRET=$TMP/cookie.key

# Microseconds since the epoch, from bash's own clock (no process started to read it).
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }

# start_guard N: guard number N in the gateway; sets GUARD to its pid once it has printed its startup line.
start_guard() {
    : >"$TMP/guard.$1.err"
    ip netns exec "$G" "$BIN" guard -q --outside srs-out --inside srs-in --protect "$ADDR" --mode "$MODE" \
        --fast-path "$FAST_PATH" --secret-file "$SECRET" >"$TMP/guard.$1.json" 2>"$TMP/guard.$1.err" &
    GUARD=$!
    local deadline=$((SECONDS + 10))
    until [[ $(<"$TMP/guard.$1.err") == *guarding* ]]; do
        if ! kill -0 "$GUARD" 2>/dev/null || ((SECONDS > deadline)); then
            echo "guard $1 did not start:" >&2
            cat "$TMP/guard.$1.err" >&2
            exit 1
        fi
        sleep 0.001
    done
}

# hold I ROUND: connection I of a round, opened in the client namespace, greeted, idle until the round's go file
# appears, then asked once more; its file says open, then survived or cut.
hold() {
    ip netns exec "$C" bash -c '
        exec 3<>/dev/tcp/10.79.0.2/9999 || exit 1
        IFS= read -r -t 3 -d "!" greeting <&3 && [[ $greeting == Welcome ]] || exit 1
        echo open >"$1"
        while [[ ! -e $2 ]]; do sleep 0.02; done
        printf Ping >&3
        if IFS= read -r -t 3 -d "!" reply <&3 && [[ $reply == "Hello, Ping" ]]; then echo survived >"$1"; else echo cut >"$1"; fi
    ' hold "$TMP/held.$2.$1" "$TMP/go.$2" >/dev/null 2>&1 &
    disown
}

# probes ROUND: in the client namespace, a probe session every 10 ms until the round's stop file appears; each
# appends "start_us end_us exit_code" to the round's probe log.
probes() {
    ip netns exec "$C" bash -c '
        while [[ ! -e $2 ]]; do
            ( t=$EPOCHREALTIME; s=${t/./}
              "$3" connect "$4" --timeout 900ms >/dev/null 2>&1; rc=$?
              t=$EPOCHREALTIME; echo "$s ${t/./} $rc" >>"$1" ) &
            sleep 0.01
        done
        wait
    ' probes "$TMP/probes.$1" "$TMP/stop.$1" "$BIN" "$ADDR" >/dev/null 2>&1 &
    PROBES=$!
}

LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
echo "building the lab; the guard: synscope guard --mode $MODE --fast-path $FAST_PATH --secret-file F" >&2
start_guard 0
grep -m1 "cookie secret" "$TMP/guard.0.err" >&2 || true
grep -m1 "fast path" "$TMP/guard.0.err" >&2 || true
ip netns exec "$C" "$BIN" connect "$ADDR" --timeout 5s >/dev/null || { echo "no session through the first guard" >&2; exit 1; }

: >"$TMP/rounds"
for round in $(seq "$RESTARTS"); do
    for i in $(seq "$HELD"); do hold "$i" "$round"; done
    opened=0
    for _ in $(seq 250); do
        opened=$(cat "$TMP"/held."$round".* 2>/dev/null | grep -c open || true)
        ((opened >= HELD)) && break
        sleep 0.02
    done
    ip netns exec "$C" "$BIN" connect "$ADDR" --count $((RATE * 4)) --rate "$RATE" --concurrency 64 --timeout 5s \
        --format json >"$TMP/stream.$round.json" 2>/dev/null &
    stream=$!
    sleep 1
    : >"$TMP/probes.$round"
    probes "$round"
    sleep 0.05
    kill_us=$(now_us)
    kill -KILL "$GUARD"
    wait "$GUARD" 2>/dev/null || true
    gone_us=$(now_us)
    start_guard "$round"
    ready_us=$(now_us)
    grep -q "cookie secret read" "$TMP/guard.$round.err" || { echo "guard $round did not read the secret file" >&2; exit 1; }
    # The first probe session served whole of those started once the killed process was gone (one started
    # between the SIGKILL and then may still be served by the dying process, on a loaded machine).
    served_us=""
    for _ in $(seq 500); do
        served_us=$(awk -v k="$gone_us" '$1 >= k && $3 == 0 && (m == "" || $2 < m) { m = $2 } END { print m }' \
            "$TMP/probes.$round")
        [[ -n $served_us ]] && break
        sleep 0.02
    done
    touch "$TMP/stop.$round"
    wait "$PROBES" 2>/dev/null || true
    [[ -n $served_us ]] || { echo "round $round: no session was served within 10 s of the restart" >&2; exit 1; }
    touch "$TMP/go.$round"
    wait "$stream" 2>/dev/null || true
    # The held connections answer within their 3 s (their bash processes are the only other jobs left).
    for _ in $(seq 250); do
        pending=$(cat "$TMP"/held."$round".* 2>/dev/null | grep -c open || true)
        ((pending == 0)) && break
        sleep 0.02
    done
    survived=$(cat "$TMP"/held."$round".* 2>/dev/null | grep -c survived || true)
    cut=$(cat "$TMP"/held."$round".* 2>/dev/null | grep -c cut || true)
    echo "$round $kill_us $ready_us $served_us $opened $survived $cut $TMP/stream.$round.json $gone_us" >>"$TMP/rounds"
    python3 - "$TMP/rounds" <<'EOF' >&2
import json, sys
r = open(sys.argv[1]).read().split("\n")[-2].split()
s = json.load(open(r[7]))
failed = s["sessions"] - s["succeeded"]
slowest = s["connect_ms"]["max"] if s.get("connect_ms") else float("nan")
ms = lambda a, b: (int(r[b]) - int(r[a])) / 1000
print(f"round {r[0]}: down {ms(1, 2):.0f} ms (exit {ms(1, 8):.0f}, start {ms(8, 2):.0f}), served again after {ms(1, 3):.0f} ms;"
      f" held connections cut {r[6]} of {r[4]} ({r[5]} survived); stream: {failed} of {s['sessions']} sessions failed,"
      f" slowest connect {slowest:.0f} ms")
EOF
done
kill -TERM "$GUARD"
wait "$GUARD" 2>/dev/null || true

python3 - "$TMP/rounds" "$FAST_PATH" "$LOAD_BEFORE" "$MODE" <<'EOF'
import json, statistics, sys
rounds = [line.split() for line in open(sys.argv[1]) if line.strip()]
down = [(int(r[2]) - int(r[1])) / 1000 for r in rounds]
exits = [(int(r[8]) - int(r[1])) / 1000 for r in rounds]
starts = [(int(r[2]) - int(r[8])) / 1000 for r in rounds]
served = [(int(r[3]) - int(r[1])) / 1000 for r in rounds]
opened, survived, cut = (sum(int(r[i]) for r in rounds) for i in (4, 5, 6))
streams = [json.load(open(r[7])) for r in rounds]
sessions = sum(s["sessions"] for s in streams)
failed = sum(s["sessions"] - s["succeeded"] for s in streams)
causes = {}
for s in streams:
    for cause, n in s["failures"].items():
        causes[cause] = causes.get(cause, 0) + n
slowest = [s["connect_ms"]["max"] for s in streams if s.get("connect_ms")]
print(f"synscope guard --mode {sys.argv[4]} --fast-path {sys.argv[2]} --secret-file F, SIGKILL and restarted {len(rounds)} times"
      f" (load average {sys.argv[3]} before, {open('/proc/loadavg').read().split()[0]} after):")
print(f"  down (SIGKILL to the new guard's startup line): median {statistics.median(down):.0f} ms"
      f" (min {min(down):.0f}, max {max(down):.0f}): the killed process's exit {statistics.median(exits):.0f} ms,"
      f" the new one's start {statistics.median(starts):.0f} ms")
print(f"  new sessions served again (SIGKILL to the first new session served whole): median"
      f" {statistics.median(served):.0f} ms (min {min(served):.0f}, max {max(served):.0f})")
print(f"  connections held open across the kill: {cut} of {opened} cut, {survived} survived")
print(f"  steady stream: {failed} of {sessions} sessions failed"
      f" ({', '.join(f'{k} {v}' for k, v in causes.items() if v) or 'none'}); slowest connect per round, median"
      f" {statistics.median(slowest):.0f} ms" if slowest else "  steady stream: no session succeeded")
if sys.argv[4] == "limit":
    print("In limit mode the guard never translates a connection: those open at the kill survive it, their segments")
    print("lost while no guard ran sent again by TCP. What it forgets is its table of half-open connections.")
else:
    print("Proxied connections open at the kill do not survive it: the proxy's sequence translation lives in the guard's")
    print("memory, as SYNPROXY's lives in conntrack, and its connections die when conntrack is flushed. Their segments")
    print("then carry no valid cookie and are dropped. Handshakes in flight do survive: the key is in the secret file.")
EOF
