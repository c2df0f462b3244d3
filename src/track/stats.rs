//! Tracker counters for the summary, and a bounded histogram for handshake round trips.

use crate::time::Duration;

/// Log-scale buckets 2% wide from 1 µs to beyond 100 s: 8 KiB however many handshakes are measured, and quantiles
/// within 2% of the true value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RttHistogram {
    buckets: Vec<u64>,
    count: u64,
}

const GROWTH: f64 = 1.02;
const BUCKETS: usize = 1024;

impl Default for RttHistogram {
    fn default() -> Self {
        RttHistogram { buckets: vec![0; BUCKETS], count: 0 }
    }
}

impl RttHistogram {
    fn bucket(micros: f64) -> usize {
        if micros <= 1.0 { 0 } else { ((micros.ln() / GROWTH.ln()) as usize + 1).min(BUCKETS - 1) }
    }

    pub fn record(&mut self, d: Duration) {
        let micros = d.as_nanos() as f64 / 1e3;
        self.buckets[Self::bucket(micros)] += 1;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at quantile `q` (0..=1), as the geometric middle of its bucket.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let micros = if i == 0 { 1.0 } else { GROWTH.powf(i as f64 - 0.5) };
                return Some(Duration::from_nanos((micros * 1e3) as u64));
            }
        }
        None
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerStats {
    pub connections: u64,
    pub attempts: u64,
    pub handshakes_completed: u64,
    pub refused: u64,
    pub resets: u64,
    pub retransmissions: u64,
    pub half_open_timeouts: u64,
    pub still_half_open: u64,
    pub port_reuses: u64,
    pub rtt: RttHistogram,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_two_percent() {
        let mut h = RttHistogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let median = h.quantile(0.5).unwrap().as_nanos() as f64 / 1e3;
        let p99 = h.quantile(0.99).unwrap().as_nanos() as f64 / 1e3;
        assert!((median - 500.0).abs() / 500.0 < 0.02, "median {median}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.02, "p99 {p99}");
        assert_eq!(RttHistogram::default().quantile(0.5), None);
    }
}
