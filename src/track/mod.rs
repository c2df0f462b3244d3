//! Connection tracking, pure: fed `(timestamp, packet)`, it returns the annotations for that packet, and queues
//! connection records and standalone events (half-open timeouts, floods) for the caller to drain. Time moves only
//! with the timestamps passed in (`handle_timeout`), so a capture replays identically (DESIGN.md principle 2).

pub mod annotate;
pub mod attempts;
pub mod conn;
pub mod flood_detector;
pub mod inline_str;
pub mod ports;
pub mod record;
pub mod reuse;
pub mod stats;
pub mod table;
pub mod tcp;
pub mod zeek;
pub mod zeek_stream;

use std::collections::VecDeque;

use annotate::Annotation;
use conn::{Conn, Phase};
use flood_detector::{FloodConfig, FloodDetector, FloodEvent};
use record::{ConnRecord, EndReason, Proto, Role};
use stats::TrackerStats;
use table::{FlowTable, Slot};

use crate::hash_key::HashKey;
use crate::time::{Duration, Timestamp};
use crate::wire::Packet;
use crate::wire::flow::{Direction, Endpoint, FlowKey};
use crate::wire::packet::{Net, Transport};

#[derive(Clone, Copy, Debug)]
pub struct TrackerConfig {
    /// Connections tracked at once; beyond it the oldest half-open ones are evicted first.
    pub max_flows: usize,
    /// A SYN unanswered this long is reported half-open (Zeek's tcp_SYN_timeout is 5 s).
    pub syn_timeout: Duration,
    /// Idle TCP connections are closed out after this (Zeek's tcp_inactivity_timeout, 5 min).
    pub tcp_inactivity: Duration,
    /// Idle UDP flows end after this (Zeek's udp_inactivity_timeout, 1 min).
    pub udp_inactivity: Duration,
    /// A closed or reset connection is kept this long for trailing packets (Zeek's tcp_close_delay, 5 s).
    pub close_delay: Duration,
    pub flood: FloodConfig,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            max_flows: DEFAULT_MAX_FLOWS,
            syn_timeout: Duration::from_secs(5),
            tcp_inactivity: Duration::from_secs(300),
            udp_inactivity: Duration::from_secs(60),
            close_delay: Duration::from_secs(5),
            flood: FloodConfig::default(),
        }
    }
}

/// The flood detector is ticked when packet time crosses a 2^24 ns (about 17 ms) boundary, well inside its
/// 100 ms buckets.
const FLOOD_TICK_SHIFT: u32 = 24;

/// 800k connections at under 256 bytes each stay under 256 MB with room for the index's growth.
pub const DEFAULT_MAX_FLOWS: usize = 800_000;

/// Something the tracker reports on its own line, not attached to a packet.
#[derive(Clone, Debug, PartialEq)]
pub enum TrackerEvent {
    /// No SYN-ACK came within the SYN timeout.
    HalfOpen {
        ts: Timestamp,
        orig: Endpoint,
        resp: Endpoint,
        after: Duration,
    },
    Flood(FloodEvent),
}

pub struct Tracker {
    config: TrackerConfig,
    /// The shortest of the config's timeouts, worked out once: every packet asks for it.
    shortest_timeout: Duration,
    table: FlowTable,
    annotations: Vec<Annotation>,
    events: VecDeque<TrackerEvent>,
    records: Vec<ConnRecord>,
    /// No timer is due before this (a lower bound): most packets skip the timer lists entirely.
    next_deadline: Timestamp,
    /// The flood detector's last tick (packet time >> FLOOD_TICK_SHIFT).
    flood_tick: u64,
    flood: FloodDetector,
    stats: TrackerStats,
    now: Timestamp,
    /// Half-open connections left at the end of input (the first few, for the summary).
    pub still_half_open: Vec<(Endpoint, Endpoint)>,
    /// Attempts logged at the SYN timeout, by tuple: their ISN and SYN count, so a retransmission arriving after
    /// the timeout is still numbered as one (its record is a new connection, as in Zeek).
    timed_out_attempts: attempts::TimedOutAttempts,
    /// `finish_some` has started: the flood detector is closed out.
    finishing: bool,
    /// Tests: every segment takes the general path, to compare it with the fast one (tests/fast_path.rs).
    #[cfg(test)]
    general_only: bool,
    /// Tests: segments the fast path took, so a comparison knows it exercised it.
    #[cfg(test)]
    fast_taken: u64,
}

pub(crate) const LISTED_AT_END: usize = 5;

/// What the tracker works out once about a packet's flow: its key, which way it travels, its connection's slot in
/// the flow table when it has one, and the key's hash in the table when the lookup needed it.
struct PacketFlow {
    key: FlowKey,
    direction: Direction,
    found: Option<Slot>,
    hash: Option<u64>,
}

impl PacketFlow {
    /// The key's hash in the flow table (and in `timed_out_attempts`): worked out here when the lookup found the
    /// connection without hashing ([`FlowTable::lookup`]).
    fn hash(&self, table: &FlowTable) -> u64 {
        self.hash.unwrap_or_else(|| table.hash(&self.key))
    }

    /// The packet's sender and receiver (only a new connection and a datagram need them).
    fn ends(&self) -> (Endpoint, Endpoint) {
        self.key.ends(self.direction)
    }

    /// Which end of `conn` sent the packet, from the packet's direction and the originator's side of the key: the
    /// same answer as comparing the sender with the originator's endpoint (when both ends are one endpoint, the
    /// packet goes low to high and the originator is the low side), with one byte compared instead of 18.
    fn role_in(&self, conn: &Conn) -> Role {
        if (self.direction == Direction::LowToHigh) == conn.orig_is_low { Role::Orig } else { Role::Resp }
    }
}

impl Tracker {
    /// A tracker with `config`, whose tables hash under `key`: the edge passes a fresh one from the kernel
    /// ([`crate::os_random::os_random_hash_key`]), tests a fixed one ([`crate::hash_key`]).
    pub fn new(config: TrackerConfig, key: HashKey) -> Tracker {
        let c = &config;
        let shortest_timeout = c.syn_timeout.min(c.tcp_inactivity).min(c.close_delay).min(c.udp_inactivity);
        Tracker {
            config,
            shortest_timeout,
            table: FlowTable::new(config.max_flows, key),
            annotations: Vec::with_capacity(8),
            events: VecDeque::new(),
            records: Vec::new(),
            next_deadline: Timestamp::default(),
            flood_tick: 0,
            flood: FloodDetector::new(config.flood, key),
            stats: TrackerStats::default(),
            now: Timestamp::default(),
            still_half_open: Vec::new(),
            // Under the flow table's key, so a packet's flow hash is also its tag there (`take_hashed`).
            timed_out_attempts: attempts::TimedOutAttempts::new(key),
            finishing: false,
            #[cfg(test)]
            general_only: false,
            #[cfg(test)]
            fast_taken: 0,
        }
    }

    pub fn stats(&self) -> &TrackerStats {
        &self.stats
    }

    pub fn evictions(&self) -> (u64, u64) {
        (self.table.evictions, self.table.evicted_half_open)
    }

    pub fn floods_detected(&self) -> u64 {
        self.flood.floods_detected()
    }

    pub fn tracked(&self) -> usize {
        self.table.len()
    }

    pub fn poll_event(&mut self) -> Option<TrackerEvent> {
        self.events.pop_front()
    }

    /// The oldest queued record (a convenience for tests; engines use `take_records`).
    pub fn poll_record(&mut self) -> Option<ConnRecord> {
        (!self.records.is_empty()).then(|| self.records.remove(0))
    }

    /// Moves every queued record, oldest first, to the end of `into`; swaps buffers when `into` is empty, so the
    /// records are not copied.
    pub fn take_records(&mut self, into: &mut Vec<ConnRecord>) {
        if into.is_empty() {
            std::mem::swap(into, &mut self.records);
        } else {
            into.append(&mut self.records);
        }
    }

    pub fn has_records(&self) -> bool {
        !self.records.is_empty()
    }

    /// Feeds one packet; returns what it says about this packet. Call `handle_timeout(ts)` first.
    pub fn handle_packet(&mut self, ts: Timestamp, packet: &Packet<'_>) -> &[Annotation] {
        self.annotations.clear();
        if ts > self.now {
            self.now = ts;
        }
        let Some((key, direction)) = FlowKey::of(packet).or_else(|| unknown_transport_key(packet)) else {
            return &self.annotations;
        };
        let ip_len = match &packet.net {
            Net::Ipv4(ip) => u32::from(ip.total_len),
            Net::Ipv6(ip) => 40 + u32::from(ip.payload_len),
            _ => 0,
        };
        // Hashed at most once: the lookup, an insert on a miss and a timed-out attempt's lookup all use this hash.
        let (found, hash) = self.table.lookup(&key);
        let flow = PacketFlow { key, direction, found, hash };
        match &packet.transport {
            Transport::Tcp(seg) => self.tcp(ts, &flow, seg, ip_len),
            // IP header plus the 8-byte UDP or ICMP header.
            Transport::Udp(_) | Transport::Icmp(_) => {
                self.datagram(ts, &flow, ip_len, if key.low.is_ipv4() { 28 } else { 48 })
            }
            // Zeek counts no payload bytes for these (conn.log's orig_bytes and resp_bytes stay 0).
            Transport::Other { .. } => self.datagram(ts, &flow, ip_len, ip_len),
            _ => {}
        }
        self.drain_flood_events();
        // Whatever this packet created or touched falls due no sooner than the shortest timeout from now.
        let soonest = self.now.saturating_add(self.shortest_timeout());
        if soonest < self.next_deadline {
            self.next_deadline = soonest;
        }
        &self.annotations
    }

    fn shortest_timeout(&self) -> Duration {
        self.shortest_timeout
    }

    fn tcp(&mut self, ts: Timestamp, flow: &PacketFlow, seg: &crate::wire::TcpSegment<'_>, ip_len: u32) {
        // SYNs the originator already sent with this ISN, when this SYN retries an attempt on a closed tuple.
        let mut retried_tries = None;
        let found = flow.found;
        if let Some(slot) = found
            && self.fast_tcp(ts, slot, flow, seg, ip_len)
        {
            return;
        }
        let slot = match found {
            Some(slot) => {
                let conn = self.table.get(slot);
                let from = flow.role_in(conn);
                match reuse::reuse(conn, from, seg) {
                    None => slot,
                    Some(kind) => {
                        // Zeek's connection reuse (reuse.rs): the old connection is logged and a new one starts.
                        // A fresh ISN on a tuple whose connection is over is also Wireshark's port reuse; the same
                        // SYN again (a refused client retrying) is numbered as the retransmission it is.
                        let announce = kind == reuse::Reuse::NewIsn && conn.phase == Phase::Closed;
                        if kind == reuse::Reuse::Retry {
                            retried_tries = Some(conn.half(from).syn_tries);
                        }
                        let old = self.table.remove(slot);
                        if old.is_half_open() {
                            self.flood.on_half_open_closed(ts, resp_of(&old));
                        }
                        let ended = old.timer_list() == Phase::Closed || old.reset;
                        self.finalize(old, if ended { None } else { Some(EndReason::Reuse) });
                        let slot = self.create(ts, flow, seg.flags.syn(), seg.flags.ack());
                        if announce {
                            self.stats.port_reuses += 1;
                            self.annotations.push(Annotation::PortReuse);
                        }
                        slot
                    }
                }
            }
            None => self.create(ts, flow, seg.flags.syn(), seg.flags.ack()),
        };
        let conn = self.table.get_mut(slot);
        let role = flow.role_in(conn);
        // Whether the clock had stopped is read once, for the old list and for tcp::segment.
        let clock_was_stopped = conn.clock_stopped();
        let old_list = conn.timer_list_given(clock_was_stopped);
        let was_half_open = conn.is_half_open();
        let sig = tcp::segment(conn, ts, role, seg, ip_len, clock_was_stopped, &mut self.annotations);
        if sig.new_attempt
            && let Some(tries) = retried_tries.or_else(|| match flow.hash {
                Some(hash) => self.timed_out_attempts.take_hashed(hash, seg.seq),
                None => self.timed_out_attempts.take(&flow.key, seg.seq),
            })
        {
            let tries = tries.saturating_add(1);
            conn.half_mut(Role::Orig).syn_tries = tries;
            for a in self.annotations.iter_mut() {
                if let Annotation::HandshakeSyn { attempt } = a {
                    *attempt = u32::from(tries);
                }
            }
        }
        let now_list = conn.timer_list();
        let moved = conn.last_ts == ts;
        // Half-open connections stay in creation order (their timer counts from the SYN); the others move to the
        // tail when their timer restarts, which is whenever `last_ts` moves, or when they change list. Closed ones
        // too: their close delay counts from `last_ts` (see `expire`), and `expire` stops at the first head not yet
        // due, so a closed connection that kept receiving trailing packets at the head would hold back every record
        // behind it. Once both ends have closed, `last_ts` stops (Zeek's stopped clock, Conn::clock_stopped) and the
        // connection stays where the closing packet put it, at its time: moving it on a later packet, still at that
        // older time, would break the list's time order (found by the tracker fuzz target). Every list change comes
        // with a packet that moved `last_ts` (tcp::segment), so a moved connection always goes to a tail at `now`.
        if now_list != old_list || (now_list != Phase::HalfOpen && moved) {
            self.table.requeue_onto(slot, old_list, now_list);
        }
        if sig.new_attempt || sig.syn_ack || sig.established || sig.reset {
            self.report_handshake(ts, slot, sig, was_half_open);
        }
        if sig.refused {
            self.stats.refused += 1;
        }
        if sig.retransmission {
            self.stats.retransmissions += 1;
        }
    }

    /// The common segment on a tracked connection ([`tcp::fast_segment`]): true when it was taken. Such a segment
    /// leaves the connection on the active list with its clock moved, so it goes to that list's tail, as `tcp` would
    /// move it; it signals nothing, so there is nothing to report. Measured on `read -q` of the bench file: the
    /// general path's `analyse` and `ZeekTcp::packet` cost about 350 instructions per packet, this about 60.
    fn fast_tcp(
        &mut self,
        ts: Timestamp,
        slot: Slot,
        flow: &PacketFlow,
        seg: &crate::wire::TcpSegment<'_>,
        ip_len: u32,
    ) -> bool {
        #[cfg(test)]
        if self.general_only {
            return false;
        }
        let conn = self.table.get_mut(slot);
        let role = flow.role_in(conn);
        #[cfg(debug_assertions)]
        let general = general_path_of(conn, ts, role, seg, ip_len);
        if !tcp::fast_segment(conn, ts, role, seg, ip_len) {
            return false;
        }
        #[cfg(debug_assertions)]
        general.assert_same_as(conn);
        self.table.requeue_onto(slot, Phase::Active, Phase::Active);
        #[cfg(test)]
        {
            self.fast_taken += 1;
        }
        true
    }

    /// Tells the flood detector and the statistics about a segment's attempt, SYN-ACK, handshake or reset. Most
    /// segments have none, so the connection's ends and round trip are looked up only here.
    fn report_handshake(&mut self, ts: Timestamp, slot: Slot, sig: tcp::Signals, was_half_open: bool) {
        let conn = self.table.get(slot);
        let (orig, resp, rtt) = (orig_of(conn), resp_of(conn), conn.handshake_rtt());
        if sig.new_attempt {
            self.stats.attempts += 1;
            self.flood.on_syn(ts, resp, orig.ip());
        }
        if sig.syn_ack {
            self.flood.on_syn_ack(ts, resp);
        }
        if sig.established {
            self.stats.handshakes_completed += 1;
            self.flood.on_established(ts, resp);
            if let Some(rtt) = rtt {
                self.stats.rtt.record(rtt);
            }
        }
        if sig.reset {
            self.stats.resets += 1;
            if was_half_open {
                self.flood.on_half_open_closed(ts, resp);
            }
        }
    }

    fn create(&mut self, ts: Timestamp, flow: &PacketFlow, syn: bool, ack: bool) -> Slot {
        let key = flow.key;
        let hash = flow.hash(&self.table);
        let (src, dst) = flow.ends();
        // The originator sent the first SYN. If the first packet seen is a SYN-ACK, its receiver is the originator
        // and the roles are flipped (Zeek's '^'). Mid-stream, Zeek's port heuristic picks the likely server as the
        // responder, and otherwise the sender of the first packet is the originator.
        let (orig, flipped, mid_stream) = match (syn, ack) {
            (true, false) => (src, false, false),
            (true, true) => (dst, true, false),
            _ if ports::flip_mid_stream(src.port(), dst.port()) => (dst, true, true),
            _ => (src, false, true),
        };
        let phase = if syn && !ack { Phase::HalfOpen } else { Phase::Active };
        let mut conn = Conn::new(key, orig == key.low, ts, flipped, phase);
        conn.mid_stream = mid_stream;
        self.stats.connections += 1;
        if mid_stream {
            self.annotations.push(Annotation::MidStream);
        }
        let (slot, evicted) = self.table.insert(conn, hash);
        if let Some(old) = evicted {
            if old.is_half_open() {
                self.flood.on_half_open_closed(ts, resp_of(&old));
            }
            self.finalize(old, Some(EndReason::Eviction));
        }
        slot
    }

    /// UDP and ICMP flows: counted, and ended by inactivity (Zeek's udp/icmp_inactivity_timeout, 1 min). The first
    /// datagram's sender is the originator, unless it is a UDP datagram from a likely server port (Zeek's
    /// `likely_server_ports`, [`ports::flip_udp`]): then the other side is the client.
    fn datagram(&mut self, ts: Timestamp, flow: &PacketFlow, ip_len: u32, headers: u32) {
        let key = flow.key;
        let slot = match flow.found {
            Some(slot) => slot,
            None => {
                let hash = flow.hash(&self.table);
                let (src, dst) = flow.ends();
                let to_broadcast = dst.ip() == std::net::IpAddr::V4(std::net::Ipv4Addr::BROADCAST);
                let flip = key.protocol == 17 && ports::flip_udp(src.port(), dst.port(), to_broadcast);
                let orig = if flip { dst } else { src };
                // A flipped flow's history starts with '^', as Zeek's FlipRoles adds it (src/Conn.cc).
                let conn = Conn::new(key, orig == key.low, ts, flip, Phase::Udp);
                self.stats.connections += 1;
                let (slot, evicted) = self.table.insert(conn, hash);
                if let Some(old) = evicted {
                    self.finalize(old, Some(EndReason::Eviction));
                }
                slot
            }
        };
        let conn = self.table.get_mut(slot);
        let role = flow.role_in(conn);
        conn.last_ts = ts;
        let half = conn.half_mut(role);
        half.packets = half.packets.saturating_add(1);
        half.ip_bytes += u64::from(ip_len);
        // For datagram flows the sequence fields are unused; payload_total counts payload bytes.
        half.payload_total += u64::from(ip_len.saturating_sub(headers));
        self.table.requeue(slot, Phase::Udp);
    }

    /// Advances packet time: reports half-open attempts and closes out idle and finished connections.
    ///
    /// Inlined into the engine's per-packet loop, so the usual answer, nothing due yet, costs a comparison or two
    /// instead of a call: about 20 instr/pkt of `read -q` on the bench file (callgrind).
    #[inline]
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if now > self.now {
            self.now = now;
        }
        let now = self.now;
        let tick = now.as_nanos() >> FLOOD_TICK_SHIFT;
        if now < self.next_deadline && tick == self.flood_tick {
            return;
        }
        self.run_due(now, tick);
    }

    /// Whatever is due at `now`, and the flood detector's tick `tick`.
    #[inline(never)]
    fn run_due(&mut self, now: Timestamp, tick: u64) {
        self.flood_tick = tick;
        self.run_timers(now);
        self.next_deadline = self.earliest_deadline();
    }

    /// The earliest time a timer list's head falls due (every other entry is due later).
    fn earliest_deadline(&self) -> Timestamp {
        let c = &self.config;
        let due = |phase: Phase, from_first: bool, after: Duration| {
            self.table.head(phase).map(|slot| {
                let conn = self.table.get(slot);
                (if from_first { conn.first_ts } else { conn.last_ts }).saturating_add(after)
            })
        };
        [
            due(Phase::HalfOpen, true, c.syn_timeout),
            due(Phase::Active, false, c.tcp_inactivity),
            due(Phase::Closed, false, c.close_delay),
            due(Phase::Udp, false, c.udp_inactivity),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(Timestamp::from_nanos(u64::MAX))
    }

    fn run_timers(&mut self, now: Timestamp) {
        while let Some(slot) = self.table.head(Phase::HalfOpen) {
            let conn = self.table.get(slot);
            let deadline = conn.first_ts.saturating_add(self.config.syn_timeout);
            if deadline > now {
                break;
            }
            let event = TrackerEvent::HalfOpen {
                ts: deadline,
                orig: orig_of(conn),
                resp: resp_of(conn),
                after: self.config.syn_timeout,
            };
            self.events.push_back(event);
            self.stats.half_open_timeouts += 1;
            // Zeek logs an unanswered attempt when its attempt timer fires and forgets the connection (the TCP
            // analyzer's AttemptTimer), so a later SYN on the tuple is a new attempt. It also keeps a flood's
            // half-open entries from outliving the SYN timeout.
            let conn = self.table.get(slot);
            self.flood.on_half_open_closed(deadline, resp_of(conn));
            let orig = conn.half(Role::Orig);
            self.timed_out_attempts.remember(&conn.key, orig.isn.0, orig.syn_tries);
            self.records.push(record_of(conn, EndReason::Timeout));
            self.table.discard(slot);
        }
        self.expire(Phase::Active, self.config.tcp_inactivity, now);
        self.expire(Phase::Closed, self.config.close_delay, now);
        self.expire(Phase::Udp, self.config.udp_inactivity, now);
        self.flood.handle_timeout(now);
        self.drain_flood_events();
    }

    fn expire(&mut self, phase: Phase, idle: Duration, now: Timestamp) {
        while let Some(slot) = self.table.head(phase) {
            if self.table.get(slot).last_ts.saturating_add(idle) > now {
                break;
            }
            let conn = self.table.get(slot);
            if conn.is_half_open() {
                self.flood.on_half_open_closed(now, resp_of(conn));
            }
            let reason = if phase == Phase::Closed { None } else { Some(EndReason::Timeout) };
            self.records.push(record_of(conn, end_reason(conn, reason)));
            self.table.discard(slot);
        }
    }

    /// End of input: every connection still tracked gets its record.
    pub fn finish(&mut self) {
        while self.finish_some(usize::MAX) {}
    }

    /// End of input, a slice at a time: closes out up to `max` connections (oldest half-open first), queueing their
    /// records, and says whether any are left. Callers drain the records between calls, so the end of a flood does
    /// not hold a record for every tracked connection in memory at once.
    pub fn finish_some(&mut self, max: usize) -> bool {
        if !self.finishing {
            self.finishing = true;
            self.flood.finish(self.now);
            self.drain_flood_events();
        }
        for _ in 0..max {
            let Some(slot) = self.table.oldest() else { return false };
            let conn = self.table.get(slot);
            if conn.is_half_open() {
                self.stats.still_half_open += 1;
                if self.still_half_open.len() < LISTED_AT_END {
                    self.still_half_open.push((orig_of(conn), resp_of(conn)));
                }
            }
            // Both ends closed is a close even before the last ACK, as in `expire` (its timer list is Closed).
            let reason = if conn.timer_list() == Phase::Closed { None } else { Some(EndReason::EndOfInput) };
            self.records.push(record_of(conn, end_reason(conn, reason)));
            self.table.discard(slot);
        }
        !self.table.is_empty()
    }

    fn drain_flood_events(&mut self) {
        while let Some(event) = self.flood.poll_event() {
            self.events.push_back(TrackerEvent::Flood(event));
        }
    }

    /// Turns a connection into its record. `reason` None means "it closed": by RST or by FINs.
    fn finalize(&mut self, conn: Conn, reason: Option<EndReason>) {
        let record = record_of(&conn, end_reason(&conn, reason));
        self.records.push(record);
    }
}

/// The key of a packet of another IP protocol, as Zeek's unknown-transport analyzer keys it (its
/// src/packet_analysis/protocol/unknown_ip_transport/UnknownIPTransport.cc): the two addresses, ports 0, and the
/// protocol number. Zeek's IP analyzer hands that analyzer every protocol it has no other analyzer for
/// (scripts/base/packet-protocols/ip/main.zeek makes it the default): not TCP, UDP or ICMP, nor IP-in-IP (4), IPv6
/// in IP (41) and GRE (47), which it decapsulates, nor IGMP (2), which base/packet-protocols/igmp registers with
/// an analyzer of its own.
fn unknown_transport_key(packet: &Packet<'_>) -> Option<(FlowKey, Direction)> {
    let Transport::Other { protocol, .. } = packet.transport else { return None };
    if matches!(protocol, 2 | 4 | 41 | 47) {
        return None;
    }
    let (src, dst) = match &packet.net {
        Net::Ipv4(ip) => (Endpoint::v4(ip.src, 0), Endpoint::v4(ip.dst, 0)),
        Net::Ipv6(ip) => (Endpoint::v6(ip.src, 0), Endpoint::v6(ip.dst, 0)),
        _ => return None,
    };
    Some(FlowKey::ordered(src, dst, protocol))
}

/// What the general path ([`tcp::segment`]) makes of a segment, worked out on a copy of the connection: debug builds
/// (every test, the fuzz targets) check each segment the fast path takes against it, so the two cannot drift apart.
#[cfg(debug_assertions)]
struct GeneralPath {
    conn: Conn,
    list_before: Phase,
    signals: tcp::Signals,
    annotations: Vec<Annotation>,
}

#[cfg(debug_assertions)]
fn general_path_of(
    conn: &Conn,
    ts: Timestamp,
    role: Role,
    seg: &crate::wire::TcpSegment<'_>,
    ip_len: u32,
) -> GeneralPath {
    let mut copy = conn.clone();
    let mut annotations = Vec::new();
    let stopped = copy.clock_stopped();
    let list_before = copy.timer_list_given(stopped);
    let signals = tcp::segment(&mut copy, ts, role, seg, ip_len, stopped, &mut annotations);
    GeneralPath { conn: copy, list_before, signals, annotations }
}

#[cfg(debug_assertions)]
impl GeneralPath {
    /// The fast path left `conn` as the general path would have, said nothing, signalled nothing, and the
    /// connection was and stays on the active list with its clock at the packet (so `tcp` would requeue it there).
    fn assert_same_as(&self, conn: &Conn) {
        assert_eq!(format!("{:?}", self.conn), format!("{conn:?}"), "fast path and general path disagree");
        assert!(self.annotations.is_empty(), "the general path annotated {:?}", self.annotations);
        assert_eq!(self.signals, tcp::Signals::default());
        assert_eq!((self.list_before, self.conn.timer_list()), (Phase::Active, Phase::Active));
        assert_eq!(self.conn.last_ts, conn.last_ts);
    }
}

/// `None` means "it closed": by RST or by FINs.
fn end_reason(conn: &Conn, reason: Option<EndReason>) -> EndReason {
    reason.unwrap_or(if conn.reset { EndReason::Reset } else { EndReason::Close })
}

fn orig_of(conn: &Conn) -> Endpoint {
    if conn.orig_is_low { conn.key.low } else { conn.key.high }
}

fn resp_of(conn: &Conn) -> Endpoint {
    if conn.orig_is_low { conn.key.high } else { conn.key.low }
}

fn record_of(conn: &Conn, end_reason: EndReason) -> ConnRecord {
    let (orig, resp) = (orig_of(conn), resp_of(conn));
    let proto = match conn.key.protocol {
        6 => Proto::Tcp,
        17 => Proto::Udp,
        1 | 58 => Proto::Icmp,
        n => Proto::Unknown(n),
    };
    let o = conn.half(Role::Orig);
    let r = conn.half(Role::Resp);
    let duration = conn.last_ts.saturating_since(conn.first_ts);
    // Zeek sets duration and the byte counts only when the connection lasted longer than zero.
    let single_packet = duration == Duration::ZERO;
    let (orig_bytes, resp_bytes) = match proto {
        Proto::Tcp => (o.payload_bytes(), r.payload_bytes()),
        Proto::Udp | Proto::Icmp | Proto::Unknown(_) => (o.payload_total, r.payload_total),
    };
    let conn_state = match proto {
        Proto::Tcp => conn.zeek.conn_state(orig_bytes, resp_bytes),
        Proto::Udp => zeek::udp_conn_state(o.packets > 0, r.packets > 0),
        // Zeek has no states for ICMP or other protocols: every such "connection" is OTH.
        Proto::Icmp | Proto::Unknown(_) => zeek::ConnState::OTH,
    };
    let history = match proto {
        Proto::Tcp => record::HistoryText::from_ascii(conn.zeek.history.letters()),
        // Zeek adds a letter when a side's first datagram arrives. The first datagram is the originator's, unless
        // the roles were flipped ('^', see `datagram`): then it was the responder's.
        Proto::Udp => match (conn.zeek.history.as_str().starts_with('^'), o.packets > 0, r.packets > 0) {
            (false, true, true) => "Dd".into(),
            (false, true, false) => "D".into(),
            (true, true, true) => "^dD".into(),
            (true, false, true) => "^d".into(),
            (_, false, true) => "d".into(),
            (true, true, false) => "^D".into(),
            _ => Default::default(),
        },
        Proto::Icmp | Proto::Unknown(_) => Default::default(),
    };
    ConnRecord {
        ts: conn.first_ts,
        orig,
        resp,
        proto,
        duration: (!single_packet).then_some(duration),
        orig_bytes: (!single_packet).then_some(orig_bytes),
        resp_bytes: (!single_packet).then_some(resp_bytes),
        conn_state,
        missed_bytes: conn.missed_bytes,
        history,
        orig_pkts: u64::from(o.packets),
        orig_ip_bytes: o.ip_bytes,
        resp_pkts: u64::from(r.packets),
        resp_ip_bytes: r.ip_bytes,
        handshake_rtt: conn.handshake_rtt(),
        close_initiator: conn.close_initiator,
        end_reason,
    }
}

#[cfg(test)]
mod tests;
