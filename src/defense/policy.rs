//! Which defence answers a SYN now. `off` forwards it untouched, `limit` always keeps state in the half-open table,
//! `cookies` always answers with a SYN cookie (Linux's `tcp_syncookies=2`), and `auto` keeps state until the
//! half-open table fills, then answers with cookies until it has drained: the hybrid of RFC 4987 §3.7.
//!
//! `auto` switches with hysteresis, so a table hovering at one threshold does not flap between modes on every SYN:
//! cookies from when the count reaches the high watermark until it falls below the low one. Linux switches at one
//! point, when the listen queue is full (`inet_csk_reqsk_queue_is_full`, then `tcp_syn_flood_action` logs "Sending
//! cookies"), and back as soon as there is room; FreeBSD's `syncache_pause` instead stops using the cache for a
//! while once it overflows and resumes only after a quiet period.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::time::{Duration, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    Off,
    Limit,
    Cookies,
    Auto,
}

impl Mode {
    pub const ALL: [Mode; 4] = [Mode::Off, Mode::Limit, Mode::Cookies, Mode::Auto];

    /// The name a user types (`--defense auto`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Limit => "limit",
            Mode::Cookies => "cookies",
            Mode::Auto => "auto",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Mode::ALL`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown defence mode {0:?} (expected off, limit, cookies or auto)")]
pub struct ParseModeError(pub String);

impl FromStr for Mode {
    type Err = ParseModeError;

    fn from_str(s: &str) -> Result<Mode, ParseModeError> {
        Mode::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| ParseModeError(s.to_owned()))
    }
}

/// How to answer one SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// No defence: forward the SYN untouched.
    Pass,
    /// Keep state: offer the SYN to the half-open table.
    Stateful,
    /// Keep nothing: answer with a SYN cookie.
    Cookie,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyConfig {
    pub mode: Mode,
    /// In `auto`, cookies start when the half-open count reaches this.
    pub high_watermark: usize,
    /// In `auto`, cookies stop when the half-open count falls below this (clamped to at most `high_watermark`).
    pub low_watermark: usize,
}

/// Auto mode's watermarks for a half-open table of `half_open_limit` entries, as `(high, low)`: high at ¾ of the
/// limit (at least 1), low at half of high, so ⅜ of the limit. The one place these fractions are set: `synscope
/// guard` and the lab's simulation both take them from here.
///
/// ¾ is where Linux itself, with `tcp_syncookies=0`, starts refusing SYNs from peers it has not seen before
/// (`tcp_conn_request`: fewer than `tcp_max_syn_backlog >> 2` free slots), the point at which the kernel judges the
/// queue under attack. Switching there rather than at 100% keeps the last quarter for the entries still
/// completing, so the table's own overflow policy rarely has to act. Half of high leaves a wide band, so one burst
/// of completions does not switch cookies off in the middle of a flood. (Computed without overflow for any limit.)
pub fn watermarks_for(half_open_limit: usize) -> (usize, usize) {
    let high = (half_open_limit / 4 * 3 + half_open_limit % 4 * 3 / 4).max(1);
    (high, high / 2)
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PolicyStats {
    /// Decisions of each kind.
    pub passed: u64,
    pub stateful: u64,
    pub cookies: u64,
    /// Times cookies were switched on (in `cookies` mode, once, at the first decision).
    pub switches_to_cookies: u64,
    /// Times `auto` went back to keeping state.
    pub switches_back: u64,
    /// Time spent in cookie mode, up to the last switch back; see [`Policy::time_in_cookies`] for the running total.
    pub time_in_cookies: Duration,
}

pub struct Policy {
    config: PolicyConfig,
    /// Since when cookies have been on, if they are.
    cookies_since: Option<Timestamp>,
    stats: PolicyStats,
}

impl Policy {
    pub fn new(mut config: PolicyConfig) -> Policy {
        config.low_watermark = config.low_watermark.min(config.high_watermark);
        Policy { config, cookies_since: None, stats: PolicyStats::default() }
    }

    pub fn config(&self) -> &PolicyConfig {
        &self.config
    }

    /// How to answer a SYN arriving at `now` while the half-open table holds `half_open_now` entries. The timestamp
    /// only feeds the time-in-cookies counter.
    pub fn decide(&mut self, now: Timestamp, half_open_now: usize) -> Decision {
        let cookies = match self.config.mode {
            Mode::Off => {
                self.stats.passed += 1;
                return Decision::Pass;
            }
            Mode::Limit => false,
            Mode::Cookies => true,
            Mode::Auto if self.cookies_since.is_some() => half_open_now >= self.config.low_watermark,
            Mode::Auto => half_open_now >= self.config.high_watermark,
        };
        match (cookies, self.cookies_since) {
            (true, None) => {
                self.cookies_since = Some(now);
                self.stats.switches_to_cookies += 1;
            }
            (false, Some(since)) => {
                self.cookies_since = None;
                self.stats.switches_back += 1;
                self.stats.time_in_cookies = add(self.stats.time_in_cookies, now.saturating_since(since));
            }
            _ => {}
        }
        if cookies {
            self.stats.cookies += 1;
            Decision::Cookie
        } else {
            self.stats.stateful += 1;
            Decision::Stateful
        }
    }

    /// Whether SYNs are answered with cookies now (in `cookies` mode, always).
    pub fn cookies_active(&self) -> bool {
        self.config.mode == Mode::Cookies || self.cookies_since.is_some()
    }

    /// Time spent in cookie mode up to `now`, the current spell included.
    pub fn time_in_cookies(&self, now: Timestamp) -> Duration {
        let current = self.cookies_since.map_or(Duration::ZERO, |since| now.saturating_since(since));
        add(self.stats.time_in_cookies, current)
    }

    pub fn stats(&self) -> &PolicyStats {
        &self.stats
    }
}

fn add(a: Duration, b: Duration) -> Duration {
    Duration::from_nanos(a.as_nanos().saturating_add(b.as_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Timestamp {
        Timestamp::from_secs_nanos(1_700_000_000 + s, 0)
    }

    fn auto(high: usize, low: usize) -> Policy {
        Policy::new(PolicyConfig { mode: Mode::Auto, high_watermark: high, low_watermark: low })
    }

    #[test]
    fn auto_switches_to_cookies_exactly_at_the_high_watermark() {
        let mut policy = auto(8, 4);
        assert_eq!(policy.decide(at(0), 0), Decision::Stateful);
        assert_eq!(policy.decide(at(0), 7), Decision::Stateful);
        assert!(!policy.cookies_active());
        assert_eq!(policy.decide(at(1), 8), Decision::Cookie);
        assert!(policy.cookies_active());
        assert_eq!(policy.stats().switches_to_cookies, 1);
    }

    #[test]
    fn auto_stays_on_cookies_until_below_the_low_watermark() {
        let mut policy = auto(8, 4);
        policy.decide(at(0), 8);
        for count in [7, 5, 4, 100, 4] {
            assert_eq!(policy.decide(at(2), count), Decision::Cookie, "at {count}");
        }
        assert_eq!(policy.decide(at(3), 3), Decision::Stateful);
        assert!(!policy.cookies_active());
        // Back in stateful mode, the low watermark no longer matters: only the high one switches.
        assert_eq!(policy.decide(at(3), 7), Decision::Stateful);
        assert_eq!(policy.decide(at(10), 8), Decision::Cookie);
        assert_eq!(policy.decide(at(12), 0), Decision::Stateful);
        let stats = *policy.stats();
        assert_eq!((stats.switches_to_cookies, stats.switches_back), (2, 2));
        assert_eq!((stats.cookies, stats.stateful), (7, 3));
        assert_eq!(stats.time_in_cookies, Duration::from_secs(3 + 2));
    }

    #[test]
    fn time_in_cookies_includes_the_current_spell() {
        let mut policy = auto(2, 1);
        policy.decide(at(10), 2);
        assert_eq!(policy.time_in_cookies(at(15)), Duration::from_secs(5));
        assert_eq!(policy.stats().time_in_cookies, Duration::ZERO);
        policy.decide(at(20), 0);
        assert_eq!(policy.time_in_cookies(at(99)), Duration::from_secs(10));
    }

    #[test]
    fn fixed_modes_ignore_the_count() {
        let fixed = |mode| {
            let (high_watermark, low_watermark) = watermarks_for(4);
            Policy::new(PolicyConfig { mode, high_watermark, low_watermark })
        };
        let (mut off, mut limit, mut cookies) = (fixed(Mode::Off), fixed(Mode::Limit), fixed(Mode::Cookies));
        assert!(cookies.cookies_active() && !limit.cookies_active() && !off.cookies_active());
        for count in [0, 3, 4, 1000, 0] {
            assert_eq!(off.decide(at(0), count), Decision::Pass);
            assert_eq!(limit.decide(at(0), count), Decision::Stateful);
            assert_eq!(cookies.decide(at(0), count), Decision::Cookie);
        }
        assert_eq!(off.stats().passed, 5);
        assert_eq!(limit.stats().switches_to_cookies, 0);
        assert_eq!((cookies.stats().switches_to_cookies, cookies.stats().switches_back), (1, 0));
        assert_eq!(cookies.time_in_cookies(at(7)), Duration::from_secs(7));
    }

    #[test]
    fn default_watermarks_are_three_quarters_and_half_of_that() {
        assert_eq!(watermarks_for(1024), (768, 384));
        assert_eq!(watermarks_for(10), (7, 3));
        assert_eq!(watermarks_for(1), (1, 0));
        assert_eq!(watermarks_for(usize::MAX).0, usize::MAX / 4 * 3 + 2);
        // The same as ¾ in plain arithmetic wherever that does not overflow.
        for limit in 0..1000 {
            assert_eq!(watermarks_for(limit).0, (limit * 3 / 4).max(1), "limit {limit}");
        }
    }

    #[test]
    fn degenerate_watermarks() {
        // Low above high is clamped: cookies stop as soon as the count is below high again.
        let mut policy = auto(4, 10);
        assert_eq!(policy.config().low_watermark, 4);
        assert_eq!(policy.decide(at(0), 4), Decision::Cookie);
        assert_eq!(policy.decide(at(0), 3), Decision::Stateful);
        // A high watermark of 0 means cookies always; a low one of 0 means they never stop.
        let mut policy = auto(0, 0);
        assert_eq!(policy.decide(at(0), 0), Decision::Cookie);
        let mut policy = auto(2, 0);
        policy.decide(at(0), 2);
        assert_eq!(policy.decide(at(0), 0), Decision::Cookie);
    }

    #[test]
    fn mode_names_round_trip() {
        for mode in Mode::ALL {
            assert_eq!(mode.as_str().parse::<Mode>(), Ok(mode));
            assert_eq!(serde_json::to_string(&mode).unwrap(), format!("\"{mode}\""));
        }
        assert!("Auto".parse::<Mode>().unwrap_err().to_string().contains("off, limit, cookies or auto"));
    }

    #[test]
    fn stats_serialize_time_as_seconds() {
        let mut policy = auto(1, 1);
        policy.decide(at(0), 1);
        policy.decide(at(2), 0);
        let json = serde_json::to_value(policy.stats()).unwrap();
        assert_eq!(json["time_in_cookies"].as_f64(), Some(2.0));
        assert_eq!(json["switches_back"].as_u64(), Some(1));
    }
}
