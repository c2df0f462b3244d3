//! `synscope lab --sim`: the lab's scenarios as a deterministic discrete-event simulation that needs no
//! privileges. It is what a newcomer without root sees, and what tests can use.
//!
//! - **What it drives:** the real defences. In the guard scenarios every packet crosses
//!   [`crate::defense::guard::Guard`] as an Ethernet frame, exactly as `synscope guard` would see it on a veth, so
//!   the cookie codec, half-open table, policy and SYN proxy all run for real ([`world`]).
//! - **What feeds them:** a simulated legitimate client ([`client`]) and attacker ([`attacker`]), and a model of
//!   the Linux listener ([`listener`]): the SYN queue with its ¾ rule when cookies are off, SYN-ACK
//!   retransmissions, SYN cookies and the accept queue, each rule citing the kernel function it copies.
//! - **How it runs:** on a virtual clock with seeded randomness ([`event`], [`random`]). Each trial gets seeds
//!   derived from the run's seed and its rate, so every scenario meets the same flood and the same sessions at a
//!   given rate, and the same seed gives identical [`LabResults`].
//! - **What it produces:** the [`LabResults`] the real lab produces, so the same table, report and charts print
//!   it ([`measure`]).
//!
//! The scenarios are the real lab's own definitions (`lab/scenario.rs`, translated in [`scenario`]), and a trial
//! follows the real lab's timeline (`lab/trial.rs`): the flood lasts `duration`, the prober starts half a second
//! in and starts `legit_rate` sessions a second for `duration - 1 s`, each with one budget (the client's
//! patience, 7 s by default), and SYN-RECV is sampled every 100 ms until the last session has ended.
//!
//! - **What it costs:** every packet waits for a CPU where the real one does ([`station`]: the kernel's delivery at
//!   the gateway and at the server, `netdev_max_backlog` deep per CPU; [`guard_thread`]: the guard's three rings and
//!   its loop's order), for a service time derived from a real run ([`calibration`]). So the round trip grows
//!   with the flood, and a ring or backlog overflows where the real one does.
//!
//! Not modelled: CPUs shared between those places. The guard's thread has a CPU of its own and the kernel's work
//! the machine's CPUs, so the simulation cannot follow a real trial whose guard was starved by the flood and the
//! kernel (the real lab's `machine` verdict, `lab::verdict`); `--compare` says so where it happens.

pub mod attacker;
pub mod calibration;
pub mod client;
pub mod compare;
pub mod event;
pub mod guard_thread;
pub mod kernel_listener;
pub mod measure;
pub mod random;
pub mod segment;
pub mod setup;
pub mod station;
pub mod world;

pub use setup::{SCENARIOS, SimSetup, scenario};

use calibration::Costs;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::lab::results::{LabResults, Trial};
use crate::time::Duration;

/// A session's patience by default: a client's connect retransmits its SYN at 1 s and 3 s and gives up at 7 s
/// (RFC 6298's initial RTO of 1 s, doubled), as the lab's prober does with `--timeout 7s`.
pub const DEFAULT_PATIENCE_S: u64 = 7;

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    /// Scenario names, from [`SCENARIOS`].
    pub scenarios: Vec<String>,
    /// Spoofed SYNs per second, one trial each (0: no attack).
    pub rates: Vec<u64>,
    /// How long the flood lasts in each trial, in virtual time (the real lab's `--duration`).
    pub duration: Duration,
    /// Legitimate sessions started per second.
    pub legit_rate: f64,
    /// One budget for connect and greeting, as the prober's `--timeout`.
    pub session_timeout: Duration,
    /// Round-trip time between the client and the listener (each of the two links takes a quarter of it), before
    /// any queueing.
    pub rtt: Duration,
    /// What each packet costs the CPUs it crosses, and the queues in front of them.
    pub costs: Costs,
}

impl Default for SimConfig {
    /// Every scenario; no flood, then steps up to 150 000 SYN/s (DESIGN.md's hping3 figures reach 120–185 k);
    /// 10 s each; 50 sessions a second with a client's patience of 7 s (the SYN sent again at 1 s and 3 s);
    /// 0.1 ms RTT, as over two veths; the lab machine's costs.
    fn default() -> Self {
        SimConfig {
            seed: 1,
            scenarios: SCENARIOS.iter().map(|s| s.to_string()).collect(),
            rates: vec![0, 1_000, 10_000, 50_000, 100_000, 150_000],
            duration: Duration::from_secs(10),
            legit_rate: 50.0,
            session_timeout: Duration::from_secs(DEFAULT_PATIENCE_S),
            rtt: Duration::from_micros(100),
            costs: Costs::lab_machine(),
        }
    }
}

impl SimConfig {
    /// Why the configuration cannot run, in words for the command line.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(unknown) = self.scenarios.iter().find(|s| scenario(s).is_none()) {
            return Err(format!("unknown scenario {unknown:?} (expected one of {})", SCENARIOS.join(", ")));
        }
        if self.duration < world::SAMPLE_EVERY || self.duration > Duration::from_secs(3_600) {
            return Err("the simulated duration must be between 100 ms and an hour".into());
        }
        if !(self.legit_rate > 0.0 && self.legit_rate <= 100_000.0) {
            return Err("the legitimate session rate must be above 0 and at most 100000 per second".into());
        }
        if self.session_timeout == Duration::ZERO {
            return Err("the session timeout must be longer than zero".into());
        }
        if self.rates.iter().any(|&r| r > 10_000_000) {
            return Err("the simulation floods at most 10000000 SYN/s".into());
        }
        Ok(())
    }
}

/// Runs every scenario at every rate and reports one line per trial to `progress`, in order. Scenarios that do
/// not exist are skipped with a note ([`SimConfig::validate`] catches them first).
///
/// Trials are independent (each has its own seeds), so they run on as many threads as the machine has; the
/// results and the progress lines come in the order of the matrix all the same.
pub fn run(config: &SimConfig, progress: &mut dyn FnMut(&str)) -> LabResults {
    let mut results = LabResults {
        kind: "simulation".into(),
        seed: config.seed,
        scenarios: Vec::new(),
        rates: config.rates.clone(),
        attacker: "simulated".into(),
        trials: Vec::new(),
        notes: notes(config),
        // No machine to limit a simulated trial.
        cpus: 0,
        generators: None,
    };
    for name in &config.scenarios {
        if scenario(name).is_some() {
            results.scenarios.push(name.clone());
        } else {
            results.notes.push(format!("skipped unknown scenario {name:?}"));
        }
    }
    let jobs: Vec<(&str, u64)> =
        results.scenarios.iter().flat_map(|name| config.rates.iter().map(move |&rate| (name.as_str(), rate))).collect();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, jobs.len().max(1));
    let next = AtomicUsize::new(0);
    let mut done: Vec<Option<Trial>> = vec![None; jobs.len()];
    std::thread::scope(|scope| {
        let (sender, receiver) = mpsc::channel();
        for _ in 0..workers {
            let sender = sender.clone();
            let (jobs, next) = (&jobs, &next);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(name, rate)) = jobs.get(i) else { break };
                    if sender.send((i, run_trial(config, name, rate))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut reported = 0;
        for (i, trial) in receiver {
            done[i] = trial;
            while let Some(Some(trial)) = done.get(reported) {
                progress(&progress_line(trial));
                reported += 1;
            }
        }
    });
    results.trials = done.into_iter().flatten().collect();
    results
}

/// One trial of `scenario` at `rate` SYN/s; `None` for an unknown scenario. The same as the corresponding trial of
/// [`run`] with the same configuration.
pub fn run_trial(config: &SimConfig, scenario_name: &str, rate: u64) -> Option<Trial> {
    let scenario = scenario(scenario_name)?;
    let setup = world::Setup {
        scenario: &scenario,
        rate,
        duration: config.duration,
        legit_rate: config.legit_rate,
        session_timeout: config.session_timeout,
        rtt: config.rtt,
        seed: random::mix(config.seed, rate),
        costs: config.costs,
    };
    let observed = world::run(&setup);
    Some(measure::trial(scenario.name, rate, config.duration, config.session_timeout, observed))
}

fn progress_line(t: &Trial) -> String {
    format!(
        "sim {:<14} {:>7} SYN/s: {}/{} sessions ({:.1}%), p50 {:.2} ms, p99 {:.2} ms, SYN-RECV peak {}",
        t.scenario,
        t.rate_requested,
        t.successes,
        t.sessions,
        t.success_ratio * 100.0,
        t.latency_p50_ms,
        t.latency_p99_ms,
        t.syn_recv_peak()
    )
}

fn notes(config: &SimConfig) -> Vec<String> {
    vec![
        format!(
            "Simulated (synscope lab --sim, seed {}): {} s of virtual time per trial, {} legitimate sessions/s with a \
             {} s timeout, {} ms RTT; the flood is Poisson, from random spoofed sources that never answer.",
            config.seed,
            config.duration.as_secs_f64(),
            config.legit_rate,
            config.session_timeout.as_secs_f64(),
            config.rtt.as_secs_f64() * 1e3
        ),
        "The listener is a model of Linux's (SYN queue and its 3/4 rule, SYN-ACK retries, cookies, accept queue); \
         the guard scenarios run the real guard on crafted frames. Packets wait for CPUs whose costs come from a \
         real run (lab::sim::calibration): the kernel's delivery at the gateway and the server, the guard's rings \
         and thread; CPUs shared between them, and other processes, are not modelled."
            .into(),
    ]
}
