//! From what a trial saw to the [`Trial`] the real lab reports: the same fields, computed as `lab/trial.rs`
//! computes them from the prober's report (`listener::prober`: nearest-rank percentiles of the connect time of
//! every session that connected, failures by cause) and the flood's (SYNs sent over the flood's duration).

use std::collections::BTreeMap;

use super::client::Failure;
use super::world::Observed;
use crate::lab::results::Trial;
use crate::listener::prober::nearest_rank;
use crate::time::Duration;

/// The prober's failure keys (`listener::prober`'s JSON names), every one present even at zero.
pub const FAILURE_KEYS: [&str; 5] = ["other", "protocol_mismatch", "refused", "reset", "timeout"];

pub fn trial(scenario: &str, rate: u64, duration: Duration, session_timeout: Duration, observed: Observed) -> Trial {
    let mut failures: BTreeMap<String, u64> = FAILURE_KEYS.iter().map(|k| (k.to_string(), 0)).collect();
    let mut latencies = Vec::new();
    let mut successes = 0;
    let patiences = patiences(session_timeout);
    let mut within = vec![0u64; patiences.len()];
    for outcome in &observed.outcomes {
        // The prober reports the connect time of every session that connected, failed later or not.
        if let Some(connect) = outcome.and_then(|o| o.connect) {
            latencies.push(std::time::Duration::from_nanos(connect.as_nanos()));
        }
        let cause = match outcome.map(|o| o.failure) {
            Some(None) => {
                successes += 1;
                let took = outcome.and_then(|o| o.completed).map_or(f64::INFINITY, |d| d.as_secs_f64());
                for (count, &patience) in within.iter_mut().zip(&patiences) {
                    // The last patience is the session's whole budget: every success counts there.
                    if took <= patience || patience == session_timeout.as_secs_f64() {
                        *count += 1;
                    }
                }
                continue;
            }
            Some(Some(Failure::Refused)) => "refused",
            Some(Some(Failure::Reset)) => "reset",
            // A session still running when the trial ended has outlived its timeout (cannot happen: the trial
            // runs until the last session's deadline).
            Some(Some(Failure::Timeout)) | None => "timeout",
        };
        *failures.entry(cause.to_string()).or_default() += 1;
    }
    latencies.sort_unstable();
    let ms = |p: f64| {
        if latencies.is_empty() { 0.0 } else { round_us(nearest_rank(&latencies, p).as_secs_f64() * 1e3) }
    };
    let sessions = observed.outcomes.len() as u64;
    let seconds = duration.as_secs_f64();
    Trial {
        scenario: scenario.to_string(),
        rate_requested: rate,
        rate_achieved: if seconds > 0.0 { (observed.attack_syns as f64 / seconds).round() } else { 0.0 },
        duration_s: seconds,
        sessions,
        successes,
        success_ratio: if sessions == 0 { 1.0 } else { successes as f64 / sessions as f64 },
        latency_p50_ms: ms(50.0),
        latency_p99_ms: ms(99.0),
        session_timeout_s: session_timeout.as_secs_f64(),
        successes_within: patiences.iter().copied().zip(within).collect(),
        failures,
        syn_recv: observed.syn_recv,
        kernel_counters: observed.counters.entries().iter().map(|&(name, value)| (name.to_string(), value)).collect(),
        guard_stats: observed.guard.and_then(|stats| serde_json::to_value(stats).ok()).map(|mut stats| {
            // The real guard's JSON adds its rings' drops (`cmd/guard/`), which `lab::verdict` reads.
            if let (Some(map), Some(thread)) = (stats.as_object_mut(), observed.guard_thread) {
                let [outside, inside, outside_syns] = thread.ring_drops;
                map.insert(
                    "ring_drops".into(),
                    serde_json::json!({"outside": outside, "inside": inside, "outside_syns": outside_syns}),
                );
                map.insert("threads".into(), 1.into());
            }
            stats
        }),
        guard_cpu_s: observed.guard_thread.map(|t| round_us(t.busy.as_secs_f64() * 1e3) / 1e3),
        softirq_cpu_s: None,
        // The simulated attacker sends exactly the rate asked: it has no top speed.
        top_speed: false,
        bulk_gbit_per_s: None,
    }
}

/// The patiences `successes_within` reports for a session budget of `timeout`: a connect's SYN goes out at 0, 1
/// and 3 s (RFC 6298's 1 s initial RTO, doubled), so 1 s sees the first SYN only, 3 s one retransmission and 7 s
/// two; those shorter than the budget, then the budget itself.
pub fn patiences(timeout: Duration) -> Vec<f64> {
    let budget = timeout.as_secs_f64();
    let mut levels: Vec<f64> = [1.0, 3.0, 7.0].into_iter().filter(|&p| p < budget).collect();
    levels.push(budget);
    levels
}

/// Milliseconds to the microsecond, so JSON shows `0.12`, not `0.12000000000000001`.
fn round_us(ms: f64) -> f64 {
    (ms * 1e3).round() / 1e3
}
