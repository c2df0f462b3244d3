//! The two performance goals, checked against a run's own numbers for the report: the guard's SYN proxy
//! keeps at least 99.9% of legitimate sessions at the attacker's top speed, and our generator sends at least three
//! times hping3's rate. A goal the run did not measure is not mentioned.

use super::results::{LabResults, Trial, percent};

/// Legitimate success the guard's SYN proxy must keep at the attacker's top speed.
pub const GUARD_GOAL: f64 = 0.999;
/// How many times hping3's rate our generator must reach.
pub const GENERATOR_GOAL: f64 = 3.0;

/// One sentence per goal measured.
pub fn goals(results: &LabResults) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(g) = &results.generators {
        out.push(format!(
            "Generator: `synscope flood` (one thread) delivered {:.0} SYN/s and `hping3 --flood` {:.0} SYN/s into the \
             same link-layer sink, {:.0} s each: {:.2}× (goal ≥{GENERATOR_GOAL:.0}×: {}).",
            g.synscope_pps,
            g.hping3_pps,
            g.seconds,
            g.ratio(),
            verdict(g.ratio() >= GENERATOR_GOAL)
        ));
    }
    if let Some(top) = results.trials.iter().find(|t| t.scenario == "guard-cookies" && t.top_speed) {
        out.push(guard_sentence(top));
    }
    out
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "not met" }
}

fn guard_sentence(t: &Trial) -> String {
    let mut sentence = format!(
        "Guard: `guard-cookies` kept {}% of legitimate sessions at the attacker's top speed, {:.0} SYN/s (goal \
         ≥{:.1}%: {})",
        percent(t.success_ratio),
        t.rate_achieved,
        GUARD_GOAL * 100.0,
        verdict(t.success_ratio >= GUARD_GOAL)
    );
    let stats = t.guard_stats.as_ref();
    let rings = stats.and_then(|s| s["synacks_sent"].as_u64());
    let xdp = stats.and_then(|s| s["fast_path"]["xdp"]["synacks_sent"].as_u64());
    let unread = stats.and_then(|s| s["ring_drops"]["outside_syns"].as_u64());
    if let (Some(rings), Some(unread)) = (rings, unread) {
        let seconds = t.duration_s.max(1e-9);
        let synacks = rings + xdp.unwrap_or(0);
        sentence.push_str(&format!(". It answered {:.0} SYN/s", synacks as f64 / seconds));
        if xdp.is_some_and(|x| x > 0) {
            sentence.push_str(&format!(
                " ({:.0} of them in its XDP program, {:.0} from its rings)",
                xdp.unwrap_or(0) as f64 / seconds,
                rings as f64 / seconds
            ));
        }
        if unread == 0 {
            sentence.push_str(", and its ring of SYNs never overflowed");
        } else {
            sentence.push_str(&format!(
                "; the kernel dropped {:.0} SYN/s that arrived while its ring of SYNs was full, and a legitimate SYN \
                 among them is a session lost",
                unread as f64 / seconds
            ));
        }
    }
    sentence.push('.');
    sentence
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::results::GeneratorComparison;

    fn guard_trial(top_speed: bool, successes: u64) -> Trial {
        Trial {
            scenario: "guard-cookies".into(),
            rate_requested: 500_000,
            rate_achieved: 500_000.0,
            duration_s: 10.0,
            sessions: 1000,
            successes,
            success_ratio: successes as f64 / 1000.0,
            guard_stats: Some(serde_json::json!({"synacks_sent": 4_500_000, "ring_drops": {"outside_syns": 500_000}})),
            top_speed,
            bulk_gbit_per_s: None,
            ..Trial::default()
        }
    }

    #[test]
    fn each_goal_is_judged_on_the_runs_own_numbers() {
        let mut results = LabResults { trials: vec![guard_trial(true, 999)], ..LabResults::default() };
        results.generators = Some(GeneratorComparison { seconds: 3.0, synscope_pps: 900_000.0, hping3_pps: 200_000.0 });
        let lines = goals(&results);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("4.50×") && lines[0].contains("goal ≥3×: met"), "{}", lines[0]);
        assert!(lines[1].contains("99.9%") && lines[1].ends_with('.'), "{}", lines[1]);
        assert!(lines[1].contains("goal ≥99.9%: met"), "{}", lines[1]);
        assert!(lines[1].contains("answered 450000 SYN/s") && lines[1].contains("dropped 50000 SYN/s"), "{}", lines[1]);

        results.trials = vec![guard_trial(true, 998)];
        results.generators = Some(GeneratorComparison { seconds: 3.0, synscope_pps: 590_000.0, hping3_pps: 200_000.0 });
        let lines = goals(&results);
        assert!(lines[0].contains("2.95×") && lines[0].contains("not met"), "{}", lines[0]);
        assert!(lines[1].contains("99.8%") && lines[1].contains("not met"), "{}", lines[1]);
    }

    #[test]
    fn goals_not_measured_are_not_mentioned() {
        let results = LabResults { trials: vec![guard_trial(false, 1000)], ..LabResults::default() };
        assert!(goals(&results).is_empty());
    }

    #[test]
    fn a_ring_that_never_overflowed_is_said_so() {
        let mut trial = guard_trial(true, 1000);
        trial.guard_stats = Some(serde_json::json!({"synacks_sent": 5_000_000, "ring_drops": {"outside_syns": 0}}));
        let results = LabResults { trials: vec![trial], ..LabResults::default() };
        let line = &goals(&results)[0];
        assert!(line.contains("100.0%") && line.contains("goal ≥99.9%: met"), "{line}");
        assert!(line.ends_with("answered 500000 SYN/s, and its ring of SYNs never overflowed."), "{line}");
    }

    #[test]
    fn answers_from_the_xdp_program_count_with_the_rings() {
        let mut trial = guard_trial(true, 1000);
        trial.guard_stats = Some(serde_json::json!({
            "synacks_sent": 10,
            "ring_drops": {"outside_syns": 0},
            "fast_path": {"xdp": {"synacks_sent": 9_999_990}}
        }));
        let results = LabResults { trials: vec![trial], ..LabResults::default() };
        let line = &goals(&results)[0];
        assert!(
            line.contains("answered 1000000 SYN/s (999999 of them in its XDP program, 1 from its rings)"),
            "{line}"
        );
    }
}
