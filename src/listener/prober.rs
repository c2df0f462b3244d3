//! The load prober: many seed-protocol sessions, `concurrency` at a time, each bounded by one timeout for connect and
//! exchange together. It measures what a legitimate client sees: how many sessions succeed, how long connect takes,
//! and why the others failed. Threads, not async: K is small (tens), and a blocking session reads like the seed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;

use super::client::{Budget, Cause, SessionError, TcpClient};
use super::{GREETING, hello};

#[derive(Clone, Debug)]
pub struct ProbeConfig {
    pub addr: SocketAddr,
    pub count: u64,
    pub concurrency: usize,
    pub timeout: Duration,
    pub messages: Vec<Vec<u8>>,
    /// Sessions started per second; unpaced (as fast as the workers go) when `None`.
    pub rate: Option<f64>,
}

/// What one session saw.
#[derive(Debug)]
pub struct Outcome {
    /// Set when connect succeeded, even if the exchange failed later.
    pub connect_latency: Option<Duration>,
    pub failure: Option<Cause>,
    /// From the session's start (its connect) to its end, success or failure: how patient a client had to be.
    pub elapsed: Duration,
}

/// Client patience levels the report counts successes within, seconds. A client's kernel sends its SYN at 0 and,
/// unanswered, again at 1 s and 3 s (initial RTO 1 s, doubled per retry: RFC 6298 sections 2.1 and 5.5), so a
/// client that waits 1 s never sees a retransmission answered, 3 s sees one, 7 s two.
pub const PATIENCE_S: [f64; 3] = [1.0, 3.0, 7.0];

/// One full session, checked byte for byte: greeting, each reply, then `exit`.
pub fn session(addr: SocketAddr, messages: &[Vec<u8>], timeout: Duration) -> Outcome {
    let started = std::time::Instant::now();
    let budget = Budget::session(timeout);
    let (mut client, latency) = match TcpClient::connect(addr, budget) {
        Ok(connected) => connected,
        Err(err) => return Outcome { connect_latency: None, failure: Some(err.cause), elapsed: started.elapsed() },
    };
    let exchange = || -> Result<(), SessionError> {
        let greeting = client.recv("greeting")?;
        expect(&greeting, GREETING)?;
        for message in messages {
            expect(&client.exchange(message)?, &hello(message))?;
        }
        client.finish()
    };
    let failure = exchange().err().map(|e| e.cause);
    Outcome { connect_latency: Some(latency), failure, elapsed: started.elapsed() }
}

fn expect(got: &[u8], want: &[u8]) -> Result<(), SessionError> {
    if got == want {
        Ok(())
    } else {
        Err(SessionError::mismatch(format!(
            "expected '{}', got '{}'",
            String::from_utf8_lossy(want),
            String::from_utf8_lossy(got)
        )))
    }
}

/// Runs `count` sessions on `concurrency` threads and collects the report.
pub fn run(config: &ProbeConfig) -> Report {
    let next = AtomicU64::new(0);
    let outcomes = Mutex::new(Vec::with_capacity(usize::try_from(config.count).unwrap_or(0).min(1 << 20)));
    let workers = config.concurrency.max(1).min(usize::try_from(config.count).unwrap_or(usize::MAX));
    let started = std::time::Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let ticket = next.fetch_add(1, Ordering::Relaxed);
                    if ticket >= config.count {
                        break;
                    }
                    // Paced: session N starts N/rate seconds in, like clients arriving at a steady rate, so a
                    // slow session delays no other (as long as K workers suffice).
                    if let Some(rate) = config.rate.filter(|r| *r > 0.0) {
                        let due = started + Duration::from_secs_f64(ticket as f64 / rate);
                        std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
                    }
                    let outcome = session(config.addr, &config.messages, config.timeout);
                    outcomes.lock().unwrap_or_else(PoisonError::into_inner).push(outcome);
                }
            });
        }
    });
    let mut report = Report::from_outcomes(config, &outcomes.into_inner().unwrap_or_else(PoisonError::into_inner));
    report.set_elapsed(started.elapsed());
    report
}

/// Connect latency percentiles, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub target: String,
    pub sessions: u64,
    pub concurrency: usize,
    pub timeout_ms: f64,
    pub succeeded: u64,
    pub success_ratio: f64,
    /// Sessions that succeeded within each client patience, `(seconds, sessions)` rising: every level of
    /// [`PATIENCE_S`] shorter than the timeout, then the timeout itself (which counts every success).
    pub succeeded_within: Vec<(f64, u64)>,
    /// `None` when no connect succeeded.
    pub connect_ms: Option<Latency>,
    /// Every cause, zero included, so a reader (or `jq`) never has to guess whether a key is missing.
    pub failures: BTreeMap<&'static str, u64>,
    /// From the first session's start to the last one's end, and the sessions completed per second over it: the
    /// connection-setup rate a target sustains when the prober runs unpaced.
    pub elapsed_s: f64,
    pub sessions_per_s: f64,
}

impl Report {
    pub fn from_outcomes(config: &ProbeConfig, outcomes: &[Outcome]) -> Report {
        let mut failures: BTreeMap<&'static str, u64> = Cause::ALL.iter().map(|c| (key(*c), 0)).collect();
        for cause in outcomes.iter().filter_map(|o| o.failure) {
            *failures.entry(key(cause)).or_default() += 1;
        }
        let sessions = outcomes.len() as u64;
        let succeeded = outcomes.iter().filter(|o| o.failure.is_none()).count() as u64;
        let succeeded_within = succeeded_within(outcomes, config.timeout);
        let mut latencies: Vec<Duration> = outcomes.iter().filter_map(|o| o.connect_latency).collect();
        latencies.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let connect_ms = latencies.last().map(|max| Latency {
            p50: ms(nearest_rank(&latencies, 50.0)),
            p99: ms(nearest_rank(&latencies, 99.0)),
            max: ms(*max),
        });
        Report {
            target: config.addr.to_string(),
            sessions,
            concurrency: config.concurrency,
            timeout_ms: ms(config.timeout),
            succeeded,
            success_ratio: if sessions == 0 { 0.0 } else { succeeded as f64 / sessions as f64 },
            succeeded_within,
            connect_ms,
            failures,
            elapsed_s: 0.0,
            sessions_per_s: 0.0,
        }
    }

    pub fn set_elapsed(&mut self, elapsed: Duration) {
        self.elapsed_s = elapsed.as_secs_f64();
        self.sessions_per_s = if self.elapsed_s > 0.0 { self.sessions as f64 / self.elapsed_s } else { 0.0 };
    }

    pub fn failed(&self) -> u64 {
        self.sessions - self.succeeded
    }

    pub fn text(&self) -> String {
        let mut out = format!(
            "probe {}: {} sessions, {} at a time, timeout {} ms\nsuccess: {}/{} ({:.1}%)\n",
            self.target,
            self.sessions,
            self.concurrency,
            self.timeout_ms,
            self.succeeded,
            self.sessions,
            self.success_ratio * 100.0
        );
        if self.succeeded_within.len() > 1 {
            let levels: Vec<String> = self.succeeded_within.iter().map(|(s, n)| format!("{s} s {n}")).collect();
            out.push_str(&format!("succeeded within: {}\n", levels.join(", ")));
        }
        match &self.connect_ms {
            Some(l) => {
                out.push_str(&format!("connect latency (ms): p50 {:.3}  p99 {:.3}  max {:.3}\n", l.p50, l.p99, l.max))
            }
            None => out.push_str("connect latency (ms): no connection was established\n"),
        }
        let causes: Vec<String> =
            Cause::ALL.iter().map(|c| format!("{} {}", c.name(), self.failures.get(key(*c)).unwrap_or(&0))).collect();
        out.push_str(&format!("failures: {}\n", causes.join(", ")));
        if self.elapsed_s > 0.0 {
            out.push_str(&format!("rate: {:.0} sessions/s over {:.3} s\n", self.sessions_per_s, self.elapsed_s));
        }
        out
    }
}

/// Successes within each patience level below `timeout`, then within `timeout` (every success: a session cannot
/// succeed past its budget, though its clock may read a hair over it).
fn succeeded_within(outcomes: &[Outcome], timeout: Duration) -> Vec<(f64, u64)> {
    let timeout_s = timeout.as_secs_f64();
    let successes = || outcomes.iter().filter(|o| o.failure.is_none());
    let mut within: Vec<(f64, u64)> = PATIENCE_S
        .iter()
        .filter(|&&patience| patience < timeout_s)
        .map(|&patience| (patience, successes().filter(|o| o.elapsed.as_secs_f64() <= patience).count() as u64))
        .collect();
    within.push((timeout_s, successes().count() as u64));
    within
}

/// JSON keys use underscores (`protocol_mismatch`), the text uses the plain name.
fn key(cause: Cause) -> &'static str {
    match cause {
        Cause::ProtocolMismatch => "protocol_mismatch",
        other => other.name(),
    }
}

/// The nearest-rank percentile of sorted, non-empty samples: the smallest sample with at least `p`% at or below it.
pub fn nearest_rank(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn config() -> ProbeConfig {
        ProbeConfig {
            addr: "127.0.0.1:9".parse().unwrap(),
            count: 4,
            concurrency: 2,
            timeout: Duration::from_secs(5),
            messages: vec![],
            rate: None,
        }
    }

    #[test]
    fn nearest_rank_picks_a_real_sample() {
        let samples: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(nearest_rank(&samples, 50.0), ms(50));
        assert_eq!(nearest_rank(&samples, 99.0), ms(99));
        assert_eq!(nearest_rank(&samples, 100.0), ms(100));
        assert_eq!(nearest_rank(&[ms(7)], 99.0), ms(7));
        assert_eq!(nearest_rank(&[ms(1), ms(2)], 0.0), ms(1));
    }

    #[test]
    fn the_report_counts_every_cause_and_latency_of_every_connect() {
        let outcomes = [
            Outcome { connect_latency: Some(ms(1)), failure: None, elapsed: ms(5) },
            Outcome { connect_latency: Some(ms(3)), failure: Some(Cause::ProtocolMismatch), elapsed: ms(6) },
            Outcome { connect_latency: None, failure: Some(Cause::Refused), elapsed: ms(1) },
            Outcome { connect_latency: Some(ms(2)), failure: None, elapsed: ms(4) },
        ];
        let report = Report::from_outcomes(&config(), &outcomes);
        assert_eq!((report.sessions, report.succeeded, report.failed()), (4, 2, 2));
        assert_eq!(report.success_ratio, 0.5);
        assert_eq!(report.connect_ms, Some(Latency { p50: 2.0, p99: 3.0, max: 3.0 }));
        assert_eq!(report.failures["refused"], 1);
        assert_eq!(report.failures["protocol_mismatch"], 1);
        assert_eq!(report.failures["timeout"], 0);
        let text = report.text();
        assert!(text.contains("success: 2/4 (50.0%)"), "{text}");
        assert!(text.contains("failures: refused 1, timeout 0, reset 0, protocol mismatch 1, other 0"), "{text}");
    }

    #[test]
    fn no_connect_at_all_has_no_latency() {
        let outcomes = [Outcome { connect_latency: None, failure: Some(Cause::Refused), elapsed: ms(1) }];
        let report = Report::from_outcomes(&config(), &outcomes);
        assert_eq!(report.connect_ms, None);
        assert!(report.text().contains("no connection was established"));
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["connect_ms"].is_null());
        assert_eq!(json["failures"]["refused"], 1);
    }

    #[test]
    fn successes_are_counted_within_each_patience_up_to_the_timeout() {
        let done = |elapsed: u64| Outcome { connect_latency: Some(ms(1)), failure: None, elapsed: ms(elapsed) };
        let outcomes = [
            done(20),
            // Answered at the first SYN retransmission (1 s), then at the second (3 s).
            done(1_004),
            done(3_010),
            // A hair over the budget: the clock read after the last step; still a success within the timeout.
            done(7_001),
            Outcome { connect_latency: None, failure: Some(Cause::Timeout), elapsed: ms(7_000) },
        ];
        let seven = ProbeConfig { timeout: Duration::from_secs(7), ..config() };
        let report = Report::from_outcomes(&seven, &outcomes);
        assert_eq!(report.succeeded_within, vec![(1.0, 1), (3.0, 2), (7.0, 4)]);
        assert_eq!(report.succeeded, 4);
        // A shorter timeout keeps only the levels below it, then itself.
        let two = ProbeConfig { timeout: Duration::from_secs(2), ..config() };
        assert_eq!(Report::from_outcomes(&two, &outcomes).succeeded_within, vec![(1.0, 1), (2.0, 4)]);
        let one = ProbeConfig { timeout: Duration::from_secs(1), ..config() };
        assert_eq!(Report::from_outcomes(&one, &outcomes).succeeded_within, vec![(1.0, 4)]);
        assert!(report.text().contains("succeeded within: 1 s 1, 3 s 2, 7 s 4\n"), "{}", report.text());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["succeeded_within"], serde_json::json!([[1.0, 1], [3.0, 2], [7.0, 4]]));
    }
}
