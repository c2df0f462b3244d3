//! The end-of-run summary on stderr: what was read, what matched, by protocol, and what was malformed.

use std::fmt;

use crate::time::{Duration, Timestamp, utc_civil};
use crate::track::Tracker;
use crate::track::record::ConnRecord;
use crate::track::stats::TrackerStats;
use crate::track::zeek::ConnState;
use crate::wire::Packet;
use crate::wire::packet::{Net, Transport};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub packets: u64,
    /// Wire bytes (original lengths) of the packets read.
    pub bytes: u64,
    pub matched: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub arp: u64,
    pub other_net: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmp: u64,
    pub other_transport: u64,
    pub vlan_tagged: u64,
    pub fragments: u64,
    pub malformed: u64,
    pub first_ts: Option<Timestamp>,
    pub last_ts: Option<Timestamp>,
    /// Capture files that failed to open or broke part-way.
    pub file_errors: u64,
    /// Connection records by conn_state, in ConnState::ALL order.
    pub conn_states: Vec<(ConnState, u64)>,
    pub tracker: Option<TrackerSummary>,
    /// Live capture: per-interface counts of frames captured and dropped.
    pub live: Vec<crate::capture::live::InterfaceStats>,
    /// Live capture threads that stopped on an error.
    pub capture_errors: u64,
}

/// What the tracker adds to the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrackerSummary {
    /// The tracker's own counters, as they stood at the end.
    pub counts: TrackerStats,
    pub still_half_open_listed: Vec<String>,
    pub rtt_median: Option<Duration>,
    pub rtt_p99: Option<Duration>,
    pub floods: u64,
    pub evictions: u64,
    pub evicted_half_open: u64,
}

impl From<&Tracker> for TrackerSummary {
    fn from(tracker: &Tracker) -> Self {
        let stats = tracker.stats();
        let (evictions, evicted_half_open) = tracker.evictions();
        TrackerSummary {
            counts: stats.clone(),
            still_half_open_listed: tracker
                .still_half_open
                .iter()
                .map(|(o, r)| format!("{} > {}", o.socket_addr(), r.socket_addr()))
                .collect(),
            rtt_median: stats.rtt.quantile(0.5),
            rtt_p99: stats.rtt.quantile(0.99),
            floods: tracker.floods_detected(),
            evictions,
            evicted_half_open,
        }
    }
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("-".to_string(), |d| format!("{:.3} ms", d.as_nanos() as f64 / 1e6))
}

impl Summary {
    /// Counts one connection record by its conn_state.
    pub fn count_connection(&mut self, record: &ConnRecord) {
        match self.conn_states.iter_mut().find(|(s, _)| *s == record.conn_state) {
            Some((_, n)) => *n += 1,
            None => self.conn_states.push((record.conn_state, 1)),
        }
    }

    /// Counts one packet read (before the filter). Inlined into the engine's per-frame step, and a fragment is
    /// counted in the same match as its network layer (what `Packet::is_fragment` tests): `read -q` went from 2276 to
    /// 2264 instructions per packet (callgrind).
    #[inline]
    pub fn count(&mut self, ts: Timestamp, wire_len: u32, packet: &Packet<'_>) {
        self.packets += 1;
        self.bytes += u64::from(wire_len);
        if self.first_ts.is_none_or(|first| ts < first) {
            self.first_ts = Some(ts);
        }
        if self.last_ts.is_none_or(|last| ts > last) {
            self.last_ts = Some(ts);
        }
        match &packet.net {
            Net::Ipv4(ip) => {
                self.ipv4 += 1;
                self.fragments += u64::from(ip.is_fragment());
            }
            Net::Ipv6(ip) => {
                self.ipv6 += 1;
                self.fragments += u64::from(ip.fragment.is_some());
            }
            Net::Arp(_) => self.arp += 1,
            Net::Other { .. } | Net::None => self.other_net += 1,
        }
        match packet.transport {
            Transport::Tcp(_) => self.tcp += 1,
            Transport::Udp(_) => self.udp += 1,
            Transport::Icmp(_) => self.icmp += 1,
            Transport::Fragment { .. } | Transport::Other { .. } => self.other_transport += 1,
            Transport::None => {}
        }
        if !packet.link.vlans.is_empty() {
            self.vlan_tagged += 1;
        }
        if packet.malformed.is_some() {
            self.malformed += 1;
        }
    }
}

fn civil(ts: Timestamp) -> String {
    let (y, mo, d, h, mi, s) = utc_civil(ts);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{:06}", ts.subsec_nanos() / 1000)
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} packets read, {} matched, {} bytes", self.packets, self.matched, self.bytes)?;
        if let (Some(first), Some(last)) = (self.first_ts, self.last_ts) {
            write!(f, ", {} s from {} to {} UTC", last.saturating_since(first), civil(first), civil(last))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "  network: ipv4 {}, ipv6 {}, arp {}, other {} | transport: tcp {}, udp {}, icmp {}, other {}",
            self.ipv4, self.ipv6, self.arp, self.other_net, self.tcp, self.udp, self.icmp, self.other_transport
        )?;
        write!(f, "  vlan-tagged {}, fragments {}, malformed {}", self.vlan_tagged, self.fragments, self.malformed)?;
        if self.file_errors > 0 {
            write!(f, ", file errors {}", self.file_errors)?;
        }
        if self.capture_errors > 0 {
            write!(f, ", capture errors {}", self.capture_errors)?;
        }
        for live in &self.live {
            write!(f, "\n  {}", live_line(live))?;
        }
        if let Some(summary) = &self.tracker {
            let t = &summary.counts;
            let mut states = self.conn_states.clone();
            states.sort_by_key(|(s, _)| s.as_str());
            let states: Vec<String> = states.iter().map(|(s, n)| format!("{} {n}", s.as_str())).collect();
            write!(f, "\n  connections {}", t.connections)?;
            if !states.is_empty() {
                write!(f, ": {}", states.join(", "))?;
            }
            let failed = t.attempts.saturating_sub(t.handshakes_completed);
            write!(
                f,
                "\n  handshakes: {} completed, {} failed; rtt median {}, p99 {}",
                t.handshakes_completed,
                failed,
                ms(summary.rtt_median),
                ms(summary.rtt_p99)
            )?;
            write!(
                f,
                "\n  resets {} (refused {}), retransmissions {}, half-open attempts {} ({} still half-open at end), \
                 floods {}, evictions {} ({} half-open), port reuse {}",
                t.resets,
                t.refused,
                t.retransmissions,
                t.half_open_timeouts + t.still_half_open,
                t.still_half_open,
                summary.floods,
                summary.evictions,
                summary.evicted_half_open,
                t.port_reuses
            )?;
            if !summary.still_half_open_listed.is_empty() {
                write!(f, "\n  still half-open: {}", summary.still_half_open_listed.join(", "))?;
                if t.still_half_open > summary.still_half_open_listed.len() as u64 {
                    write!(f, ", ...")?;
                }
            }
        }
        Ok(())
    }
}

/// One interface's capture counts, in tcpdump's terms: what we captured, what reached our socket ("received by
/// filter"), and the two kinds of drop.
pub fn live_line(live: &crate::capture::live::InterfaceStats) -> String {
    format!(
        "{}: {} captured, {} received by the kernel, {} dropped by the kernel, {} dropped by synscope",
        live.interface, live.captured, live.kernel_received, live.kernel_dropped, live.channel_dropped
    )
}
