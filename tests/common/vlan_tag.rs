//! VLAN tags for a test host, two ways: an 802.1Q device where the kernel has them, else a tc BPF program
//! ([vlan_tag.bpf.c](vlan_tag.bpf.c)) on the host's interface that tags what it sends and untags what it receives.
//! Either way the frames between the hosts carry the tag, which is what a VLAN test of the guard needs.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::netns::Netns;

/// How a host's traffic gets its tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tagging {
    /// An 802.1Q device on top of the host's interface (CONFIG_VLAN_8021Q).
    Device,
    /// tc clsact filters running vlan_tag.bpf.c on the host's own interface.
    TcBpf,
}

/// Whether this kernel has 802.1Q VLAN devices; some minimal kernels do not.
pub fn kernel_has_vlan_devices() -> bool {
    let probe = Netns::new("vq");
    let (a, _) = probe.veth_pair();
    let out =
        probe.command("ip").args(["link", "add", "link", &a, "name", "vq.10", "type", "vlan", "id", "10"]).output();
    out.is_ok_and(|o| o.status.success())
}

/// Puts `ip`/24 on VLAN `id` of `interface` in `ns`, the way `tagging` says. Returns the interface that now holds
/// the address.
pub fn tag_host(ns: &Netns, interface: &str, id: u16, ip: &str, tagging: Tagging) -> String {
    match tagging {
        Tagging::Device => {
            let tagged = format!("{interface}.{id}");
            let id = id.to_string();
            ns.exec_ok(&["ip", "link", "add", "link", interface, "name", &tagged, "type", "vlan", "id", &id]);
            ns.exec_ok(&["ip", "addr", "add", &format!("{ip}/24"), "dev", &tagged]);
            ns.exec_ok(&["ip", "link", "set", &tagged, "up"]);
            tagged
        }
        Tagging::TcBpf => {
            let object = compile_tagger(id);
            let path = object.to_str().expect("a UTF-8 temporary path");
            ns.exec_ok(&["tc", "qdisc", "add", "dev", interface, "clsact"]);
            for (hook, section) in [("egress", "tc/egress"), ("ingress", "tc/ingress")] {
                ns.exec_ok(&["tc", "filter", "add", "dev", interface, hook, "bpf", "da", "obj", path, "sec", section]);
            }
            // The kernel holds the loaded programs now; the filters go with the namespace.
            let _ = std::fs::remove_file(&object);
            // Every frame this interface sends is tagged from now on, to this address or the topology's own.
            ns.exec_ok(&["ip", "addr", "add", &format!("{ip}/24"), "dev", interface]);
            interface.to_string()
        }
    }
}

/// Compiles vlan_tag.bpf.c for `id` into a temporary file the caller removes.
fn compile_tagger(id: u16) -> PathBuf {
    static COMPILED: AtomicUsize = AtomicUsize::new(0);
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/vlan_tag.bpf.c");
    let nth = COMPILED.fetch_add(1, Ordering::Relaxed);
    let object = std::env::temp_dir().join(format!("synscope-vlan-tag-{}-{nth}.o", std::process::id()));
    let multiarch = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let out = Command::new("clang")
        .args(["-O2", "-g", "-Wall", "-target", "bpf", "-I", &multiarch, &format!("-DVLAN_ID={id}"), "-c", source])
        .arg("-o")
        .arg(&object)
        .output()
        .expect("clang runs (scripts/install-test-tools.sh installs it)");
    assert!(out.status.success(), "clang could not compile {source}: {}", String::from_utf8_lossy(&out.stderr));
    object
}
