//! `--fail-on`: conditions a CI job can assert about a capture. Each hit is counted and the first few are named,
//! so a failing job says which connections broke the rule.

use std::fmt;

use crate::track::TrackerEvent;
use crate::track::record::{ConnRecord, Proto};
use crate::track::zeek::ConnState;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Condition {
    /// Any connection saw a RST.
    Rst,
    /// A SYN was answered by RST (conn_state REJ).
    Refused,
    /// A SYN got no answer at all (conn_state S0).
    HalfOpen,
    /// A SYN was sent but the handshake never completed.
    IncompleteHandshake,
    /// A segment was retransmitted.
    Retransmission,
    /// The SYN-flood detector fired.
    Flood,
    /// A frame could not be decoded.
    Malformed,
}

impl Condition {
    pub const ALL: [Condition; 7] = [
        Condition::Rst,
        Condition::Refused,
        Condition::HalfOpen,
        Condition::IncompleteHandshake,
        Condition::Retransmission,
        Condition::Flood,
        Condition::Malformed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Condition::Rst => "rst",
            Condition::Refused => "refused",
            Condition::HalfOpen => "half-open",
            Condition::IncompleteHandshake => "incomplete-handshake",
            Condition::Retransmission => "retransmission",
            Condition::Flood => "flood",
            Condition::Malformed => "malformed",
        }
    }

    fn index(self) -> usize {
        Condition::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }
}

/// Examples named per condition; the rest are counted.
const EXAMPLES: usize = 10;

#[derive(Clone, Debug, Default)]
struct Hits {
    count: u64,
    examples: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct FailOnCheck {
    wanted: Vec<Condition>,
    hits: [Hits; 7],
}

/// One condition that held.
pub struct Failure {
    pub condition: Condition,
    pub count: u64,
    pub examples: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--fail-on {}: {} hit(s): {}", self.condition.name(), self.count, self.examples.join("; "))?;
        if self.count > self.examples.len() as u64 {
            write!(f, "; and {} more", self.count - self.examples.len() as u64)?;
        }
        Ok(())
    }
}

fn describe(record: &ConnRecord) -> String {
    format!(
        "{} {} > {} {} {}",
        record.proto.as_str(),
        record.orig.socket_addr(),
        record.resp.socket_addr(),
        record.conn_state.as_str(),
        record.uid()
    )
}

impl FailOnCheck {
    pub fn new(wanted: &[Condition]) -> Self {
        FailOnCheck { wanted: wanted.to_vec(), hits: Default::default() }
    }

    fn hit(&mut self, condition: Condition, what: impl FnOnce() -> String) {
        if !self.wanted.contains(&condition) {
            return;
        }
        let hits = &mut self.hits[condition.index()];
        hits.count += 1;
        if hits.examples.len() < EXAMPLES {
            hits.examples.push(what());
        }
    }

    pub fn record(&mut self, record: &ConnRecord) {
        // Most runs ask for no condition at all: this was called for every record and searched its history three
        // times, about 320 instructions a record, 17 a packet of `read -q` on the bench file (callgrind).
        if self.wanted.is_empty() {
            return;
        }
        let history = record.history.as_str();
        if history.contains(['R', 'r']) {
            self.hit(Condition::Rst, || describe(record));
        }
        if record.conn_state == ConnState::REJ {
            self.hit(Condition::Refused, || describe(record));
        }
        if record.conn_state == ConnState::S0 {
            self.hit(Condition::HalfOpen, || describe(record));
        }
        if record.proto == Proto::Tcp && history.contains('S') && record.handshake_rtt.is_none() {
            self.hit(Condition::IncompleteHandshake, || describe(record));
        }
        if history.contains(['T', 't']) {
            self.hit(Condition::Retransmission, || describe(record));
        }
    }

    pub fn flood(&mut self, event: &TrackerEvent) {
        if let TrackerEvent::Flood(flood @ crate::track::flood_detector::FloodEvent::Started { .. }) = event {
            self.hit(Condition::Flood, || flood.to_string());
        }
    }

    pub fn malformed(&mut self, packet_number: u64) {
        self.hit(Condition::Malformed, || format!("packet {packet_number}"));
    }

    /// The conditions that held, in the order they were asked for.
    pub fn failures(&self) -> Vec<Failure> {
        self.wanted
            .iter()
            .filter_map(|&c| {
                let hits = &self.hits[c.index()];
                (hits.count > 0).then(|| Failure { condition: c, count: hits.count, examples: hits.examples.clone() })
            })
            .collect()
    }
}
