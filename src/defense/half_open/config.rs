//! Limits, timers and the overflow policy of the half-open table, with Linux-like defaults, and the SYN-ACK
//! retransmission schedule they imply.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::time::Duration;

/// Linux's `TCP_RTO_MAX`: the SYN-ACK backoff doubles up to this and no further (`reqsk_timer_handler`).
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// `tcp_synack_retries` is a `u8` sysctl in Linux; more retries than that are clamped.
pub const MAX_SYNACK_RETRIES: u32 = 255;
/// Slots are numbered with `u32` and one value marks "none".
pub const MAX_GLOBAL_LIMIT: usize = (u32::MAX - 1) as usize;

/// What to do with a new SYN when the table, or the client's share of it, is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Overflow {
    /// Refuse the SYN, as Linux does with `tcp_syncookies=0` (the "listen queue overflow" drop). Legitimate
    /// clients then wait for their SYN retransmission (1 s, then 2 s, ...), which is the p99 of about 1 s DESIGN.md
    /// measures.
    DropNew,
    /// Recycle the oldest half-open entry to make room (RFC 4987 §3.4): legitimate handshakes complete within an RTT,
    /// so under a flood the oldest entry is most likely an attack's. The caller RSTs the victim.
    EvictOldest,
    /// Keep no state and answer with a SYN cookie (the hybrid of RFC 4987 §3.7; Linux's default `tcp_syncookies=1`,
    /// which sends cookies only once the queue is full).
    Cookies,
}

impl Overflow {
    pub const ALL: [Overflow; 3] = [Overflow::DropNew, Overflow::EvictOldest, Overflow::Cookies];

    /// The name a user types (`--overflow drop-new`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Overflow::DropNew => "drop-new",
            Overflow::EvictOldest => "evict-oldest",
            Overflow::Cookies => "cookies",
        }
    }
}

impl fmt::Display for Overflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Overflow::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown overflow policy {0:?} (expected drop-new, evict-oldest or cookies)")]
pub struct ParseOverflowError(pub String);

impl FromStr for Overflow {
    type Err = ParseOverflowError;

    fn from_str(s: &str) -> Result<Overflow, ParseOverflowError> {
        Overflow::ALL.into_iter().find(|o| o.as_str() == s).ok_or_else(|| ParseOverflowError(s.to_owned()))
    }
}

/// A configuration the table would have to clamp to run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HalfOpenConfigError {
    #[error("the half-open global limit must be between 1 and {MAX_GLOBAL_LIMIT}, not {0}")]
    GlobalLimit(usize),
    #[error("the half-open per-source limit must be at least 1")]
    SourceLimit,
    #[error("the SYN-RECEIVED timeout must be longer than zero")]
    Timeout,
    #[error("the initial SYN-ACK RTO must be longer than zero")]
    InitialRto,
    #[error("at most {MAX_SYNACK_RETRIES} SYN-ACK retries (Linux's tcp_synack_retries is a u8), not {0}")]
    Retries(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HalfOpenConfig {
    /// Half-open entries across all clients: the backlog of RFC 4987 §3.2, Linux's `tcp_max_syn_backlog`.
    pub global_limit: usize,
    /// Half-open entries one client may hold (an IPv4 address or an IPv6 /64). Linux has no such limit; it stops
    /// one heavy source from filling the shared backlog. Behind a large NAT, raise it (`usize::MAX` disables it).
    pub per_source_limit: usize,
    /// Upper bound on an entry's lifetime, whatever the retries would allow (RFC 4987 §3.3, "reducing the
    /// SYN-RECEIVED timer").
    pub synrecv_timeout: Duration,
    /// SYN-ACK retransmissions before giving up (Linux's `tcp_synack_retries`).
    pub synack_retries: u32,
    /// Wait before the first SYN-ACK retransmission; each later wait doubles, up to [`RTO_MAX`] (Linux's
    /// `TCP_TIMEOUT_INIT` of 1 s, RFC 6298 §2.1).
    pub initial_rto: Duration,
    pub overflow: Overflow,
}

impl Default for HalfOpenConfig {
    /// Linux-like, at the scale of one small server:
    /// - 1024 entries: `tcp_max_syn_backlog` is 128 on small machines and grows with memory; 1024 is the classic
    ///   default and keeps the table in a few hundred KiB;
    /// - 16 per source: more handshakes than one host's browser opens at once (6 per origin), far fewer than a
    ///   flood needs;
    /// - 3 retries from 1 s: SYN-ACKs at 0, 1, 3 and 7 s, expiry at 15 s (1 + 2 + 4 + 8). Linux's default 5 retries
    ///   keep an entry 63 s, which RFC 4987 §3.3 notes is what lets a flood fill the backlog;
    /// - cookies on overflow, as Linux's `tcp_syncookies=1`.
    fn default() -> HalfOpenConfig {
        HalfOpenConfig {
            global_limit: 1024,
            per_source_limit: 16,
            synrecv_timeout: Duration::from_secs(15),
            synack_retries: 3,
            initial_rto: Duration::from_secs(1),
            overflow: Overflow::Cookies,
        }
    }
}

impl HalfOpenConfig {
    /// Reports what [`HalfOpenTable::new`](super::HalfOpenTable::new) would otherwise clamp silently.
    pub fn validate(&self) -> Result<(), HalfOpenConfigError> {
        if self.global_limit == 0 || self.global_limit > MAX_GLOBAL_LIMIT {
            return Err(HalfOpenConfigError::GlobalLimit(self.global_limit));
        }
        if self.per_source_limit == 0 {
            return Err(HalfOpenConfigError::SourceLimit);
        }
        if self.synrecv_timeout == Duration::ZERO {
            return Err(HalfOpenConfigError::Timeout);
        }
        if self.initial_rto == Duration::ZERO {
            return Err(HalfOpenConfigError::InitialRto);
        }
        if self.synack_retries > MAX_SYNACK_RETRIES {
            return Err(HalfOpenConfigError::Retries(self.synack_retries));
        }
        Ok(())
    }

    /// How long Linux would keep an entry with these retries: the sum of every backoff wait, the last one included
    /// (1 + 2 + 4 + 8 = 15 s for 3 retries, 63 s for Linux's 5). A natural `synrecv_timeout` when only the retries
    /// were configured.
    pub fn retry_lifetime(&self) -> Duration {
        let mut total = Duration::ZERO;
        let mut rto = self.initial_rto;
        let cap = RTO_MAX.max(self.initial_rto);
        for _ in 0..=self.synack_retries.min(MAX_SYNACK_RETRIES) {
            total = add(total, rto);
            rto = add(rto, rto).min(cap);
        }
        total
    }

    /// The limits the table actually runs with: at least one entry of each kind, at most what a `u32` slot numbers.
    pub(super) fn clamped(mut self) -> HalfOpenConfig {
        self.global_limit = self.global_limit.clamp(1, MAX_GLOBAL_LIMIT);
        self.per_source_limit = self.per_source_limit.max(1);
        self.synack_retries = self.synack_retries.min(MAX_SYNACK_RETRIES);
        self
    }
}

fn add(a: Duration, b: Duration) -> Duration {
    Duration::from_nanos(a.as_nanos().saturating_add(b.as_nanos()))
}

/// When each timer of an entry fires, counted from its creation. Every entry follows the same schedule, so the
/// entries that have made `k` retransmissions are due in creation order: one FIFO list per `k` keeps the timers
/// sorted with O(1) work (the trick of `track/table.rs`). Level `k`'s timer retransmits, except on the last level,
/// where it expires the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Schedule {
    offsets: Vec<Duration>,
}

impl Schedule {
    /// Linux's `reqsk_timer_handler`: while `num_timeout < tcp_synack_retries`, retransmit and re-arm for
    /// `min(TCP_TIMEOUT_INIT << num_timeout, TCP_RTO_MAX)`; then drop. `synrecv_timeout` cuts this short: a
    /// retransmission due at or after it is replaced by the expiry.
    pub(super) fn new(config: &HalfOpenConfig) -> Schedule {
        let timeout = config.synrecv_timeout;
        let cap = RTO_MAX.max(config.initial_rto);
        let mut offsets = Vec::new();
        let mut rto = config.initial_rto;
        let mut elapsed = Duration::ZERO;
        for k in 0..=config.synack_retries {
            elapsed = add(elapsed, rto);
            if k < config.synack_retries && elapsed < timeout {
                offsets.push(elapsed);
            } else {
                offsets.push(elapsed.min(timeout));
                break;
            }
            rto = add(rto, rto).min(cap);
        }
        Schedule { offsets }
    }

    /// Timer levels: retransmissions that fit, plus the expiry.
    pub(super) fn levels(&self) -> usize {
        self.offsets.len()
    }

    /// When the timer of an entry with `retries` retransmissions done fires, from its creation.
    pub(super) fn offset(&self, retries: usize) -> Duration {
        self.offsets[retries]
    }

    /// Whether that timer expires the entry rather than retransmitting.
    pub(super) fn expires(&self, retries: usize) -> bool {
        retries + 1 == self.offsets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: &[u64]) -> Vec<Duration> {
        s.iter().map(|&s| Duration::from_secs(s)).collect()
    }

    #[test]
    fn default_is_three_linux_retries_and_their_lifetime() {
        let config = HalfOpenConfig::default();
        assert_eq!(config.retry_lifetime(), Duration::from_secs(15));
        assert_eq!(config.synrecv_timeout, config.retry_lifetime());
        assert_eq!(Schedule::new(&config).offsets, secs(&[1, 3, 7, 15]));
        let linux = HalfOpenConfig { synack_retries: 5, ..config };
        assert_eq!(linux.retry_lifetime(), Duration::from_secs(63));
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn timeout_cuts_the_schedule_short() {
        let config =
            HalfOpenConfig { synack_retries: 5, synrecv_timeout: Duration::from_secs(5), ..Default::default() };
        assert_eq!(Schedule::new(&config).offsets, secs(&[1, 3, 5]));
        // A retransmission due exactly at the timeout is pointless: the entry expires then instead.
        let config = HalfOpenConfig { synrecv_timeout: Duration::from_secs(7), ..config };
        assert_eq!(Schedule::new(&config).offsets, secs(&[1, 3, 7]));
        let config = HalfOpenConfig { synrecv_timeout: Duration::from_secs(1000), ..config };
        assert_eq!(Schedule::new(&config).offsets, secs(&[1, 3, 7, 15, 31, 63]));
    }

    #[test]
    fn backoff_stops_doubling_at_rto_max() {
        let config = HalfOpenConfig {
            initial_rto: Duration::from_secs(40),
            synack_retries: 3,
            synrecv_timeout: Duration::from_secs(10_000),
            ..Default::default()
        };
        assert_eq!(Schedule::new(&config).offsets, secs(&[40, 120, 240, 360]));
        assert_eq!(config.retry_lifetime(), Duration::from_secs(360));
    }

    #[test]
    fn zero_retries_expire_after_one_rto() {
        let config = HalfOpenConfig { synack_retries: 0, ..Default::default() };
        let schedule = Schedule::new(&config);
        assert_eq!(schedule.offsets, secs(&[1]));
        assert!(schedule.expires(0));
    }

    #[test]
    fn overflow_names_round_trip() {
        for o in Overflow::ALL {
            assert_eq!(o.as_str().parse::<Overflow>(), Ok(o));
            assert_eq!(serde_json::to_string(&o).unwrap(), format!("\"{o}\""));
        }
        let err = "evict".parse::<Overflow>().unwrap_err();
        assert!(err.to_string().contains("drop-new, evict-oldest or cookies"), "{err}");
    }

    #[test]
    fn validate_names_what_would_be_clamped() {
        let ok = HalfOpenConfig::default();
        assert_eq!(HalfOpenConfig { global_limit: 0, ..ok }.validate(), Err(HalfOpenConfigError::GlobalLimit(0)));
        assert_eq!(HalfOpenConfig { per_source_limit: 0, ..ok }.validate(), Err(HalfOpenConfigError::SourceLimit));
        assert_eq!(
            HalfOpenConfig { synrecv_timeout: Duration::ZERO, ..ok }.validate(),
            Err(HalfOpenConfigError::Timeout)
        );
        assert_eq!(
            HalfOpenConfig { initial_rto: Duration::ZERO, ..ok }.validate(),
            Err(HalfOpenConfigError::InitialRto)
        );
        assert_eq!(HalfOpenConfig { synack_retries: 256, ..ok }.validate(), Err(HalfOpenConfigError::Retries(256)));
        let clamped = HalfOpenConfig { global_limit: 0, per_source_limit: 0, synack_retries: 999, ..ok }.clamped();
        assert_eq!((clamped.global_limit, clamped.per_source_limit, clamped.synack_retries), (1, 1, 255));
    }
}
