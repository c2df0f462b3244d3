//! The companion listener and clients on loopback: our pair together, each against the seed's Python peers byte for
//! byte, a busy port, the caps, Ctrl-C, and the prober. Every child process sits in a [`Running`] guard that kills
//! it on drop, so nothing is left running whether a test passes or fails. Readiness is polled on the port itself.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::process::{READY, Running, addr, free_port, listen, listen_tcp, wait_tcp, wait_udp};
use common::seed::{python, seed_program};
use common::{stderr, stdout, synscope};

const TCP_TRANSCRIPT: &str = "Welcome!\nHello, Lambda!\nHello, Bond!\nHello, alpha!\n";
const UDP_TRANSCRIPT: &str = "Hello, Michael!\nHello, Tracy!\nHello, Sarah!\n";

// Our client against our listener.

#[test]
fn our_connect_against_our_listen_prints_the_seed_transcript() {
    let port = free_port();
    let mut server = listen_tcp(port, &[]);
    let out = synscope(["connect", &addr(port)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), TCP_TRANSCRIPT);
    server.wait_for_stdout("Connection from 127.0.0.1:");
    let log = server.stdout();
    assert!(log.starts_with("Waiting for connection...\n"), "{log}");
    assert!(log.lines().any(|l| l.starts_with("Accept new connection from 127.0.0.1:") && l.ends_with("...")), "{log}");
}

#[test]
fn our_udp_connect_against_our_listen() {
    let port = free_port();
    let mut server = listen(&["--udp", &addr(port)]);
    wait_udp(&mut server, port);
    let out = synscope(["connect", "--udp", &addr(port)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), UDP_TRANSCRIPT);
    server.wait_for_stdout("Received from 127.0.0.1:");
    assert!(server.stdout().starts_with(&format!("Bind UDP on {port}...\n")), "{}", server.stdout());
}

#[test]
fn messages_given_on_the_command_line_are_sent_instead() {
    let port = free_port();
    let _server = listen_tcp(port, &[]);
    let out = synscope(["connect", &addr(port), "hi", "there"]);
    assert_eq!(stdout(&out), "Welcome!\nHello, hi!\nHello, there!\n");
}

// Interoperation with the seed's Python peers, byte for byte.

#[test]
fn the_seeds_tcp_client_against_our_listen() {
    let Some(client) = seed_program("tcp_client.py") else { return };
    let port = free_port();
    let _server = listen_tcp(port, &[]);
    let out = python(&client, port).output().expect("running the seed client");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), TCP_TRANSCRIPT);
}

#[test]
fn our_connect_against_the_seeds_tcp_server() {
    let Some(server) = seed_program("tcp_server.py") else { return };
    let port = free_port();
    let mut server = Running::spawn(python(&server, port));
    wait_tcp(&mut server, port);
    // The seed's server sleeps 1 s before each reply: about 4 s.
    let out = synscope(["connect", &addr(port)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), TCP_TRANSCRIPT);
}

#[test]
fn the_seeds_udp_client_against_our_listen() {
    let Some(client) = seed_program("udp_client.py") else { return };
    let port = free_port();
    let mut server = listen(&["--udp", &addr(port)]);
    wait_udp(&mut server, port);
    let out = python(&client, port).output().expect("running the seed client");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), UDP_TRANSCRIPT);
}

#[test]
fn our_udp_connect_against_the_seeds_udp_server() {
    let Some(server) = seed_program("udp_server.py") else { return };
    let port = free_port();
    let mut server = Running::spawn(python(&server, port));
    wait_udp(&mut server, port);
    let out = synscope(["connect", "--udp", &addr(port)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), UDP_TRANSCRIPT);
}

// Errors a user meets.

fn assert_one_line_exit_1(out: &std::process::Output, contains: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "expected one line: {err}");
    assert!(err.starts_with("synscope: ") && err.contains(contains), "{err}");
}

#[test]
fn a_busy_tcp_port_is_one_line_and_exit_1() {
    let port = free_port();
    let _first = listen_tcp(port, &[]);
    let second = synscope(["listen", "--tcp", &addr(port)]);
    assert_eq!(
        stderr(&second),
        format!(
            "synscope: cannot listen on 127.0.0.1:{port}: address already in use (another process holds the port; \
             pick another with --tcp)\n"
        )
    );
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(stdout(&second), "", "nothing is printed before the bind succeeds");
}

#[test]
fn a_busy_udp_port_is_one_line_and_exit_1() {
    let port = free_port();
    let mut first = listen(&["--udp", &addr(port)]);
    wait_udp(&mut first, port);
    let second = synscope(["listen", "--udp", &addr(port)]);
    assert_one_line_exit_1(&second, "address already in use (another process holds the port; pick another with --udp)");
}

#[test]
fn connecting_to_a_closed_port_is_one_line_and_exit_1() {
    let port = free_port();
    assert_one_line_exit_1(&synscope(["connect", &addr(port)]), "connection refused");
    assert_one_line_exit_1(&synscope(["connect", "--udp", &addr(port)]), "connection refused");
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_eq!(synscope(["listen", "--max-conns", "0"]).status.code(), Some(2));
    assert_eq!(synscope(["listen", "--tcp", "not an address"]).status.code(), Some(2));
    assert_eq!(synscope(["connect", "127.0.0.1:9", "--count", "0"]).status.code(), Some(2));
    assert_eq!(synscope(["connect", "127.0.0.1:9", "--udp", "--count", "3"]).status.code(), Some(2));
}

// Bounded resources and a clean stop.

#[test]
fn beyond_max_conns_a_connection_is_closed_at_once_and_counted() {
    let port = free_port();
    let server = listen(&["--tcp", &addr(port), "--max-conns", "1"]);
    let target: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    // Readiness poll by hand: the poll's own connection must be closed before we hold the only slot.
    let mut server = server;
    let mut held = loop {
        server.assert_alive();
        if let Ok(stream) = TcpStream::connect_timeout(&target, Duration::from_millis(200)) {
            break stream;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    held.set_read_timeout(Some(READY)).unwrap();
    let mut buf = [0u8; 64];
    let n = held.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Welcome!");

    let mut refused = TcpStream::connect(target).unwrap();
    refused.set_read_timeout(Some(READY)).unwrap();
    // EOF (or a reset) without a greeting.
    assert!(matches!(refused.read(&mut buf), Ok(0) | Err(_)));

    held.write_all(b"still here").unwrap();
    let n = held.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"Hello, still here!");
    let (code, out, err) = server.terminate();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("(--max-conns)"), "{out}");
    assert!(err.contains("1 connections accepted") && err.contains("1 refused"), "{err}");
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let port = free_port();
    let server = listen_tcp(port, &["--idle-timeout", "200ms"]);
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    stream.set_read_timeout(Some(READY)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(stream.read(&mut buf).unwrap(), 8, "greeting");
    // The server closes; a read that would otherwise block for READY returns EOF.
    let started = Instant::now();
    assert_eq!(stream.read(&mut buf).unwrap(), 0);
    assert!(started.elapsed() < READY);
    let (code, _, err) = server.terminate();
    assert_eq!(code, Some(0));
    assert!(err.contains("idle timeouts") && !err.contains(" 0 idle timeouts"), "{err}");
}

#[test]
fn sigterm_stops_the_listener_with_open_connections_and_prints_stats() {
    let port = free_port();
    let mut server = listen(&["--tcp", &addr(port), "--udp", &addr(port)]);
    wait_tcp(&mut server, port);
    wait_udp(&mut server, port);
    let mut open = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    open.set_read_timeout(Some(READY)).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(open.read(&mut buf).unwrap(), 8);
    let (code, out, err) = server.terminate();
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("Bind UDP on") && out.contains("Waiting for connection..."), "{out}");
    // The open connection was shut down and logged as closed before the exit.
    assert_eq!(out.matches("Accept new connection").count(), out.matches("closed.").count(), "{out}");
    assert!(err.contains("synscope: listen stopped: ") && err.contains("messages answered"), "{err}");
}

// The prober.

#[test]
fn the_prober_succeeds_every_session_against_our_listener() {
    let port = free_port();
    let _server = listen_tcp(port, &[]);
    let out = synscope(["connect", &addr(port), "--count", "50", "--concurrency", "10"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("success: 50/50 (100.0%)"), "{text}");
    assert!(text.contains("connect latency (ms): p50 "), "{text}");
    assert!(text.contains("failures: refused 0, timeout 0, reset 0, protocol mismatch 0, other 0"), "{text}");
    assert!(text.contains(" sessions/s over "), "{text}");
}

#[test]
fn the_prober_reports_json() {
    let port = free_port();
    let _server = listen_tcp(port, &[]);
    let out = synscope(["connect", &addr(port), "--count", "20", "--concurrency", "4", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["sessions"], 20);
    assert_eq!(report["success_ratio"], 1.0);
    assert!(report["connect_ms"]["p99"].as_f64().is_some_and(|p| p <= report["connect_ms"]["max"].as_f64().unwrap()));
    // The rate is the sessions over the time they took.
    let (elapsed, rate) = (report["elapsed_s"].as_f64().unwrap(), report["sessions_per_s"].as_f64().unwrap());
    assert!(elapsed > 0.0 && (rate * elapsed - 20.0).abs() < 1e-6, "{report}");
}

#[test]
fn the_prober_counts_every_session_refused_at_a_closed_port() {
    let port = free_port();
    let out = synscope(["connect", &addr(port), "--count", "50", "--concurrency", "10"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("success: 0/50 (0.0%)"), "{text}");
    assert!(text.contains("failures: refused 50, timeout 0"), "{text}");
    assert!(text.contains("no connection was established"), "{text}");
    assert_eq!(stderr(&out), format!("synscope: 50 of 50 sessions to 127.0.0.1:{port} failed\n"));
}

#[test]
fn the_prober_calls_a_foreign_protocol_a_mismatch() {
    // A server that accepts and sends the wrong greeting.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        for _ in 0..3 {
            let (mut stream, _) = listener.accept().unwrap();
            let _ = stream.write_all(b"SSH-2.0-OpenSSH_9.6\r\n");
        }
    });
    let out = synscope(["connect", &addr(port), "--count", "3", "--concurrency", "1", "--timeout", "2s"]);
    server.join().unwrap();
    let text = stdout(&out);
    assert!(text.contains("protocol mismatch 3"), "{text}");
}

// Bulk transfers to the discard service (RFC 863).

#[test]
fn a_bulk_transfer_is_read_whole_by_the_discard_service_and_its_rate_reported() {
    let (echo, discard) = (free_port(), free_port());
    let discard_addr = addr(discard);
    let mut server = listen_tcp(echo, &["--discard", &discard_addr]);
    wait_tcp(&mut server, discard);
    let out = synscope(["connect", &discard_addr, "--bulk", "300ms", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let (bytes, seconds) = (report["bytes"].as_u64().unwrap(), report["seconds"].as_f64().unwrap());
    assert!(bytes > 0 && seconds >= 0.3, "{report}");
    let rate = report["gbit_per_s"].as_f64().unwrap();
    assert!((rate - bytes as f64 * 8.0 / seconds / 1e9).abs() < 1e-6, "{report}");
    // The server read every byte the client sent: the client waited for its close before stopping the clock.
    let (code, _, err) = server.terminate();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains(&format!(", {bytes} bytes discarded")), "{err}");
}

#[test]
fn a_bulk_transfer_to_the_echo_listener_is_refused_clearly() {
    let port = free_port();
    let _server = listen_tcp(port, &[]);
    let out = synscope(["connect", &addr(port), "--bulk", "100ms"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("sent data back: it is not a discard service"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
