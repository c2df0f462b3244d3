//! One trial of the real lab: a scenario under one flood rate, with the legitimate prober running through it.
//!
//! Order: set the server's sysctls, forget TCP metrics, put the guard (or a bridge) in the gateway, start the
//! listener and a short annotated capture, then the flood, and half a second later the prober, whose sessions start
//! over the trial's duration less a second and each have a real client's 7 s of patience; then the bulk transfer,
//! and the flood stops. While they run the listener's SYN-RECV count is sampled every 100 ms. Everything started
//! here is stopped here, error or not.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::process::{self, Process};
use super::results::Trial;
use super::scenario::Scenario;
use super::topology::{Family, SERVER_MAC, Topology, UPSTREAM_MAC};
use crate::netns::{self, Namespace};

/// Who floods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attacker {
    Synscope,
    Hping3,
}

impl Attacker {
    pub fn name(self) -> &'static str {
        match self {
            Attacker::Synscope => "synscope",
            Attacker::Hping3 => "hping3",
        }
    }
}

/// A flood rate: a number of SYN/s, or as fast as the attacker goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rate {
    PerSecond(u64),
    Max,
}

#[derive(Clone, Copy)]
pub struct Plan<'a> {
    pub scenario: &'a Scenario,
    pub rate: Rate,
    pub duration: Duration,
    /// Legitimate sessions started per second.
    pub legit_rate: f64,
    pub attacker: Attacker,
    /// Where processes write their output, and the trial's short capture.
    pub work: &'a Path,
    pub binary: &'a Path,
    /// The listener's port. Each trial has its own: a listener's half-open entries outlive it until their next
    /// SYN-ACK timer (up to 32 s with five retries), and must not be counted in, or crowd, the next trial.
    pub port: u16,
}

/// The source range of spoofed SYNs: RFC 2544's benchmarking block, never routed on the Internet.
pub const SPOOF: &str = "198.18.0.0/15";
/// Its IPv6 counterpart, RFC 5180's benchmarking block.
pub const SPOOF6: &str = "2001:2::/48";
/// Frames kept in each trial's capture.
const CAPTURE_FRAMES: &str = "3000";
const READY: Duration = Duration::from_secs(10);
/// The legitimate prober's patience per session, connect and greeting together (`connect --timeout`): a real
/// client's. Its connect is the kernel's, which sends the SYN again at 1 s and 3 s (RFC 6298's initial RTO of 1 s,
/// doubled; the client namespace keeps that schedule, see `Topology::build`), so 7 s covers two retransmissions
/// and the answers to them. The report counts successes within 1 s, 3 s and 7 s (`listener::prober::PATIENCE_S`).
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(7);
/// The flood starts this long before the first legitimate session.
const LEAD_IN: Duration = Duration::from_millis(500);
/// How long the legitimate bulk transfer runs, after the prober, while the flood goes on; the flood is planned to
/// last `BULK_PHASE` past the last session's patience, room to spare for the transfer's connect and close.
const BULK: Duration = Duration::from_secs(1);
const BULK_PHASE: Duration = Duration::from_millis(1800);
/// The listener's discard service (RFC 863) is on the trial's port plus this: a port the guard does not protect, so
/// the transfer crosses the gateway as any other legitimate traffic beside the protected service does.
const DISCARD_PORT_OFFSET: u16 = 1000;

pub fn run(topology: &Topology, plan: &Plan<'_>) -> anyhow::Result<Trial> {
    let name = format!("{}-{}", plan.scenario.name, rate_label(plan.rate));
    netns::apply(&topology.server, &plan.scenario.sysctls).context("setting the scenario's sysctls")?;
    topology.flush_metrics();
    let binary = plan.binary.to_str().context("the synscope binary's path is not UTF-8")?;
    let addr = topology.family.server(plan.port);

    let mut guard = match plan.scenario.guard_mode {
        Some(mode) => {
            topology.bridge_off()?;
            let mut args: Vec<String> = [
                binary,
                "guard",
                "-q",
                "--outside",
                &topology.outside,
                "--inside",
                &topology.inside,
                "--protect",
                &addr,
                "--mode",
                mode,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(plan.scenario.guard_limits.map(|l| l.args()).unwrap_or_default());
            if let Some(path) = plan.scenario.guard_fast_path {
                args.extend(["--fast-path".to_string(), path.to_string()]);
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut guard = Process::spawn(&topology.gateway, &args, plan.work, &format!("{name}-guard"))?;
            guard.wait_for("guarding", READY)?;
            Some(guard)
        }
        None => {
            topology.bridge_on()?;
            None
        }
    };
    let backlog = plan.scenario.backlog.to_string();
    let discard = topology.family.server(plan.port.wrapping_add(DISCARD_PORT_OFFSET));
    let listen_args =
        [binary, "listen", "--tcp", &addr, "--discard", &discard, "--backlog", &backlog, "--max-conns", "4096"];
    let mut listener = Process::spawn(&topology.server, &listen_args, plan.work, &format!("{name}-listen"))?;
    listener.wait_for("Waiting for connection", READY)?;
    let capture = plan.work.join(format!("{name}.pcap"));
    let capture_arg = capture.to_str().context("work directory path is not UTF-8")?;
    let filter = format!("tcp port {}", plan.port);
    let sniff_args = [binary, "sniff", "-i", &topology.server_if, "-c", CAPTURE_FRAMES, "-w", capture_arg, &filter];
    let mut sniffer = Process::spawn(&topology.server, &sniff_args, plan.work, &format!("{name}-sniff"))?;
    sniffer.wait_for("listening on", READY)?;

    let before = netns::read_counters(&topology.server)?;
    let softirq_before = process::softirq_seconds();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = spawn_sampler(&topology.server, topology.family, plan.port, Arc::clone(&sampling))?;
    let started = Instant::now();
    // Sessions start during the probe window; the last one may take its whole patience, and the bulk transfer
    // follows. The flood is sized to outlast all of that, so no session is measured after the attack ended, and is
    // stopped as soon as the bulk transfer is done (`stop_flood`): a trial whose sessions all succeed at once is
    // not held for a patience nobody needed, and the flood's own report gives the length it really ran.
    let probe_window = plan.duration.saturating_sub(Duration::from_secs(1)).max(Duration::from_secs(1));
    let flood_plan = Plan { duration: LEAD_IN + probe_window + SESSION_TIMEOUT + BULK_PHASE, ..*plan };
    let mut flood = match plan.rate {
        Rate::PerSecond(0) => None,
        rate => Some(start_flood(topology, &flood_plan, rate, &name)?),
    };
    std::thread::sleep(LEAD_IN);
    let sessions = ((plan.legit_rate * probe_window.as_secs_f64()).round() as u64).max(1);
    let (count, rate) = (sessions.to_string(), plan.legit_rate.to_string());
    let timeout = format!("{}ms", SESSION_TIMEOUT.as_millis());
    let concurrency = prober_concurrency(plan.legit_rate).to_string();
    let probe_args = [
        binary,
        "connect",
        &addr,
        "--count",
        &count,
        "--concurrency",
        &concurrency,
        "--timeout",
        &timeout,
        "--rate",
        &rate,
    ];
    let mut prober = Process::spawn(
        &topology.client,
        &[&probe_args[..], &["--format", "json"]].concat(),
        plan.work,
        &format!("{name}-probe"),
    )?;
    prober.wait(probe_window + SESSION_TIMEOUT + Duration::from_secs(10))?;
    let bulk_gbit_per_s = bulk_transfer(topology, plan, &discard, &name);
    let (rate_achieved, flood_seconds) = match flood.as_mut() {
        Some(flood) => stop_flood(flood, &flood_plan)?,
        None => (0.0, 0.0),
    };
    sampling.store(false, Ordering::Relaxed);
    let syn_recv = sampler.join().unwrap_or_default();
    let after = netns::read_counters(&topology.server)?;
    let guard_cpu_s = guard.as_ref().and_then(Process::cpu_seconds);
    let softirq_cpu_s = process::softirq_seconds().zip(softirq_before).map(|(after, before)| after - before);
    let guard_stats = match guard.as_mut() {
        Some(guard) => {
            guard.stop()?;
            serde_json::from_str(&guard.read_stdout()).ok()
        }
        None => None,
    };
    let _ = sniffer.stop();
    let _ = listener.stop();
    let elapsed = started.elapsed().as_secs_f64();

    let report: serde_json::Value = serde_json::from_str(&prober.read_stdout())
        .with_context(|| format!("the prober's report: {}", prober.read_stderr()))?;
    let number = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    let failures: BTreeMap<String, u64> = report["failures"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0))).collect())
        .unwrap_or_default();
    let kernel_counters = before
        .entries()
        .iter()
        .zip(after.entries())
        .map(|((name, b), (_, a))| (name.to_string(), a.saturating_sub(*b)))
        .collect();
    let sessions = report["sessions"].as_u64().unwrap_or(0);
    let successes = report["succeeded"].as_u64().unwrap_or(0);
    let successes_within: Vec<(f64, u64)> = report["succeeded_within"]
        .as_array()
        .map(|levels| levels.iter().filter_map(|l| Some((l[0].as_f64()?, l[1].as_u64()?))).collect())
        .unwrap_or_default();
    Ok(Trial {
        scenario: plan.scenario.name.to_string(),
        rate_requested: match plan.rate {
            Rate::PerSecond(r) => r,
            Rate::Max => rate_achieved.round() as u64,
        },
        rate_achieved,
        duration_s: if flood_seconds > 0.0 { flood_seconds } else { elapsed },
        sessions,
        successes,
        success_ratio: if sessions == 0 { 1.0 } else { successes as f64 / sessions as f64 },
        latency_p50_ms: number(&report["connect_ms"]["p50"]),
        latency_p99_ms: number(&report["connect_ms"]["p99"]),
        session_timeout_s: SESSION_TIMEOUT.as_secs_f64(),
        successes_within,
        failures,
        syn_recv,
        kernel_counters,
        guard_stats,
        guard_cpu_s,
        softirq_cpu_s,
        top_speed: plan.rate == Rate::Max,
        bulk_gbit_per_s,
    })
}

/// A legitimate bulk transfer from the client to the listener's discard service; its rate, or `None` (with the
/// reason in the work directory) if it failed: a transfer that cannot get through is a finding, not an error of
/// the lab.
fn bulk_transfer(topology: &Topology, plan: &Plan<'_>, discard: &str, name: &str) -> Option<f64> {
    let binary = plan.binary.to_str()?;
    let seconds = format!("{}ms", BULK.as_millis());
    let args = [binary, "connect", discard, "--bulk", &seconds, "--format", "json"];
    let mut bulk = Process::spawn(&topology.client, &args, plan.work, &format!("{name}-bulk")).ok()?;
    bulk.wait(BULK + Duration::from_secs(15)).ok()?;
    let report: serde_json::Value = serde_json::from_str(bulk.read_stdout().trim()).ok()?;
    report["gbit_per_s"].as_f64()
}

pub fn rate_label(rate: Rate) -> String {
    match rate {
        Rate::PerSecond(r) => r.to_string(),
        Rate::Max => "max".to_string(),
    }
}

pub(super) fn start_flood(topology: &Topology, plan: &Plan<'_>, rate: Rate, name: &str) -> anyhow::Result<Process> {
    let binary = plan.binary.to_str().context("the synscope binary's path is not UTF-8")?;
    let seconds = plan.duration.as_secs_f64();
    let target = topology.family.server(plan.port);
    let spoof = match topology.family {
        Family::V4 => SPOOF,
        Family::V6 => SPOOF6,
    };
    let args: Vec<String> = match plan.attacker {
        Attacker::Synscope => {
            let mut args: Vec<String> = [
                binary,
                "flood",
                "--target",
                &target,
                "--spoof",
                spoof,
                "--source-mac",
                UPSTREAM_MAC,
                "--format",
                "json",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(["--duration".to_string(), format!("{seconds}s")]);
            if topology.family == Family::V6 {
                // The flood reads no IPv6 neighbour table: it is told the way (`flood --dest-mac`).
                let hop = ["-i", &topology.client_if, "--dest-mac", SERVER_MAC];
                args.extend(hop.iter().map(|s| s.to_string()));
            }
            match rate {
                Rate::PerSecond(r) => args.extend(["--rate".to_string(), r.to_string()]),
                // At top speed the attacker has a thread on each of two CPUs, as many as this project's machine has.
                Rate::Max => args.extend(["--threads".to_string(), TOP_SPEED_FLOOD_THREADS.to_string()]),
            }
            args
        }
        Attacker::Hping3 => {
            let pace = match rate {
                Rate::Max => vec!["--flood".to_string()],
                // hping3 paces by an interval in microseconds: `-i uN`.
                Rate::PerSecond(r) => vec!["-i".to_string(), format!("u{}", (1_000_000 / r.max(1)).max(1))],
            };
            [
                "timeout",
                "-s",
                "INT",
                // hping3 can miss SIGINT in its busy send loop (seen with -i u10): kill it 2 s later.
                "-k",
                "2",
                &format!("{seconds}"),
                "hping3",
                "-q",
                "-S",
                "-p",
                &plan.port.to_string(),
                "--rand-source",
            ]
            .iter()
            .map(|s| s.to_string())
            .chain(pace)
            .chain([topology.family.server_ip().to_string()])
            .collect()
        }
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Process::spawn(&topology.client, &args, plan.work, &format!("{name}-flood"))
}

/// Flood threads at the attacker's top speed.
pub const TOP_SPEED_FLOOD_THREADS: usize = 2;

/// Prober threads: one per session that can be in flight at once, `legit_rate` × the patience, so pacing never
/// waits for a worker while earlier sessions sit out their retransmissions; bounded, as the prober's threads are.
fn prober_concurrency(legit_rate: f64) -> usize {
    ((legit_rate * SESSION_TIMEOUT.as_secs_f64()).ceil() as usize + 16).min(4096)
}

/// Ends a trial's flood once it is no longer needed: synscope's is stopped (SIGTERM, after which it reports what it
/// sent and for how long); hping3, whose rate is read against its planned length, runs to its end.
fn stop_flood(flood: &mut Process, plan: &Plan<'_>) -> anyhow::Result<(f64, f64)> {
    if plan.attacker == Attacker::Synscope {
        flood.stop()?;
    }
    finish_flood(flood, plan)
}

/// Waits for the flood to end and reads how many SYNs it sent: (SYN/s achieved, seconds).
pub(super) fn finish_flood(flood: &mut Process, plan: &Plan<'_>) -> anyhow::Result<(f64, f64)> {
    flood.wait(plan.duration + Duration::from_secs(10))?;
    let seconds = plan.duration.as_secs_f64();
    match plan.attacker {
        Attacker::Synscope => {
            let report: serde_json::Value = serde_json::from_str(flood.read_stdout().trim())
                .with_context(|| format!("the flood's report: {}", flood.read_stderr().trim()))?;
            let sent = report["sent"].as_f64().unwrap_or(0.0);
            let duration = report["duration_s"].as_f64().filter(|d| *d > 0.0).unwrap_or(seconds);
            Ok((sent / duration, duration))
        }
        Attacker::Hping3 => {
            // "N packets transmitted, M packets received, ..." on stderr or stdout.
            let text = flood.read_stdout() + &flood.read_stderr();
            let sent = text
                .lines()
                .find(|l| l.contains("packets transmitted"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
                .unwrap_or(0.0);
            Ok((sent / seconds, seconds))
        }
    }
}

/// Samples the listener's SYN-RECV count every 100 ms from inside the server namespace, until told to stop.
fn spawn_sampler(
    server: &str,
    family: Family,
    port: u16,
    running: Arc<AtomicBool>,
) -> anyhow::Result<std::thread::JoinHandle<Vec<(f64, u64)>>> {
    let namespace = Namespace::open(server)?;
    Ok(std::thread::spawn(move || {
        let started = Instant::now();
        let mut samples = Vec::new();
        while running.load(Ordering::Relaxed) {
            let count = namespace.run(|| Ok(syn_recv_count(family, port))).unwrap_or(0);
            samples.push((started.elapsed().as_secs_f64(), count));
            std::thread::sleep(Duration::from_millis(100));
        }
        samples
    }))
}

/// Request sockets in SYN-RECEIVED for `port`, from /proc/thread-self/net/tcp, or tcp6 for an IPv6 run (the
/// calling thread's namespace; state 03 is TCP_SYN_RECV in include/net/tcp_states.h). Both files list a line per
/// socket with the same fields, the local address as `ADDR:PORT` in hex. The lab's listener speaks one family, and
/// each read walks every bucket of the host's established hash (namespaces share it), so only its file is read.
fn syn_recv_count(family: Family, port: u16) -> u64 {
    let port = format!(":{port:04X}");
    let file = match family {
        Family::V4 => "/proc/thread-self/net/tcp",
        Family::V6 => "/proc/thread-self/net/tcp6",
    };
    let Ok(text) = std::fs::read_to_string(file) else { return 0 };
    text.lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[3] == "03" && fields[1].ends_with(&port)
        })
        .count() as u64
}
