//! Our generator against hping3, in the lab's own topology, for the report: each floods for a few seconds with one
//! thread (hping3 has no more), and the figure is what arrived (the sink's `rx_packets`), not what each says it sent. The same comparison as `scripts/bench-flood.sh`, link-layer target, made part of every full lab run.
//!
//! The target is the lab's sink ([`super::topology::SINK_IP`]): a veth pair of its own in the client namespace,
//! whose neighbour entry names a MAC nobody has, so the far end counts each frame and discards it at the IP layer as
//! `PACKET_OTHERHOST`. On a veth the receiver's work runs on the sender's CPU, so a sink that costs little is what
//! lets the figures measure the generators rather than a receiving stack (through the gateway's bridge to the
//! server, the bridge's work alone squeezed the ratio from about 4.6 to 2.9). Both generators send the same bare
//! SYNs (no options; hping3 sends none) from random sources.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::process::Process;
use super::results::GeneratorComparison;
use super::topology::{PORT, SINK_IP, Topology, exec};

/// How long each generator floods.
pub const SECONDS: u64 = 3;

/// Runs both generators into the sink.
pub fn compare(topology: &Topology, binary: &Path, work: &Path) -> anyhow::Result<GeneratorComparison> {
    let binary = binary.to_str().context("the synscope binary's path is not UTF-8")?;
    let target = format!("{SINK_IP}:{PORT}");
    let seconds = SECONDS.to_string();
    let duration = format!("{SECONDS}s");
    let ours = [binary, "flood", "--target", &target, "--spoof", "0.0.0.0/0", "--syn-options", "none"];
    let ours = [&ours[..], &["--duration", &duration, "--format", "json"]].concat();
    let port = PORT.to_string();
    // hping3 prints its count on SIGINT; `timeout -s INT` bounds it, and -k kills it if it misses the signal.
    let theirs =
        ["timeout", "-s", "INT", "-k", "2", &seconds, "hping3", "-q", "--flood", "-S", "-p", &port, "--rand-source"];
    let theirs = [&theirs[..], &[SINK_IP]].concat();
    let (synscope_pps, _) = arrivals(topology, &ours, work, "generator-synscope")?;
    let (hping3_pps, seconds) = arrivals(topology, &theirs, work, "generator-hping3")?;
    Ok(GeneratorComparison { seconds, synscope_pps, hping3_pps })
}

/// Runs one generator in the client namespace; returns the frames per second that reached the sink, and the
/// seconds it ran.
fn arrivals(topology: &Topology, args: &[&str], work: &Path, name: &str) -> anyhow::Result<(f64, f64)> {
    let before = rx_packets(topology)?;
    let started = Instant::now();
    let mut generator = Process::spawn(&topology.client, args, work, name)?;
    generator.wait(Duration::from_secs(SECONDS + 10))?;
    let seconds = started.elapsed().as_secs_f64();
    let arrived = rx_packets(topology)?.saturating_sub(before);
    Ok((arrived as f64 / seconds, seconds))
}

fn rx_packets(topology: &Topology) -> anyhow::Result<u64> {
    let path = format!("/sys/class/net/{}/statistics/rx_packets", topology.sink_rx);
    let out = exec(&topology.client, &["cat", &path])?;
    String::from_utf8_lossy(&out.stdout).trim().parse().with_context(|| format!("reading {path}"))
}
