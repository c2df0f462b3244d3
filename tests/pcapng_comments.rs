//! `-w OUT.pcapng` keeps each packet's annotations as its pcapng comment (`opt_comment`), which tshark shows as
//! `frame.comment`: for every bundled capture, the comment tshark reads for each frame must be exactly the
//! annotations synscope prints after that frame's tcpdump-style text (the tracked line minus the `--no-track`
//! line), and a frame without annotations must have no comment. The file must also read back, with synscope and
//! with tcpdump, as the input did. `-w OUT.pcap` stays a classic pcap, which has no place for comments.
//!
//! Without tshark the comparison prints a loud SKIPPED note and passes, unless `SYNSCOPE_REQUIRE_PEERS=1` is set.

mod common;

use std::path::Path;
use std::process::Command;

use common::{bundled_captures, file_name, skip_or_fail, stderr, stdout, synscope};

fn read(args: &[&std::ffi::OsStr]) -> Vec<String> {
    let mut all = vec![std::ffi::OsStr::new("read")];
    all.extend_from_slice(args);
    let out = synscope(&all);
    assert!(out.status.success(), "synscope {all:?} failed: {}", stderr(&out));
    stdout(&out).lines().map(String::from).collect()
}

/// Each frame's annotations as synscope prints them: what the tracked line adds to the untracked one.
fn printed_annotations(capture: &Path) -> Vec<String> {
    let tracked = read(&[capture.as_os_str()]);
    let plain = read(&["--no-track".as_ref(), capture.as_os_str()]);
    // Tracker events (half-open timeouts, floods) are lines of their own, in the tracked output only: each frame's
    // line is the next tracked line that extends the frame's untracked line.
    let mut lines = tracked.iter();
    plain
        .iter()
        .map(|plain| {
            let tracked = lines
                .find(|l| l.starts_with(plain.as_str()))
                .unwrap_or_else(|| panic!("{}: no tracked line extends {plain:?}", file_name(capture)));
            let rest = &tracked[plain.len()..];
            rest.strip_prefix(' ').unwrap_or(rest).to_string()
        })
        .collect()
}

fn tshark_comments(pcapng: &Path) -> Option<Vec<String>> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcapng)
        .args(["-T", "fields", "-e", "frame.comment"])
        .output()
        .ok()?;
    assert!(out.status.success(), "tshark failed on {}: {}", pcapng.display(), stderr(&out));
    Some(stdout(&out).lines().map(String::from).collect())
}

#[test]
fn pcapng_output_carries_the_annotations_as_packet_comments() {
    let dir = tempfile::tempdir().unwrap();
    let mut commented = 0;
    let mut uncommented = 0;
    for capture in bundled_captures() {
        let name = file_name(&capture);
        let out = dir.path().join(format!("{name}.out.pcapng"));
        let written = synscope(["read".as_ref(), "-q".as_ref(), capture.as_os_str(), "-w".as_ref(), out.as_os_str()]);
        assert!(written.status.success(), "{name}: {}", stderr(&written));

        // The file reads back as the input did, frame for frame.
        let original = read(&[capture.as_os_str()]);
        let again = read(&[out.as_os_str()]);
        assert_eq!(again, original, "{name}: the pcapng reads back as the input");

        let expected = printed_annotations(&capture);
        let Some(comments) = tshark_comments(&out) else {
            skip_or_fail("tshark is not installed; the pcapng comments were not read back with it");
            return;
        };
        assert_eq!(comments.len(), expected.len(), "{name}: tshark read one line per frame");
        for (i, (comment, annotations)) in comments.iter().zip(&expected).enumerate() {
            assert_eq!(comment, annotations, "{name}: frame {} comment", i + 1);
        }
        commented += expected.iter().filter(|a| !a.is_empty()).count();
        uncommented += expected.iter().filter(|a| a.is_empty()).count();
    }
    // The captures do have both kinds of frame, so both rules were exercised.
    assert!(commented > 10 && uncommented > 10, "{commented} commented, {uncommented} uncommented frames");
}

#[test]
fn tcpdump_reads_the_pcapng_and_pcap_output_alike() {
    let dir = tempfile::tempdir().unwrap();
    let capture = common::capture("seed-session.pcap");
    let ng = dir.path().join("out.pcapng");
    let classic = dir.path().join("out.pcap");
    for out in [&ng, &classic] {
        let written = synscope(["read".as_ref(), "-q".as_ref(), capture.as_os_str(), "-w".as_ref(), out.as_os_str()]);
        assert!(written.status.success(), "{}", stderr(&written));
    }
    // The classic file is a pcap (magic a1b2c3d4, little-endian), the other a pcapng section.
    assert_eq!(std::fs::read(&classic).unwrap()[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
    assert_eq!(std::fs::read(&ng).unwrap()[..4], [0x0a, 0x0d, 0x0d, 0x0a]);
    let Ok(check) = Command::new("tcpdump").arg("--version").output() else {
        skip_or_fail("tcpdump is not installed; the pcapng output was not read with it");
        return;
    };
    assert!(check.status.success());
    let lines = |path: &Path| {
        let out = Command::new("tcpdump").env("TZ", "UTC").args(["-nn", "-r"]).arg(path).output().unwrap();
        assert!(out.status.success(), "tcpdump -r {}: {}", path.display(), stderr(&out));
        stdout(&out)
    };
    let (from_ng, from_classic) = (lines(&ng), lines(&classic));
    assert!(!from_ng.is_empty());
    assert_eq!(from_ng, from_classic);
}
