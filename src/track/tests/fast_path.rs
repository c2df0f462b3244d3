//! The fast path for plain segments ([`super::super::tcp::fast_segment`]) must change nothing observable: two
//! trackers read the same captures, one with the fast path and one without, and every annotation, event, record and
//! statistic must agree. (Debug builds also check each segment the fast path takes against the general path on a
//! copy of its connection, in `Tracker::fast_tcp`, so every other test of the tracker checks it too.)

use std::path::{Path, PathBuf};

use crate::capture::file::CaptureReader;
use crate::hash_key::HashKey;
use crate::track::{Tracker, TrackerConfig};
use crate::wire::decode;

/// Everything a tracker says about a capture, in order, as text: per packet its annotations, then the events and
/// records drained after it, then the end of input and the statistics.
fn transcript(path: &Path, config: TrackerConfig, general_only: bool) -> (Vec<String>, u64) {
    let mut tracker = Tracker::new(config, HashKey::from_seed(13));
    tracker.general_only = general_only;
    let mut reader = CaptureReader::open(path.to_str().expect("utf-8 path")).expect("capture opens");
    let mut lines = Vec::new();
    let drain = |tracker: &mut Tracker, lines: &mut Vec<String>| {
        while let Some(event) = tracker.poll_event() {
            lines.push(format!("event {event:?}"));
        }
        let mut records = Vec::new();
        tracker.take_records(&mut records);
        lines.extend(records.iter().map(|r| format!("record {r:?}")));
    };
    while let Some(frame) = reader.next_frame().expect("capture reads") {
        let packet = decode(frame.link_type, frame.data);
        tracker.handle_timeout(frame.ts);
        let annotations = tracker.handle_packet(frame.ts, &packet);
        lines.push(format!("packet {annotations:?}"));
        drain(&mut tracker, &mut lines);
    }
    tracker.finish();
    drain(&mut tracker, &mut lines);
    lines.push(format!("stats {:?} {:?} {:?}", tracker.stats(), tracker.evictions(), tracker.still_half_open));
    (lines, tracker.fast_taken)
}

fn same_with_and_without(path: &Path, config: TrackerConfig) -> u64 {
    let (fast, taken) = transcript(path, config, false);
    let (general, none) = transcript(path, config, true);
    assert_eq!(none, 0);
    assert_eq!(fast.len(), general.len(), "{}", path.display());
    for (i, (a, b)) in fast.iter().zip(&general).enumerate() {
        assert_eq!(a, b, "{} line {i}", path.display());
    }
    taken
}

/// The repository's captures, and the shared ones beside the checkout when they are there.
fn captures() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for dir in [root.join("captures"), root.join("../shared/pcaps"), root.join("../../shared/pcaps")] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.to_string_lossy();
            if name.ends_with(".pcap") || name.ends_with(".pcapng") {
                all.push(path);
            }
        }
    }
    all.sort();
    all
}

#[test]
fn every_bundled_capture_reads_the_same_with_and_without_the_fast_path() {
    let captures = captures();
    assert!(!captures.is_empty());
    let taken: u64 = captures.iter().map(|p| same_with_and_without(p, TrackerConfig::default())).sum();
    assert!(taken > 0, "no bundled capture took the fast path");
}

#[test]
fn the_bench_traffic_reads_the_same_with_and_without_the_fast_path() {
    let dir = std::env::temp_dir().join(format!("synscope-fast-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let plain = dir.join("bench.pcap");
    let flood = dir.join("flood.pcap");
    crate::synth::bench::write_bench(&plain, 20_000, 0, Some(200)).expect("bench capture");
    crate::synth::bench::write_bench(&flood, 20_000, 30, None).expect("flood capture");
    let taken = same_with_and_without(&plain, TrackerConfig::default());
    // Most packets of a short session are plain: 12 of 19.
    assert!(taken > 20_000 / 2, "the fast path took only {taken} of 20,000 packets");
    same_with_and_without(&flood, TrackerConfig::default());
    // Evictions: connections leave the table under the fast path's feet.
    same_with_and_without(&flood, TrackerConfig { max_flows: 50, ..TrackerConfig::default() });
    same_with_and_without(&plain, TrackerConfig { max_flows: 5, ..TrackerConfig::default() });
    let _ = std::fs::remove_dir_all(&dir);
}
