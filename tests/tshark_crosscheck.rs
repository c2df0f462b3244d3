//! Cross-checks synscope's decoder against tshark, packet by packet.
//!
//! For every capture in `captures/` (and, when present, the public captures in `../shared/pcaps/`) we run
//! `tshark -T fields` and `synscope read --format json` and compare the packet count and, per packet, the TCP and UDP
//! ports, the TCP flags (tshark's `tcp.flags` masked to the low nine bits against our `flag_bits`) and the raw TCP
//! sequence and acknowledgment numbers. A field one tool shows and the other does not is a disagreement too.
//!
//! Known, legitimate dissector differences are exempted narrowly in `exemption` below; everything else fails.
//!
//! The tracker's per-packet annotations are compared with tshark's `tcp.analysis.*` flags too (`ANALYSIS`, at the
//! end): exactly on a crafted capture, and measured (precision and recall per kind) on the bundled and public ones.
//!
//! Without tshark the tests print a loud SKIPPED note and pass, unless `SYNSCOPE_REQUIRE_PEERS=1` is set.

mod common;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bundled_captures, captures_in, shared_pcaps, skip_or_fail};
use serde_json::Value;

/// The fields compared, as tshark names them; its `-e` arguments after `frame.number`.
const FIELDS: [&str; 7] =
    ["tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw"];
const TCP_FIELDS: [usize; 5] = [0, 1, 4, 5, 6];
const ALL_FIELDS: [usize; 7] = [0, 1, 2, 3, 4, 5, 6];
const FLAGS: usize = 4;
const ACK: usize = 6;

/// How many disagreements a failure message lists.
const SHOWN: usize = 10;

/// One packet's compared fields, normalised to decimal strings; `None` where the tool shows nothing.
type Row = [Option<String>; 7];

struct Disagreement {
    file: String,
    packet: usize,
    field: &'static str,
    tshark: String,
    synscope: String,
    context: String,
}

impl fmt::Display for Disagreement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} packet {}: {}: tshark {:?}, synscope {:?}{}",
            self.file, self.packet, self.field, self.tshark, self.synscope, self.context
        )
    }
}

fn show(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "<none>".into())
}

/// Whether tshark can run here. Without it: fail under `SYNSCOPE_REQUIRE_PEERS=1`, else skip loudly.
fn tshark_present() -> bool {
    let present = Command::new("tshark").arg("--version").output().is_ok_and(|o| o.status.success());
    if !present {
        skip_or_fail("tshark is not installed (or does not run); the tshark cross-check did not run");
    }
    present
}

/// tshark's view: one row per frame, with `frame.number` checked against the row's position.
fn tshark_rows(file: &Path) -> Vec<Row> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(file);
    // Raw sequence numbers, and no reassembly: we want each frame dissected on its own, as synscope does.
    for pref in [
        "tcp.relative_sequence_numbers:FALSE",
        "ip.defragment:FALSE",
        "ipv6.defragment:FALSE",
        "tcp.desegment_tcp_streams:FALSE",
    ] {
        cmd.arg("-o").arg(pref);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t", "-e", "frame.number"]);
    for field in FIELDS {
        cmd.arg("-e").arg(field);
    }
    let out = cmd.output().expect("running tshark");
    assert!(out.status.success(), "tshark failed on {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("tshark prints UTF-8");
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 8, "{}: tshark line {} has {} columns: {line:?}", file.display(), i + 1, cols.len());
            assert_eq!(cols[0], (i + 1).to_string(), "{}: tshark frame numbers out of order", file.display());
            let mut row: Row = Default::default();
            for (slot, col) in row.iter_mut().zip(&cols[1..]) {
                *slot = (!col.is_empty()).then(|| col.to_string());
            }
            // tcp.flags is hex ("0x0012") over 12 bits; we compare the low nine (FIN..NS), as our flag_bits holds.
            if let Some(hex) = &row[FLAGS] {
                let bits = u16::from_str_radix(hex.trim_start_matches("0x"), 16)
                    .unwrap_or_else(|_| panic!("{}: frame {}: tcp.flags {hex:?} is not hex", file.display(), i + 1));
                row[FLAGS] = Some((bits & 0x1ff).to_string());
            }
            row
        })
        .collect()
}

/// synscope's view: the JSON objects, and the compared fields of each.
fn synscope_rows(file: &Path) -> Vec<(Value, Row)> {
    let out = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .args(["read", "--format", "json"])
        .arg(file)
        .output()
        .expect("running synscope");
    assert!(
        out.status.success(),
        "synscope read failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("synscope prints UTF-8");
    let objects = text.lines().enumerate().map(|(i, line)| {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("{}: JSON line {}: {e}: {line:?}", file.display(), i + 1))
    });
    // Besides one object per packet, the stream carries event records (e.g. {"event":"flood-started",...}) between
    // packets. They have no packet number and describe no frame, so they have no tshark counterpart.
    let packets = objects.filter(|json| {
        let event = json.get("n").is_none();
        assert!(
            !event || json.get("event").is_some(),
            "{}: JSON object with neither n nor event: {json}",
            file.display()
        );
        !event
    });
    packets
        .enumerate()
        .map(|(i, json)| {
            assert_eq!(json["n"], i + 1, "{}: synscope packet numbers out of order", file.display());
            let get = |layer: &str, key: &str| -> Option<String> {
                json.get(layer).map(|l| {
                    let v = &l[key];
                    assert!(v.is_u64(), "{}: packet {}: {layer}.{key} is {v}", file.display(), i + 1);
                    v.to_string()
                })
            };
            let row: Row = [
                get("tcp", "sport"),
                get("tcp", "dport"),
                get("udp", "sport"),
                get("udp", "dport"),
                get("tcp", "flag_bits"),
                get("tcp", "seq"),
                get("tcp", "ack"),
            ];
            (json, row)
        })
        .collect()
}

/// ICMP error messages, which quote the offending datagram's IP header and first transport bytes.
fn is_icmp_error(json: &Value) -> bool {
    let Some(icmp) = json.get("icmp") else { return false };
    match (icmp["v6"].as_bool(), icmp["type"].as_u64()) {
        // Destination unreachable, source quench, redirect, time exceeded, parameter problem (RFC 792).
        (Some(false), Some(t)) => matches!(t, 3 | 4 | 5 | 11 | 12),
        // Destination unreachable, packet too big, time exceeded, parameter problem (RFC 4443).
        (Some(true), Some(t)) => (1..=4).contains(&t),
        _ => false,
    }
}

/// Fields that legitimately differ between the tools for this packet, with the reason; empty for most packets.
/// Each case is narrow: it names the exact situation and leaves every other field compared.
fn exemption(json: &Value, ours: &Row, theirs: &Row) -> (&'static [usize], &'static str) {
    let we_have_transport = ours.iter().any(Option::is_some);
    // ICMP errors: tshark dissects the quoted datagram's TCP/UDP header and reports its ports (and a TCP quote's
    // sequence number) as tcp.*/udp.* fields. synscope reports the packet as ICMP and does not descend into the
    // quote. Those fields describe the quoted packet, not this one, so neither tool is wrong.
    if is_icmp_error(json) && !we_have_transport {
        return (&ALL_FIELDS, "ICMP error quoting a TCP/UDP header");
    }
    // A TCP header that is cut short, or whose data offset is below 5: synscope drops the whole header and reports
    // the packet as malformed, while tshark shows whatever fields it got to before giving up (ports from a
    // 12-byte stub; ports and seq when the data offset is bogus). tshark never gets as far as the flags then, so
    // require tcp.flags and tcp.ack to be empty on its side too, and still compare the UDP fields.
    let malformed = json.get("malformed").and_then(Value::as_str).unwrap_or("");
    let broken_tcp = malformed.starts_with("truncated TCP header") || malformed.starts_with("bad TCP header");
    if broken_tcp && json.get("tcp").is_none() && theirs[FLAGS].is_none() && theirs[ACK].is_none() {
        return (&TCP_FIELDS, "broken TCP header");
    }
    (&[], "")
}

/// Compares one file; returns its disagreements and how many packets an exemption applied to.
fn compare(file: &Path) -> (Vec<Disagreement>, usize) {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let theirs = tshark_rows(file);
    let ours = synscope_rows(file);
    let mut found = Vec::new();
    if theirs.len() != ours.len() {
        found.push(Disagreement {
            file: name.clone(),
            packet: 0,
            field: "packet count",
            tshark: theirs.len().to_string(),
            synscope: ours.len().to_string(),
            context: String::new(),
        });
    }
    let mut exempted = 0;
    for (i, (t, (json, o))) in theirs.iter().zip(&ours).enumerate() {
        let (skip, why) = exemption(json, o, t);
        if !skip.is_empty() {
            eprintln!("  {name} packet {}: exempted ({why}): tshark {t:?}", i + 1);
            exempted += 1;
        }
        for (f, field) in FIELDS.iter().enumerate() {
            if skip.contains(&f) || t[f] == o[f] {
                continue;
            }
            let context = match json.get("malformed") {
                Some(m) => format!(" (synscope: malformed {m})"),
                None => String::new(),
            };
            found.push(Disagreement {
                file: name.clone(),
                packet: i + 1,
                field,
                tshark: show(&t[f]),
                synscope: show(&o[f]),
                context,
            });
        }
    }
    (found, exempted)
}

/// Compares every file and fails with the first disagreements, each naming file, packet and field.
fn crosscheck(files: &[PathBuf]) -> usize {
    let mut all = Vec::new();
    let mut exempted = 0;
    for file in files {
        let (found, skipped) = compare(file);
        eprintln!("{}: {} disagreements, {} exempted packets", file.display(), found.len(), skipped);
        all.extend(found);
        exempted += skipped;
    }
    if !all.is_empty() {
        let mut msg =
            format!("{} disagreements between tshark and synscope; the first {}:\n", all.len(), all.len().min(SHOWN));
        for d in all.iter().take(SHOWN) {
            msg.push_str(&format!("  {d}\n"));
        }
        panic!("{msg}");
    }
    exempted
}

#[test]
fn bundled_captures_agree_with_tshark() {
    if !tshark_present() {
        return;
    }
    let files = bundled_captures();
    assert!(files.len() >= 10, "expected the bundled captures in captures/, found {files:?}");
    // odd-frames.pcap holds two broken TCP headers (packets 2 and 4): the exemption must stay live, not silent.
    assert_eq!(crosscheck(&files), 2, "exempted packets in the bundled captures");
}

#[test]
fn shared_captures_agree_with_tshark() {
    if !tshark_present() {
        return;
    }
    // Without the public captures this fails under SYNSCOPE_REQUIRE_PEERS=1, else says loudly it skipped.
    let Some(dir) = shared_pcaps() else { return };
    let files = captures_in(&dir);
    assert!(!files.is_empty(), "no captures in {}", dir.display());
    crosscheck(&files);
}

/// A loopback capture (tcpdump -i lo) of a UDP datagram to a closed port over IPv4 and IPv6, and the ICMP and
/// ICMPv6 port-unreachable errors that quote it. tshark reports the quoted UDP ports on the error packets.
const ICMP_ERRORS_PCAP: &str = concat!(
    "d4c3b2a102000400000000000000000000000400010000001bb4086b16c80c002f0000002f0000000000000000000000",
    "0000000008004500002109a54000401133257f0000017f000001e7720009000dfe2068656c6c6f1bb4086b25c80c004b",
    "0000004b000000000000000000000000000000080045c0003d0ad90000400171257f0000017f0000010303d380000000",
    "004500002109a54000401133257f0000017f000001e7720009000dfe2068656c6c6f1bb4086ba4c90c00430000004300",
    "000000000000000000000000000086dd600a5faa000d1140000000000000000000000000000000010000000000000000",
    "0000000000000001c9320009000d002068656c6c6f1bb4086bb1c90c0073000000730000000000000000000000000000",
    "0086dd600e03fe003d3a4000000000000000000000000000000001000000000000000000000000000000010104204400",
    "000000600a5faa000d11400000000000000000000000000000000100000000000000000000000000000001c932000900",
    "0d002068656c6c6f",
);

#[test]
fn icmp_errors_quoting_udp_are_a_known_difference() {
    if !tshark_present() {
        return;
    }
    let bytes: Vec<u8> = (0..ICMP_ERRORS_PCAP.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&ICMP_ERRORS_PCAP[i..i + 2], 16).unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("icmp-errors.pcap");
    std::fs::File::create(&path).unwrap().write_all(&bytes).unwrap();
    // tshark does show the quoted ports, so without the exemption these two packets would disagree.
    let theirs = tshark_rows(&path);
    assert_eq!(theirs.len(), 4);
    for packet in [1, 3] {
        assert_eq!(theirs[packet][2].as_deref(), theirs[packet - 1][2].as_deref(), "quoted UDP source port");
    }
    let (found, exempted) = compare(&path);
    let listed: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert!(found.is_empty(), "{listed:#?}");
    assert_eq!(exempted, 2);
}

// Per-packet analysis: synscope's annotations against tshark's `tcp.analysis.*` flags.
//
// ANALYSIS maps each annotation kind (its JSON `kind`) to the tshark fields that mean the same; docs/analysis.md
// says where and why the rules differ. On the crafted capture below, which stays clear of those differences, every
// mapped flag must agree on every packet; on the bundled and public captures the agreement is measured and printed
// (precision: of the packets synscope marks, how many tshark marks too; recall: the other way round).

/// (synscope kind, tshark fields, any of which counts).
const ANALYSIS: [(&str, &[&str]); 13] = [
    (
        "retransmission",
        &["tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission"],
    ),
    ("out-of-order", &["tcp.analysis.out_of_order"]),
    ("gap", &["tcp.analysis.lost_segment"]),
    ("ack-of-unseen", &["tcp.analysis.ack_lost_segment"]),
    ("duplicate-ack", &["tcp.analysis.duplicate_ack"]),
    ("zero-window", &["tcp.analysis.zero_window"]),
    ("window-update", &["tcp.analysis.window_update"]),
    ("window-full", &["tcp.analysis.window_full"]),
    ("keep-alive", &["tcp.analysis.keep_alive"]),
    ("keep-alive-ack", &["tcp.analysis.keep_alive_ack"]),
    ("zero-window-probe", &["tcp.analysis.zero_window_probe"]),
    ("zero-window-probe-ack", &["tcp.analysis.zero_window_probe_ack"]),
    ("tfo-syn-ack", &["tcp.analysis.tfo_ack"]),
];

/// Per packet, per ANALYSIS entry: whether the tool marks it.
type Marks = Vec<[bool; ANALYSIS.len()]>;

fn tshark_marks(file: &Path) -> Marks {
    let fields: Vec<&str> = ANALYSIS.iter().flat_map(|(_, f)| f.iter().copied()).collect();
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(file);
    cmd.args(["-o", "tcp.analyze_sequence_numbers:TRUE", "-T", "fields", "-E", "separator=/t", "-e", "frame.number"]);
    for field in &fields {
        cmd.arg("-e").arg(field);
    }
    let out = cmd.output().expect("running tshark");
    assert!(out.status.success(), "tshark failed on {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("tshark prints UTF-8")
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), fields.len() + 1, "{}: tshark line {line:?}", file.display());
            let mut col = cols[1..].iter();
            let mut marks = [false; ANALYSIS.len()];
            for (mark, (_, tshark)) in marks.iter_mut().zip(ANALYSIS.iter()) {
                for _ in tshark.iter() {
                    *mark |= !col.next().expect("one column per field").is_empty();
                }
            }
            marks
        })
        .collect()
}

fn synscope_marks(file: &Path) -> Marks {
    synscope_rows(file)
        .iter()
        .map(|(json, _)| {
            let annotations = json["annotations"].as_array().map(Vec::as_slice).unwrap_or_default();
            // A retransmitted SYN or SYN-ACK is said in its handshake note ("retransmission: try 2").
            let kinds: Vec<&str> = annotations
                .iter()
                .filter_map(|a| match (a["kind"].as_str(), a["attempt"].as_u64()) {
                    (Some("handshake-syn" | "handshake-syn-ack"), Some(2..)) => Some("retransmission"),
                    (kind, _) => kind,
                })
                .collect();
            let mut marks = [false; ANALYSIS.len()];
            for (mark, (kind, _)) in marks.iter_mut().zip(ANALYSIS.iter()) {
                *mark = kinds.contains(kind);
            }
            marks
        })
        .collect()
}

/// Per ANALYSIS entry: (both, synscope only, tshark only), and the packets that disagree.
fn analysis_agreement(file: &Path) -> ([[usize; 3]; ANALYSIS.len()], Vec<String>) {
    let (theirs, ours) = (tshark_marks(file), synscope_marks(file));
    assert_eq!(theirs.len(), ours.len(), "{}: packet counts", file.display());
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut counts = [[0; 3]; ANALYSIS.len()];
    let mut differ = Vec::new();
    for (n, (t, o)) in theirs.iter().zip(&ours).enumerate() {
        for (k, (kind, fields)) in ANALYSIS.iter().enumerate() {
            match (o[k], t[k]) {
                (true, true) => counts[k][0] += 1,
                (true, false) => counts[k][1] += 1,
                (false, true) => counts[k][2] += 1,
                (false, false) => continue,
            }
            if o[k] != t[k] {
                let who = if o[k] { "synscope only" } else { "tshark only" };
                differ.push(format!("{name} packet {}: {kind} / {}: {who}", n + 1, fields[0]));
            }
        }
    }
    (counts, differ)
}

/// A raw-IP pcap (link type 101) of `frames`, each at its millisecond offset.
fn raw_ip_pcap(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    for word in [0u32, 0, 65535, 101] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    for (ms, frame) in frames {
        let micros = 1_700_000_000_000_000 + ms * 1000;
        let len = u32::try_from(frame.len()).unwrap();
        for word in [(micros / 1_000_000) as u32, (micros % 1_000_000) as u32, len, len] {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(frame);
    }
    out
}

/// Connections that show every kind in ANALYSIS except the ones the tools disagree on by design (docs/analysis.md):
/// window full before and after window scaling, keep-alives and their ACKs, zero-window probes the receiver drops
/// and their ACKs, window updates, a retransmission, a gap and duplicate ACKs, an ACK of unseen data, and TCP Fast
/// Open accepted and ignored.
fn analysis_capture() -> Vec<u8> {
    use synscope::wire::craft::{TcpSpec, ip_between, tcp_frame};
    use synscope::wire::segment::TcpFlags;

    struct Script {
        frames: Vec<(u64, Vec<u8>)>,
        port: u16,
    }
    impl Script {
        #[allow(clippy::too_many_arguments)]
        fn seg(&mut self, ms: u64, client: bool, flags: &str, seq: u32, ack: u32, len: usize, win: u16, opts: &[u8]) {
            let c: std::net::SocketAddr = format!("192.0.2.10:{}", self.port).parse().unwrap();
            let s: std::net::SocketAddr = "192.0.2.20:9999".parse().unwrap();
            let (src, dst) = if client { (c, s) } else { (s, c) };
            let bits = flags.chars().fold(0, |b, ch| {
                b | match ch {
                    'S' => TcpFlags::SYN,
                    'A' => TcpFlags::ACK,
                    'F' => TcpFlags::FIN,
                    'P' => TcpFlags::PSH,
                    other => panic!("flag {other:?}"),
                }
            });
            let payload = vec![b'x'; len];
            let spec = TcpSpec {
                src_port: src.port(),
                dst_port: dst.port(),
                seq,
                ack,
                flags: TcpFlags(bits),
                window: win,
                options: opts,
                payload: &payload,
            };
            let mut frame = Vec::new();
            tcp_frame(&mut frame, None, &ip_between(src, dst, 64, 0), &spec).unwrap();
            self.frames.push((ms, frame));
        }
    }
    const WS2: &[u8] = &[1, 3, 3, 2];
    const TFO_COOKIE: &[u8] = &[34, 10, 1, 2, 3, 4, 5, 6, 7, 8, 1, 1];
    let mut s = Script { frames: Vec::new(), port: 40000 };
    // Window scale 2 both ways; the SYN-ACK's window (1000) is unscaled.
    s.seg(0, true, "S", 1000, 0, 0, 65535, WS2);
    s.seg(10, false, "SA", 5000, 1001, 0, 1000, WS2);
    s.seg(30, true, "A", 1001, 5001, 0, 16384, &[]);
    s.seg(40, true, "PA", 1001, 5001, 1000, 16384, &[]); // window full (1001 + 1000)
    s.seg(50, false, "A", 5001, 2001, 0, 500, &[]); // 500 << 2
    s.seg(51, true, "PA", 2001, 5001, 500, 16384, &[]);
    s.seg(52, true, "PA", 2501, 5001, 1500, 16384, &[]); // window full (2001 + 2000)
    s.seg(60, false, "A", 5001, 4001, 0, 0, &[]); // zero window
    s.seg(260, true, "A", 4001, 5001, 1, 16384, &[]); // zero-window probe
    s.seg(261, false, "A", 5001, 4001, 0, 0, &[]); // its ACK, and a zero window
    s.seg(660, true, "A", 4001, 5001, 1, 16384, &[]); // probe again
    s.seg(661, false, "A", 5001, 4001, 0, 0, &[]);
    s.seg(700, false, "A", 5001, 4001, 0, 4000, &[]); // window update
    s.seg(701, true, "PA", 4001, 5001, 100, 16384, &[]);
    s.seg(800, false, "A", 5001, 4101, 0, 4000, &[]);
    s.seg(60_800, true, "A", 4100, 5001, 0, 16384, &[]); // keep-alive
    s.seg(60_801, false, "A", 5001, 4101, 0, 4000, &[]); // keep-alive ACK
    s.seg(120_800, true, "A", 4100, 5001, 1, 16384, &[]); // keep-alive with one garbage byte
    s.seg(120_801, false, "A", 5001, 4101, 0, 4000, &[]); // keep-alive ACK
    s.seg(120_802, false, "A", 5001, 4101, 0, 4000, &[]); // still answering the keep-alive
    // The server sends; one segment is missing from the capture, the client asks for it, the server resends it.
    s.seg(121_000, false, "PA", 5001, 4101, 100, 4000, &[]);
    s.seg(121_001, false, "PA", 5201, 4101, 100, 4000, &[]); // gap
    s.seg(121_002, false, "PA", 5301, 4101, 100, 4000, &[]);
    s.seg(121_010, true, "A", 4101, 5101, 0, 16384, &[]);
    s.seg(121_011, true, "A", 4101, 5101, 0, 16384, &[]); // duplicate ACK 1
    s.seg(121_012, true, "A", 4101, 5101, 0, 16384, &[]); // duplicate ACK 2
    s.seg(121_013, false, "PA", 5101, 4101, 100, 4000, &[]); // fast retransmission
    s.seg(121_020, true, "A", 4101, 5401, 0, 16384, &[]);
    s.seg(122_000, false, "PA", 5401, 4101, 100, 4000, &[]);
    s.seg(122_500, false, "PA", 5401, 4101, 100, 4000, &[]); // retransmission (timeout)
    s.seg(122_510, true, "A", 4101, 5601, 0, 16384, &[]); // ACK of 100 bytes never seen
    // A segment the capture shows after the one that follows it, 1 ms late: out of order.
    s.port = 40003;
    s.seg(150_000, true, "S", 3000, 0, 0, 65535, &[]);
    s.seg(150_010, false, "SA", 6000, 3001, 0, 65535, &[]);
    s.seg(150_020, true, "A", 3001, 6001, 0, 65535, &[]);
    s.seg(150_030, true, "PA", 3101, 6001, 100, 65535, &[]); // gap
    s.seg(150_031, true, "PA", 3001, 6001, 100, 65535, &[]); // out-of-order
    s.seg(150_040, false, "A", 6001, 3201, 0, 65535, &[]);
    // TCP Fast Open accepted, then ignored.
    s.port = 40001;
    s.seg(200_000, true, "S", 7000, 0, 20, 65535, TFO_COOKIE);
    s.seg(200_010, false, "SA", 9000, 7021, 0, 65535, &[]); // TFO SYN-ACK
    s.seg(200_030, true, "A", 7021, 9001, 0, 65535, &[]);
    s.port = 40002;
    s.seg(300_000, true, "S", 7000, 0, 20, 65535, TFO_COOKIE);
    s.seg(300_010, false, "SA", 9000, 7001, 0, 65535, &[]); // acknowledges the SYN only
    s.seg(300_030, true, "A", 7001, 9001, 0, 65535, &[]);
    raw_ip_pcap(&s.frames)
}

#[test]
fn annotations_agree_with_tshark_analysis_flags_on_a_crafted_capture() {
    if !tshark_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("analysis.pcap");
    std::fs::write(&path, analysis_capture()).unwrap();
    let (counts, differ) = analysis_agreement(&path);
    assert!(differ.is_empty(), "synscope and tshark disagree:\n  {}", differ.join("\n  "));
    // Every mapped kind occurs, so none passes by never happening.
    for ((kind, _), [both, _, _]) in ANALYSIS.iter().zip(counts) {
        assert!(both > 0, "{kind} does not occur in the crafted capture");
    }
}

/// Precision and recall of each mapped kind over the bundled and public captures; printed, for docs/analysis.md.
/// The crafted capture above is held to exact agreement; here every disagreement must come from `odd-frames.pcap`,
/// whose SYNs after a TCP header with a bogus length hit a tshark quirk `tshark_completeness` documents. A
/// disagreement on any other capture fails.
#[test]
fn analysis_agreement_is_measured_on_the_captures() {
    if !tshark_present() {
        return;
    }
    let mut files = bundled_captures();
    if let Some(dir) = shared_pcaps() {
        files.extend(captures_in(&dir));
    }
    let mut total = [[0usize; 3]; ANALYSIS.len()];
    let mut unexplained = Vec::new();
    for file in &files {
        let (counts, differ) = analysis_agreement(file);
        for line in &differ {
            eprintln!("  {line}");
        }
        if !differ.is_empty() && !file.ends_with("odd-frames.pcap") {
            unexplained.push(format!("{}:\n    {}", file.display(), differ.join("\n    ")));
        }
        for (t, c) in total.iter_mut().zip(counts) {
            for i in 0..3 {
                t[i] += c[i];
            }
        }
    }
    let ratio =
        |a: usize, b: usize| if a + b == 0 { "-".to_string() } else { format!("{:.3}", a as f64 / (a + b) as f64) };
    for ((kind, _), [both, ours, theirs]) in ANALYSIS.iter().zip(total) {
        eprintln!(
            "{kind:>22}: both {both}, synscope only {ours}, tshark only {theirs}; precision {}, recall {}",
            ratio(both, ours),
            ratio(both, theirs)
        );
    }
    assert!(unexplained.is_empty(), "synscope and tshark disagree beyond odd-frames.pcap:\n{}", unexplained.join("\n"));
}
