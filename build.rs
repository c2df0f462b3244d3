//! Compiles the guard's BPF programs (src/xdp/syn_cookie.bpf.c, the XDP fast path, and src/xdp/kernel_bridge.bpf.c,
//! off mode's tc bridge) with clang, when clang and the BPF headers are there. Without them everything else still builds: the `synscope_xdp` cfg stays unset, and `guard --fast-path`
//! says the binary was built without XDP support and what to install. Set `SYNSCOPE_NO_XDP=1` to build without it
//! on purpose, and `SYNSCOPE_CLANG` to use another clang.

use std::path::PathBuf;
use std::process::Command;

/// Each program's source, and the object it becomes in OUT_DIR (src/xdp/ includes them from there).
const PROGRAMS: [(&str, &str); 2] =
    [("src/xdp/syn_cookie.bpf.c", "syn_cookie.bpf.o"), ("src/xdp/kernel_bridge.bpf.c", "kernel_bridge.bpf.o")];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(synscope_xdp)");
    for (source, _) in PROGRAMS {
        println!("cargo::rerun-if-changed={source}");
    }
    println!("cargo::rerun-if-env-changed=SYNSCOPE_CLANG");
    println!("cargo::rerun-if-env-changed=SYNSCOPE_NO_XDP");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let built = PROGRAMS.iter().try_for_each(|(source, object)| build(source, &out_dir.join(object)));
    let why_not = match built {
        Ok(()) => {
            println!("cargo::rustc-cfg=synscope_xdp");
            return;
        }
        Err(why) => why,
    };
    println!("cargo::warning=built without the XDP fast path: {why_not}");
    println!("cargo::rustc-env=SYNSCOPE_XDP_MISSING={why_not}");
}

fn build(source: &str, object: &std::path::Path) -> Result<(), String> {
    if std::env::var_os("SYNSCOPE_NO_XDP").is_some_and(|v| !v.is_empty() && v != "0") {
        return Err("SYNSCOPE_NO_XDP was set when synscope was built".into());
    }
    let clang = std::env::var("SYNSCOPE_CLANG").unwrap_or_else(|_| "clang".into());
    // The BPF target has no system headers of its own: <asm/types.h> comes from the host's multiarch directory
    // (Debian's linux-libc-dev), and <bpf/bpf_helpers.h> from libbpf-dev.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    let output = Command::new(&clang)
        .args(["-O2", "-g", "-Wall", "-target", "bpf", "-I", &multiarch, "-c", source, "-o"])
        .arg(object)
        .output()
        .map_err(|e| {
            format!("{clang} did not run ({e}); install clang and libbpf-dev (apt install clang libbpf-dev)")
        })?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let first = stderr.lines().find(|l| l.contains("error")).unwrap_or("no message").trim().to_string();
    if stderr.contains("bpf/bpf_helpers.h") {
        return Err("the libbpf headers are missing; install libbpf-dev (apt install libbpf-dev)".into());
    }
    Err(format!("{clang} could not compile {source}: {first}"))
}
