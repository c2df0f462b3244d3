//! The guard across a restart (`guard --secret-file`), end to end in the lab's three namespaces (root; CI runs as
//! root): client ── guard ── listener.
//!
//! A crafted SYN from an address the client namespace does not own (so its kernel neither answers the guard's
//! SYN-ACK nor resets it) gets a cookie SYN-ACK, captured in the client namespace. The guard is killed with SIGKILL
//! and started again, and the ACK completing that handshake is sent:
//!
//! - with the same `--secret-file`, the cookie validates: the listener gets the connection (it shows in its
//!   `ss`), and its `Welcome!` comes back through the new guard, on the packet rings and, when synscope is built
//!   with it, with the SYN answered and the ACK checked by the XDP program;
//! - with it, a first data segment in place of the pure ACK (a client that speaks first, whose ACK was lost while no
//!   guard ran) opens the connection the same way;
//! - without it, the new guard has a new key and the same ACK is refused (by the XDP program, when it runs), which
//!   shows the test can fail.
//!
//! With XDP, the program's link is the guard's last descriptor, so a SIGKILL detaches the program before the packet
//! sockets' slow release, not after it (while no process is left to take the ACKs of the SYNs it answers).
//!
//! Without root: a file others may read, or not a key, stops the guard with one line before anything else; a file
//! it creates is mode 0600 whatever the umask.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::guard_lab::{BIN, Lab, PORT, replay};
use common::netns::have_root;
use common::process::Running;
use common::stderr;
use common::topology::{SERVER_IP, Topology};
use synscope::capture::writer::PcapFileWriter;
use synscope::capture::{Frame, Precision};
use synscope::time::Timestamp;
use synscope::wire::LinkType;
use synscope::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame};
use synscope::wire::segment::TcpFlags;

/// The crafted client: TEST-NET-2, owned by nobody. The server's default route sends its replies to the client
/// namespace, which drops them quietly (it does not forward), so nothing but this test answers for it.
const CLIENT: &str = "198.51.100.7";
const CLIENT_PORT: u16 = 40_123;
const CLIENT_ISN: u32 = 0x1234_5678;

/// A one-segment pcap from the crafted client to the listener.
fn segment_pcap(path: &Path, topology: &Topology, flags: u16, seq: u32, ack: u32, payload: &[u8]) {
    let src_mac = Topology::mac(&topology.client, &topology.client_if);
    let dst_mac = Topology::mac(&topology.server, &topology.server_if);
    let mut frame = Vec::new();
    tcp_frame(
        &mut frame,
        Some(&EthernetSpec { src: src_mac, dst: dst_mac, vlans: &[] }),
        &IpSpec { src: CLIENT.parse().unwrap(), dst: SERVER_IP.parse().unwrap(), ttl: 64, id: 7 },
        &TcpSpec {
            src_port: CLIENT_PORT,
            dst_port: PORT,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 64240,
            // A SYN offers an MSS only (no timestamps: the cookie is the whole state); the ACK carries nothing.
            options: if flags == TcpFlags::SYN { &[2, 4, 5, 180] } else { &[] },
            payload,
        },
    )
    .unwrap();
    let mut writer = PcapFileWriter::create(path.to_str().unwrap(), Precision::Micro).unwrap();
    let ts = Timestamp::from_nanos(1_700_000_000_000_000_000);
    writer.write(&Frame::whole(ts, LinkType::Ethernet, &frame)).unwrap();
    writer.finish().unwrap();
}

/// `synscope sniff -w` on the client's link, for the crafted client's segments.
fn sniff_client(topology: &Topology, pcap: &Path) -> Running {
    let mut sniffer = Running::spawn({
        let mut command = topology.client.command(BIN);
        command.args(["sniff", "-q", "-i", &topology.client_if, "-w"]).arg(pcap);
        command.arg(format!("tcp and host {CLIENT}"));
        command
    });
    sniffer.wait_for_stderr("listening on");
    sniffer
}

/// The packets of a capture, as `synscope read --format json` gives them.
fn packets(pcap: &Path) -> Vec<serde_json::Value> {
    let out = Command::new(BIN).args(["read", "--format", "json"]).arg(pcap).output().expect("running read");
    assert!(out.status.success(), "read {}: {}", pcap.display(), stderr(&out));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Segments from the listener to the crafted client with these flags.
fn from_listener<'a>(packets: &'a [serde_json::Value], flags: &str) -> Vec<&'a serde_json::Value> {
    packets
        .iter()
        .filter(|p| p["ip"]["src"] == SERVER_IP && p["tcp"]["sport"] == PORT && p["tcp"]["dport"] == CLIENT_PORT)
        .filter(|p| p["tcp"]["flags"] == flags)
        .collect()
}

/// Whether the listener holds an established connection from the crafted client (`ss` in its namespace).
fn listener_has_the_connection(topology: &Topology) -> bool {
    let out = topology.server.exec_ok(&["ss", "-Htn", "state", "established"]);
    String::from_utf8_lossy(&out.stdout).contains(&format!("{CLIENT}:{CLIENT_PORT}"))
}

/// What happened to a cookie handshake split by a SIGKILL and a restart of the guard.
struct Outcome {
    /// The listener had the connection within 5 s of the ACK.
    opened: bool,
    /// Its `Welcome!` (8 bytes) reached the client's link through the new guard.
    welcome_seen: bool,
    /// The restarted guard's statistics.
    stats: serde_json::Value,
    /// The restarted guard's stderr.
    stderr: String,
}

/// Starts the guard in cookies mode with `extra`, has it answer the crafted SYN, kills it with SIGKILL, starts it
/// again with the same flags, and sends the ACK that completes the handshake, carrying `payload`.
fn handshake_across_a_restart(extra: &[&str], payload: &[u8]) -> Outcome {
    let mut lab = Lab::start("cookies", extra);
    let dir = tempfile::tempdir().unwrap();

    // Before: the SYN, and the cookie in the SYN-ACK the guard (or its XDP program) sends back.
    let (syn, before) = (dir.path().join("syn.pcap"), dir.path().join("before.pcap"));
    segment_pcap(&syn, &lab.topology, TcpFlags::SYN, CLIENT_ISN, 0, b"");
    let sniffer = sniff_client(&lab.topology, &before);
    replay(&lab.topology, &syn);
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");
    let seen = packets(&before);
    let synacks = from_listener(&seen, "S.");
    assert_eq!(synacks.len(), 1, "one SYN-ACK for the crafted SYN: {seen:?}");
    assert_eq!(synacks[0]["tcp"]["ack"].as_u64(), Some(u64::from(CLIENT_ISN) + 1), "{:?}", synacks[0]);
    let cookie = synacks[0]["tcp"]["seq"].as_u64().expect("the SYN-ACK's sequence number") as u32;

    // The restart: no chance to clean up, then a new guard with the same flags.
    lab.guard.take().expect("guard running").kill_hard();
    lab.restart_guard("cookies", extra);

    // After: the ACK with the cookie, and what comes back.
    let (ack, after) = (dir.path().join("ack.pcap"), dir.path().join("after.pcap"));
    let flags = if payload.is_empty() { TcpFlags::ACK } else { TcpFlags::ACK | TcpFlags::PSH };
    segment_pcap(&ack, &lab.topology, flags, CLIENT_ISN.wrapping_add(1), cookie.wrapping_add(1), payload);
    let sniffer = sniff_client(&lab.topology, &after);
    replay(&lab.topology, &ack);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut opened = listener_has_the_connection(&lab.topology);
    while !opened && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        opened = listener_has_the_connection(&lab.topology);
    }
    // Time for the greeting to cross the guard.
    std::thread::sleep(Duration::from_millis(500));
    let (code, _, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");
    let welcome_seen =
        packets(&after).iter().any(|p| p["ip"]["src"] == SERVER_IP && p["tcp"]["payload_len"] == "Welcome!".len());
    let (code, out, stderr) = lab.guard.take().expect("guard running").terminate();
    assert_eq!(code, Some(0), "guard failed: {stderr}");
    let stats = serde_json::from_str(&out).unwrap_or_else(|e| panic!("guard stats are not JSON ({e}): {out}"));
    Outcome { opened, welcome_seen, stats, stderr }
}

/// Whether this binary has the XDP program; says why not and skips, or fails under `SYNSCOPE_REQUIRE_ROOT` (CI
/// builds it), as tests/guard_xdp.rs does.
fn xdp_built(test: &str) -> bool {
    if synscope::xdp::built_in() {
        return true;
    }
    assert!(std::env::var_os("SYNSCOPE_REQUIRE_ROOT").is_none(), "{test}: synscope was built without XDP");
    eprintln!("SKIPPED {test}: synscope was built without XDP support (install clang and libbpf-dev)");
    false
}

#[test]
fn with_a_secret_file_a_cookie_issued_before_a_restart_opens_the_connection_after_it() {
    if !have_root("with_a_secret_file_a_cookie_issued_before_a_restart_opens_the_connection_after_it") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cookie.key");
    let outcome = handshake_across_a_restart(&["--fast-path", "packet", "--secret-file", key.to_str().unwrap()], b"");
    assert!(outcome.stderr.contains("cookie secret read from"), "the second run read the file: {}", outcome.stderr);
    assert!(outcome.opened, "the listener never got the connection: {}", outcome.stats);
    assert!(outcome.welcome_seen, "the listener's Welcome! did not come back through the new guard");
    assert_eq!(outcome.stats["cookies_validated"], 1, "{}", outcome.stats);
    assert_eq!(outcome.stats["cookies_failed"], 0, "{}", outcome.stats);
    assert_eq!(outcome.stats["proxy"]["opened"], 1, "{}", outcome.stats);
    assert_eq!(outcome.stats["proxy"]["established"], 1, "{}", outcome.stats);
}

#[test]
fn with_a_secret_file_a_client_that_speaks_first_opens_it_with_its_first_data_segment() {
    // The handshake's pure ACK was lost while no guard ran (a server-first client would wait for ever); a client
    // that speaks first sends data with the same sequence and acknowledgement numbers, so the same cookie.
    if !have_root("with_a_secret_file_a_client_that_speaks_first_opens_it_with_its_first_data_segment") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cookie.key");
    let extra = ["--fast-path", "packet", "--secret-file", key.to_str().unwrap()];
    let outcome = handshake_across_a_restart(&extra, b"Lambda");
    assert!(outcome.opened, "the listener never got the connection: {}", outcome.stats);
    assert_eq!(outcome.stats["cookies_validated"], 1, "{}", outcome.stats);
    assert_eq!(outcome.stats["proxy"]["established"], 1, "{}", outcome.stats);
}

#[test]
fn with_a_secret_file_the_xdp_program_gets_the_kept_key_too() {
    let test = "with_a_secret_file_the_xdp_program_gets_the_kept_key_too";
    if !have_root(test) || !xdp_built(test) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("cookie.key");
    // The first run's SYN-ACK comes from the program under the file's key; the second run's program must find the
    // ACK's cookie valid under the same key, or it drops it before userspace sees it.
    let outcome = handshake_across_a_restart(&["--fast-path", "xdp", "--secret-file", key.to_str().unwrap()], b"");
    let stats = &outcome.stats;
    assert_eq!(stats["fast_path"]["kind"], "xdp", "{stats}");
    assert!(outcome.opened, "the listener never got the connection: {stats}");
    assert!(outcome.welcome_seen, "the listener's Welcome! did not come back through the new guard");
    assert_eq!(stats["fast_path"]["xdp"]["acks_passed"], 1, "the program passed the cookie ACK: {stats}");
    assert_eq!(stats["fast_path"]["xdp"]["acks_dropped"], 0, "{stats}");
    assert_eq!(stats["cookies_validated"], 1, "{stats}");
    assert_eq!(stats["proxy"]["established"], 1, "{stats}");
}

/// The descriptors of a process: (fd, what it points at, as `/proc/PID/fd` links say).
fn descriptors(pid: &str) -> Vec<(u32, String)> {
    let mut fds: Vec<(u32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the guard's descriptors")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .collect();
    fds.sort();
    fds
}

#[test]
fn the_xdp_link_is_opened_after_every_packet_socket_so_a_sigkill_detaches_it_first() {
    let test = "the_xdp_link_is_opened_after_every_packet_socket_so_a_sigkill_detaches_it_first";
    if !have_root(test) || !xdp_built(test) {
        return;
    }
    // A dying process's files are released highest descriptor first. The packet sockets take ~150 ms to close;
    // were the program's link below them, it would answer SYNs all that while, with nobody left to take the ACKs.
    let lab = Lab::start("cookies", &["--fast-path", "xdp", "--threads", "2"]);
    let out = Command::new("ip").args(["netns", "pids", &lab.topology.gateway.name]).output().unwrap();
    let pids = String::from_utf8_lossy(&out.stdout).split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(pids.len(), 1, "the guard is the gateway's only process: {pids:?}");
    let fds = descriptors(&pids[0]);
    // Packet sockets, by inode, from the gateway's /proc/net/packet.
    let table = std::fs::read_to_string(format!("/proc/{}/net/packet", pids[0])).unwrap();
    let packet_inodes: Vec<String> =
        table.lines().skip(1).filter_map(|l| l.split_whitespace().nth(8).map(str::to_string)).collect();
    let packet_fds: Vec<u32> = fds
        .iter()
        .filter(|(_, target)| packet_inodes.iter().any(|inode| *target == format!("socket:[{inode}]")))
        .map(|(fd, _)| *fd)
        .collect();
    let links: Vec<u32> = fds.iter().filter(|(_, t)| t == "anon_inode:bpf_link").map(|(fd, _)| *fd).collect();
    // Two threads: three receive rings each, and the senders' sockets.
    assert!(packet_fds.len() >= 2 * 3, "the guard's packet sockets: {fds:?}");
    assert_eq!(links.len(), 1, "one BPF link: {fds:?}");
    assert!(packet_fds.iter().all(|fd| *fd < links[0]), "a packet socket after the link: {fds:?}");
}

#[test]
fn without_a_secret_file_the_xdp_program_drops_the_old_cookie() {
    let test = "without_a_secret_file_the_xdp_program_drops_the_old_cookie";
    if !have_root(test) || !xdp_built(test) {
        return;
    }
    let outcome = handshake_across_a_restart(&["--fast-path", "xdp"], b"");
    let stats = &outcome.stats;
    assert_eq!(stats["fast_path"]["kind"], "xdp", "{stats}");
    assert!(!outcome.opened, "a new key validated the old key's cookie: {stats}");
    assert!(!outcome.welcome_seen, "the listener greeted a client whose cookie was refused");
    assert_eq!(stats["fast_path"]["xdp"]["acks_dropped"], 1, "the program dropped the ACK: {stats}");
    assert_eq!(stats["fast_path"]["xdp"]["acks_passed"], 0, "{stats}");
    assert_eq!(stats["proxy"]["opened"], 0, "{stats}");
}

#[test]
fn without_a_secret_file_the_same_cookie_is_refused_after_a_restart() {
    if !have_root("without_a_secret_file_the_same_cookie_is_refused_after_a_restart") {
        return;
    }
    let outcome = handshake_across_a_restart(&["--fast-path", "packet"], b"");
    assert!(!outcome.opened, "a new key validated the old key's cookie: {}", outcome.stats);
    assert!(!outcome.welcome_seen, "the listener greeted a client whose cookie was refused");
    assert_eq!(outcome.stats["cookies_validated"], 0, "{}", outcome.stats);
    assert_eq!(outcome.stats["cookies_failed"], 1, "{}", outcome.stats);
    assert_eq!(outcome.stats["proxy"]["opened"], 0, "{}", outcome.stats);
}

/// `synscope guard` with a secret file and interfaces that do not exist: the file is dealt with first, so it
/// runs without root and touches no network.
fn guard_with_secret(secret: &Path, umask: Option<&str>) -> std::process::Output {
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("umask {}; exec \"$0\" \"$@\"", umask.unwrap_or("022"))).arg(BIN);
    command.args(["guard", "-q", "--outside", "nosuch-out0", "--inside", "nosuch-in0", "--protect"]);
    command.arg(format!("{SERVER_IP}:{PORT}")).args(["--mode", "cookies", "--fast-path", "packet", "--duration", "1s"]);
    command.arg("--secret-file").arg(secret).output().expect("running guard")
}

#[test]
fn a_secret_file_others_can_read_or_not_a_key_stops_the_guard_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("cookie.key");
    let key = format!("synscope-cookie-secret v1\n{}\n", "5a".repeat(32));
    let cases = [(key.as_str(), 0o644, "chmod 600"), ("not a key\n", 0o600, "not a synscope cookie secret")];
    for (text, mode, expected) in cases {
        std::fs::write(&secret, text).unwrap();
        std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
        let out = guard_with_secret(&secret, None);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with(&format!("synscope: --secret-file {}: ", secret.display())), "{err}");
        assert!(err.contains(expected), "{expected:?} not in {err}");
        assert!(!err.contains(&"5a".repeat(4)), "the key is never printed: {err}");
    }
}

#[test]
fn a_secret_file_the_guard_creates_is_0600_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for umask in ["000", "022", "277"] {
        let secret = dir.path().join(format!("cookie-{umask}.key"));
        // The guard stops at the missing interfaces, after the secret.
        let out = guard_with_secret(&secret, Some(umask));
        let err = stderr(&out);
        assert!(err.contains("cookie secret created in"), "umask {umask}: {err}");
        let mode = std::fs::metadata(&secret).expect("the file was created").permissions().mode() & 0o7777;
        assert_eq!(mode, 0o600, "umask {umask}");
        let text = std::fs::read_to_string(&secret).unwrap();
        assert!(text.starts_with("synscope-cookie-secret v1\n") && text.len() == 26 + 65, "{text:?}");
        // Started again, it reads the same file.
        let again = guard_with_secret(&secret, Some(umask));
        assert!(stderr(&again).contains("cookie secret read from"), "{}", stderr(&again));
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), text);
    }
    // Only the key files: no temporary file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}
