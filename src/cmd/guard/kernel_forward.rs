//! `guard --forward`: who moves the frames in `--mode off`. Off mode changes nothing, so the guard can leave the
//! moving to the kernel: a tc program on both interfaces hands every frame to the other one
//! (`xdp::kernel_bridge`), with no copy, and the guard only counts. Through the packet rings every byte is copied
//! twice (into the receive ring, into the transmit ring) on a CPU the endpoints also need; that is the path the
//! other modes take, because they must see every frame of the protected service.
//!
//! - `kernel`: the tc program, or an error saying why not;
//! - `rings`: the guard's own rings, as in the other modes;
//! - `auto` (the default): the kernel in off mode where the program attaches (TCX links, Linux 6.6; a binary built
//!   with clang), else the rings, with one line saying why.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use serde_json::json;

use super::bridge::{Served, Snapshot};
use super::fast_path::FastPathReport;
use super::links::{DataPath, RingDrops};
use super::{GuardArgs, final_statistics, report};
use crate::cli::parse::UsageError;
use crate::defense::guard::{Guard, GuardConfig, GuardStats};
use crate::defense::policy::Mode;
use crate::xdp::kernel_bridge::{BridgeCounts, KernelBridge};

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ForwardArg {
    Kernel,
    Rings,
    Auto,
}

/// Refuses `--forward kernel` outside off mode: checked with the other flags, before any socket or program.
pub fn check(choice: ForwardArg, mode: Mode) -> Result<(), UsageError> {
    if mode != Mode::Off && choice == ForwardArg::Kernel {
        return Err(UsageError(format!(
            "--forward kernel needs --mode off: in {} mode the guard must see every frame of the protected service",
            mode.as_str()
        )));
    }
    Ok(())
}

/// Attaches the kernel bridge when `choice` and the mode call for it. `Ok(None)` is the rings, with why.
pub fn open(
    choice: ForwardArg,
    mode: Mode,
    outside: &str,
    inside: &str,
) -> anyhow::Result<(Option<KernelBridge>, Option<String>)> {
    check(choice, mode)?;
    if mode != Mode::Off {
        return Ok((None, None));
    }
    if choice == ForwardArg::Rings {
        return Ok((None, Some("--forward rings".into())));
    }
    // Interfaces that are not there get the error every command gives for one, not an attach failure.
    let mac = |name: &str| -> anyhow::Result<[u8; 6]> {
        Ok(crate::capture::interfaces::find(name)?.mac.map(|m| m.octets()).unwrap_or_default())
    };
    let (outside_mac, inside_mac) = (mac(outside)?, mac(inside)?);
    match KernelBridge::open((outside, outside_mac), (inside, inside_mac)) {
        Ok(bridge) => Ok((Some(bridge), None)),
        Err(e) if choice == ForwardArg::Kernel => Err(anyhow::anyhow!("--forward kernel: {e}")),
        Err(e) => Ok((None, Some(e.to_string()))),
    }
}

/// Runs off mode with the kernel moving the frames: a line a second from the program's counters, until Ctrl-C or
/// `--duration`, then the same JSON statistics the rings path prints.
pub fn serve(args: &GuardArgs, config: &GuardConfig, key: [u8; 32], bridge: KernelBridge) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
    }
    eprintln!(
        "synscope: guarding {} between {} (outside) and {} (inside), mode off",
        args.protect, args.outside, args.inside
    );
    eprintln!("synscope: forwarding: in the kernel (a tc program on both interfaces bridges every frame, uncopied)");
    // The statistics have the shape of a guard's that bridged every frame: off mode's counters.
    let guard = Guard::new(config.clone(), key);
    let snapshot = |counts: &BridgeCounts| Snapshot {
        stats: serde_json::to_value(stats_of(guard.stats(), counts)).unwrap_or_default(),
        ring_drops: 0,
        send_errors: 0,
    };
    let deadline = args.duration.map(|d| Instant::now() + StdDuration::from_nanos(d.as_nanos()));
    let started = Instant::now();
    let mut last = BridgeCounts::default();
    let mut next_line = started + StdDuration::from_secs(1);
    while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        std::thread::sleep(StdDuration::from_millis(50));
        if Instant::now() < next_line {
            continue;
        }
        next_line += StdDuration::from_secs(1);
        let now = bridge.counts().map_err(|e| anyhow::anyhow!("reading the kernel bridge's counters: {e}"))?;
        if !args.quiet {
            report::print_line(&snapshot(&last), &snapshot(&now), None);
        }
        last = now;
    }
    let counts = bridge.counts().map_err(|e| anyhow::anyhow!("reading the kernel bridge's counters: {e}"))?;
    drop(bridge);
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let data_path = DataPath {
        super_frames: counts.from_outside.super_frames + counts.from_inside.super_frames,
        super_frame_bytes: counts.from_outside.super_frame_bytes + counts.from_inside.super_frame_bytes,
        ..DataPath::default()
    };
    let served =
        Served { stats: stats_of(guard.stats(), &counts), ring_drops: RingDrops::default(), send_errors: 0, data_path };
    let fast_path = FastPathReport::packet(Some("off mode answers no SYNs".into()));
    let forwarding = json!({"kind": "kernel", "from_outside": counts.from_outside, "from_inside": counts.from_inside});
    super::print_statistics(args, final_statistics(&[served], seconds, &fast_path, forwarding)?)
}

/// Off mode's statistics for what the kernel moved: every frame in is a frame bridged out unchanged.
fn stats_of(mut stats: GuardStats, counts: &BridgeCounts) -> GuardStats {
    let frames = counts.frames();
    stats.counters.frames_in = frames;
    stats.counters.frames_out = frames;
    stats.counters.bridged = frames;
    stats
}
