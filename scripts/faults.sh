#!/usr/bin/env bash
# The guard's fault campaign (issue 14), as root: every guard mode (off, limit, cookies, auto)
#   - carrying a transfer both ways, checked byte for byte by SHA-256 at both ends, through a bad link on the
#     client's side: 5% loss, 5% reordering, 5% duplication, 50 ms ± 20 ms of jitter, and all four at once;
#   - under 10 s of a moderate hostile flood (50k frames/s) while the prober opens 100 sessions a second: ACKs with
#     random cookies, RSTs, FINs, never-completed fragments, SYNs with hostile options, 1-byte and maximum-size
#     frames. No mode may admit a connection but the prober's; cookies and auto must keep the prober at >= 99%
#     (off and limit are reported beside them: limit alone, by design, loses sessions to a SYN flood).
#
#   sudo scripts/faults.sh                   # both campaigns, 16 MB each way per transfer
#   FAULT_BYTES=67108864 sudo scripts/faults.sh
#   sudo scripts/faults.sh transfers         # or: floods
#   FAULT_ONLY=jitter sudo scripts/faults.sh # only the trials whose mode or fault name contains this
#   scripts/faults.sh tables saved.log       # the tables again, from a saved run's output
#
# The bad link is `synscope impair` in a namespace between the client and the gateway, applying netem's rules in
# both directions (tc-netem on the client's interface would impair only what the client sends). It is used even
# where the kernel has sch_netem, so that every machine runs the same faults from the same seed; this script says
# whether this kernel could have used netem. The work is in tests/faults.rs (its ignored campaign tests), which
# builds and removes its namespaces itself, pass or fail. Prints one line per trial and a table at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
# The trials' FAULT lines as two tables.
print_tables() {
    echo "== transfers (each way, checked by SHA-256)"
    grep -o "FAULT transfer .*" "$1" | sed -E 's/^FAULT transfer mode=([a-z]+) fault="([^"]+)" bytes=([0-9]+) seconds=([0-9.]+) result="ok up ([0-9.]+) Gbit\/s down ([0-9.]+) Gbit\/s".*/\1\t\2\t\3\t\4\t\5\t\6/' |
        awk -F'\t' 'BEGIN { printf "%-8s %-18s %8s %8s %10s %12s\n", "mode", "fault", "MB each", "seconds", "up Mbit/s", "down Mbit/s" }
            { printf "%-8s %-18s %8.0f %8s %10.0f %12.0f\n", $1, $2, $3 / 1048576, $4, $5 * 1000, $6 * 1000 }' || true
    echo
    echo "== hostile floods (10 s each; forged = connections the listener accepted beyond the prober's sessions)"
    grep -o "FAULT flood .*" "$1" | sed -E 's/^FAULT flood mode=([a-z]+) shape="([^"]+)" sent=([0-9]+) rate=([0-9]+) prober=([0-9.]+%) \(([0-9]+\/[0-9]+)\) listener_accepted=([0-9]+) forged_admitted=([0-9]+)/\1\t\2\t\4\t\5\t\8/' |
        awk -F'\t' 'BEGIN { printf "%-8s %-46s %9s %8s %7s\n", "mode", "flood", "frames/s", "prober", "forged" }
            { printf "%-8s %-46s %9s %8s %7s\n", $1, $2, $3, $4, $5 }' || true
}
if [ "${1:-}" = tables ]; then
    [ -f "${2:-}" ] || { echo "faults.sh tables LOG: LOG is a saved run's output" >&2; exit 2; }
    print_tables "$2"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "faults.sh: needs root (network namespaces); run it with sudo" >&2
    exit 1
fi
which=${1:-all}
case "$which" in
    all) filter=campaign_every_mode_under_every ;;
    transfers) filter=campaign_every_mode_under_every_fault ;;
    floods) filter=campaign_every_mode_under_every_hostile_flood ;;
    *) echo "faults.sh: say all, transfers or floods (got '$which')" >&2; exit 2 ;;
esac
if zcat /proc/config.gz 2>/dev/null | grep -q '^CONFIG_NET_SCH_NETEM=[ym]'; then
    echo "== this kernel has sch_netem; the campaign uses synscope impair anyway, for the same faults everywhere"
else
    echo "== this kernel has no sch_netem (CONFIG_NET_SCH_NETEM unset or unknown): the faults come from synscope impair"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
SYNSCOPE_REQUIRE_ROOT=1 cargo test --release --locked --test faults -- --ignored --nocapture --test-threads=1 "$filter" \
    2>&1 | tee "$log" | grep -E "FAULT|panicked|^test " || status=$?
failed=$(grep -c "panicked" "$log" || true)
echo
print_tables "$log"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "faults.sh: a trial failed (see its panic above)" >&2
    exit 1
fi
