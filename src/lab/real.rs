//! The real lab: build the namespaces, find how fast the attacker goes, run every scenario at every rate, and
//! tear everything down, on success, on error and on Ctrl-C.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::results::LabResults;
use super::scenario::Scenario;
use super::topology::{Family, PORT, Topology};
use super::trial::{self, Attacker, Plan, Rate};

pub struct RealConfig {
    pub scenarios: Vec<Scenario>,
    /// `None`: 0, then steps up to the attacker's maximum (found by calibration).
    pub rates: Option<Vec<Rate>>,
    pub duration: Duration,
    pub legit_rate: f64,
    pub attacker: Attacker,
    pub work: PathBuf,
    pub binary: PathBuf,
    /// After calibrating, compare our generator with hping3 (`generators.rs`).
    pub compare_generators: bool,
    /// The address family of every trial: listener, prober, flood and guard (`lab --ipv6`).
    pub family: Family,
}

/// Calibration flood length.
const CALIBRATION: Duration = Duration::from_secs(2);

pub fn run(config: &RealConfig, stop: &Arc<AtomicBool>, progress: &mut dyn FnMut(&str)) -> anyhow::Result<LabResults> {
    let topology = Topology::create(config.family).context("building the lab's namespaces")?;
    let mut notes = vec![family_note(config.family)];
    let mut generators = None;
    let rates = match &config.rates {
        Some(rates) => rates.clone(),
        None => {
            let max = calibrate(&topology, config)?;
            progress(&format!("calibration: {} reaches {max:.0} SYN/s", config.attacker.name()));
            notes.push(format!("calibration: {} reached {max:.0} SYN/s at top speed", config.attacker.name()));
            if config.compare_generators {
                progress("comparing generators: synscope flood, then hping3 --flood, into the same sink");
                let compared = super::generators::compare(&topology, &config.binary, &config.work)?;
                progress(&format!(
                    "generators: synscope {:.0}, hping3 {:.0} SYN/s arrived ({:.2}x)",
                    compared.synscope_pps,
                    compared.hping3_pps,
                    compared.ratio()
                ));
                generators = Some(compared);
            }
            let max = max as u64;
            vec![Rate::PerSecond(0), Rate::PerSecond(max / 8), Rate::PerSecond(max / 2), Rate::Max]
        }
    };
    let mut results = LabResults {
        kind: "namespaces".into(),
        seed: 0,
        scenarios: config.scenarios.iter().map(|s| s.name.to_string()).collect(),
        rates: rates.iter().map(|r| if let Rate::PerSecond(n) = r { *n } else { 0 }).collect(),
        attacker: config.attacker.name().into(),
        trials: Vec::new(),
        notes,
        cpus: std::thread::available_parallelism().map_or(0, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
        generators,
    };
    let total = config.scenarios.len() * rates.len();
    let started = Instant::now();
    for scenario in &config.scenarios {
        for rate in &rates {
            if stop.load(Ordering::Relaxed) {
                results.notes.push("interrupted: the remaining trials did not run".into());
                return Ok(results);
            }
            let done = results.trials.len();
            progress(&super::report::progress_line(
                done,
                total,
                &format!("{} at {} SYN/s", scenario.name, trial::rate_label(*rate)),
                started.elapsed(),
            ));
            let plan = Plan {
                scenario,
                rate: *rate,
                duration: config.duration,
                legit_rate: config.legit_rate,
                attacker: config.attacker,
                work: &config.work,
                binary: &config.binary,
                port: PORT + done as u16,
            };
            let trial = trial::run(&topology, &plan)
                .with_context(|| format!("trial {} at {} SYN/s", scenario.name, trial::rate_label(*rate)))?;
            if let Some(note) = packet_path_note(&trial, &results.notes) {
                results.notes.push(note);
            }
            results.trials.push(trial);
        }
    }
    // `max` is known only once run: list the rates as the first scenario actually ran them.
    let first = results.trials.first().map(|t| t.scenario.clone()).unwrap_or_default();
    results.rates = results.trials.iter().filter(|t| t.scenario == first).map(|t| t.rate_requested).collect();
    Ok(results)
}

/// The report's line on the address family (results.json records it as `ip_version`).
fn family_note(family: Family) -> String {
    match family {
        Family::V4 => "address family: IPv4 (10.77.0.0/24, spoofed sources from 198.18.0.0/15)".to_string(),
        Family::V6 => format!(
            "{} (`--ipv6`): listener, prober, flood and guard over fd00:77::/64, spoofed sources from {}; the \
             kernel scenarios' net.ipv4.tcp_* settings govern IPv6 TCP too",
            super::results::IPV6_NOTE,
            trial::SPOOF6
        ),
    }
}

/// Floods at top speed for two seconds across a plain bridge; returns the SYN/s reached.
fn calibrate(topology: &Topology, config: &RealConfig) -> anyhow::Result<f64> {
    topology.bridge_on()?;
    let plan = Plan {
        scenario: &config.scenarios[0],
        rate: Rate::Max,
        duration: CALIBRATION,
        legit_rate: 0.0,
        attacker: config.attacker,
        work: &config.work,
        binary: &config.binary,
        port: PORT - 1,
    };
    calibration_flood(topology, &plan)
}

fn calibration_flood(topology: &Topology, plan: &Plan<'_>) -> anyhow::Result<f64> {
    let mut flood = trial::start_flood(topology, plan, Rate::Max, "calibration")?;
    let (rate, _) = trial::finish_flood(&mut flood, plan)?;
    if rate > 0.0 {
        Ok(rate)
    } else {
        anyhow::bail!("calibrating the attacker: it sent nothing ({})", flood.read_stderr().trim())
    }
}

/// The synscope binary running now: the one the lab starts in the namespaces.
pub fn own_binary() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("finding the synscope binary")
}

/// A fresh work directory under `out` for processes' output and the trials' captures.
pub fn work_dir(out: &Path) -> anyhow::Result<PathBuf> {
    let work = out.join("trials");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    Ok(work)
}

/// A note for the report when `guard-cookies` ran without its XDP fast path (a build without clang, no root for
/// BPF), saying why, once per scenario: the reader must not take the rings' figures for the fast path's.
fn packet_path_note(trial: &super::results::Trial, notes: &[String]) -> Option<String> {
    if trial.scenario != "guard-cookies" {
        return None;
    }
    let fast_path = trial.guard_stats.as_ref()?.get("fast_path")?;
    if fast_path.get("kind")?.as_str()? != "packet" {
        return None;
    }
    let why = fast_path.get("why_packet").and_then(|w| w.as_str()).unwrap_or("no reason given");
    let note = format!("guard-cookies answered SYNs from its packet rings, not its XDP program: {why}");
    (!notes.contains(&note)).then_some(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::results::Trial;

    fn cookies_trial(fast_path: serde_json::Value) -> Trial {
        Trial {
            scenario: "guard-cookies".into(),
            guard_stats: Some(serde_json::json!({ "fast_path": fast_path })),
            ..Trial::default()
        }
    }

    #[test]
    fn a_guard_without_its_fast_path_is_noted_once_with_the_reason() {
        let rings = cookies_trial(serde_json::json!({"kind": "packet", "why_packet": "built without XDP support"}));
        let note = packet_path_note(&rings, &[]).expect("a note");
        assert!(note.contains("packet rings") && note.contains("built without XDP support"), "{note}");
        assert_eq!(packet_path_note(&rings, &[note]), None, "once");
        assert_eq!(packet_path_note(&cookies_trial(serde_json::json!({"kind": "xdp"})), &[]), None);
        let other = Trial { scenario: "guard-cookies-rings".into(), ..rings };
        assert_eq!(packet_path_note(&other, &[]), None, "the rings scenario asks for the rings");
    }
}
