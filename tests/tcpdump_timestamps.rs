//! The time column line for line against tcpdump, for every `-t` count, with and without `--nano`, on a microsecond
//! and a nanosecond pcap crafted here: stamps a few nanoseconds apart (tcpdump subtracts the stamps truncated to
//! microseconds when it prints microseconds), a packet older than the one before it (`-ttt` and `-ttttt` print a `-`
//! in the sign column where the others have a space), a gap of more than a day (hours wrap at 24), and a stamp past
//! 2038-01-19 (tcpdump prints `[Error converting time]`).
//!
//! Without tcpdump 4.99 the test prints a loud SKIPPED note and passes, unless `SYNSCOPE_REQUIRE_PEERS=1` is set.

mod common;

use std::path::Path;

use common::tcpdump::{both_lines_with, tcpdump_4_99};
use synscope::capture::writer::PcapFileWriter;
use synscope::capture::{Frame, Precision};
use synscope::time::Timestamp;
use synscope::wire::LinkType;
use synscope::wire::craft::{EthernetSpec, ip_between, udp_frame};

const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SECOND;

/// Nanosecond stamps, in the order written.
const STAMPS: [u64; 10] = [
    T0,
    T0 + 999,
    T0 + 1_001,
    T0 + 2_500_000,
    // Older than the packet before it, and than the first.
    T0 + 1_000_000,
    T0 - 5 * SECOND - 7,
    // A day, an hour, a minute and a second later.
    T0 + 90_061 * SECOND + 123_456_789,
    T0 + 90_061 * SECOND + 123_457_788,
    // The first second tcpdump cannot convert, then the last one it can.
    (1 << 31) * SECOND,
    ((1 << 31) - 1) * SECOND + 999_999_999,
];

fn write_capture(path: &Path, precision: Precision) {
    let eth = EthernetSpec { src: [2, 0, 0, 0, 0, 1], dst: [2, 0, 0, 0, 0, 2], vlans: &[] };
    let ip = ip_between("192.0.2.1:40000".parse().unwrap(), "192.0.2.2:9999".parse().unwrap(), 64, 1);
    let mut writer = PcapFileWriter::create(path.to_str().unwrap(), precision).unwrap();
    for &ns in &STAMPS {
        let mut data = Vec::new();
        udp_frame(&mut data, Some(&eth), &ip, 40000, 9999, b"stamp").unwrap();
        let frame = Frame {
            ts: Timestamp::from_nanos(ns),
            raw_stamp: None,
            link_type: LinkType::Ethernet,
            orig_len: data.len() as u32,
            data: &data,
        };
        writer.write(&frame).unwrap();
    }
    writer.finish().unwrap();
}

/// tcpdump's lines against ours over `-t` counts, each with and without `--nano`: the lines that differ, and all of
/// ours (so a test can check that the cases it means to show are really there).
#[derive(Default)]
struct Columns {
    failures: Vec<String>,
    all: String,
}

impl Columns {
    fn compare(&mut self, name: &str, pcap: &Path, frames: usize, t_flags: &[&str]) {
        for t in t_flags {
            for nano in [false, true] {
                let mut flags: Vec<&str> = [*t].into_iter().filter(|f| !f.is_empty()).collect();
                if nano {
                    flags.push("--nano");
                }
                let (theirs, ours) = both_lines_with(pcap, frames, &flags);
                for (i, (t, o)) in theirs.iter().zip(&ours).enumerate() {
                    if t != o {
                        self.failures.push(format!(
                            "{name} file, {flags:?}, frame {}:\n  tcpdump:  {t}\n  synscope: {o}",
                            i + 1
                        ));
                    }
                }
                self.all.push_str(&ours.join("\n"));
                self.all.push('\n');
            }
        }
    }

    /// Fails listing every differing line; otherwise returns all of our lines.
    fn all_agree(self) -> String {
        assert!(self.failures.is_empty(), "{} lines differ:\n{}", self.failures.len(), self.failures.join("\n"));
        self.all
    }
}

#[test]
fn time_columns_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the time columns") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut columns = Columns::default();
    for (name, precision) in [("micro", Precision::Micro), ("nano", Precision::Nano)] {
        let pcap = dir.path().join(format!("{name}.pcap"));
        write_capture(&pcap, precision);
        columns.compare(name, &pcap, STAMPS.len(), &["", "-t", "-tt", "-ttt", "-tttt", "-ttttt"]);
    }
    let all = columns.all_agree();
    for needle in [
        "\n 00:00:00.000001 IP",
        "\n-00:00:00.001500 IP",
        "\n-00:00:05.000001 IP",
        "\n-00:00:05.000000007 IP",
        "\n-[Error converting time] IP",
        "\n 01:01:01.123456 IP",
        "\n[Error converting time] IP",
        "\n 00:00:00.000000002 IP",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}

/// Records whose sub-second field is out of range, as a damaged or hand-made file can hold them: 1,500,000 µs,
/// 0xffffffff (-1 to libpcap, which reads the field as a signed 32-bit number) and, in a nanosecond file,
/// 1,500,000,000 ns. Our writer cannot make these (it normalises), so the file is written byte by byte here.
const RAW_STAMPS: [(u32, u32); 5] = [
    (1_700_000_000, 100),
    (1_700_000_000, 1_500_000),
    (1_700_000_001, 200),
    (1_700_000_001, u32::MAX),
    (1_700_000_002, 7),
];

fn write_raw_capture(path: &Path, nanos: bool, stamps: &[(u32, u32)]) {
    let eth = EthernetSpec { src: [2, 0, 0, 0, 0, 1], dst: [2, 0, 0, 0, 0, 2], vlans: &[] };
    let ip = ip_between("192.0.2.1:40000".parse().unwrap(), "192.0.2.2:9999".parse().unwrap(), 64, 1);
    let mut data = Vec::new();
    udp_frame(&mut data, Some(&eth), &ip, 40000, 9999, b"stamp").unwrap();
    // The classic pcap header (little-endian), then one record per stamp.
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut file = Vec::new();
    for word in [
        magic.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
        &[0; 8],
        &65535u32.to_le_bytes(),
        &1u32.to_le_bytes(),
    ] {
        file.extend_from_slice(word);
    }
    for &(secs, fraction) in stamps {
        for word in [secs, fraction, data.len() as u32, data.len() as u32] {
            file.extend_from_slice(&word.to_le_bytes());
        }
        file.extend_from_slice(&data);
    }
    std::fs::write(path, file).unwrap();
}

#[test]
fn out_of_range_fractions_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the time columns of out-of-range fractions") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut columns = Columns::default();
    let nano_file = [(1_700_000_000, 100), (1_700_000_000, 1_500_000_000), (1_700_000_001, 200)];
    for (name, nanos, stamps) in [("micro", false, &RAW_STAMPS[..]), ("nano", true, &nano_file[..])] {
        let pcap = dir.path().join(format!("raw-{name}.pcap"));
        write_raw_capture(&pcap, nanos, stamps);
        columns.compare(name, &pcap, stamps.len(), &["", "-tt", "-ttt", "-tttt", "-ttttt"]);
    }
    let all = columns.all_agree();
    // The fields are printed as they are, not carried into the seconds.
    for needle in [
        "\n22:13:20.1500000 IP",
        "\n1700000001.4294967295 IP",
        "\n 00:00:00.1499900 IP",
        "\n-00:00:00.000201 IP",
        "\n22:13:20.1500000000 IP",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}
