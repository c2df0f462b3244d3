//! Frames that the tcpdump comparisons craft at test time, and the capture they are written to: one Ethernet frame
//! per case, a millisecond apart, each optionally cut short as a small snap length would cut it.

use std::path::Path;

use synscope::capture::writer::PcapFileWriter;
use synscope::capture::{Frame, Precision};
use synscope::time::Timestamp;
use synscope::wire::LinkType;

/// One crafted frame and what it shows.
pub struct Case {
    pub what: String,
    pub frame: Vec<u8>,
    /// Bytes cut off the end of the frame, as a short snap length would.
    pub cut: usize,
}

pub fn case(what: &str, frame: Vec<u8>) -> Case {
    Case { what: what.into(), frame, cut: 0 }
}

/// An Ethernet header (locally administered MACs) in front of `payload`.
pub fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    frame.extend_from_slice(&ether_type.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Writes the cases to `path` as Ethernet, one frame each, a millisecond apart; a cut frame keeps its whole length
/// on the wire.
pub fn write_capture(path: &Path, cases: &[Case]) {
    let frames: Vec<(&[u8], u32)> =
        cases.iter().map(|c| (&c.frame[..c.frame.len() - c.cut], c.frame.len() as u32)).collect();
    write_cut_frames(path, LinkType::Ethernet, &frames);
}

/// Writes whole frames of `link_type` to `path`, a millisecond apart.
pub fn write_frames(path: &Path, link_type: LinkType, frames: &[Vec<u8>]) {
    let frames: Vec<(&[u8], u32)> = frames.iter().map(|f| (f.as_slice(), f.len() as u32)).collect();
    write_cut_frames(path, link_type, &frames);
}

/// Writes `(captured bytes, length on the wire)` pairs of `link_type` to `path`, a millisecond apart.
fn write_cut_frames(path: &Path, link_type: LinkType, frames: &[(&[u8], u32)]) {
    let mut writer = PcapFileWriter::create(path.to_str().unwrap(), Precision::Micro).unwrap();
    for (i, &(data, orig_len)) in frames.iter().enumerate() {
        let ts = Timestamp::from_nanos(1_700_000_000_000_000_000 + i as u64 * 1_000_000);
        writer.write(&Frame { raw_stamp: None, ts, link_type, orig_len, data }).unwrap();
    }
    writer.finish().unwrap();
}

/// Writes `cases` to `name` in a fresh directory, reads it with tcpdump and synscope, and fails naming every case
/// whose lines differ; returns synscope's lines, for the caller to check the spellings it exists for came out.
pub fn assert_same_as_tcpdump(cases: &[Case], name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join(name);
    write_capture(&pcap, cases);
    let (theirs, ours) = super::tcpdump::both_lines(&pcap, cases.len());
    let failures: Vec<String> = cases
        .iter()
        .zip(theirs.iter().zip(&ours))
        .filter(|(_, (t, o))| t != o)
        .map(|(c, (t, o))| format!("{}:\n  tcpdump:  {t}\n  synscope: {o}", c.what))
        .collect();
    assert!(failures.is_empty(), "{} of {} lines differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    ours.join("\n") + "\n"
}
