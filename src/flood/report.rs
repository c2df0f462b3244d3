//! What a flood reports: a line on stderr every second with the rate of that second, and at the end one summary
//! line, or with `--format json` one JSON object on stdout for the lab to parse. Pure: times are given.
//!
//! "Sent" means handed to the device driver, as hping3 counts; a veth or loopback may still drop a frame when its
//! receiver's backlog is full (`netdev_max_backlog`), which only the receiving side's counters show. That is why
//! `scripts/bench-flood.sh` measures on the receiving side.

use std::fmt::Write as _;

use serde::Serialize;

/// Why the flood ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Stop {
    /// `--count` SYNs were crafted.
    #[default]
    Count,
    /// `--duration` (or the 300 s cap) ran out.
    Duration,
    /// SIGINT or SIGTERM.
    Signal,
    /// The kernel refused to send, for a reason that would not go away (see `error`).
    Error,
}

/// The closing report. Field names are the lab's contract: keep them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FloodReport {
    /// SYNs handed to the device.
    pub sent: u64,
    /// SYNs crafted that never left: still queued when the flood stopped, or refused for good.
    pub failed: u64,
    pub duration_s: f64,
    /// `sent / duration_s`, SYN/s.
    pub rate: f64,
    /// `--rate`, when given.
    pub rate_requested: Option<u64>,
    pub target: String,
    pub interface: String,
    pub sources: String,
    pub src_ports: String,
    /// The TCP flags of every frame, as hping3's letters (`S` for a SYN flood).
    pub flags: String,
    /// The options: Linux-layout names, or `hex:` and the raw bytes.
    pub syn_options: String,
    /// Payload bytes per frame.
    pub data: u16,
    /// Whether every frame was a never-completed IPv4 fragment.
    pub fragment: bool,
    /// How frames reached the kernel: `tx-ring` or `sendmmsg`.
    pub method: &'static str,
    /// Sending threads.
    pub threads: usize,
    /// Sends the kernel refused for the moment (a full device queue, ENOBUFS) and that were retried.
    pub retries: u64,
    pub stopped: Stop,
    /// The first send error, if any.
    pub error: Option<String>,
}

impl FloodReport {
    /// Fills in `rate` from `sent` and `duration_s`.
    pub fn with_rate(mut self) -> FloodReport {
        self.rate = if self.duration_s > 0.0 { self.sent as f64 / self.duration_s } else { 0.0 };
        self
    }

    /// The one summary line (without the `synscope: ` prefix).
    pub fn line(&self) -> String {
        let unit = if self.flags == "S" { "SYN" } else { "frame" };
        let mut line = format!(
            "flood: sent {} {unit}{} to {} on {} in {:.2} s ({:.0} {unit}/s",
            self.sent,
            if self.sent == 1 { "" } else { "s" },
            self.target,
            self.interface,
            self.duration_s,
            self.rate,
        );
        if let Some(asked) = self.rate_requested {
            let _ = write!(line, ", asked {asked}");
        }
        let _ = write!(
            line,
            "), {} failed; sources {}, ports {}, options {}, via {}",
            self.failed, self.sources, self.src_ports, self.syn_options, self.method
        );
        if self.flags != "S" {
            let _ = write!(line, "; flags {}", self.flags);
        }
        if self.data > 0 {
            let _ = write!(line, "; {} data bytes each", self.data);
        }
        if self.fragment {
            let _ = write!(line, "; first fragments only");
        }
        if self.threads > 1 {
            let _ = write!(line, " × {} threads", self.threads);
        }
        if self.retries > 0 {
            let _ = write!(line, ", {} retried sends", self.retries);
        }
        let _ = write!(
            line,
            "{}",
            match self.stopped {
                Stop::Count => "",
                Stop::Duration => "; stopped at the time limit",
                Stop::Signal => "; interrupted",
                Stop::Error => "; stopped by a send error",
            }
        );
        if let Some(error) = &self.error {
            let _ = write!(line, " (first error: {error})");
        }
        line
    }
}

/// The once-a-second line: how many went out during the last second, and the total.
#[derive(Clone, Debug)]
pub struct Progress {
    interval: u64,
    next: u64,
    last_at: u64,
    last_sent: u64,
    unit: &'static str,
}

impl Progress {
    /// Reports every `interval` nanoseconds from time 0, counting frames as `unit`s (`SYN`, `frame`).
    pub fn new(interval: u64, unit: &'static str) -> Progress {
        let interval = interval.max(1);
        Progress { interval, next: interval, last_at: 0, last_sent: 0, unit }
    }

    /// When the next line is due.
    pub fn next_due(&self) -> u64 {
        self.next
    }

    /// A line if one is due at `now`, given the totals so far.
    pub fn tick(&mut self, now: u64, sent: u64, retries: u64) -> Option<String> {
        if now < self.next {
            return None;
        }
        let span = (now - self.last_at) as f64 / 1e9;
        let rate = if span > 0.0 { (sent - self.last_sent) as f64 / span } else { 0.0 };
        self.last_at = now;
        self.last_sent = sent;
        // Skip whole intervals missed (a stalled send), so lines stay one per interval from then on.
        self.next += self.interval * ((now - self.next) / self.interval + 1);
        let unit = self.unit;
        Some(format!("flood: {:.1} s: {rate:.0} {unit}/s, {sent} sent, {retries} retried sends", now as f64 / 1e9))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> FloodReport {
        FloodReport {
            sent: 5000,
            failed: 0,
            duration_s: 0.5,
            rate: 0.0,
            rate_requested: None,
            target: "10.0.0.2:80".into(),
            interface: "veth0".into(),
            sources: "198.18.0.0/15".into(),
            src_ports: "1024-65535".into(),
            flags: "S".into(),
            syn_options: "mss".into(),
            data: 0,
            fragment: false,
            method: "tx-ring",
            threads: 1,
            retries: 0,
            stopped: Stop::Count,
            error: None,
        }
        .with_rate()
    }

    #[test]
    fn the_summary_is_one_line_with_the_achieved_rate() {
        assert_eq!(
            report().line(),
            "flood: sent 5000 SYNs to 10.0.0.2:80 on veth0 in 0.50 s (10000 SYN/s), 0 failed; sources \
             198.18.0.0/15, ports 1024-65535, options mss, via tx-ring"
        );
        let stopped = FloodReport {
            rate_requested: Some(2000),
            stopped: Stop::Signal,
            retries: 3,
            threads: 2,
            error: Some("No buffer space available".into()),
            ..report()
        };
        let line = stopped.line();
        assert!(line.contains("(10000 SYN/s, asked 2000)"), "{line}");
        assert!(
            line.ends_with(
                "via tx-ring × 2 threads, 3 retried sends; interrupted (first error: No buffer space available)"
            ),
            "{line}"
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn json_has_the_fields_the_lab_reads() {
        let value = serde_json::to_value(report()).unwrap();
        assert_eq!(value["sent"], 5000);
        assert_eq!(value["failed"], 0);
        assert_eq!(value["duration_s"], 0.5);
        assert_eq!(value["rate"], 10000.0);
        assert_eq!(value["stopped"], "count");
        assert_eq!(value["rate_requested"], serde_json::Value::Null);
    }

    #[test]
    fn progress_lines_come_once_a_second_with_that_seconds_rate() {
        let mut progress = Progress::new(1_000_000_000, "SYN");
        assert_eq!(progress.tick(999_999_999, 10, 0), None);
        assert_eq!(
            progress.tick(1_000_000_000, 1000, 0).unwrap(),
            "flood: 1.0 s: 1000 SYN/s, 1000 sent, 0 retried sends"
        );
        assert_eq!(progress.next_due(), 2_000_000_000);
        // A stall past two intervals: one line, with the rate over the whole gap, then back on the grid.
        assert_eq!(
            progress.tick(3_500_000_000, 3500, 1).unwrap(),
            "flood: 3.5 s: 1000 SYN/s, 3500 sent, 1 retried sends"
        );
        assert_eq!(progress.next_due(), 4_000_000_000);
    }
}
