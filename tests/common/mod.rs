//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod bulk;
pub mod crafted;
pub mod guard_lab;
pub mod netns;
pub mod process;
pub mod seed;
pub mod tcpdump;
pub mod topology;
pub mod vlan_tag;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn capture(name: &str) -> PathBuf {
    repo().join("captures").join(name)
}

/// Runs the synscope binary with `args` and returns its output.
pub fn synscope<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_synscope")).args(args).output().expect("running synscope")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The bundled captures, sorted by name.
pub fn bundled_captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("captures"))
        .expect("captures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    files.sort();
    files
}

pub fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Whether tests that compare against peers (tshark, the public captures in `../shared/pcaps/`) must run rather
/// than skip: `SYNSCOPE_REQUIRE_PEERS=1`.
pub fn peers_required() -> bool {
    std::env::var("SYNSCOPE_REQUIRE_PEERS").is_ok_and(|v| v == "1")
}

/// A peer is missing: fails under `SYNSCOPE_REQUIRE_PEERS=1`, else prints a loud SKIPPED note (the caller returns).
pub fn skip_or_fail(what: &str) {
    if peers_required() {
        panic!("{what}, and SYNSCOPE_REQUIRE_PEERS=1");
    }
    eprintln!("\n******** SKIPPED: {what} ********\n");
}

/// The shared folder (`../shared`: the seed's peers and the public captures). `SYNSCOPE_SHARED` names it when the
/// clone does not sit beside it (`.ci/run` sets it for a clone made elsewhere).
pub fn shared_dir() -> PathBuf {
    std::env::var_os("SYNSCOPE_SHARED").map(PathBuf::from).unwrap_or_else(|| repo().join("..").join("shared"))
}

/// `../shared/pcaps/`, the public sample captures, when present. A fresh clone has only `captures/`, so without
/// them this prints a loud SKIPPED note and returns `None` (or fails under `SYNSCOPE_REQUIRE_PEERS=1`).
pub fn shared_pcaps() -> Option<PathBuf> {
    let dir = shared_dir().join("pcaps");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip_or_fail(&format!("{} is absent; the tests on the public captures did not run", dir.display()));
        None
    }
}

/// `*.pcap` and `*.pcapng` in `dir`, sorted; empty if the directory cannot be read.
pub fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"));
    files.sort();
    files
}

/// synscope's connection log for `file` (`read -q FILE --conn-log OUT --conn-log-format json`), one JSON object per
/// connection, in the order synscope wrote them.
pub fn conn_log_json(file: &Path) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("conn.json");
    let out = Command::new(env!("CARGO_BIN_EXE_synscope"))
        .arg("read")
        .arg("-q")
        .arg(file)
        .arg("--conn-log")
        .arg(&log)
        .args(["--conn-log-format", "json"])
        .output()
        .expect("running synscope");
    assert!(out.status.success(), "synscope read --conn-log failed on {}: {}", file.display(), stderr(&out));
    let text =
        std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: reading the conn log: {e}", file.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: conn log line {}: {e}: {l:?}", file.display(), i + 1))
        })
        .collect()
}
