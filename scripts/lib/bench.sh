# Shared by the scripts/bench-*.sh that build network namespaces: the checks before they start, the namespaces
# themselves, and the cleanup that removes them (and whatever runs inside) however the script exits.
# Source it from the repository root; it sets BIN, TMP and the EXIT trap.

BIN=$(realpath -m "${CARGO_TARGET_DIR:-target}")/release/synscope
TMP=$(mktemp -d)
BENCH_NAMESPACES=()

bench_cleanup() {
    for ns in "${BENCH_NAMESPACES[@]}"; do
        ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$TMP"
}
trap bench_cleanup EXIT INT TERM

# require_root SCRIPT WHAT: these benchmarks make namespaces and send floods.
require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "$1 $2: run it as root (sudo)" >&2
        exit 1
    fi
}

# require_tools TOOL...
require_tools() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$tool is not installed (scripts/install-test-tools.sh)" >&2; exit 1; }
    done
}

# bounded_seconds N: floods are bounded to 1..10 s.
bounded_seconds() {
    if (($1 > 10 || $1 < 1)); then
        echo "SECONDS_PER_RUN is from 1 to 10 (the flood is bounded)" >&2
        exit 2
    fi
}

build_release() {
    echo "building synscope (release)..." >&2
    cargo build --release --quiet
}

# make_namespace NAME: a namespace with loopback up and IPv6 off (no router solicitations muddying the counts),
# removed at exit.
make_namespace() {
    ip netns add "$1"
    BENCH_NAMESPACES+=("$1")
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# bump_in_the_wire PREFIX SUBNET: the lab's three namespaces, $PREFIX-client, -gateway and -server, each made with
# make_namespace, and two veths at their defaults: PREFIX-c (client, SUBNET.1/24) to PREFIX-out (gateway), and
# PREFIX-s (server, SUBNET.2/24) to PREFIX-in (gateway). The gateway's ends carry no address: only a guard or a
# bridge joins the two sides. Sets C, G and S to the namespaces' names.
bump_in_the_wire() {
    C=$1-client-$$
    G=$1-gateway-$$
    S=$1-server-$$
    for ns in "$C" "$G" "$S"; do
        make_namespace "$ns"
    done
    ip link add "$1-c" netns "$C" type veth peer name "$1-out" netns "$G"
    ip link add "$1-s" netns "$S" type veth peer name "$1-in" netns "$G"
    ip -n "$C" addr add "$2.1/24" dev "$1-c"
    ip -n "$S" addr add "$2.2/24" dev "$1-s"
    for end in "$C $1-c" "$S $1-s" "$G $1-out" "$G $1-in"; do
        set -- $end
        ip -n "$1" link set "$2" up
    done
}

# veth_pair NS_A IF_A ADDR_A NS_B IF_B ADDR_B: a veth made with each end already in its namespace (nothing is ever
# left in the host's), each end given its address (CIDR) and brought up. The namespaces go, and the pair with
# them, at exit.
veth_pair() {
    ip link add "$2" netns "$1" type veth peer name "$5" netns "$4"
    ip -n "$1" addr add "$3" dev "$2"
    ip -n "$4" addr add "$6" dev "$5"
    ip -n "$1" link set "$2" up
    ip -n "$4" link set "$5" up
}
