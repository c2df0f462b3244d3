//! The guard with its XDP fast path, end to end in the lab's three namespaces (root; CI runs as root), every veth
//! at its defaults:
//!
//! - the seed's client is served with every SYN answered by the XDP program;
//! - a crafted flood of SYNs and forged ACKs: the program answers every SYN (the userspace SYN counter stays 0) and
//!   drops every forged ACK, and a client right after is served;
//! - a guard killed with SIGKILL leaves no program on the interface, and a new one attaches cleanly;
//! - native mode forced on a veth whose peer runs no XDP (where XDP_TX frames are lost) turns itself off at the
//!   first failure, and the packet rings serve the client;
//! - modes the program cannot serve are refused with one line, and so is a second guard on the same interface.
//!
//! The 256 MB-each-way transfers through the XDP-fronted guard are in tests/guard_datapath.rs, with the others.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::guard_lab::{BIN, Lab, PORT, TRANSCRIPT, flood_pcap, guard_command, peak_syn_recv, replay};
use common::netns::have_root;
use common::stderr;
use common::topology::SERVER_IP;

/// Whether the test can run: root, and a binary built with the XDP program (CI installs clang, so there it must be).
fn xdp_ready(test: &str) -> bool {
    if !have_root(test) {
        return false;
    }
    if !synscope::xdp::built_in() {
        assert!(std::env::var_os("SYNSCOPE_REQUIRE_ROOT").is_none(), "{test}: synscope was built without XDP");
        eprintln!("SKIPPED {test}: synscope was built without XDP support (install clang and libbpf-dev)");
        return false;
    }
    true
}

/// The XDP program attached to `interface` in the gateway, as `ip link` shows it ("prog/xdp id N ..."), if any.
fn attached_program(lab: &Lab) -> Option<String> {
    let out = lab.topology.gateway.exec_ok(&["ip", "-d", "link", "show", "dev", &lab.topology.outside]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.contains("prog/xdp")).map(|l| l.trim().to_string())
}

#[test]
fn the_seed_client_is_served_with_every_syn_answered_in_xdp() {
    if !xdp_ready("the_seed_client_is_served_with_every_syn_answered_in_xdp") {
        return;
    }
    let mut lab = Lab::start("cookies", &["--fast-path", "xdp"]);
    assert_eq!(lab.connect(), TRANSCRIPT, "our connect through the XDP-fronted guard");
    let seed_sessions = if lab.run_seed_client("through the XDP-fronted guard") { 2 } else { 1 };
    let stats = lab.stop_guard();
    assert_eq!(stats["fast_path"]["kind"], "xdp", "{stats}");
    assert_eq!(stats["fast_path"]["xdp_mode"], "skb", "a veth gets generic XDP: {stats}");
    assert_eq!(stats["fast_path"]["xdp"]["synacks_sent"], seed_sessions, "{stats}");
    assert_eq!(stats["syns_seen"], 0, "no SYN reached the rings: {stats}");
    assert_eq!(stats["cookies_validated"], seed_sessions, "{stats}");
    assert_eq!(stats["proxy"]["established"], seed_sessions, "{stats}");
}

#[test]
fn a_flood_is_answered_entirely_in_xdp_and_no_forged_ack_gets_through() {
    if !xdp_ready("a_flood_is_answered_entirely_in_xdp_and_no_forged_ack_gets_through") {
        return;
    }
    let mut lab = Lab::start("cookies", &["--fast-path", "xdp"]);
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("flood.pcap");
    let (syns, acks) = (3000, 2000);
    flood_pcap(&flood, &lab.topology, syns, acks);
    let peak = peak_syn_recv(&lab.topology, || replay(&lab.topology, &flood));
    assert_eq!(peak, 0, "the listener had connections in SYN-RECV behind the XDP guard");
    assert_eq!(lab.connect(), TRANSCRIPT, "a legitimate client right after the flood");
    let stats = lab.stop_guard();
    let xdp = &stats["fast_path"]["xdp"];
    assert_eq!(stats["syns_seen"], 0, "every SYN was answered in XDP, none by the rings: {stats}");
    assert_eq!(xdp["synacks_sent"].as_u64(), Some(syns as u64 + 1), "the flood's SYNs and the client's: {stats}");
    assert_eq!(xdp["errors"], 0, "{stats}");
    // The forged ACKs died in XDP, which found no cookie in them; none reached the rings or opened a connection.
    // Exactly one ACK passed (the legitimate client's cookie ACK), so no forged one was admitted. The drop count may
    // exceed the flood's by one of the legitimate connection's own segments, about one run in eight. It failed the
    // cookie check, so it was not the handshake's ACK, and the only time the client is not in the held map after
    // its handshake is after the proxy let it go at its last ACK: most likely a late re-ACK of the close, which the
    // packet path drops too (`DropReason::BadCookie`). Without the legitimate client the count is exactly the
    // flood's, in 12 runs of 12.
    let dropped = xdp["acks_dropped"].as_u64().unwrap_or(0);
    assert!((acks as u64..=acks as u64 + 2).contains(&dropped), "{dropped} ACKs dropped: {stats}");
    assert_eq!(xdp["acks_passed"], 1, "the legitimate client's ACK: {stats}");
    assert_eq!(stats["cookies_failed"], 0, "{stats}");
    assert_eq!(stats["proxy"]["opened"], 1, "only the legitimate client's connection: {stats}");
}

#[test]
fn a_killed_guard_leaves_nothing_attached_and_a_new_one_starts_clean() {
    if !xdp_ready("a_killed_guard_leaves_nothing_attached_and_a_new_one_starts_clean") {
        return;
    }
    let mut lab = Lab::start("cookies", &["--fast-path", "xdp"]);
    let program = attached_program(&lab).expect("the running guard's program on the outside interface");
    assert!(program.contains("synscope_guard"), "{program}");
    lab.guard.take().expect("guard running").kill_hard();
    // The program hangs on the guard's BPF link; the kernel releases it with the process's files.
    let deadline = Instant::now() + Duration::from_secs(5);
    while let Some(left) = attached_program(&lab) {
        assert!(Instant::now() < deadline, "an XDP program outlived the killed guard: {left}");
        std::thread::sleep(Duration::from_millis(50));
    }
    lab.restart_guard("cookies", &["--fast-path", "xdp"]);
    assert!(attached_program(&lab).is_some(), "the new guard attached its program");
    assert_eq!(lab.connect(), TRANSCRIPT);
    let stats = lab.stop_guard();
    assert_eq!(stats["fast_path"]["xdp"]["synacks_sent"], 1, "{stats}");
    assert!(attached_program(&lab).is_none(), "a guard that stops cleanly detaches its program");
}

#[test]
fn a_second_guard_on_the_same_interface_is_told_in_one_line() {
    if !xdp_ready("a_second_guard_on_the_same_interface_is_told_in_one_line") {
        return;
    }
    let mut lab = Lab::start("cookies", &["--fast-path", "xdp"]);
    let out = guard_command(&lab.topology, "cookies", &["--fast-path", "xdp", "--duration", "1s"])
        .output()
        .expect("running a second guard");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("already has an XDP program attached"), "{err}");
    // The first guard is unharmed.
    assert_eq!(lab.connect(), TRANSCRIPT);
    let stats = lab.stop_guard();
    assert_eq!(stats["fast_path"]["xdp"]["synacks_sent"], 1, "{stats}");
}

#[test]
fn native_mode_on_a_bare_veth_turns_itself_off_and_the_rings_serve() {
    if !xdp_ready("native_mode_on_a_bare_veth_turns_itself_off_and_the_rings_serve") {
        return;
    }
    // The client's veth runs no XDP program, so a native program's XDP_TX frames cannot reach it
    // (drivers/net/veth.c): the first SYN-ACK is lost, the guard notices, and the SYN's retransmission is answered
    // by the rings.
    let mut lab = Lab::start("cookies", &["--fast-path", "xdp", "--xdp-mode", "native"]);
    let out = lab
        .topology
        .client
        .command(BIN)
        .args(["connect", &format!("{SERVER_IP}:{PORT}"), "--timeout", "8s"])
        .output()
        .expect("running connect");
    assert!(out.status.success(), "connect failed: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), TRANSCRIPT);
    let stats = lab.stop_guard();
    assert_eq!(stats["fast_path"]["xdp_mode"], "native", "{stats}");
    let why = stats["fast_path"]["why_packet"].as_str().unwrap_or_default();
    assert!(why.contains("XDP_TX fails"), "{stats}");
    assert!(stats["syns_seen"].as_u64() >= Some(1), "the rings answered the retransmitted SYN: {stats}");
    assert_eq!(stats["cookies_validated"], 1, "{stats}");
}

#[test]
fn modes_the_program_cannot_serve_are_refused_in_one_line() {
    for (mode, extra) in [("limit", &[][..]), ("auto", &[][..]), ("cookies", &["--syn-rate-per-source", "10"][..])] {
        let out = Command::new(BIN)
            .args(["guard", "--outside", "nowhere0", "--inside", "nowhere1", "--protect", "10.0.0.1:80"])
            .args(["--mode", mode, "--fast-path", "xdp"])
            .args(extra)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{mode}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{mode}: {err}");
        assert!(err.contains("--fast-path xdp"), "{mode}: {err}");
    }
}
