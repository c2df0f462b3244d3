//! The command line as a user meets it: exit codes, one-line errors for bad input, nothing lost before the damage.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::{capture, stderr, stdout, synscope};

fn seed() -> String {
    capture("seed-session.pcap").to_str().unwrap().to_string()
}

fn assert_one_clean_error_line(err: &str) {
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("synscope:")).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(!err.contains("panicked") && !err.contains("RUST_BACKTRACE"), "panic or backtrace: {err}");
}

#[test]
fn a_bad_filter_is_a_usage_error_pointing_at_the_column() {
    let out = synscope(["read", &seed(), "tcp", "and", "hots", "10.0.0.1"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("filter error at column 9: unknown word 'hots'"), "{err}");
    assert!(err.contains("        ^"), "no caret under the column: {err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_missing_file_is_one_line_and_exit_1() {
    let out = synscope(["read", "/nonexistent/x.pcap"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("synscope: /nonexistent/x.pcap: cannot open: No such file"), "{err}");
    assert_one_clean_error_line(&err);
}

#[test]
fn no_file_at_all_is_a_usage_error() {
    let out = synscope(["read"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no capture file given"));
}

/// Writes `bytes` to a temporary file and reads it with synscope.
fn read_bytes(bytes: &[u8]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.pcap");
    std::fs::write(&path, bytes).unwrap();
    synscope(["read", path.to_str().unwrap()])
}

#[test]
fn a_truncated_file_keeps_every_packet_before_the_damage() {
    let bytes = std::fs::read(seed()).unwrap();
    let whole = synscope(["read", &seed()]);
    let all_lines: Vec<String> = stdout(&whole).lines().map(String::from).collect();
    // Cut the file 30 bytes into the fifth record. Records start after the 24-byte header.
    let mut offset = 24usize;
    for _ in 0..4 {
        let incl = u32::from_le_bytes(bytes[offset + 8..offset + 12].try_into().unwrap()) as usize;
        offset += 16 + incl;
    }
    let out = read_bytes(&bytes[..offset + 30]);
    assert_eq!(out.status.code(), Some(1));
    let printed: Vec<String> = stdout(&out).lines().map(String::from).collect();
    assert_eq!(printed, all_lines[..4], "the four whole records must be printed exactly as before");
    let err = stderr(&out);
    assert!(err.contains(&format!("record 5 at byte offset {offset}: file ends inside a record")), "{err}");
    assert_one_clean_error_line(&err);
    assert!(err.contains("4 packets read"), "summary still printed: {err}");
}

#[test]
fn an_impossible_record_length_names_record_and_offset() {
    let mut bytes = std::fs::read(seed()).unwrap();
    bytes[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let out = read_bytes(&bytes);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("record 1 at byte offset 24: impossible record length 2147483647"), "{err}");
    assert_one_clean_error_line(&err);
}

#[test]
fn a_header_cannot_talk_us_into_a_huge_record() {
    // snaplen 0xffffffff in the file header and a 2 GiB record: refused by the cap, not allocated.
    let mut bytes = std::fs::read(seed()).unwrap();
    bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    bytes[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let out = read_bytes(&bytes);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("impossible record length 2147483647 (limit 16777216)"), "{err}");
}

#[test]
fn unknown_magic_and_empty_files_are_refused_clearly() {
    let out = read_bytes(b"GIF89a this is not a capture");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("byte offset 0: not a pcap or pcapng file (magic 0x47494638)"), "{err}");
    assert_one_clean_error_line(&err);

    let out = read_bytes(b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("empty file"), "{}", stderr(&out));
}

#[test]
fn an_unsupported_link_type_is_named() {
    let mut bytes = std::fs::read(seed()).unwrap();
    bytes[20..24].copy_from_slice(&147u32.to_le_bytes());
    let out = read_bytes(&bytes);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("record 1 at byte offset 24: unsupported link type 147"), "{err}");
}

#[test]
fn a_broken_second_file_does_not_lose_the_first_or_third() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.pcap");
    std::fs::write(&broken, b"\xd4\xc3\xb2\xa1short").unwrap();
    let udp = capture("seed-udp.pcap");
    let out = synscope(["read", &seed(), broken.to_str().unwrap(), udp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out).lines().count(), 19 + 6);
    assert!(stderr(&out).contains("broken.pcap: record 0 at byte offset 0: file ends inside a record"));
}

#[test]
fn count_and_filter_and_r_flag() {
    let out = synscope(["read", "-c", "3", &seed()]);
    assert!(out.status.success());
    assert_eq!(stdout(&out).lines().count(), 3);

    let out = synscope(["read", "-r", &seed(), "tcp", "and", "(", "syn", "or", "fin", ")"]);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(text.lines().all(|l| l.contains("Flags [S") || l.contains("Flags [F")), "{text}");
}

#[test]
fn quiet_prints_only_the_summary() {
    let out = synscope(["read", "-q", &seed()]);
    assert!(out.status.success());
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.starts_with("19 packets read, 19 matched, "), "{err}");
    assert!(err.contains("tcp 19"), "{err}");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .args(["read", "-", "udp"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(capture("seed-udp.pcap")).unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 6);
}

#[test]
fn write_keeps_the_matching_packets_and_their_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("syns.pcap");
    let flood = capture("syn-flood.pcap");
    let out = synscope(["read", "-q", "-w", out_file.to_str().unwrap(), flood.to_str().unwrap(), "syn", "and", "ack"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Tracking off: annotations depend on the packets around them, which the filtered file no longer has.
    let direct = synscope(["read", "--no-track", "--format", "json", flood.to_str().unwrap(), "syn", "and", "ack"]);
    let reread = synscope(["read", "--no-track", "--format", "json", out_file.to_str().unwrap()]);
    let strip_numbers = |s: String| -> Vec<String> {
        s.lines().map(|l| l.split_once(",\"ts\"").map(|(_, rest)| rest.to_string()).unwrap_or_default()).collect()
    };
    let (direct, reread) = (strip_numbers(stdout(&direct)), strip_numbers(stdout(&reread)));
    assert_eq!(direct.len(), 129);
    assert_eq!(direct, reread, "the written file must hold the same packets with the same timestamps");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let flood = capture("syn-flood.pcap");
    let mut child = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .args(["read", flood.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // Dropping our end of stdout closes the pipe, as `| head -1` does.
    let out = child.wait_with_output().unwrap();
    assert!(first.contains("Flags [S]"));
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(!stderr(&out).contains("Broken pipe") && !stderr(&out).contains("panicked"));
}

#[test]
fn the_kernel_bridge_outside_off_mode_is_a_usage_error() {
    // Checked before any socket or program: no root needed, and the interfaces need not exist.
    let out = synscope([
        "guard",
        "--outside",
        "x0",
        "--inside",
        "x1",
        "--protect",
        "10.0.0.2:80",
        "--mode",
        "cookies",
        "--forward",
        "kernel",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert_one_clean_error_line(&err);
    assert!(err.contains("--forward kernel needs --mode off"), "{err}");
}
