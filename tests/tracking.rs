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

/// A TCP segment between 192.0.2.10:40000 (client) and 192.0.2.20:9999 as a 40-byte snap length captures it: the
/// IPv4 and TCP headers, with the total length still counting `len` payload bytes.
fn snapped_segment(from_client: bool, flags: u16, seq: u32, ack: u32, len: u16) -> Vec<u8> {
    let (client, server): (std::net::IpAddr, std::net::IpAddr) =
        ("192.0.2.10".parse().unwrap(), "192.0.2.20".parse().unwrap());
    let (src, dst, src_port, dst_port) =
        if from_client { (client, server, 40000, 9999) } else { (server, client, 9999, 40000) };
    let ip = IpSpec { src, dst, ttl: 64, id: 0 };
    let tcp =
        TcpSpec { src_port, dst_port, seq, ack, flags: TcpFlags(flags), window: 65535, options: &[], payload: &[] };
    let mut frame = Vec::new();
    tcp_frame(&mut frame, None, &ip, &tcp).unwrap();
    frame[2..4].copy_from_slice(&(40 + len).to_be_bytes());
    frame[10..12].fill(0);
    let sum: u32 = frame[..20].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = ((sum & 0xffff) + (sum >> 16)) as u16;
    frame[10..12].copy_from_slice(&(!sum).to_be_bytes());
    frame
}

/// Issue 13: byte counts past 4 GiB. A snap-length capture of a connection that sends 4.5 GB one way and 7.2 GB the
/// other, of which the capture misses 4.8 GB in gaps: every sequence space wraps, and the conn log says the true
/// totals (it said the difference modulo 2^32, and missed_bytes saturated at 4294967295).
#[test]
fn the_conn_log_counts_bytes_past_4_gib() {
    use synscope::capture::file::Precision;
    use synscope::capture::frame::Frame;
    use synscope::capture::writer::PcapFileWriter;
    const SYN: u16 = TcpFlags::SYN;
    const ACK: u16 = TcpFlags::ACK;
    const FIN: u16 = TcpFlags::FIN;
    const LEN: u16 = 60_000;

    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("big.pcap");
    let mut writer = PcapFileWriter::create(pcap.to_str().unwrap(), Precision::Micro).unwrap();
    let mut micros = 1_700_000_000_000_000u64;
    let mut write = |frame: Vec<u8>, len: u16| {
        micros += 50;
        let ts = Timestamp::from_nanos(micros * 1_000);
        let orig_len = frame.len() as u32 + u32::from(len);
        writer.write(&Frame { raw_stamp: None, ts, link_type: LinkType::RawIp, orig_len, data: &frame }).unwrap();
    };
    let (c_isn, s_isn) = (4_000_000_000u32, 3_000_000_000u32);
    write(snapped_segment(true, SYN, c_isn, 0, 0), 0);
    write(snapped_segment(false, SYN | ACK, s_isn, c_isn + 1, 0), 0);
    let (mut c, mut s) = (c_isn + 1, s_isn + 1);
    write(snapped_segment(true, ACK, c, s, 0), 0);
    for _ in 0..75_000 {
        write(snapped_segment(true, ACK, c, s, LEN), LEN);
        c = c.wrapping_add(u32::from(LEN));
    }
    // One segment in three of the server's reaches the capture.
    for _ in 0..40_000 {
        s = s.wrapping_add(2 * u32::from(LEN));
        write(snapped_segment(false, ACK, s, c, LEN), LEN);
        s = s.wrapping_add(u32::from(LEN));
    }
    write(snapped_segment(true, FIN | ACK, c, s, 0), 0);
    write(snapped_segment(false, FIN | ACK, s, c.wrapping_add(1), 0), 0);
    write(snapped_segment(true, ACK, c.wrapping_add(1), s.wrapping_add(1), 0), 0);
    writer.finish().unwrap();

    let log = dir.path().join("conn.log");
    let out = synscope(["read", "-q", pcap.to_str().unwrap(), "--conn-log", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&log).unwrap();
    let columns = [
        "conn_state",
        "orig_bytes",
        "resp_bytes",
        "missed_bytes",
        "orig_pkts",
        "orig_ip_bytes",
        "resp_pkts",
        "resp_ip_bytes",
    ];
    let rows = zeek_cut(&text, &columns);
    // Client: SYN, ACK, 75,000 segments, FIN, last ACK. Server: SYN-ACK, 40,000 segments, FIN. Every payload is cut
    // by the snap length, and Zeek delivers no truncated payload to its reassembler, so all the bytes each side
    // acknowledges are content gaps: the client's 4.5 GB and the server's 7.2 GB (4.8 GB skipped, 2.4 GB truncated).
    let expected = [
        "SF",
        "4500000000",
        "7200000000",
        "11700000000",
        "75004",
        &(4 * 40 + 75_000 * 60_040u64).to_string(),
        "40002",
        &(2 * 40 + 40_000 * 60_040u64).to_string(),
    ];
    assert_eq!(rows, vec![expected.map(String::from).to_vec()], "{text}");
}
