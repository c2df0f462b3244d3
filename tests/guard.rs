//! The guard end to end, in the lab's three namespaces (root; CI runs as root): client ── guard ── listener.
//!
//! - every mode serves the seed's protocol to our `connect` and to the seed's own `tcp_client.py`;
//! - in cookies mode a 4 MB echo goes through the SYN proxy's translation with timestamps, SACK and window
//!   scaling negotiated;
//! - under a short spoofed flood (crafted here with `wire::craft`, bounded), cookies mode keeps the listener's
//!   SYN-RECV count at 0 and lets no ACK without a valid cookie reach it, and limit mode keeps the count at or under
//!   the limit and frees the slots with RSTs when they time out;
//! - malformed frames never crash it.
//!
//! Everything runs inside namespaces the test makes; dropping the topology removes them with every process inside.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::guard_lab::{BIN, Lab, PORT, TRANSCRIPT, flood_pcap, peak_syn_recv, replay};
use common::netns::have_root;
use common::process::Running;
use common::stderr;
use common::topology::{SERVER_IP, Topology};
use synscope::capture::Frame;
use synscope::capture::Precision;
use synscope::capture::writer::PcapFileWriter;
use synscope::time::Timestamp;
use synscope::wire::LinkType;
use synscope::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame};
use synscope::wire::segment::TcpFlags;

#[test]
fn two_threads_split_the_connections_and_each_is_served_whole() {
    if !have_root("two_threads_split_the_connections_and_each_is_served_whole") {
        return;
    }
    // The rings' fanout is what is tested: SYNs must reach them, not be answered in XDP (tests/guard_xdp.rs).
    let mut lab = Lab::start("cookies", &["--threads", "2", "--fast-path", "packet"]);
    // Each session's frames must all reach the thread that holds its state, on both interfaces: a session whose
    // listener SYN-ACK went to the other thread would never be translated, and would fail.
    let out = lab
        .topology
        .client
        .command(BIN)
        .args(["connect", &format!("{SERVER_IP}:{PORT}"), "--count", "60", "--concurrency", "8"])
        .args(["--timeout", "3s", "--format", "json"])
        .output()
        .expect("running connect");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("connect's JSON report");
    assert_eq!(report["succeeded"], 60, "{report} {}", stderr(&out));
    let stats = lab.stop_guard();
    assert_eq!(stats["threads"], 2, "{stats}");
    assert_eq!(stats["cookies_validated"], 60, "{stats}");
    assert_eq!((stats["proxy"]["opened"].as_u64(), stats["proxy"]["established"].as_u64()), (Some(60), Some(60)));
    // 60 connections from random ports: both threads had some (all on one has odds of 2^-59).
    for thread in stats["per_thread"].as_array().expect("per-thread figures") {
        assert!(thread["syns_seen"].as_u64() > Some(0), "a thread got no connection: {stats}");
    }
}

#[test]
fn every_mode_serves_our_client_and_the_seeds() {
    if !have_root("every_mode_serves_our_client_and_the_seeds") {
        return;
    }
    for mode in ["off", "limit", "cookies", "auto"] {
        let mut lab = Lab::start(mode, &[]);
        assert_eq!(lab.connect(), TRANSCRIPT, "our connect through the guard in {mode} mode");
        lab.run_seed_client(&format!("{mode} mode"));
        let stats = lab.stop_guard();
        assert_eq!(stats["mode"], mode);
        for key in ["syns_seen", "synacks_sent", "rsts_sent", "pps_in", "pps_out", "drops", "half_open", "proxy"] {
            assert!(stats.get(key).is_some(), "{key} missing from the guard's statistics: {stats}");
        }
        assert!(stats["pps_in"].as_f64() > Some(0.0), "{stats}");
        match mode {
            "cookies" => {
                assert!(stats["cookies_validated"].as_u64() >= Some(1), "{stats}");
                assert_eq!(stats["proxy"]["established"], stats["proxy"]["opened"], "{stats}");
            }
            "auto" => assert!(stats["half_open"]["completed"].as_u64() >= Some(1), "{stats}"),
            "limit" => assert!(stats["half_open"]["admitted"].as_u64() >= Some(1), "{stats}"),
            _ => assert_eq!(stats["syns_seen"], 0, "{stats}"),
        }
    }
}

/// A client in the client namespace that sends 4 MB in one connection and checks that the listener's replies
/// ("Hello, CHUNK!" per read, no framing) put back together give exactly what it sent.
const BIG_ECHO: &str = r#"
import socket, sys, threading
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
data = bytes(97 + i % 26 for i in range(4 * 1024 * 1024))
got = bytearray()
def read():
    while True:
        b = s.recv(1 << 16)
        if not b:
            return
        got.extend(b)
reader = threading.Thread(target=read)
reader.start()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reader.join()
parts = bytes(got).split(b"!")
assert parts[0] == b"Welcome", parts[0][:40]
echoed = b"".join(p[len(b"Hello, "):] for p in parts[1:] if p)
assert all(p.startswith(b"Hello, ") for p in parts[1:] if p)
assert echoed == data, (len(echoed), len(data))
print("echoed", len(echoed))
"#;

#[test]
fn cookies_mode_translates_a_4mb_echo_with_timestamps_sack_and_window_scaling() {
    if !have_root("cookies_mode_translates_a_4mb_echo_with_timestamps_sack_and_window_scaling") {
        return;
    }
    let mut lab = Lab::start("cookies", &[]);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("client.pcap");
    let mut sniffer = Running::spawn({
        let mut command = lab.topology.client.command(BIN);
        command.args(["sniff", "-q", "-i", &lab.topology.client_if, "-s", "128", "-w"]).arg(&pcap);
        command.arg(format!("tcp port {PORT}"));
        command
    });
    sniffer.wait_for_stderr("listening on");
    let out = lab
        .topology
        .client
        .command("python3")
        .args(["-c", BIG_ECHO, SERVER_IP, &PORT.to_string()])
        .output()
        .expect("running the 4 MB client");
    assert!(out.status.success(), "4 MB echo through the proxy failed: {}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "echoed 4194304");
    std::thread::sleep(Duration::from_millis(300));
    let (code, _, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");
    let stats = lab.stop_guard();
    assert_eq!(stats["proxy"]["established"], 1, "{stats}");
    assert_eq!(stats["cookies_validated"], 1, "{stats}");

    // What the client saw of the handshake: the proxy's SYN-ACK promised all three options, and the data that
    // followed kept timestamps (translated, or Linux would have dropped it by PAWS, RFC 7323 §5).
    let json = Command::new(BIN).args(["read", "--format", "json"]).arg(&pcap).output().unwrap();
    let packets: Vec<serde_json::Value> =
        String::from_utf8_lossy(&json.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let synack = packets
        .iter()
        .find(|p| p["tcp"]["flags"].as_str().is_some_and(|f| f.contains('S') && f.contains('.')))
        .expect("a SYN-ACK reached the client");
    let options = synack["tcp"]["options"].to_string();
    for option in [r#""kind":"wscale""#, r#""kind":"sackOK""#, r#""kind":"ts""#] {
        assert!(options.contains(option), "SYN-ACK options lack {option}: {options}");
    }
    // With the default offloads the capture sees GSO and GRO super-frames, not one frame per MSS, so the check
    // counts bytes, not frames: every data frame, whichever its size, carries timestamps, and together they carry
    // the 4 MiB each way.
    let data_frames: Vec<&serde_json::Value> =
        packets.iter().filter(|p| p["tcp"]["payload_len"].as_u64().unwrap_or(0) > 0).collect();
    let without_ts = data_frames.iter().filter(|p| !p["tcp"]["options"].to_string().contains(r#""kind":"ts""#)).count();
    let data_bytes: u64 = data_frames.iter().map(|p| p["tcp"]["payload_len"].as_u64().unwrap_or(0)).sum();
    assert_eq!(without_ts, 0, "{without_ts} of {} data frames lacked timestamps", data_frames.len());
    assert!(
        data_bytes >= 2 * 4 * 1024 * 1024,
        "the client's capture holds {data_bytes} data bytes in {} frames, short of 4 MiB each way",
        data_frames.len()
    );
}

#[test]
fn under_a_flood_cookies_mode_keeps_the_queue_empty_and_bad_acks_out() {
    if !have_root("under_a_flood_cookies_mode_keeps_the_queue_empty_and_bad_acks_out") {
        return;
    }
    // The packet path under a flood: SYNs on their own ring. The same flood against the XDP fast path is in
    // tests/guard_xdp.rs.
    let mut lab = Lab::start("cookies", &["--fast-path", "packet"]);
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("flood.pcap");
    flood_pcap(&flood, &lab.topology, 3000, 2000);
    // Everything that reaches the listener's interface, to check what the guard let through.
    let seen = dir.path().join("server.pcap");
    let mut sniffer = Running::spawn({
        let mut command = lab.topology.server.command(BIN);
        command.args(["sniff", "-q", "-i", &lab.topology.server_if, "-w"]).arg(&seen);
        command.arg(format!("tcp dst port {PORT}"));
        command
    });
    sniffer.wait_for_stderr("listening on");
    // Sampled while the flood runs. (A legitimate connection does pass through SYN-RECV on the listener, for the
    // one round trip between the proxy's SYN and its ACK; sampling it would catch that, not the flood.)
    let peak = peak_syn_recv(&lab.topology, || replay(&lab.topology, &flood));
    assert_eq!(peak, 0, "the listener had connections in SYN-RECV behind a cookie guard");
    assert_eq!(lab.connect(), TRANSCRIPT, "a legitimate client right after the flood");
    let (code, _, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");
    let stats = lab.stop_guard();
    assert!(stats["syns_seen"].as_u64() >= Some(3000), "{stats}");
    assert!(stats["cookies_failed"].as_u64() >= Some(1900), "{stats}");
    // The flood's SYNs and its ACKs arrive on separate rings (the kernel's BPF split); neither the ring for
    // everything but SYNs nor the inside's can have overflowed with 2000 ACKs in 8192 slots.
    assert_eq!((stats["ring_drops"]["outside"].as_u64(), stats["ring_drops"]["inside"].as_u64()), (Some(0), Some(0)));

    // No ACK without a valid cookie reached the listener: every ACK it got belongs to a connection the proxy
    // opened (whose SYN it also got), and the flood's sources never appear.
    let json = Command::new(BIN).args(["read", "--format", "json"]).arg(&seen).output().unwrap();
    let mut opened = HashSet::new();
    let mut acks = 0;
    for line in String::from_utf8_lossy(&json.stdout).lines() {
        let p: serde_json::Value = serde_json::from_str(line).unwrap();
        let source = p["ip"]["src"].as_str().unwrap_or_default().to_string();
        assert!(!source.starts_with("198.1"), "a flood packet reached the listener: {line}");
        let key = (source, p["tcp"]["src_port"].as_u64());
        let flags = p["tcp"]["flags"].as_str().unwrap_or_default();
        if flags.contains('S') {
            opened.insert(key);
        } else {
            acks += 1;
            assert!(opened.contains(&key), "an ACK for a connection the proxy never opened: {line}");
        }
    }
    assert!(acks > 0, "the legitimate client's ACKs should have reached the listener");
}

#[test]
fn under_a_flood_limit_mode_caps_the_queue_and_frees_it_with_resets() {
    if !have_root("under_a_flood_limit_mode_caps_the_queue_and_frees_it_with_resets") {
        return;
    }
    let limit = 16;
    let mut lab = Lab::start("limit", &["--half-open-limit", "16", "--synrecv-timeout", "2s"]);
    let dir = tempfile::tempdir().unwrap();
    let flood = dir.path().join("flood.pcap");
    flood_pcap(&flood, &lab.topology, 2000, 0);
    let peak = peak_syn_recv(&lab.topology, || replay(&lab.topology, &flood));
    assert!(peak <= limit, "SYN-RECV peaked at {peak}, above the guard's limit of {limit}");
    assert!(peak > 0, "the flood never reached the listener: the limit was not exercised");
    // Linux would keep these for a minute of SYN-ACK retries; the guard's RSTs free them after 2 s.
    let deadline = Instant::now() + Duration::from_secs(6);
    while lab.topology.syn_recv() > 0 {
        assert!(Instant::now() < deadline, "SYN-RECV entries outlived the guard's 2 s timeout");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(lab.connect(), TRANSCRIPT, "a legitimate client after the flood");
    let stats = lab.stop_guard();
    assert!(stats["rsts_sent"].as_u64() >= Some(limit as u64), "{stats}");
    assert!(stats["drops"]["half_open_limit"].as_u64() >= Some(1000), "{stats}");
}

/// Frames addressed to the protected service that do not parse: a TCP header cut short, a data offset below 5,
/// an IP total length longer than the frame, an IP header length below 5.
fn malformed_pcap(path: &Path, topology: &Topology) {
    let src_mac = Topology::mac(&topology.client, &topology.client_if);
    let dst_mac = Topology::mac(&topology.server, &topology.server_if);
    let mut good = Vec::new();
    tcp_frame(
        &mut good,
        Some(&EthernetSpec { src: src_mac, dst: dst_mac, vlans: &[] }),
        &IpSpec { src: "10.77.0.1".parse().unwrap(), dst: SERVER_IP.parse().unwrap(), ttl: 64, id: 1 },
        &TcpSpec {
            src_port: 5555,
            dst_port: PORT,
            seq: 1,
            ack: 2,
            flags: TcpFlags(TcpFlags::ACK),
            window: 1,
            options: &[],
            payload: b"x",
        },
    )
    .unwrap();
    let mut frames = Vec::new();
    let mut short = good.clone();
    short.truncate(14 + 20 + 10);
    short[16..18].copy_from_slice(&30u16.to_be_bytes());
    frames.push(short);
    let mut offset = good.clone();
    offset[14 + 20 + 12] = 0x20;
    frames.push(offset);
    let mut long = good.clone();
    long[16..18].copy_from_slice(&1400u16.to_be_bytes());
    frames.push(long);
    let mut ihl = good;
    ihl[14] = 0x43;
    frames.push(ihl);
    let mut writer = PcapFileWriter::create(path.to_str().unwrap(), Precision::Micro).unwrap();
    for (i, frame) in frames.iter().cycle().take(400).enumerate() {
        let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as u64);
        writer.write(&Frame::whole(ts, LinkType::Ethernet, frame)).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn malformed_frames_are_dropped_counted_and_do_not_stop_the_guard() {
    if !have_root("malformed_frames_are_dropped_counted_and_do_not_stop_the_guard") {
        return;
    }
    for mode in ["limit", "cookies", "auto"] {
        let mut lab = Lab::start(mode, &[]);
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.pcap");
        malformed_pcap(&bad, &lab.topology);
        replay(&lab.topology, &bad);
        replay(&lab.topology, &common::capture("odd-frames.pcap"));
        assert_eq!(lab.connect(), TRANSCRIPT, "the guard still serves after malformed frames ({mode})");
        let stats = lab.stop_guard();
        assert!(stats["drops"]["malformed"].as_u64() >= Some(300), "{mode}: {stats}");
    }
}
