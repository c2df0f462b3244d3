//! Network namespaces and veth pairs for tests that need root. Each lives in a guard that deletes it on drop, so a
//! failing test leaves no namespace and no veth behind (deleting a namespace also deletes the veths inside it, and
//! their peers wherever they are).

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether tests that need root must run rather than skip: `SYNSCOPE_REQUIRE_ROOT=1` (CI runs as root).
pub fn root_required() -> bool {
    std::env::var("SYNSCOPE_REQUIRE_ROOT").is_ok_and(|v| v == "1")
}

/// True when this process may open packet sockets and make namespaces. Otherwise says loudly that the test was
/// skipped, or fails it under `SYNSCOPE_REQUIRE_ROOT=1`.
pub fn have_root(test: &str) -> bool {
    // SAFETY: geteuid(2) reads a process attribute and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(!root_required(), "{test} needs root (SYNSCOPE_REQUIRE_ROOT=1 is set)");
    eprintln!("SKIPPED {test}: it needs root (live capture, namespaces); CI runs it as root");
    false
}

/// Runs a command that must succeed, panicking with its stderr otherwise.
pub fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// A short name unique to this process and call: interface names are limited to 15 bytes.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{}x{n}", std::process::id() % 100_000)
}

/// A network namespace that is deleted when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates a namespace with its loopback up and IPv6 off (so no router or neighbour solicitations appear on
    /// its links uninvited).
    pub fn new(prefix: &str) -> Netns {
        let netns = Netns { name: unique_name(prefix) };
        run("ip", &["netns", "add", &netns.name]);
        netns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        netns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]);
        netns.exec_ok(&["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]);
        netns
    }

    /// A command that runs inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs a command inside the namespace that must succeed.
    pub fn exec_ok(&self, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Adds a veth pair `a`–`b` inside the namespace, both ends up, and returns their names.
    pub fn veth_pair(&self) -> (String, String) {
        let a = unique_name("va");
        let b = unique_name("vb");
        self.exec_ok(&["ip", "link", "add", &a, "type", "veth", "peer", "name", &b]);
        self.exec_ok(&["ip", "link", "set", &a, "up"]);
        self.exec_ok(&["ip", "link", "set", &b, "up"]);
        (a, b)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Kill anything still running inside first, so the namespace can go.
        let _ = Command::new("ip").args(["netns", "pids", &self.name]).output().map(|out| {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).output();
            }
        });
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// A veth pair in the namespace the tests run in (normally the initial one), both ends left down and without
/// addresses, deleted on drop. It stands for "a real interface" in tests of the traffic safety rule: should the rule
/// fail, a down veth still carries nothing anywhere.
pub struct HostVeth {
    pub a: String,
    pub b: String,
}

impl HostVeth {
    pub fn new() -> HostVeth {
        let veth = HostVeth { a: unique_name("ha"), b: unique_name("hb") };
        run("ip", &["link", "add", &veth.a, "type", "veth", "peer", "name", &veth.b]);
        veth
    }

    /// Frames the kernel counted as sent on end `a` (`/sys/class/net/A/statistics/tx_packets`).
    pub fn tx_packets(&self) -> u64 {
        let path = format!("/sys/class/net/{}/statistics/tx_packets", self.a);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim().parse().expect("a number")
    }
}

impl Drop for HostVeth {
    fn drop(&mut self) {
        // Deleting one end deletes its peer.
        let _ = Command::new("ip").args(["link", "del", &self.a]).output();
    }
}

/// A name in `/run/netns` bound to the namespace the tests run in (`ip netns attach NAME PID`), normally the initial
/// one: it stands for "a name that leads to the host's own namespace" in tests that synscope refuses to tune it.
/// Dropping it removes the name only (`ip netns del` unmounts and unlinks); unlike [`Netns`] it kills nothing, since
/// every process of the host lives in that namespace.
pub struct AttachedNetns {
    pub name: String,
}

impl AttachedNetns {
    pub fn new(prefix: &str) -> AttachedNetns {
        let attached = AttachedNetns { name: unique_name(prefix) };
        run("ip", &["netns", "attach", &attached.name, &std::process::id().to_string()]);
        attached
    }
}

impl Drop for AttachedNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}
