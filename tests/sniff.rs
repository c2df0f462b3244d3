//! Live capture on loopback (root; CI runs as root): the seed's client talks to our listener while `synscope sniff`
//! watches, and every packet of the exchange must appear exactly once, annotated. Then the `-w` file, a killed
//! sniffer's file, Ctrl-C with open connections, `--duration`, and the privilege and interface errors.
//! Every child sits in a `Running` guard, so nothing is left running whether a test passes or fails.

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::netns::have_root;
use common::process::{Running, addr, free_port, listen_tcp};
use common::seed::{python, seed_program};
use common::{stderr, stdout, synscope};

fn sniff(args: &[&str]) -> Running {
    let mut command = Command::new(env!("CARGO_BIN_EXE_synscope"));
    command.arg("sniff").args(args);
    let mut child = Running::spawn(command);
    child.wait_for_stderr("listening on");
    child
}

/// Runs the seed's `tcp_client.py` against our listener on `port`, and checks it got the seed's transcript.
fn seed_session(port: u16) -> bool {
    let Some(client) = seed_program("tcp_client.py") else { return false };
    let out = python(&client, port).output().expect("running tcp_client.py");
    assert!(out.status.success(), "tcp_client.py failed: {}", stderr(&out));
    assert_eq!(stdout(&out), "Welcome!\nHello, Lambda!\nHello, Bond!\nHello, alpha!\n");
    true
}

/// Gives the capture a moment to deliver the last frames (a ring block is retired within 20 ms).
fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

fn lines_with(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn on_loopback_each_packet_of_a_seed_session_appears_once_annotated() {
    if !have_root("on_loopback_each_packet_of_a_seed_session_appears_once_annotated") {
        return;
    }
    let port = free_port();
    let filter = format!("tcp port {port}");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("lo.pcap");
    let sniffer = sniff(&["-i", "lo", "-w", pcap.to_str().unwrap(), &filter]);
    let _listener = listen_tcp(port, &[]);
    if !seed_session(port) {
        return;
    }
    settle();
    let (code, out, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");
    // The listener's readiness probe was a connection too; the seed's session is the one that said
    // "Hello, Lambda!" (14 bytes). Its client port picks its lines out.
    let lambda = out.lines().find(|l| l.contains("Flags [P.]") && l.ends_with("length 14")).expect("the session");
    let client_port = lambda.split(" > ").nth(1).and_then(|to| to.split(':').next()).expect("destination");
    let session: Vec<&str> = out
        .lines()
        .filter(|l| l.contains(&format!("{client_port}:")) || l.contains(&format!("{client_port} >")))
        .collect();
    let text = session.join("\n");

    // A plain AF_PACKET socket on lo would show each of these twice (outgoing and incoming copies).
    for step in ["handshake 1/3 SYN", "handshake 2/3 SYN-ACK", "handshake 3/3 ACK"] {
        assert_eq!(lines_with(&text, step), 1, "{step} once in:\n{text}");
    }
    // The close is FIN, FIN+ACK, ACK, or FIN, ACK, FIN, ACK when the peer's FIN is not piggybacked on its ACK
    // (the kernel's choice, by timing): three or four steps, each once.
    let steps = lines_with(&text, "teardown");
    assert!((3..=4).contains(&steps), "{steps} teardown steps in:\n{text}");
    for step in 1..=steps {
        assert_eq!(lines_with(&text, &format!("teardown {step}/")), 1, "teardown step {step} once in:\n{text}");
    }
    assert!(text.contains("[teardown 1/4 FIN from client") || text.contains("[teardown 1/4 FIN from server"), "{text}");
    assert_eq!(lines_with(&text, "TIME-WAIT"), 1, "{text}");
    // The seed's exchange: Welcome! (8), Lambda (6), Hello, Lambda! (14), Bond (4), Hello, Bond! (12), alpha (5),
    // Hello, alpha! (13), exit (4): eight data segments, each once.
    let data_lengths: Vec<&str> =
        session.iter().filter(|l| l.contains("Flags [P.]")).filter_map(|l| l.split("length ").nth(1)).collect();
    assert_eq!(data_lengths, ["8", "6", "14", "4", "12", "5", "13", "4"], "{text}");
    let unique: HashSet<&&str> = session.iter().collect();
    assert_eq!(unique.len(), session.len(), "a line appears twice:\n{text}");
    assert!(err.contains("lo: ") && err.contains("0 dropped by the kernel, 0 dropped by synscope"), "{err}");
}

#[test]
fn the_written_file_reads_back_as_the_live_output_and_tcpdump_agrees_on_the_count() {
    if !have_root("the_written_file_reads_back_as_the_live_output_and_tcpdump_agrees_on_the_count") {
        return;
    }
    let port = free_port();
    let filter = format!("tcp port {port}");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("lo.pcap");
    // --nano: the file keeps the kernel's nanosecond timestamps, so the annotations' timings read back the same
    // (a microsecond pcap would round them).
    let sniffer = sniff(&["-i", "lo", "--nano", "-w", pcap.to_str().unwrap(), &filter]);
    let _listener = listen_tcp(port, &[]);
    let prober = synscope(["connect", &addr(port), "--count", "20", "--concurrency", "4"]);
    assert!(prober.status.success(), "{}", stderr(&prober));
    settle();
    let (code, live, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");

    let read = synscope(["read", "--nano", pcap.to_str().unwrap()]);
    assert!(read.status.success(), "{}", stderr(&read));
    assert_eq!(stdout(&read), live, "the file read back differs from what was printed live");
    let packets = live.lines().count();
    assert!(packets >= 20 * 10, "{packets} packets for 20 sessions:\n{live}");

    let tcpdump = Command::new("tcpdump").args(["-nn", "-r"]).arg(&pcap).output();
    let Ok(tcpdump) = tcpdump else {
        common::skip_or_fail("tcpdump is not installed");
        return;
    };
    assert!(tcpdump.status.success(), "{}", stderr(&tcpdump));
    assert_eq!(stdout(&tcpdump).lines().count(), packets);
}

#[test]
fn a_killed_sniffer_leaves_a_valid_pcap() {
    if !have_root("a_killed_sniffer_leaves_a_valid_pcap") {
        return;
    }
    let port = free_port();
    let filter = format!("tcp port {port}");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("killed.pcap");
    let sniffer = sniff(&["-i", "lo", "-q", "-w", pcap.to_str().unwrap(), &filter]);
    let _listener = listen_tcp(port, &[]);
    let prober = synscope(["connect", &addr(port), "--count", "50", "--concurrency", "8"]);
    assert!(prober.status.success(), "{}", stderr(&prober));
    settle();
    sniffer.kill_hard();

    let read = synscope(["read", "-q", pcap.to_str().unwrap()]);
    assert!(read.status.success(), "the killed sniffer's file does not read cleanly: {}", stderr(&read));
    let summary = stderr(&read);
    let packets: u64 = summary.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(packets >= 50 * 10, "{summary}");
    if let Ok(tcpdump) = Command::new("tcpdump").args(["-nn", "-r"]).arg(&pcap).output() {
        assert!(tcpdump.status.success(), "{}", stderr(&tcpdump));
        assert!(!stderr(&tcpdump).contains("truncated"), "{}", stderr(&tcpdump));
        assert_eq!(stdout(&tcpdump).lines().count() as u64, packets);
    }
}

#[test]
fn sigterm_writes_conn_log_records_for_connections_still_open() {
    if !have_root("sigterm_writes_conn_log_records_for_connections_still_open") {
        return;
    }
    let port = free_port();
    let filter = format!("tcp port {port}");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("conn.json");
    let sniffer = sniff(&["-i", "lo", "-q", "--conn-log", log.to_str().unwrap(), "--conn-log-format", "json", &filter]);
    let _listener = listen_tcp(port, &[]);
    // A connection that is still open when the sniffer stops.
    let mut open = TcpStream::connect(("127.0.0.1", port)).unwrap();
    open.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut welcome = [0u8; 8];
    open.read_exact(&mut welcome).unwrap();
    open.write_all(b"still here").unwrap();
    let mut reply = [0u8; 18];
    open.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"Hello, still here!");
    settle();
    let (code, _, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");
    let local = open.local_addr().unwrap().port();

    let text = std::fs::read_to_string(&log).unwrap();
    let records: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let record = records
        .iter()
        .find(|r| r["id.orig_p"] == local && r["id.resp_p"] == port)
        .unwrap_or_else(|| panic!("no record for the open connection in {records:?}"));
    // Established and never closed: Zeek's S1.
    assert_eq!(record["conn_state"], "S1", "{record}");
    assert_eq!(record["orig_bytes"], 10, "{record}");
}

#[test]
fn duration_stops_the_capture_with_a_summary() {
    if !have_root("duration_stops_the_capture_with_a_summary") {
        return;
    }
    let sniffer = sniff(&["-i", "lo", "-q", "--duration", "500ms", "tcp port 9"]);
    let (code, _, err) = sniffer.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("packets read") && err.contains("lo: "), "{err}");
}

#[test]
fn count_stops_the_capture_after_that_many_matches() {
    if !have_root("count_stops_the_capture_after_that_many_matches") {
        return;
    }
    let port = free_port();
    let filter = format!("tcp port {port}");
    let sniffer = sniff(&["-i", "lo", "-c", "3", &filter]);
    let _listener = listen_tcp(port, &[]);
    let prober = synscope(["connect", &addr(port), "--count", "5"]);
    assert!(prober.status.success(), "{}", stderr(&prober));
    let (code, out, err) = sniffer.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
}

#[test]
fn without_cap_net_raw_the_error_says_how_to_grant_it() {
    if !have_root("without_cap_net_raw_the_error_says_how_to_grant_it") {
        return;
    }
    // Drop to nobody with no capabilities, as an ordinary user would run it.
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(env!("CARGO_BIN_EXE_synscope"))
        .args(["sniff", "-i", "lo"])
        .output();
    let Ok(out) = out else {
        common::skip_or_fail("setpriv (util-linux) is not installed");
        return;
    };
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CAP_NET_RAW") && err.contains("sudo") && err.contains("setcap cap_net_raw+ep"), "{err}");
}

#[test]
fn an_unknown_interface_lists_the_ones_that_exist() {
    // Needs no privilege: the name is checked before any socket is opened.
    let out = synscope(["sniff", "-i", "nosuch0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("'nosuch0'") && err.contains("lo"), "{err}");
}

#[test]
fn list_interfaces_shows_loopback() {
    let out = synscope(["sniff", "--list-interfaces"]);
    assert!(out.status.success());
    assert!(stdout(&out).lines().any(|l| l.contains(".lo [") && l.contains("Loopback")), "{}", stdout(&out));
}

#[test]
fn several_interfaces_are_captured_at_once_each_counted() {
    if !have_root("several_interfaces_are_captured_at_once_each_counted") {
        return;
    }
    // A frame replayed out of one end of a veth pair leaves `a` and arrives on `b`: off loopback, both copies are
    // traffic worth seeing, one per interface.
    let netns = common::netns::Netns::new("mi");
    let (a, b) = netns.veth_pair();
    let mut command = netns.command(env!("CARGO_BIN_EXE_synscope"));
    command.args(["sniff", "-q", "-i", &a, "-i", &b, "tcp"]);
    let mut sniffer = Running::spawn(command);
    sniffer.wait_for_stderr("listening on");
    let capture = common::capture("seed-session.pcap");
    let out = netns
        .command(env!("CARGO_BIN_EXE_synscope"))
        .args(["replay", "--top-speed", "-i", &a])
        .arg(&capture)
        .output()
        .expect("running replay");
    assert!(out.status.success(), "{}", stderr(&out));
    settle();
    let (code, _, err) = sniffer.terminate();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!("listening on {a}, {b}")), "{err}");
    for interface in [&a, &b] {
        let line = err.lines().find(|l| l.trim_start().starts_with(&format!("{interface}:"))).expect("a line each");
        // seed-session.pcap holds 19 frames, all TCP.
        assert!(line.contains(" 19 captured"), "{line}");
    }
    assert!(err.contains("38 packets read"), "{err}");
}

#[test]
fn drops_are_reported_every_interval_while_the_engine_is_stuck() {
    if !have_root("drops_are_reported_every_interval_while_the_engine_is_stuck") {
        return;
    }
    // Nobody reads the sniffer's output: once the pipe is full the engine blocks, the channel fills, and the capture
    // thread has to drop. The drops must be reported as they happen, not at an exit that never comes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .args(["sniff", "-i", "lo", "--stats-interval", "200ms", "tcp port 9"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starting sniff");
    let _unread_stdout = child.stdout.take();
    let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = common::process::collect(child.stderr.take().expect("stderr"), std::sync::Arc::clone(&err));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !err.lock().unwrap().contains("listening on") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let flood = synscope(["flood", "--target", "127.0.0.1:9", "--count", "200000", "--rate", "100000"]);
    let reported = loop {
        let text = err.lock().unwrap().clone();
        let line =
            text.lines().find(|l| l.contains("lo: ") && !l.contains(", 0 dropped by synscope")).map(String::from);
        if line.is_some() || std::time::Instant::now() >= deadline {
            break line;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    assert!(flood.status.success(), "{}", stderr(&flood));
    let line = reported.unwrap_or_else(|| panic!("no drop line on stderr: {}", err.lock().unwrap()));
    assert!(line.starts_with("synscope: lo: ") && line.contains("dropped by synscope"), "{line}");
}
