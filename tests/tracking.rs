//! The tracker from the outside: --fail-on exit codes, the connection log, JSON annotations, and bounded memory
//! under a SYN flood from a million sources.

mod common;

use common::{capture, stderr, stdout, synscope};
use synscope::time::Timestamp;
use synscope::track::{Tracker, TrackerConfig};
use synscope::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame};
use synscope::wire::{LinkType, TcpFlags, decode};

fn path(name: &str) -> String {
    capture(name).to_str().unwrap().to_string()
}

#[test]
fn fail_on_refused_exits_3_and_names_the_connection() {
    let out = synscope(["read", "-q", &path("refused.pcap"), "--fail-on", "refused,rst"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("--fail-on refused: 1 hit(s): tcp 192.0.2.10:40000 > 192.0.2.20:9999 REJ C"), "{err}");
    assert!(err.contains("--fail-on rst: 1 hit(s)"), "{err}");
}

#[test]
fn fail_on_passes_when_nothing_holds() {
    let out = synscope(["read", "-q", &path("seed-session.pcap"), "--fail-on", "rst,refused,half-open,retransmission"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("--fail-on"));
}

#[test]
fn fail_on_each_condition_has_a_capture_that_trips_it() {
    for (file, condition) in [
        ("syn-unanswered.pcap", "half-open"),
        ("syn-unanswered.pcap", "incomplete-handshake"),
        ("syn-flood.pcap", "flood"),
        ("odd-frames.pcap", "malformed"),
        ("reset-midstream.pcap", "rst"),
    ] {
        let out = synscope(["read", "-q", &path(file), "--fail-on", condition]);
        assert_eq!(out.status.code(), Some(3), "{file} --fail-on {condition}: {}", stderr(&out));
        assert!(stderr(&out).contains(&format!("--fail-on {condition}: ")), "{}", stderr(&out));
    }
}

#[test]
fn a_bad_fail_on_word_is_a_usage_error() {
    let out = synscope(["read", &path("refused.pcap"), "--fail-on", "refuzed"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Reads a Zeek TSV log the way zeek-cut does: column positions come from the `#fields` line.
fn zeek_cut(log: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let fields: Vec<&str> =
        log.lines().find_map(|l| l.strip_prefix("#fields\t")).expect("#fields header").split('\t').collect();
    let index: Vec<usize> = columns.iter().map(|c| fields.iter().position(|f| f == c).expect("column")).collect();
    log.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            index.iter().map(|&i| cells[i].to_string()).collect()
        })
        .collect()
}

#[test]
fn the_conn_log_reads_like_zeeks() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("conn.log");
    let out = synscope(["read", "-q", &path("seed-session.pcap"), "--conn-log", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("#separator \\x09\n"));
    assert!(text.trim_end().lines().last().unwrap().starts_with("#close\t"));
    let rows =
        zeek_cut(&text, &["id.orig_h", "id.resp_p", "proto", "conn_state", "history", "orig_pkts", "end_reason"]);
    assert_eq!(rows, vec![vec!["192.0.2.10", "9999", "tcp", "SF", "ShAdDFaf", "12", "close"]]);
}

#[test]
fn json_lines_carry_annotations_and_events() {
    let out = synscope(["read", "--format", "json", &path("syn-unanswered.pcap")]);
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["annotations"][0]["kind"], "handshake-syn");
    assert_eq!(lines[0]["annotations"][0]["attempt"], 1);
    assert_eq!(lines[0]["annotations"][0]["text"], "[handshake 1/3 SYN]");
    let event = lines.iter().find(|l| l["event"] == "half-open").expect("a half-open event");
    assert_eq!(event["ts"], "1780315205.000000000");
    assert_eq!(event["after"], 5.0);
}

/// One spoofed SYN from a source derived from `n`, as hping3 --rand-source would send.
fn flood_syn(n: u32, frame: &mut Vec<u8>) {
    let eth = EthernetSpec { src: [2, 0, 0, 0, 0, 1], dst: [2, 0, 0, 0, 0, 2], vlans: &[] };
    let source = std::net::IpAddr::from((0x0a00_0000u32 | n).to_be_bytes());
    let ip = IpSpec { src: source, dst: "192.0.2.20".parse().unwrap(), ttl: 64, id: n as u16 };
    let syn = TcpSpec {
        src_port: 1024 + (n % 60000) as u16,
        dst_port: 9999,
        seq: n.wrapping_mul(2_654_435_761),
        ack: 0,
        flags: TcpFlags(TcpFlags::SYN),
        window: 512,
        options: &[],
        payload: &[],
    };
    frame.clear();
    tcp_frame(frame, Some(&eth), &ip, &syn).unwrap();
}

#[test]
fn a_flood_from_a_million_sources_stays_within_the_flow_cap() {
    const SOURCES: u32 = 1_000_000;
    const CAP: usize = 20_000;
    let mut tracker = Tracker::new(
        TrackerConfig { max_flows: CAP, ..TrackerConfig::default() },
        synscope::hash_key::HashKey::from_seed(1),
    );
    let mut frame = Vec::with_capacity(64);
    let mut records = 0u64;
    for n in 0..SOURCES {
        flood_syn(n, &mut frame);
        let ts = Timestamp::from_nanos(1_000_000_000_000 + u64::from(n) * 1_000);
        let packet = decode(LinkType::Ethernet, &frame);
        tracker.handle_timeout(ts);
        tracker.handle_packet(ts, &packet);
        while tracker.poll_record().is_some() {
            records += 1;
        }
        while tracker.poll_event().is_some() {}
        assert!(tracker.tracked() <= CAP);
    }
    let (evictions, evicted_half_open) = tracker.evictions();
    assert_eq!(tracker.tracked(), CAP);
    assert_eq!(evictions, u64::from(SOURCES) - CAP as u64);
    assert_eq!(evicted_half_open, evictions, "a SYN flood only leaves half-open entries to evict");
    assert_eq!(records, evictions, "every evicted connection still gets its record");
    assert_eq!(tracker.floods_detected(), 1);
}
