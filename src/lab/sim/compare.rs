//! `synscope lab --sim --compare REAL.json`: the simulation run at the rates a real run reached, with its patience,
//! next to the real success, so that the simulation never teaches what the real lab refutes without it showing.
//!
//! Each real trial is simulated once: its scenario, its `rate_achieved` (what the flood really delivered, not what
//! was asked), its sessions (`sessions / legit_rate + 1 s` of flood, the real lab's timeline) and its
//! `session_timeout_s` (1 s in runs made before the prober's patience grew; 0, unrecorded, is read as 1 s). A
//! trial whose real verdict is `machine` (`lab::verdict`: a starved guard, a short attacker, a saturated machine)
//! is shown but left out of the worst difference: the simulated guard has a CPU of its own, so it cannot follow a
//! real one that had none.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{SimConfig, run_trial};
use crate::lab::results::{LabResults, Trial, percent};
use crate::lab::verdict::Verdict;
use crate::time::Duration;

/// One real trial against its simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub scenario: String,
    /// The real flood's achieved rate, which the simulation floods at.
    pub rate: u64,
    pub real: f64,
    pub sim: f64,
    /// Why the simulation cannot follow the real trial (its `machine` evidence); `None` when it can.
    pub machine: Option<Vec<String>>,
}

impl Row {
    /// Simulated minus real success, percentage points.
    pub fn difference_pp(&self) -> f64 {
        (self.sim - self.real) * 100.0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    pub rows: Vec<Row>,
    /// The real run's patience, seconds.
    pub patience_s: f64,
}

impl Comparison {
    /// The row with the largest difference among those the real lab sustained (verdict not `machine`).
    pub fn worst(&self) -> Option<&Row> {
        self.rows
            .iter()
            .filter(|r| r.machine.is_none())
            .max_by(|a, b| a.difference_pp().abs().total_cmp(&b.difference_pp().abs()))
    }
}

/// The simulation's configuration for one real trial (module docs).
pub fn config_for(real: &Trial, legit_rate: f64, base: &SimConfig) -> SimConfig {
    let flood_s = if real.sessions > 0 { real.sessions as f64 / legit_rate + 1.0 } else { 10.0 };
    let patience_s = if real.session_timeout_s > 0.0 { real.session_timeout_s } else { 1.0 };
    SimConfig {
        scenarios: vec![real.scenario.clone()],
        rates: vec![achieved(real)],
        duration: Duration::from_nanos((flood_s * 1e9).round() as u64),
        legit_rate,
        session_timeout: Duration::from_nanos((patience_s * 1e9).round() as u64),
        ..base.clone()
    }
}

fn achieved(real: &Trial) -> u64 {
    if real.rate_requested == 0 { 0 } else { real.rate_achieved.round().max(0.0) as u64 }
}

/// Simulates every trial of `real` whose scenario the simulation knows, on as many threads as the machine has;
/// `progress` gets one line per trial, in order.
pub fn compare(real: &LabResults, legit_rate: f64, base: &SimConfig, progress: &mut dyn FnMut(&str)) -> Comparison {
    let trials: Vec<&Trial> = real.trials.iter().filter(|t| super::scenario(&t.scenario).is_some()).collect();
    let results: Mutex<Vec<Option<Trial>>> = Mutex::new(vec![None; trials.len()]);
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, trials.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(t) = trials.get(i) else { break };
                    let config = config_for(t, legit_rate, base);
                    let simulated = run_trial(&config, &t.scenario, achieved(t));
                    if let Ok(mut results) = results.lock() {
                        results[i] = simulated;
                    }
                }
            });
        }
    });
    let simulated = results.into_inner().unwrap_or_default();
    let mut rows = Vec::new();
    for (t, sim) in trials.iter().zip(simulated) {
        let Some(sim) = sim else { continue };
        let machine = match Verdict::of(t, real.cpus) {
            Verdict::MachineLimited(evidence) => Some(evidence),
            _ => None,
        };
        let row = Row {
            scenario: t.scenario.clone(),
            rate: achieved(t),
            real: t.success_ratio,
            sim: sim.success_ratio,
            machine,
        };
        progress(&format!(
            "compare {:<20} {:>8} SYN/s: real {}%, sim {}%",
            row.scenario,
            row.rate,
            percent(row.real),
            percent(row.sim)
        ));
        rows.push(row);
    }
    let patience_s = real.trials.iter().map(|t| t.session_timeout_s).find(|&s| s > 0.0).unwrap_or(1.0);
    Comparison { rows, patience_s }
}

/// The comparison as Markdown: a table, one sentence per trial the simulation cannot follow, and the worst
/// difference.
pub fn table(c: &Comparison) -> String {
    let mut out = format!(
        "Simulation against a real run, at the rates the real flood reached, {} s patience per session.\n\n\
         | scenario | SYN/s | real | sim | sim − real |\n|:---|---:|---:|---:|---:|\n",
        c.patience_s
    );
    for r in &c.rows {
        let diff = match r.machine {
            Some(_) => "machine: excluded".to_string(),
            None => format!("{:+.1} pp", r.difference_pp()),
        };
        out.push_str(&format!(
            "| {} | {} | {}% | {}% | {} |\n",
            r.scenario,
            r.rate,
            percent(r.real),
            percent(r.sim),
            diff
        ));
    }
    out.push('\n');
    for r in c.rows.iter().filter(|r| r.machine.is_some()) {
        out.push_str(&format!(
            "- **{}** at {} SYN/s: the simulation cannot follow the real lab there. The real trial was limited by \
             the machine ({}), and the simulated guard and kernel each have CPUs of their own, never taken by the \
             flood or by each other.\n",
            r.scenario,
            r.rate,
            r.machine.as_deref().unwrap_or_default().join("; ")
        ));
    }
    match c.worst() {
        Some(w) => out.push_str(&format!(
            "\nWorst difference where the real lab sustained its rate (verdict not `machine`): {:.1} percentage \
             points, {} at {} SYN/s (real {}%, sim {}%).\n",
            w.difference_pp().abs(),
            w.scenario,
            w.rate,
            percent(w.real),
            percent(w.sim)
        )),
        None => out.push_str("\nNo real trial the simulation can follow.\n"),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(scenario: &str, rate: u64, real: f64, sim: f64, machine: bool) -> Row {
        Row {
            scenario: scenario.into(),
            rate,
            real,
            sim,
            machine: machine.then(|| vec!["the guard's ring of SYNs overflowed".to_string()]),
        }
    }

    #[test]
    fn the_worst_difference_leaves_out_machine_limited_trials() {
        let c = Comparison {
            rows: vec![
                row("guard-limit", 84_379, 0.988, 1.0, false),
                row("guard-limit", 337_319, 0.0, 0.04, false),
                row("guard-cookies-rings", 1_324_518, 0.555, 1.0, true),
            ],
            patience_s: 1.0,
        };
        let worst = c.worst().unwrap();
        assert_eq!((worst.scenario.as_str(), worst.rate), ("guard-limit", 337_319));
        let text = table(&c);
        assert!(text.contains("| guard-limit | 84379 | 98.8% | 100.0% | +1.2 pp |"), "{text}");
        assert!(text.contains("| guard-cookies-rings | 1324518 | 55.5% | 100.0% | machine: excluded |"), "{text}");
        assert!(
            text.contains("**guard-cookies-rings** at 1324518 SYN/s: the simulation cannot follow the real lab there"),
            "{text}"
        );
        assert!(
            text.contains("Worst difference where the real lab sustained its rate (verdict not `machine`): 4.0"),
            "{text}"
        );
        // With every trial machine-limited there is no worst difference to give.
        let all_machine = Comparison { rows: vec![row("x", 1, 0.5, 1.0, true)], patience_s: 1.0 };
        assert!(all_machine.worst().is_none());
        assert!(table(&all_machine).contains("No real trial the simulation can follow."));
    }

    #[test]
    fn a_real_trial_is_simulated_at_its_achieved_rate_sessions_and_patience() {
        let real = Trial {
            scenario: "kernel-cookies".into(),
            rate_requested: 337_516,
            rate_achieved: 286_328.4,
            sessions: 450,
            session_timeout_s: 0.0,
            ..Trial::default()
        };
        let config = config_for(&real, 50.0, &SimConfig::default());
        assert_eq!(config.rates, [286_328]);
        assert_eq!(config.duration, Duration::from_secs(10));
        assert_eq!(config.session_timeout, Duration::from_secs(1), "an unrecorded patience is the old prober's 1 s");
        let seven = config_for(&Trial { session_timeout_s: 7.0, ..real }, 50.0, &SimConfig::default());
        assert_eq!(seven.session_timeout, Duration::from_secs(7));
    }
}
