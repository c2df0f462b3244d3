//! The bundled captures are exactly what `synscope gen captures` writes: byte for byte, README included.

mod common;

use common::{bundled_captures, file_name, repo, stderr, synscope};

#[test]
fn regenerating_the_captures_reproduces_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let out = synscope(["gen", "captures", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "gen failed: {}", stderr(&out));
    let mut names: Vec<String> = bundled_captures().iter().map(|p| file_name(p)).collect();
    names.push("README.md".into());
    for name in &names {
        let committed = std::fs::read(repo().join("captures").join(name)).unwrap();
        let generated = std::fs::read(dir.path().join(name)).unwrap_or_default();
        assert!(
            committed == generated,
            "captures/{name} differs from what gen writes; run `cargo run -- gen captures`"
        );
    }
    let generated = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(generated, names.len(), "gen wrote files that are not committed in captures/");
}

#[test]
fn every_capture_has_a_line_in_the_readme() {
    let readme = std::fs::read_to_string(repo().join("captures/README.md")).unwrap();
    for capture in bundled_captures() {
        let name = file_name(&capture);
        assert!(readme.contains(&format!("| {name} |")), "captures/README.md does not describe {name}");
    }
}

#[test]
fn the_flood_sample_has_at_least_a_thousand_spoofed_syns() {
    let flood = common::capture("syn-flood.pcap");
    let out = synscope(["read", "-q", flood.to_str().unwrap(), "syn and not ack and net 198.51.100.0/24"]);
    let summary = stderr(&out);
    let matched: u64 = summary
        .split(", ")
        .find_map(|part| part.strip_suffix(" matched"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no matched count in {summary}"));
    assert!(matched >= 1000, "only {matched} spoofed SYNs");
}
