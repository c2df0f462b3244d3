//! Client patience in the report: how many legitimate sessions completed within 1 s, 3 s and 7 s
//! ([`Trial::successes_within`]), 7 s being the headline `success`. A client's kernel sends its SYN at 0 and,
//! unanswered, again at 1 s and 3 s (initial RTO 1 s, doubled per retry: RFC 6298 sections 2.1 and 5.5), so the
//! three levels are a client that never sees a retransmission answered, one that sees one, and one that sees two.
//!
//! Results written before the field have no levels and a 1 s timeout: their `success` is then the 1 s figure, and
//! the report says so instead of inventing the others.

use super::results::{LabResults, Trial, percent};

/// Patience levels the table shows beside the headline, seconds.
pub const SHOWN: [f64; 2] = [1.0, 3.0];

/// Sessions of `t` that completed within `seconds`: the recorded level, or every success when `seconds` is the
/// session timeout (the headline, in results written before the levels were).
pub fn within(t: &Trial, seconds: f64) -> Option<u64> {
    let same = |a: f64| (a - seconds).abs() < 1e-6;
    t.successes_within
        .iter()
        .find(|&&(level, _)| same(level))
        .map(|&(_, n)| n)
        .or_else(|| same(t.session_timeout_s).then_some(t.successes))
}

/// `within` as a share of the sessions tried.
pub fn ratio_within(t: &Trial, seconds: f64) -> Option<f64> {
    let n = within(t, seconds)?;
    Some(if t.sessions == 0 { 1.0 } else { n as f64 / t.sessions as f64 })
}

/// A table cell: "87.5%", or "-" where the level was not measured.
pub fn cell(t: &Trial, seconds: f64) -> String {
    ratio_within(t, seconds).map_or("-".into(), |r| format!("{}%", percent(r)))
}

/// Whether any trial recorded the patience levels (runs from before them did not).
pub fn recorded(results: &LabResults) -> bool {
    results.trials.iter().any(|t| !t.successes_within.is_empty())
}

/// The session timeout every trial shared, seconds; `None` when none was recorded or the trials differed.
pub fn session_timeout(results: &LabResults) -> Option<f64> {
    let mut timeouts = results.trials.iter().map(|t| t.session_timeout_s).filter(|s| *s > 0.0);
    let first = timeouts.next()?;
    timeouts.all(|s| (s - first).abs() < 1e-6).then_some(first)
}

/// "7 s", "1 s", "0.5 s".
pub fn seconds(s: f64) -> String {
    if s.fract() == 0.0 { format!("{s:.0} s") } else { format!("{s} s") }
}

/// The sentence under the table: what `success` counts, and what the patience columns are.
pub fn explanation(results: &LabResults) -> String {
    let timeout = session_timeout(results);
    if recorded(results) {
        let headline = timeout.map_or("the session timeout".to_string(), seconds);
        return format!(
            "Success counts legitimate sessions that completed the echo protocol within a real client's patience, \
             {headline} (the headline, and what the success chart draws); \"in 1 s\" and \"in 3 s\" count those \
             done sooner. The clients' kernels send the SYN again at 1 s and 3 s (RFC 6298), so 1 s of patience \
             never sees a retransmission answered, 3 s sees one and 7 s two. Latencies are connect times of the \
             sessions that completed."
        );
    }
    let within = timeout.map_or("within their timeout".to_string(), |t| format!("within their {} timeout", seconds(t)));
    format!(
        "Success counts legitimate sessions that completed the echo protocol {within}; latencies are connect times \
         of those that did. This run did not record the 1/3/7 s patience levels (runs before them did not): its \
         success is the {} figure.",
        timeout.map_or("timeout's".to_string(), seconds)
    )
}

/// "Client patience under each scenario's highest flood (completed within 1 s / 3 s / 7 s): none 0.0 / 41.5 /
/// 62.0% at 30000 SYN/s, kernel-cookies 100.0 / 100.0 / 100.0% at 30000 SYN/s." Each scenario at its own highest
/// rate, since `max` differs between them. `None` without recorded levels or without an attack.
pub fn finding(results: &LabResults) -> Option<String> {
    // Scenarios in the order the run tried them.
    let mut names: Vec<&str> = Vec::new();
    for t in &results.trials {
        if !names.contains(&t.scenario.as_str()) {
            names.push(&t.scenario);
        }
    }
    let tops: Vec<&Trial> = names
        .into_iter()
        .filter_map(|s| {
            results.scenario_trials(s).filter(|t| !t.successes_within.is_empty()).max_by_key(|t| t.rate_requested)
        })
        .filter(|t| t.rate_requested > 0)
        .collect();
    let levels: Vec<f64> = tops.first()?.successes_within.iter().map(|&(s, _)| s).collect();
    let parts: Vec<String> = tops
        .iter()
        .map(|t| {
            let ratios: Vec<String> = levels.iter().map(|&s| ratio_within(t, s).map_or("-".into(), percent)).collect();
            format!("{} {}% at {} SYN/s", t.scenario, ratios.join(" / "), t.rate_requested)
        })
        .collect();
    let names: Vec<String> = levels.iter().map(|&s| seconds(s)).collect();
    Some(format!(
        "Client patience under each scenario's highest flood (completed within {}): {}.",
        names.join(" / "),
        parts.join(", ")
    ))
}

/// How other clients would fare, from what they are known to wait. Only said when the levels were measured.
pub fn other_clients(results: &LabResults) -> Option<String> {
    recorded(results).then(|| {
        "Most real clients wait longer than 7 s: Linux's own connect gives up only after about two minutes \
         (`tcp_syn_retries` 6: 127 s with the SYNs at 0, 1, 3, 7, 15, 31 and 63 s, 131 s with Linux 6.5's linear \
         first retries; Documentation/networking/ip-sysctl.rst), and curl's connect timeout defaults to 300 s (CURLOPT_CONNECTTIMEOUT); browsers also connect through the \
         operating system, under timeouts of their own. Such a client fares at least as well as the 7 s figure; a \
         person who reloads after a second or three is the 1 s or 3 s figure."
            .to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(scenario: &str, rate: u64, within: &[(f64, u64)]) -> Trial {
        let successes = within.last().map_or(0, |&(_, n)| n);
        Trial {
            scenario: scenario.into(),
            rate_requested: rate,
            sessions: 200,
            successes,
            success_ratio: successes as f64 / 200.0,
            session_timeout_s: 7.0,
            successes_within: within.to_vec(),
            ..Trial::default()
        }
    }

    fn run(trials: Vec<Trial>) -> LabResults {
        LabResults { trials, ..LabResults::default() }
    }

    #[test]
    fn levels_are_read_as_recorded_and_the_headline_is_the_timeout() {
        let t = trial("none", 30000, &[(1.0, 10), (3.0, 90), (7.0, 150)]);
        assert_eq!(within(&t, 1.0), Some(10));
        assert_eq!(within(&t, 3.0), Some(90));
        assert_eq!(within(&t, 7.0), Some(t.successes));
        assert_eq!(within(&t, 2.0), None);
        assert_eq!(ratio_within(&t, 3.0), Some(0.45));
        assert_eq!(cell(&t, 1.0), "5.0%");
        assert_eq!(cell(&t, 2.0), "-");
    }

    #[test]
    fn old_results_have_only_their_timeouts_figure() {
        let old =
            Trial { sessions: 100, successes: 40, success_ratio: 0.4, session_timeout_s: 1.0, ..Trial::default() };
        assert_eq!(within(&old, 1.0), Some(40), "the 1 s timeout's success is the 1 s figure");
        assert_eq!(within(&old, 3.0), None);
        assert_eq!(cell(&old, 3.0), "-");
        let results = run(vec![old]);
        assert!(!recorded(&results));
        assert_eq!(finding(&results), None);
        assert_eq!(other_clients(&results), None);
        let text = explanation(&results);
        assert!(text.contains("within their 1 s timeout") && text.contains("did not record"), "{text}");
    }

    #[test]
    fn the_finding_gives_every_level_of_every_scenario_at_its_highest_rate() {
        let results = run(vec![
            trial("none", 0, &[(1.0, 200), (3.0, 200), (7.0, 200)]),
            trial("none", 30000, &[(1.0, 0), (3.0, 83), (7.0, 124)]),
            trial("kernel-cookies", 30000, &[(1.0, 199), (3.0, 199), (7.0, 199)]),
            // `max` differs by scenario: each is read at its own highest rate.
            trial("kernel-cookies", 60000, &[(1.0, 200), (3.0, 200), (7.0, 200)]),
        ]);
        assert_eq!(
            finding(&results).unwrap(),
            "Client patience under each scenario's highest flood (completed within 1 s / 3 s / 7 s): \
             none 0.0 / 41.5 / 62.0% at 30000 SYN/s, kernel-cookies 100.0 / 100.0 / 100.0% at 60000 SYN/s."
        );
        assert_eq!(session_timeout(&results), Some(7.0));
        let text = explanation(&results);
        assert!(text.contains("patience, 7 s (the headline"), "{text}");
        assert!(other_clients(&results).unwrap().contains("127 s"));
        // Without an attack there is no patience to speak of.
        assert_eq!(finding(&run(vec![trial("none", 0, &[(1.0, 200), (7.0, 200)])])), None);
    }

    #[test]
    fn differing_timeouts_have_no_common_one() {
        let mut other = trial("none", 0, &[]);
        other.session_timeout_s = 1.0;
        assert_eq!(session_timeout(&run(vec![trial("none", 0, &[]), other])), None);
        assert_eq!(session_timeout(&run(vec![])), None);
        assert_eq!(seconds(7.0), "7 s");
        assert_eq!(seconds(0.5), "0.5 s");
    }
}
