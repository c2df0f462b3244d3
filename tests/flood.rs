//! `synscope flood` end to end.
//!
//! - Refusals, which need no privileges: an unbounded flood and a duration past 300 s are usage errors (exit 2),
//!   and a target beyond loopback from the initial namespace is refused in one line (exit 1) before any interface
//!   or socket is touched.
//! - With root (CI runs as root; without it the tests say loudly that they skipped): a flood between two test
//!   namespaces joined by a veth arrives whole, from the spoofed range and port range asked for, as the far side's
//!   capture shows; `--rate` holds within ±20% as the far side's rx_packets counter measures; a flood of
//!   127.0.0.1 on the initial namespace's loopback works; SIGTERM stops a flood with its report; an IPv6 flood
//!   beyond the host goes out of `-i` to `--dest-mac`, and without `--dest-mac` is refused in one line.
//!
//! Every namespace, veth and process sits in a guard that removes it, pass or fail.

mod common;

use std::net::IpAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use common::netns::{HostVeth, Netns, have_root, run, unique_name};
use common::process::{Running, free_port};
use common::{stderr, stdout, synscope};
use synscope::wire::segment::TcpFlags;
use synscope::wire::{LinkType, decode};

const BIN: &str = env!("CARGO_BIN_EXE_synscope");
const FLOOD_IP: &str = "10.254.0.1";
const TARGET_IP: &str = "10.254.0.2";
const PORT: u16 = 9999;

/// The one line of a refusal: `synscope: ...`, nothing else on stderr, nothing on stdout.
fn one_line_error(out: &Output) -> String {
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("synscope: "), "{err}");
    assert!(stdout(out).is_empty(), "stdout: {}", stdout(out));
    err
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_str(stdout(out).trim())
        .unwrap_or_else(|e| panic!("the JSON report: {e}: {} (stderr: {})", stdout(out), stderr(out)))
}

mod refusals {
    use super::*;

    #[test]
    fn a_flood_without_count_or_duration_is_a_usage_error() {
        let out = synscope(["flood", "--target", "127.0.0.1:9999"]);
        assert_eq!(out.status.code(), Some(2));
        let err = one_line_error(&out);
        assert!(err.contains("give --count N or --duration D"), "{err}");
    }

    #[test]
    fn a_duration_over_300s_is_a_usage_error() {
        let out = synscope(["flood", "--target", "127.0.0.1:9999", "--duration", "301s", "-c", "10"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(one_line_error(&out).contains("--duration is at most 300s"));
    }

    #[test]
    fn bad_ranges_and_options_are_usage_errors() {
        for args in [
            ["--spoof", "10.0.0.0/40"],
            ["--src-ports", "9-1"],
            ["--syn-options", "mss,fastopen"],
            ["--spoof", "2001:db8::/32"],
        ] {
            let out = synscope(["flood", "--target", "127.0.0.1:9999", "-c", "1"].iter().chain(&args));
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        }
    }

    #[test]
    fn a_target_beyond_loopback_is_refused_from_the_initial_namespace_before_anything_else() {
        if let Ok(false) = synscope::safety::in_initial_netns() {
            eprintln!("SKIPPED: these tests do not run in the initial network namespace");
            return;
        }
        // 192.0.2.1 is TEST-NET-1 (RFC 5737). The interface named does not exist: the refusal comes first, so the
        // rule is applied before any interface is looked up, let alone a socket opened.
        let out = synscope(["flood", "--target", "192.0.2.1:80", "-c", "10", "-i", "nosuch0"]);
        assert_eq!(out.status.code(), Some(1));
        let err = one_line_error(&out);
        assert!(err.starts_with("synscope: refusing to send to 192.0.2.1"), "{err}");
        assert!(err.contains("ip netns exec"), "{err}");
    }

    #[test]
    fn spoofed_ipv6_at_loopback_is_refused_from_the_initial_namespace() {
        if !matches!(synscope::safety::in_initial_netns(), Ok(true)) {
            eprintln!("SKIPPED: these tests do not run in the initial network namespace");
            return;
        }
        // Linux would answer 2001:2::/48 from ::1 by the default route: the refusal comes before any socket.
        let out = synscope(["flood", "--target", "[::1]:9999", "-c", "10", "-i", "nosuch0"]);
        assert_eq!(out.status.code(), Some(1));
        let err = one_line_error(&out);
        assert!(err.starts_with("synscope: refusing to spoof IPv6 sources"), "{err}");
        assert!(err.contains("--source ::1"), "{err}");
    }
}

/// Two namespaces joined by a veth: `flood` (10.254.0.1) and `target` (10.254.0.2), nothing listening.
struct Pair {
    flood: Netns,
    target: Netns,
    flood_if: String,
    target_if: String,
}

impl Pair {
    fn new() -> Pair {
        let flood = Netns::new("fl");
        let target = Netns::new("ft");
        let (a, b) = (unique_name("fa"), unique_name("fb"));
        run(
            "ip",
            &["link", "add", &a, "netns", &flood.name, "type", "veth", "peer", "name", &b, "netns", &target.name],
        );
        flood.exec_ok(&["ip", "addr", "add", &format!("{FLOOD_IP}/24"), "dev", &a]);
        target.exec_ok(&["ip", "addr", "add", &format!("{TARGET_IP}/24"), "dev", &b]);
        flood.exec_ok(&["ip", "link", "set", &a, "up"]);
        target.exec_ok(&["ip", "link", "set", &b, "up"]);
        Pair { flood, target, flood_if: a, target_if: b }
    }

    /// `synscope flood --target 10.254.0.2:9999 ARGS` from the flood namespace.
    fn flood(&self, args: &[&str]) -> Output {
        let target = format!("{TARGET_IP}:{PORT}");
        let out = self.flood.command(BIN).args(["flood", "--target", &target]).args(args).output().expect("flood");
        assert!(out.status.success(), "flood {args:?} failed: {}", stderr(&out));
        out
    }

    /// Frames the target's end of the veth has received.
    fn rx_packets(&self) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/rx_packets", self.target_if);
        let out = self.target.exec_ok(&["cat", &path]);
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("a number")
    }
}

/// `synscope sniff -q -w FILE FILTER` on `interface` (in `netns`, if given), started and listening.
fn sniffer(netns: Option<&Netns>, interface: &str, file: &Path, filter: &str) -> Running {
    let mut command = match netns {
        Some(netns) => netns.command(BIN),
        None => Command::new(BIN),
    };
    command.args(["sniff", "-q", "-i", interface, "-w", file.to_str().unwrap(), filter]);
    let mut sniffer = Running::spawn(command);
    sniffer.wait_for_stderr("listening on");
    sniffer
}

/// Stops the sniffer and returns the frames of its file.
fn captured(sniffer: Running, file: &Path) -> Vec<Vec<u8>> {
    let (code, _, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "sniff: {err}");
    let mut reader = pcap_file::pcap::PcapReader::new(std::fs::File::open(file).expect("the capture")).unwrap();
    let mut frames = Vec::new();
    while let Some(packet) = reader.next_packet() {
        frames.push(packet.expect("a record").data.into_owned());
    }
    frames
}

/// Every frame must be a bare SYN to `port`; returns their (source address, source port).
fn syns_to(frames: &[Vec<u8>], port: u16) -> Vec<(IpAddr, u16)> {
    frames
        .iter()
        .map(|frame| {
            let packet = decode(LinkType::Ethernet, frame);
            let tcp = packet.tcp().unwrap_or_else(|| panic!("not TCP: {frame:02x?}"));
            assert_eq!(tcp.flags, TcpFlags(TcpFlags::SYN));
            assert_eq!(tcp.dst_port, port);
            let src = match &packet.net {
                synscope::wire::packet::Net::Ipv4(ip) => IpAddr::V4(ip.src),
                other => panic!("not IPv4: {other:?}"),
            };
            (src, tcp.src_port)
        })
        .collect()
}

#[test]
fn a_counted_flood_arrives_whole_from_the_sources_and_ports_asked() {
    if !have_root("a_counted_flood_arrives_whole_from_the_sources_and_ports_asked") {
        return;
    }
    let pair = Pair::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("syns.pcap");
    let sniff = sniffer(Some(&pair.target), &pair.target_if, &file, &format!("tcp dst port {PORT}"));
    // As from an upstream router: the frames carry the MAC we give, not the interface's.
    let out = pair.flood(&[
        "-c",
        "5000",
        "--spoof",
        "10.128.0.0/9",
        "--src-ports",
        "40000-40099",
        "--source-mac",
        "02:00:00:5b:f0:77",
        "--format",
        "json",
    ]);
    let json = report(&out);
    assert_eq!(json["sent"], 5000, "{json}");
    assert_eq!(json["failed"], 0, "{json}");
    assert_eq!(json["stopped"], "count", "{json}");
    assert!(json["rate"].as_f64().unwrap() > 0.0, "{json}");

    let frames = captured(sniff, &file);
    assert!(frames.iter().all(|frame| frame[6..12] == [2, 0, 0, 0x5b, 0xf0, 0x77]), "a frame kept the interface's MAC");
    let syns = syns_to(&frames, PORT);
    assert!(syns.len() >= 4950, "only {} of 5000 SYNs arrived: {}", syns.len(), stderr(&out));
    let range: synscope::flood::spec::Cidr = "10.128.0.0/9".parse().unwrap();
    for (src, port) in &syns {
        assert!(range.contains(*src), "source {src} outside {range}");
        assert!((40000..=40099).contains(port), "source port {port}");
    }
    let sources: std::collections::HashSet<_> = syns.iter().map(|(src, _)| src).collect();
    assert!(sources.len() > 4900, "sources are random: only {} distinct in {}", sources.len(), syns.len());
}

/// IPv6 beyond this host: synscope reads no IPv6 neighbour table, so the way is given, `-i` and `--dest-mac`
/// (as `lab --ipv6` does), and the SYNs arrive from RFC 5180's block with that MAC. Without `--dest-mac` the flood
/// says what it needs in one line.
#[test]
fn an_ipv6_flood_goes_the_way_it_is_told() {
    if !have_root("an_ipv6_flood_goes_the_way_it_is_told") {
        return;
    }
    let pair = Pair::new();
    let path = format!("/sys/class/net/{}/address", pair.target_if);
    let mac = String::from_utf8_lossy(&pair.target.exec_ok(&["cat", &path]).stdout).trim().to_string();
    let target = format!("[fd00:254::2]:{PORT}");
    let flood = |extra: &[&str]| {
        let args = ["flood", "--target", &target, "-c", "2000", "-i", &pair.flood_if, "--format", "json"];
        pair.flood.command(BIN).args(args).args(extra).output().expect("flood")
    };
    let refused = flood(&[]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(one_line_error(&refused).contains("--dest-mac MAC"), "{}", stderr(&refused));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("syns6.pcap");
    let sniff = sniffer(Some(&pair.target), &pair.target_if, &file, &format!("ip6 and tcp dst port {PORT}"));
    let out = flood(&["--dest-mac", &mac]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report(&out)["sent"], 2000);
    let frames = captured(sniff, &file);
    assert!(frames.len() >= 1980, "only {} of 2000 SYNs arrived", frames.len());
    let want_mac = synscope::wire::mac::parse(&mac).unwrap();
    let range: synscope::flood::spec::Cidr = "2001:2::/48".parse().unwrap();
    for frame in &frames {
        assert_eq!(frame[..6], want_mac, "the frame is for the MAC given");
        let packet = decode(LinkType::Ethernet, frame);
        let synscope::wire::packet::Net::Ipv6(ip) = &packet.net else { panic!("not IPv6: {frame:02x?}") };
        assert_eq!(ip.dst, "fd00:254::2".parse::<std::net::Ipv6Addr>().unwrap());
        assert!(range.contains(IpAddr::V6(ip.src)), "source {} outside {range}", ip.src);
        assert_eq!(packet.tcp().expect("TCP").flags, TcpFlags(TcpFlags::SYN));
    }
}

#[test]
fn threads_share_the_count_exactly() {
    if !have_root("threads_share_the_count_exactly") {
        return;
    }
    let pair = Pair::new();
    pair.flood(&["-c", "1"]);
    for tx in ["ring", "mmsg"] {
        let before = pair.rx_packets();
        let json = report(&pair.flood(&["-c", "5000", "--threads", "3", "--tx", tx, "--format", "json"]));
        assert_eq!((json["sent"].as_u64(), json["threads"].as_u64()), (Some(5000), Some(3)), "{json}");
        let arrived = pair.rx_packets() - before;
        assert!(arrived >= 4950, "--tx {tx}: {arrived} of 5000 arrived");
    }
}

#[test]
fn a_rate_holds_within_20_percent_as_the_far_side_counts() {
    if !have_root("a_rate_holds_within_20_percent_as_the_far_side_counts") {
        return;
    }
    let pair = Pair::new();
    // A first SYN resolves the target's MAC (ARP plus one datagram to port 9), so the measured run sends SYNs only.
    pair.flood(&["-c", "1"]);
    let before = pair.rx_packets();
    let json = report(&pair.flood(&["--rate", "2000", "--duration", "2s", "--format", "json"]));
    let arrived = pair.rx_packets() - before;
    let seconds = json["duration_s"].as_f64().unwrap();
    let rate = arrived as f64 / seconds;
    assert!((1600.0..=2400.0).contains(&rate), "{arrived} frames in {seconds:.2} s is {rate:.0}/s, not 2000 ±20%");
    assert_eq!(json["stopped"], "duration", "{json}");
    assert_eq!(json["rate_requested"], 2000, "{json}");
}

#[test]
fn a_flood_of_loopback_in_the_initial_namespace_works() {
    if !have_root("a_flood_of_loopback_in_the_initial_namespace_works") {
        return;
    }
    // Either sender: the default picks raw IP while lo's route_localnet is off, so SYNs reach a listener; the ring
    // puts frames on lo below IP. Each must show up on lo exactly as often as it was sent.
    for tx in ["auto", "ring"] {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lo.pcap");
        let sniff = sniffer(None, "lo", &file, &format!("tcp dst port {port} and src net 198.18.0.0/15"));
        let target = format!("127.0.0.1:{port}");
        let out = synscope(["flood", "--target", &target, "-c", "2000", "--tx", tx, "--format", "json"]);
        assert!(out.status.success(), "--tx {tx}: {}", stderr(&out));
        let json = report(&out);
        assert_eq!((json["sent"].as_u64(), json["interface"].as_str()), (Some(2000), Some("lo")), "{json}");
        let syns = syns_to(&captured(sniff, &file), port);
        assert!(syns.len() >= 1980, "--tx {tx}: {} of 2000 SYNs seen on lo", syns.len());
    }
}

#[test]
fn sigterm_stops_a_flood_with_its_report() {
    if !have_root("sigterm_stops_a_flood_with_its_report") {
        return;
    }
    let target = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(BIN);
    command.args(["flood", "--target", &target, "--rate", "1000", "--duration", "60s", "--format", "json"]);
    let mut flood = Running::spawn(command);
    flood.wait_for_stderr("synscope: flooding");
    std::thread::sleep(Duration::from_millis(300));
    let (code, out, err) = flood.terminate();
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
    assert_eq!(json["stopped"], "signal", "{json}");
    assert!(json["sent"].as_u64().unwrap() > 0, "{json}");
    assert!(json["duration_s"].as_f64().unwrap() < 30.0, "{json}");
    assert!(err.contains("; interrupted"), "{err}");
}

#[test]
fn a_real_interface_of_the_initial_namespace_is_never_flooded() {
    if !have_root("a_real_interface_of_the_initial_namespace_is_never_flooded") {
        return;
    }
    if !matches!(synscope::safety::in_initial_netns(), Ok(true)) {
        eprintln!("SKIPPED: these tests do not run in the initial network namespace");
        return;
    }
    let veth = HostVeth::new();
    run("ip", &["link", "set", &veth.a, "up"]);
    let before = veth.tx_packets();
    // A loopback target cannot be sent out of another interface; a non-loopback one is refused by the rule.
    for target in ["127.0.0.1:80", "192.0.2.1:80"] {
        let out = synscope(["flood", "--target", target, "-c", "100", "-i", &veth.a]);
        assert_eq!(out.status.code(), Some(1), "{target}: {}", stderr(&out));
        one_line_error(&out);
    }
    assert_eq!(veth.tx_packets(), before, "nothing left by {}", veth.a);
}

#[test]
fn without_cap_net_raw_the_error_says_how_to_grant_it() {
    if !have_root("without_cap_net_raw_the_error_says_how_to_grant_it") {
        return;
    }
    // Drop to nobody with no capabilities, as an ordinary user would run it; every sender needs the capability.
    for tx in ["auto", "ring", "mmsg"] {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
            .arg(BIN)
            .args(["flood", "--target", "127.0.0.1:9", "-c", "1", "--tx", tx])
            .output();
        let Ok(out) = out else {
            common::skip_or_fail("setpriv (util-linux) is not installed");
            return;
        };
        assert_eq!(out.status.code(), Some(1), "--tx {tx}");
        let err = one_line_error(&out);
        assert!(err.contains("CAP_NET_RAW") && err.contains("setcap cap_net_raw+ep"), "{err}");
    }
}
