//! The guard's data path with the defaults users have (root; CI runs as root). Every veth keeps GSO, GRO, checksum
//! and VLAN offloads on, so TCP hands the guard 64 KB super-frames with partial checksums; the guard must forward
//! them whole, or bulk data stalls (issue 11: it stalled after 78 KB).
//!
//! Each test moves 256 MB from the client to the server and 256 MB back through `synscope guard`, and both ends
//! check every byte against a SHA-256 of what the other sent:
//! - in every mode (`off`, `limit`, `cookies`, `auto`), and in `cookies` on both fast paths: SYNs answered by the
//!   XDP program and SYNs answered from the packet rings;
//! - with MTU 9000 on every link (frames too long for a ring slot);
//! - over IPv6;
//! - VLAN-tagged (the driver takes the tag out; the guard puts it back);
//! - from a client with timestamps off, and one with window scaling off (the proxy's other option sets).

mod common;

use common::bulk::{CLIENT, SERVER};
use common::netns::have_root;
use common::process::Running;
use common::stderr;
use common::topology::{SERVER_IP, Topology};
use common::vlan_tag::{Tagging, kernel_has_vlan_devices, tag_host};

const BIN: &str = env!("CARGO_BIN_EXE_synscope");
const PORT: u16 = 9999;
const BYTES: u64 = 256 << 20;

/// What to change from the plain topology.
#[derive(Clone, Copy, Default)]
struct Variant {
    mtu: Option<u32>,
    ipv6: bool,
    /// The VLAN id both hosts tag with, and how they tag.
    vlan: Option<(u16, Tagging)>,
    client_sysctl: Option<&'static str>,
    /// `--fast-path`, when not the default (`auto`: XDP in cookies mode where it loads).
    fast_path: Option<&'static str>,
    /// `--forward`, when not the default (`auto`: in off mode the kernel bridges, where its program attaches).
    forward: Option<&'static str>,
}

const CLIENT_V6: &str = "2001:db8:77::1";
const SERVER_V6: &str = "2001:db8:77::2";
const CLIENT_VLAN_IP: &str = "10.78.0.1";
const SERVER_VLAN_IP: &str = "10.78.0.2";

/// Runs one transfer through the guard in `mode`; returns the guard's final statistics.
fn transfer(mode: &str, variant: Variant) -> serde_json::Value {
    let topology = Topology::new("dp");
    if let Some(mtu) = variant.mtu {
        let mtu = mtu.to_string();
        for (ns, interface) in [
            (&topology.client, &topology.client_if),
            (&topology.server, &topology.server_if),
            (&topology.gateway, &topology.outside),
            (&topology.gateway, &topology.inside),
        ] {
            ns.exec_ok(&["ip", "link", "set", interface, "mtu", &mtu]);
        }
    }
    let (client_ip, server_ip) = if variant.ipv6 {
        // The test namespaces start with IPv6 off (tests/common/netns.rs); this one needs it on its two hosts.
        for (ns, interface) in [(&topology.client, &topology.client_if), (&topology.server, &topology.server_if)] {
            ns.exec_ok(&["sysctl", "-qw", &format!("net.ipv6.conf.{interface}.disable_ipv6=0")]);
        }
        topology.client.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{CLIENT_V6}/64"),
            "dev",
            &topology.client_if,
            "nodad",
        ]);
        topology.server.exec_ok(&[
            "ip",
            "addr",
            "add",
            &format!("{SERVER_V6}/64"),
            "dev",
            &topology.server_if,
            "nodad",
        ]);
        (CLIENT_V6, SERVER_V6)
    } else if let Some((id, tagging)) = variant.vlan {
        for (ns, interface, ip) in [
            (&topology.client, &topology.client_if, CLIENT_VLAN_IP),
            (&topology.server, &topology.server_if, SERVER_VLAN_IP),
        ] {
            tag_host(ns, interface, id, ip, tagging);
        }
        (CLIENT_VLAN_IP, SERVER_VLAN_IP)
    } else {
        (common::topology::CLIENT_IP, SERVER_IP)
    };
    if let Some(setting) = variant.client_sysctl {
        topology.client.exec_ok(&["sysctl", "-qw", setting]);
    }
    let protect = if variant.ipv6 { format!("[{server_ip}]:{PORT}") } else { format!("{server_ip}:{PORT}") };
    let mut server = Running::spawn({
        let mut command = topology.server.command("python3");
        command.args(["-c", SERVER, server_ip, &PORT.to_string()]);
        command
    });
    server.wait_for_stdout("listening");
    let mut guard = Running::spawn({
        let mut command = topology.gateway.command(BIN);
        command.args(["guard", "-q", "--outside", &topology.outside, "--inside", &topology.inside]);
        command.args(["--protect", &protect, "--mode", mode]);
        if let Some(path) = variant.fast_path {
            command.args(["--fast-path", path]);
        }
        if let Some(forward) = variant.forward {
            command.args(["--forward", forward]);
        }
        command
    });
    guard.wait_for_stderr("guarding");
    let out = topology
        .client
        .command("python3")
        .args(["-c", CLIENT, server_ip, &PORT.to_string(), &BYTES.to_string(), client_ip])
        .output()
        .expect("running the bulk client");
    let (code, stats, guard_err) = guard.terminate();
    let (_, server_out, server_err) = server.terminate();
    assert!(
        out.status.success(),
        "{mode}: the transfer failed: {}\nserver: {server_out}{server_err}\nguard: {guard_err}\n{stats}",
        stderr(&out)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok"), "{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{mode}: {}", String::from_utf8_lossy(&out.stdout).trim());
    assert_eq!(code, Some(0), "guard failed: {guard_err}");
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("guard statistics are JSON");
    assert_eq!(stats["send_errors"], 0, "{stats}");
    assert_eq!(stats["ring_drops"]["too_long"], 0, "{stats}");
    assert_eq!(stats["data_path"]["unsendable"], 0, "{stats}");
    stats
}

/// TCX links (BPF_LINK_CREATE on tc ingress) came in Linux 6.6; before that the kernel bridge falls back to the
/// rings, as it should.
fn kernel_has_tcx() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release.split(|c: char| !c.is_ascii_digit()).filter_map(|n| n.parse::<u32>().ok());
    (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0)) >= (6, 6)
}

fn skip(test: &str) -> bool {
    !have_root(test)
}

#[test]
fn every_mode_carries_256_mb_each_way_with_default_offloads() {
    if skip("every_mode_carries_256_mb_each_way_with_default_offloads") {
        return;
    }
    let runs = [
        ("off", None, None),
        ("off", None, Some("rings")),
        ("limit", None, None),
        ("cookies", Some("packet"), None),
        ("cookies", None, None),
        ("auto", None, None),
    ];
    for (mode, fast_path, forward) in runs {
        let stats = transfer(mode, Variant { fast_path, forward, ..Variant::default() });
        // Off mode's frames are moved by the kernel bridge where it attaches (a binary built with its BPF
        // programs, a kernel with TCX), unless the rings are asked for; every other mode reads them from the rings.
        let expected_forwarding = if mode == "off" && forward.is_none() && synscope::xdp::built_in() && kernel_has_tcx()
        {
            "kernel"
        } else {
            "rings"
        };
        assert_eq!(stats["forwarding"]["kind"], expected_forwarding, "{mode}: {stats}");
        if expected_forwarding == "kernel" {
            // Both directions' bytes crossed the program, as super-frames for the most part.
            for side in ["from_outside", "from_inside"] {
                let moved = &stats["forwarding"][side];
                assert!(moved["bytes"].as_u64().unwrap() >= BYTES, "{side}: {stats}");
                assert!(moved["super_frames"].as_u64().unwrap() > 100, "{side}: {stats}");
            }
            assert_eq!(stats["frames_in"], stats["bridged"], "{stats}");
        }
        let expected_path =
            if mode == "cookies" && fast_path.is_none() && synscope::xdp::built_in() { "xdp" } else { "packet" };
        assert_eq!(stats["fast_path"]["kind"], expected_path, "{mode}: {stats}");
        if expected_path == "xdp" {
            // The transfer's SYN was answered in XDP; its client-to-server bytes all crossed the program.
            assert_eq!(stats["fast_path"]["xdp"]["synacks_sent"], 1, "{stats}");
            assert_eq!(stats["syns_seen"], 0, "{stats}");
        }
        // The client's TCP handed the guard super-frames, and they went on as super-frames: segmented by the
        // kernel on egress, not by us, and not cut.
        assert!(stats["data_path"]["super_frames"].as_u64().unwrap() > 100, "{mode}: {stats}");
        assert_eq!(stats["data_path"]["segmented_here"], 0, "{mode}: {stats}");
        if mode == "cookies" || mode == "auto" {
            assert_eq!(stats["proxy"]["established"], 1, "{mode}: {stats}");
        }
    }
}

#[test]
fn jumbo_frames_at_mtu_9000() {
    if skip("jumbo_frames_at_mtu_9000") {
        return;
    }
    let stats = transfer("cookies", Variant { mtu: Some(9000), ..Variant::default() });
    assert_eq!(stats["proxy"]["established"], 1, "{stats}");
}

#[test]
fn an_ipv6_session() {
    if skip("an_ipv6_session") {
        return;
    }
    let stats = transfer("cookies", Variant { ipv6: true, ..Variant::default() });
    assert_eq!(stats["proxy"]["established"], 1, "{stats}");
    assert!(stats["data_path"]["super_frames"].as_u64().unwrap() > 100, "{stats}");
}

#[test]
fn a_vlan_tagged_session() {
    if skip("a_vlan_tagged_session") {
        return;
    }
    // The hosts tag with 802.1Q devices where the kernel has them, else with a tc BPF program on their interfaces
    // (tests/common/vlan_tag.bpf.c); the frames between them are tagged either way.
    let tagging = if kernel_has_vlan_devices() { Tagging::Device } else { Tagging::TcBpf };
    eprintln!("a_vlan_tagged_session: hosts tag with {tagging:?}");
    // Tagged frames are bridged uninspected (the guard's answers carry no tags); the tag the driver took out must
    // be put back, with the super-frame's offsets moved by its 4 bytes.
    for fast_path in [Some("packet"), None] {
        let stats = transfer("cookies", Variant { vlan: Some((10, tagging)), fast_path, ..Variant::default() });
        assert!(stats["tagged_bridged"].as_u64().unwrap() > 100, "{fast_path:?}: {stats}");
        assert!(stats["data_path"]["super_frames"].as_u64().unwrap() > 100, "{fast_path:?}: {stats}");
        if stats["fast_path"]["kind"] == "xdp" {
            // The program cannot see a tag the driver took out, so the first tagged frame (the client's ARP
            // request) must stop it answering before the client's SYN comes: a SYN-ACK it sent would be untagged.
            let why = stats["fast_path"]["why_packet"].as_str().unwrap_or_default();
            assert!(why.contains("802.1Q"), "{stats}");
            assert_eq!(stats["fast_path"]["xdp"]["synacks_sent"], 0, "{stats}");
        }
    }
}

#[test]
fn clients_without_timestamps_or_without_window_scaling() {
    if skip("clients_without_timestamps_or_without_window_scaling") {
        return;
    }
    for setting in ["net.ipv4.tcp_timestamps=0", "net.ipv4.tcp_window_scaling=0"] {
        let stats = transfer("cookies", Variant { client_sysctl: Some(setting), ..Variant::default() });
        assert_eq!(stats["proxy"]["established"], 1, "{setting}: {stats}");
    }
}

/// Accepts connections until killed, answering each with one line.
const ACCEPTOR: &str = r#"
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(16)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"hi\n")
    c.close()
"#;

/// Exits 0 when a connection opens and its line arrives within a second, 1 otherwise.
const CONNECT_ONCE: &str = r#"
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    sys.exit(0 if c.recv(3) == b"hi\n" else 1)
except OSError:
    sys.exit(1)
"#;

#[test]
fn the_kernel_bridge_spares_the_gateways_own_address_and_dies_with_its_guard() {
    if skip("the_kernel_bridge_spares_the_gateways_own_address_and_dies_with_its_guard") {
        return;
    }
    if !synscope::xdp::built_in() {
        eprintln!(
            "SKIPPED the_kernel_bridge_spares_the_gateways_own_address_and_dies_with_its_guard: built without the \
             BPF programs (no clang)"
        );
        return;
    }
    if !kernel_has_tcx() {
        eprintln!(
            "SKIPPED the_kernel_bridge_spares_the_gateways_own_address_and_dies_with_its_guard: this kernel has no \
             TCX links (Linux 6.6), so off mode uses the rings"
        );
        return;
    }
    // The kernel bridge hangs on TCX links owned by the guard's descriptors: a SIGKILL must take it off both
    // interfaces, or the namespace would go on bridging with no guard (a netlink tc filter would).
    let topology = Topology::new("kb");
    let port = PORT.to_string();
    let mut server = Running::spawn({
        let mut command = topology.server.command("python3");
        command.args(["-c", ACCEPTOR, SERVER_IP, &port]);
        command
    });
    server.wait_for_stdout("listening");
    let connects_to = |ip: &str| {
        let out = topology.client.command("python3").args(["-c", CONNECT_ONCE, ip, &port]).output();
        out.expect("running the client").status.success()
    };
    let connects = || connects_to(SERVER_IP);
    assert!(!connects(), "the gateway bridged before any guard ran");
    // A management address on the guard's outside interface, with a service behind it: through the rings the
    // gateway's own stack got every frame, and the kernel bridge must not take that away (it clones broadcast,
    // multicast and frames to the interface's own MAC up the stack).
    let management = "10.77.0.3";
    topology.gateway.exec_ok(&["ip", "addr", "add", &format!("{management}/24"), "dev", &topology.outside]);
    let mut own_service = Running::spawn({
        let mut command = topology.gateway.command("python3");
        command.args(["-c", ACCEPTOR, management, &port]);
        command
    });
    own_service.wait_for_stdout("listening");
    let mut guard = Running::spawn({
        let mut command = topology.gateway.command(BIN);
        command.args(["guard", "-q", "--outside", &topology.outside, "--inside", &topology.inside]);
        command.args(["--protect", &format!("{SERVER_IP}:{PORT}"), "--mode", "off", "--forward", "kernel"]);
        command
    });
    guard.wait_for_stderr("forwarding: in the kernel");
    assert!(connects(), "no connection through the kernel bridge");
    assert!(connects_to(management), "the gateway's own address is unreachable while the kernel bridges");
    guard.kill_hard();
    assert!(!connects(), "the kernel bridge went on bridging after its guard was killed");
}
