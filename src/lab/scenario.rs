//! The defences the lab compares: what the server namespace's kernel is set to, how long the listener's queue is,
//! and what (if anything) the gateway runs.

use crate::netns::Settings;

/// The scenarios, in report order.
pub const ALL: [&str; 7] =
    ["none", "kernel-cookies", "kernel-tuned", "guard-limit", "guard-cookies", "guard-cookies-rings", "guard-auto"];
/// `--quick`: the baseline and the two cookie defences, which the CI assertions are about.
pub const QUICK: [&str; 3] = ["none", "kernel-cookies", "guard-cookies"];

/// The listener's backlog, unless a scenario raises it (the seed's server uses 5; Linux's default somaxconn is
/// 4096, and the kernel's own default listen backlog for most servers is 128).
pub const DEFAULT_BACKLOG: u32 = 128;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    pub name: &'static str,
    /// The server namespace's sysctls for this scenario (all four set every time, so no trial inherits another's).
    pub sysctls: Settings,
    pub backlog: u32,
    /// `synscope guard --mode` in the gateway; `None` for a plain bridge.
    pub guard_mode: Option<&'static str>,
    /// Guard flags other than the defaults.
    pub guard_limits: Option<GuardLimits>,
    /// `synscope guard --fast-path`, when not the default (`auto`: cookies mode answers SYNs in XDP where the
    /// program loads).
    pub guard_fast_path: Option<&'static str>,
}

/// The guard's half-open settings where a scenario needs its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardLimits {
    /// `--half-open-limit`.
    pub half_open_limit: usize,
    /// `--synrecv-timeout`, seconds.
    pub synrecv_timeout_s: u64,
    /// `--overflow`.
    pub overflow: &'static str,
}

impl GuardLimits {
    pub fn args(&self) -> Vec<String> {
        vec![
            "--half-open-limit".into(),
            self.half_open_limit.to_string(),
            "--synrecv-timeout".into(),
            format!("{}s", self.synrecv_timeout_s),
            "--overflow".into(),
            self.overflow.into(),
        ]
    }
}

impl Scenario {
    pub fn named(name: &str) -> Option<Scenario> {
        let name = ALL.iter().find(|n| **n == name)?;
        // Linux's defaults in a new namespace: cookies on overflow (1), max_syn_backlog scaled from memory, five
        // SYN-ACK retries, somaxconn 4096. The baseline turns cookies off, as the seed's "no defence" case.
        let baseline = |syncookies: i64| Settings {
            syncookies: Some(syncookies),
            max_syn_backlog: Some(1024),
            synack_retries: Some(5),
            somaxconn: Some(4096),
        };
        let (sysctls, backlog, guard_mode) = match *name {
            "none" => (baseline(0), DEFAULT_BACKLOG, None),
            "kernel-cookies" => (baseline(1), DEFAULT_BACKLOG, None),
            // RFC 4987 §3.2–3.3: a larger backlog and a shorter SYN-RECEIVED life (one SYN-ACK retry).
            "kernel-tuned" => (
                Settings {
                    syncookies: Some(0),
                    max_syn_backlog: Some(8192),
                    synack_retries: Some(1),
                    somaxconn: Some(8192),
                },
                8192,
                None,
            ),
            // Behind the guard the kernel has no cookies of its own, so what the guard does is all there is.
            "guard-limit" => (baseline(0), DEFAULT_BACKLOG, Some("limit")),
            "guard-cookies" => (baseline(0), DEFAULT_BACKLOG, Some("cookies")),
            // The same guard with SYNs answered from its packet rings instead of XDP, to compare the two paths.
            "guard-cookies-rings" => (baseline(0), DEFAULT_BACKLOG, Some("cookies")),
            "guard-auto" => (baseline(0), DEFAULT_BACKLOG, Some("auto")),
            _ => return None,
        };
        // The transparent guard must hold the listener's queue below its own limit to help at all: a half-open
        // limit under the listener's ¾ rule and backlog, a short SYN-RECEIVED life enforced with RSTs, and the
        // oldest entry recycled for a new SYN (RFC 4987 §3.4), so a legitimate SYN always gets in.
        let guard_limits = (*name == "guard-limit").then_some(GuardLimits {
            half_open_limit: (DEFAULT_BACKLOG as usize) * 3 / 4,
            synrecv_timeout_s: 2,
            overflow: "evict-oldest",
        });
        let guard_fast_path = (*name == "guard-cookies-rings").then_some("packet");
        Some(Scenario { name, sysctls, backlog, guard_mode, guard_limits, guard_fast_path })
    }

    /// The most SYN-RECV entries the listener can hold: its backlog, capped by somaxconn, and with cookies off by
    /// the ¾ rule of tcp_conn_request (a SYN is dropped once fewer than max_syn_backlog/4 slots remain).
    pub fn syn_queue_limit(&self) -> u64 {
        let somaxconn = self.sysctls.somaxconn.unwrap_or(4096) as u64;
        let mut limit = u64::from(self.backlog).min(somaxconn);
        if self.sysctls.syncookies == Some(0) {
            let max_syn_backlog = self.sysctls.max_syn_backlog.unwrap_or(1024) as u64;
            limit = limit.min(max_syn_backlog - (max_syn_backlog >> 2));
        }
        limit
    }
}

/// Parses `--scenarios a,b,c`, in the order given.
pub fn parse_list(text: &str) -> Result<Vec<Scenario>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|name| {
            Scenario::named(name)
                .ok_or_else(|| format!("unknown scenario '{name}'; the scenarios are {}", ALL.join(", ")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_defined() {
        for name in ALL {
            assert_eq!(Scenario::named(name).map(|s| s.name), Some(name));
        }
        assert!(parse_list("none,bogus").is_err());
    }

    #[test]
    fn the_queue_limit_follows_backlog_somaxconn_and_the_three_quarter_rule() {
        assert_eq!(Scenario::named("none").unwrap().syn_queue_limit(), 128);
        assert_eq!(Scenario::named("kernel-tuned").unwrap().syn_queue_limit(), 6144);
    }
}
