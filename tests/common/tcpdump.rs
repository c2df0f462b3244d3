//! Line-by-line comparison with tcpdump 4.99 (`tcpdump -nn -r` in UTC against `synscope read --no-track`), for
//! the tests that hold synscope's text to tcpdump's on frames they craft.

use std::path::Path;
use std::process::Command;

use super::{skip_or_fail, stderr, stdout, synscope};

/// Whether tcpdump runs and is 4.99.x (the release the expected spellings are from); otherwise a loud skip saying
/// `what` was not compared, or a failure under `SYNSCOPE_REQUIRE_PEERS=1`.
pub fn tcpdump_4_99(what: &str) -> bool {
    let Ok(out) = Command::new("tcpdump").arg("--version").output() else {
        skip_or_fail(&format!("tcpdump is not installed; {what} were not compared with it"));
        return false;
    };
    let text = format!("{}{}", stdout(&out), stderr(&out));
    let version = text.lines().find_map(|l| l.strip_prefix("tcpdump version ")).unwrap_or("?").to_string();
    if !version.starts_with("4.99.") {
        skip_or_fail(&format!("tcpdump is {version}, not 4.99; {what} were not compared with it"));
        return false;
    }
    true
}

/// tcpdump's lines and synscope's for the capture at `pcap`, after checking that each printed one line per frame.
pub fn both_lines(pcap: &Path, frames: usize) -> (Vec<String>, Vec<String>) {
    both_lines_with(pcap, frames, &[])
}

/// As [`both_lines`], with `flags` (such as `-e` or `-ttt`) given to both tools.
pub fn both_lines_with(pcap: &Path, frames: usize, flags: &[&str]) -> (Vec<String>, Vec<String>) {
    let tcpdump =
        Command::new("tcpdump").env("TZ", "UTC").args(["-nn"]).args(flags).arg("-r").arg(pcap).output().unwrap();
    assert!(tcpdump.status.success(), "tcpdump failed: {}", stderr(&tcpdump));
    let mut args: Vec<&std::ffi::OsStr> = vec!["read".as_ref(), "--no-track".as_ref()];
    args.extend(flags.iter().map(|f| std::ffi::OsStr::new(*f)));
    args.push(pcap.as_os_str());
    let ours = synscope(args);
    assert!(ours.status.success(), "synscope failed: {}", stderr(&ours));
    // tcpdump dumps a payload it has no printer for in hex on lines of its own (`\t0x0000:  ...`, its default
    // print); synscope prints one line per frame, so only the frames' own lines are compared.
    let theirs: Vec<String> = stdout(&tcpdump).lines().filter(|l| !l.starts_with("\t0x")).map(String::from).collect();
    let ours: Vec<String> = stdout(&ours).lines().map(String::from).collect();
    assert_eq!(theirs.len(), frames, "tcpdump printed {} lines for {frames} frames", theirs.len());
    assert_eq!(ours.len(), frames, "synscope printed {} lines for {frames} frames", ours.len());
    (theirs, ours)
}
