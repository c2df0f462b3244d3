//! Whether a trial's failure is the defence's or the machine's. On a shared 2-vCPU laptop the flood, the guard
//! and the kernel's packet work compete for the same CPUs, and a defence that lost sessions because it never got
//! a CPU, or an attacker that never reached its rate, says nothing about the defence. Each rule reads only what the
//! trial recorded, and gives its evidence in words:
//!
//! - **the attacker fell short**: a paced flood reached under 90% of the rate asked, so the trial ran at another
//!   rate than its label (a `max` trial has no rate to miss);
//! - **the guard was starved**: its ring of SYNs overflowed (the kernel dropped SYNs it never read) while the guard
//!   process had under 90% of a CPU per thread: it had work waiting and no CPU to do it. With a full CPU, the same
//!   overflow is the guard's own capacity, and the defence's verdict;
//! - **the machine was saturated**: the whole machine spent 80% or more of its CPU time in softirq (packet work:
//!   the flood's frames, the kernel's answers, the XDP program), so every process on it, the legitimate client's
//!   included, got the rest.

use super::results::{LabResults, Trial, percent};

/// Success at or above this counts as "kept serving": it separates the kernel with cookies (100%) from the kernel
/// without them (87–97%) in DESIGN.md's reference figures.
pub const HELD: f64 = 0.99;
/// A paced flood below this share of its rate fell short.
const SHORTFALL: f64 = 0.9;
/// A guard thread with less than this share of a CPU while SYNs waited unread was starved.
const STARVED: f64 = 0.9;
/// The machine's CPU time in softirq at or above this share saturated it.
const SATURATED: f64 = 0.8;

/// What a trial's outcome says.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Kept ≥99% of legitimate sessions.
    Held,
    /// Fell below, with nothing recorded to blame but the defence.
    DefenceFailed,
    /// Fell below while the machine could not keep up; the evidence, one phrase each.
    MachineLimited(Vec<String>),
}

impl Verdict {
    pub fn of(t: &Trial, cpus: u32) -> Verdict {
        if t.success_ratio >= HELD {
            return Verdict::Held;
        }
        let evidence = machine_limits(t, cpus);
        if evidence.is_empty() { Verdict::DefenceFailed } else { Verdict::MachineLimited(evidence) }
    }

    /// The table's cell.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Held => "held",
            Verdict::DefenceFailed => "defence",
            Verdict::MachineLimited(_) => "machine",
        }
    }
}

/// Why the machine, not the defence, may have limited `t`, whatever its success: each reason with its evidence.
/// `cpus` is the machine's CPU count, 0 when unknown (the softirq rule then stays silent).
pub fn machine_limits(t: &Trial, cpus: u32) -> Vec<String> {
    let mut evidence = Vec::new();
    if t.rate_requested > 0 && !t.top_speed && t.rate_achieved < t.rate_requested as f64 * SHORTFALL {
        evidence.push(format!(
            "the attacker reached {:.0} of the {} SYN/s asked ({:.0}%)",
            t.rate_achieved,
            t.rate_requested,
            t.rate_achieved / t.rate_requested as f64 * 100.0
        ));
    }
    let seconds = t.duration_s;
    if let (Some(stats), Some(cpu), true) = (&t.guard_stats, t.guard_cpu_s, seconds > 0.0) {
        let unread = stats["ring_drops"]["outside_syns"].as_u64().unwrap_or(0);
        let threads = stats["threads"].as_u64().unwrap_or(1).max(1) as f64;
        let share = cpu / seconds / threads;
        if unread > 0 && share < STARVED {
            evidence.push(format!(
                "the guard's ring of SYNs overflowed ({:.0} SYN/s dropped unread) while the guard had {:.0}% of a CPU{}",
                unread as f64 / seconds,
                share * 100.0,
                if threads > 1.0 { " per thread" } else { "" }
            ));
        }
    }
    if let (Some(softirq), true) = (t.softirq_cpu_s, cpus > 0 && seconds > 0.0) {
        let share = softirq / (seconds * f64::from(cpus));
        if share >= SATURATED {
            evidence
                .push(format!("the machine spent {:.0}% of its {cpus} CPUs in softirq (packet work)", share * 100.0));
        }
    }
    evidence
}

/// One sentence per trial that fell below 99% while the machine could not keep up, so that none of them is read as
/// the defence's failure alone; none when every failure is the defence's.
pub fn findings(results: &LabResults) -> Vec<String> {
    results
        .trials
        .iter()
        .filter_map(|t| match Verdict::of(t, results.cpus) {
            Verdict::MachineLimited(evidence) => Some(format!(
                "**{}** at {} SYN/s ({}%) was limited by the machine, not only by the defence: {}.",
                t.scenario,
                t.rate_requested,
                percent(t.success_ratio),
                evidence.join("; ")
            )),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(success: f64) -> Trial {
        Trial {
            scenario: "guard-cookies-rings".into(),
            rate_requested: 1_000_000,
            rate_achieved: 1_000_000.0,
            duration_s: 10.0,
            success_ratio: success,
            ..Trial::default()
        }
    }

    fn guard(t: &mut Trial, cpu_s: f64, unread: u64, threads: u64) {
        t.guard_cpu_s = Some(cpu_s);
        t.guard_stats = Some(serde_json::json!({"threads": threads, "ring_drops": {"outside_syns": unread}}));
    }

    #[test]
    fn a_held_trial_is_held_whatever_the_machine_did() {
        let mut t = trial(0.995);
        guard(&mut t, 2.0, 1000, 1);
        assert_eq!(Verdict::of(&t, 2), Verdict::Held);
    }

    #[test]
    fn a_starved_guard_is_the_machine() {
        // The lab's guard-cookies-rings at 1.32M SYN/s: 6.69 CPU-s in 11.8 s (57%), 8.36M SYNs unread.
        let mut t = trial(0.556);
        t.duration_s = 11.8;
        guard(&mut t, 6.69, 8_364_930, 1);
        let verdict = Verdict::of(&t, 2);
        assert_eq!(verdict.word(), "machine");
        let Verdict::MachineLimited(evidence) = verdict else { unreachable!() };
        assert_eq!(
            evidence,
            ["the guard's ring of SYNs overflowed (708892 SYN/s dropped unread) while the guard had 57% of a CPU"]
        );
    }

    #[test]
    fn an_overflow_with_a_full_cpu_is_the_defence() {
        // guard-limit at 337k SYN/s: 11.51 CPU-s in 11.8 s, ring overflowing: the guard's own capacity.
        let mut t = trial(0.0);
        t.duration_s = 11.8;
        guard(&mut t, 11.51, 1_626_071, 1);
        assert_eq!(Verdict::of(&t, 2), Verdict::DefenceFailed);
        // Two threads with the same CPU time had under half a CPU each: starved.
        guard(&mut t, 11.51, 1_626_071, 2);
        assert_eq!(Verdict::of(&t, 2).word(), "machine");
    }

    #[test]
    fn a_short_attacker_and_a_saturated_machine() {
        let mut t = trial(0.5);
        t.rate_achieved = 600_000.0;
        t.softirq_cpu_s = Some(17.0);
        let Verdict::MachineLimited(evidence) = Verdict::of(&t, 2) else { panic!("not machine-limited") };
        assert_eq!(
            evidence,
            [
                "the attacker reached 600000 of the 1000000 SYN/s asked (60%)",
                "the machine spent 85% of its 2 CPUs in softirq (packet work)"
            ]
        );
        // A `max` trial has no rate to miss; an unknown CPU count says nothing of softirq.
        t.top_speed = true;
        assert_eq!(Verdict::of(&t, 0), Verdict::DefenceFailed);
    }

    #[test]
    fn findings_name_only_machine_limited_failures() {
        let mut starved = trial(0.5);
        guard(&mut starved, 3.0, 100, 1);
        let results = LabResults { cpus: 2, trials: vec![trial(1.0), trial(0.2), starved], ..LabResults::default() };
        let found = findings(&results);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("**guard-cookies-rings** at 1000000 SYN/s (50.0%) was limited by the machine"));
    }
}
