//! The seed tutorial's Python peers (`../shared/seed/`), run as real clients and servers in tests.

use std::path::PathBuf;
use std::process::Command;

use super::skip_or_fail;

pub fn seed_dir() -> PathBuf {
    super::shared_dir().join("seed")
}

/// The seed's program `name`, or `None` (after a loud SKIPPED, or a failure under SYNSCOPE_REQUIRE_PEERS=1) when it
/// or python3 is missing.
pub fn seed_program(name: &str) -> Option<PathBuf> {
    let path = seed_dir().join(name);
    if !path.is_file() {
        skip_or_fail(&format!("the seed peer {} is missing", path.display()));
        return None;
    }
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        skip_or_fail("python3 is missing: the seed's peers cannot run");
        return None;
    }
    Some(path)
}

pub fn python(script: &PathBuf, port: u16) -> Command {
    let mut command = Command::new("python3");
    command.arg(script).arg("127.0.0.1").arg(port.to_string());
    command
}
