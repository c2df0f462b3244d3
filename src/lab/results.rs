//! What a lab run measures, shared by the real lab (namespaces), the simulation (`--sim`), the terminal table,
//! `results.json`, `report.md` and the charts. One [`Trial`] is one scenario at one attack rate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One trial: a scenario under one flood rate, with the legitimate prober running throughout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trial {
    /// `none`, `kernel-cookies`, `kernel-tuned`, `guard-limit`, `guard-cookies`, `guard-auto`.
    pub scenario: String,
    /// The flood rate asked for, SYN/s (0: no attack).
    pub rate_requested: u64,
    /// The flood rate the generator reached, SYN/s.
    pub rate_achieved: f64,
    /// Length of the trial, seconds.
    pub duration_s: f64,
    /// Legitimate sessions tried, and those that completed the seed's protocol within their timeout.
    pub sessions: u64,
    pub successes: u64,
    /// successes / sessions (1.0 when no session was tried).
    pub success_ratio: f64,
    /// Connect latency of the successful sessions, milliseconds.
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    /// How long a legitimate session had (the prober's `--timeout`), seconds; 0 where not recorded (results
    /// written before this field).
    #[serde(default)]
    pub session_timeout_s: f64,
    /// Client patience: how many sessions completed within each patience, `(seconds, sessions)` in rising order,
    /// e.g. `[(1.0, n1), (3.0, n3), (7.0, n7)]`. A real client's connect retransmits its SYN at 1 s and 3 s
    /// (the kernel's initial RTO of 1 s, doubled per retry: RFC 6298 section 2 and 5.5), so 1 s of patience sees
    /// no retransmission, 3 s one and 7 s two. The last entry is the headline and equals `successes`. Empty in
    /// results written before this field.
    #[serde(default)]
    pub successes_within: Vec<(f64, u64)>,
    /// Failed sessions by cause: refused, timeout, reset, protocol, other.
    pub failures: BTreeMap<String, u64>,
    /// The listener's SYN-RECV count over the trial: (seconds since the trial started, count).
    pub syn_recv: Vec<(f64, u64)>,
    /// The server namespace's listen counters over the trial (TcpExtSyncookiesSent, ListenDrops, ...).
    pub kernel_counters: BTreeMap<String, u64>,
    /// The guard's final statistics, for guard scenarios.
    pub guard_stats: Option<serde_json::Value>,
    /// CPU seconds the guard used during the trial.
    pub guard_cpu_s: Option<f64>,
    /// CPU seconds the whole machine spent in softirq during the trial: the kernel's packet work, where the XDP
    /// fast path's answers and the kernel's own cookies are. `None` where it was not measured (the simulation).
    #[serde(default)]
    pub softirq_cpu_s: Option<f64>,
    /// The attacker went as fast as it could (`max`): the trial the performance goal speaks of.
    #[serde(default)]
    pub top_speed: bool,
    /// A legitimate bulk transfer's rate through the gateway in the trial's last moments, while the flood still
    /// ran (`connect --bulk` to the listener's discard service, a port the guard bridges without proxying):
    /// what the defence leaves for other traffic. `None` where it was not measured (the simulation).
    #[serde(default)]
    pub bulk_gbit_per_s: Option<f64>,
}

impl Trial {
    /// The p99 connect latency of every session tried, a failed session counted at its timeout, so that a defence
    /// that lets most sessions fail is not drawn as a fast one (the successes' own p99 can read 2 ms at 3%
    /// success). With 1% or more failed it is the timeout itself, exactly; below that it is the successes' p99, a
    /// lower bound (the true value is the successes' (99 / (100 - failed%))th percentile). `None` when no session
    /// was tried, or some failed and the timeout was not recorded.
    pub fn latency_p99_counting_failures_ms(&self) -> Option<f64> {
        if self.sessions == 0 {
            return None;
        }
        let failed = self.sessions.saturating_sub(self.successes);
        if failed * 100 >= self.sessions {
            return (self.session_timeout_s > 0.0).then_some(self.session_timeout_s * 1e3);
        }
        Some(self.latency_p99_ms)
    }

    /// The highest SYN-RECV count sampled.
    pub fn syn_recv_peak(&self) -> u64 {
        self.syn_recv.iter().map(|&(_, n)| n).max().unwrap_or(0)
    }
}

/// A whole run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LabResults {
    /// `namespaces` for the real lab, `simulation` for `--sim`.
    pub kind: String,
    /// The simulation's seed (the real lab records 0).
    pub seed: u64,
    pub scenarios: Vec<String>,
    /// Rates in the order they were tried, SYN/s.
    pub rates: Vec<u64>,
    /// The attacker: `synscope`, `hping3`, or `simulated`.
    pub attacker: String,
    pub trials: Vec<Trial>,
    /// Free-form notes the report prints under the table (calibration, skipped scenarios).
    pub notes: Vec<String>,
    /// CPUs the machine had (`available_parallelism`), for the machine-limited verdicts (`lab::verdict`); 0 where
    /// not recorded (the simulation, and runs before this field).
    #[serde(default)]
    pub cpus: u32,
    /// synscope's generator against hping3's in this run's topology, when hping3 is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generators: Option<GeneratorComparison>,
}

impl LabResults {
    /// The trials of one scenario, in rate order.
    pub fn scenario_trials<'a>(&'a self, scenario: &'a str) -> impl Iterator<Item = &'a Trial> + 'a {
        self.trials.iter().filter(move |t| t.scenario == scenario)
    }
}

/// `results.json`: a run, and the address family it ran over. The family sits beside [`LabResults`] rather than in it
/// so that every producer of `LabResults` (the simulation among them) stays as it is; `ip_version` defaults to 4,
/// which every run before `lab --ipv6` was, and a simulation is recorded as 4 too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultsFile {
    /// 4 or 6.
    #[serde(default = "ipv4")]
    pub ip_version: u8,
    #[serde(flatten)]
    pub results: LabResults,
}

fn ipv4() -> u8 {
    4
}

/// How the real lab's note on an IPv6 run begins: the report, which sees `LabResults` alone, reads the family there
/// (for its "How to reproduce").
pub const IPV6_NOTE: &str = "address family: IPv6";

impl LabResults {
    /// Whether the run went over IPv6, as its note says.
    pub fn over_ipv6(&self) -> bool {
        self.notes.iter().any(|n| n.starts_with(IPV6_NOTE))
    }
}

/// Both generators' rates into the same sink in the same run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorComparison {
    pub seconds: f64,
    /// Frames per second that arrived from `synscope flood` (one thread, the default).
    pub synscope_pps: f64,
    /// Frames per second that arrived from `hping3 --flood -S --rand-source`.
    pub hping3_pps: f64,
}

impl GeneratorComparison {
    pub fn ratio(&self) -> f64 {
        if self.hping3_pps > 0.0 { self.synscope_pps / self.hping3_pps } else { 0.0 }
    }
}

/// A success ratio as a percentage with one decimal, rounded down: 99.96% of sessions is not "100.0%".
pub(crate) fn percent(ratio: f64) -> String {
    if !ratio.is_finite() {
        return "-".into();
    }
    if ratio >= 1.0 {
        return "100.0".into();
    }
    format!("{:.1}", ((ratio * 1000.0).floor() / 10.0).clamp(0.0, 99.9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_family_defaults_to_ipv4_and_round_trips() {
        let old = r#"{"kind": "namespaces", "seed": 0, "scenarios": [], "rates": [], "attacker": "synscope",
                      "trials": [], "notes": []}"#;
        let file: ResultsFile = serde_json::from_str(old).unwrap();
        assert_eq!(file.ip_version, 4);
        assert_eq!(file.results.kind, "namespaces");
        let v6 =
            ResultsFile { ip_version: 6, results: LabResults { kind: "namespaces".into(), ..LabResults::default() } };
        let text = serde_json::to_string(&v6).unwrap();
        assert!(text.starts_with(r#"{"ip_version":6,"kind":"namespaces""#), "{text}");
        assert_eq!(serde_json::from_str::<ResultsFile>(&text).unwrap(), v6);
        // A results.json with the field still reads as plain LabResults, as `--replot` of any run does.
        assert_eq!(serde_json::from_str::<LabResults>(&text).unwrap(), v6.results);
    }

    #[test]
    fn the_committed_run_counts_every_session_by_patience() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/lab/results.json");
        let file: ResultsFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(file.results.trials.len(), 28);
        for t in &file.results.trials {
            assert_eq!(t.session_timeout_s, 7.0, "{}", t.scenario);
            let levels: Vec<f64> = t.successes_within.iter().map(|&(s, _)| s).collect();
            assert_eq!(levels, [1.0, 3.0, 7.0], "{}", t.scenario);
            let counts: Vec<u64> = t.successes_within.iter().map(|&(_, n)| n).collect();
            assert!(counts.windows(2).all(|w| w[0] <= w[1]) && counts[2] == t.successes, "{}", t.scenario);
        }
    }

    #[test]
    fn the_previous_committed_run_loads_as_a_results_file() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/lab/calibration/previous-run/results.json");
        let file: ResultsFile = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(file.ip_version, 4);
        assert!(!file.results.trials.is_empty());
        assert!(file.results.trials.iter().all(|t| t.successes_within.is_empty() && t.session_timeout_s == 1.0));
    }
}
