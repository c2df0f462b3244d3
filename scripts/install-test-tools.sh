#!/usr/bin/env bash
# Installs the outside tools the tests compare against or drive: tshark and tcpdump (cross-checks, benchmarks),
# hping3 (the flood peer), iproute2 (namespaces), python3 (the seed's peers), setpriv from util-linux (running as an
# unprivileged user), the DejaVu font (text in the lab's PNG charts), clang and libbpf-dev (they build the guard's
# XDP program; without them synscope builds without it), and iperf3 (the peer of scripts/bench-datapath.sh). Skips
# apt when everything is there. Run it before the first build: build.rs looks for clang once, and a build made
# without it stays without XDP until build.rs runs again (`touch build.rs`).
set -euo pipefail

need=()
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v hping3 >/dev/null 2>&1 || need+=(hping3)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v clang >/dev/null 2>&1 || need+=(clang)
[ -f /usr/include/bpf/bpf_helpers.h ] || need+=(libbpf-dev)
command -v iperf3 >/dev/null 2>&1 || need+=(iperf3)

if [ ${#need[@]} -eq 0 ]; then
  echo "install-test-tools: tshark, tcpdump, hping3, iproute2, python3, setpriv, DejaVu, clang, libbpf-dev and iperf3 are present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-test-tools: need root or sudo to install: ${need[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-test-tools: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# tshark asks whether non-root users may capture; the non-interactive default (no) is what we want.
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
