//! Golden outputs: synscope's text and JSON for every bundled capture, and a few option variants, compared with the
//! files in tests/golden/. After an intended change to the output, regenerate them with
//! `UPDATE_GOLDEN=1 cargo test --test golden` and review the diff.

mod common;

use std::path::PathBuf;

use common::{bundled_captures, capture, file_name, repo, stderr, stdout, synscope};

fn golden_dir() -> PathBuf {
    repo().join("tests/golden")
}

/// Compares `actual` with the golden file `name`, or rewrites it under UPDATE_GOLDEN=1.
fn check(name: &str, actual: &str) -> Result<(), String> {
    let path = golden_dir().join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e} (run with UPDATE_GOLDEN=1)"))?;
    if expected == actual {
        return Ok(());
    }
    let first_diff = expected
        .lines()
        .zip(actual.lines())
        .enumerate()
        .find(|(_, (e, a))| e != a)
        .map(|(i, (e, a))| format!("line {}:\n  expected: {e}\n  actual:   {a}", i + 1))
        .unwrap_or_else(|| format!("line counts differ: {} vs {}", expected.lines().count(), actual.lines().count()));
    Err(format!("{name} differs at {first_diff}"))
}

fn run(args: &[&str]) -> String {
    let out = synscope(args);
    assert!(out.status.success(), "synscope {args:?} failed: {}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "panic in {args:?}");
    stdout(&out)
}

#[test]
fn text_and_json_for_every_bundled_capture() {
    let mut failures = Vec::new();
    for path in bundled_captures() {
        let file = path.to_str().unwrap();
        let name = file_name(&path);
        failures.extend(check(&format!("{name}.txt"), &run(&["read", file])).err());
        failures.extend(check(&format!("{name}.json"), &run(&["read", "--format", "json", file])).err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn option_variants() {
    let session = capture("seed-session.pcap");
    let session = session.to_str().unwrap();
    let vlan = capture("qinq-session.pcap");
    let odd = capture("odd-frames.pcap");
    let multi = capture("multi-interface.pcapng");
    let cases: [(&str, Vec<&str>); 7] = [
        ("seed-session.absolute.txt", vec!["read", "-S", session]),
        ("seed-session.link.txt", vec!["read", "-e", session]),
        ("seed-session.datetime.txt", vec!["read", "-tttt", session]),
        ("seed-session.delta.txt", vec!["read", "-ttt", "-c", "5", session]),
        ("qinq-session.syn.txt", vec!["read", "-e", vlan.to_str().unwrap(), "vlan", "100", "and", "syn"]),
        ("odd-frames.link.txt", vec!["read", "-e", odd.to_str().unwrap()]),
        ("multi-interface.nano.txt", vec!["read", "--nano", "-tt", multi.to_str().unwrap()]),
    ];
    let mut failures = Vec::new();
    for (name, args) in cases {
        failures.extend(check(name, &run(&args)).err());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
