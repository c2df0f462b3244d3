//! The connection tracker fed a script of frames with non-decreasing timestamps, as the engine feeds it
//! (`handle_timeout`, then `handle_packet`): TCP segments among a few hosts and ports, with fuzzed flags, options
//! and payload lengths, and sequence and acknowledgement numbers either fuzzed outright or near what the other side
//! expects (so data, retransmissions and closes happen), often on the tuple of the step before; whole handshakes;
//! UDP datagrams; arbitrary frames; quiet-interface ticks; and time steps from microseconds to hours. A small
//! table, short or default timeouts, a low flood threshold. The script ends by letting every timer fire, or with
//! `finish`.
//!
//! Checked after every call, besides "no panic":
//! - the table never holds more than `max_flows` connections, and every statistic and counter only grows;
//! - conservation: connections tracked plus records written equals connections created; one record per eviction;
//!   one half-open event per half-open timeout; at the end nothing is tracked and every packet the tracker took is
//!   counted in exactly one record;
//! - records make sense: first packet no later than the last, both no later than now, a duration only when positive,
//!   a handshake RTT no longer than the connection, at least one packet;
//! - timers fire on time: a record that `handle_timeout` writes was due (its timeout from the first packet for a
//!   half-open attempt, from the last one otherwise), and was not already due at the previous `handle_timeout`;
//! - flood events are dated no later than now, and a flood never ends before it started.

#![no_main]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use synscope::hash_key::HashKey;
use synscope::time::{Duration, Timestamp};
use synscope::track::flood_detector::{FloodConfig, FloodEvent};
use synscope::track::record::{ConnRecord, EndReason, Proto};
use synscope::track::{Tracker, TrackerConfig, TrackerEvent};
use synscope::wire::craft::{self, EthernetSpec, TcpSpec};
use synscope::wire::flow::{Endpoint, FlowKey};
use synscope::wire::{LinkType, TcpFlags, decode};

#[derive(Arbitrary, Debug)]
struct Script {
    /// Seeds the tables' hash key: what they hold must not depend on it.
    hash_seed: u64,
    max_flows: u8,
    short_timeouts: bool,
    flood_rate: u8,
    expire_at_end: bool,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Tcp {
        conn: Conn,
        reply: bool,
        flags: Flags,
        seq: Num,
        ack: Num,
        payload: u8,
        window: u16,
        options: Options,
    },
    /// SYN, SYN-ACK and ACK on one tuple, each answering the one before, `gap` microseconds apart: handshakes
    /// complete often, and the fuzzed segments around them find connections in every state.
    Handshake {
        conn: Conn,
        gap: u16,
    },
    Udp {
        conn: Conn,
        reply: bool,
        payload: u8,
    },
    /// Any bytes, as an Ethernet frame.
    Raw(Vec<u8>),
    Wait(Gap),
    /// `handle_timeout` with no packet, as the capture thread's tick on a quiet interface.
    Tick,
}

/// The tuple of the step before (so a script can follow one connection), or one of 32.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Conn {
    Same,
    Pick(u8),
}

/// The flags of a handshake, a teardown and data, so that scripts reach them often; or any others.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    PshAck,
    FinAck,
    Rst,
    RstAck,
    Any(u8),
}

impl Flags {
    fn bits(self) -> u16 {
        match self {
            Flags::Syn => TcpFlags::SYN,
            Flags::SynAck => TcpFlags::SYN | TcpFlags::ACK,
            Flags::Ack => TcpFlags::ACK,
            Flags::PshAck => TcpFlags::PSH | TcpFlags::ACK,
            Flags::FinAck => TcpFlags::FIN | TcpFlags::ACK,
            Flags::Rst => TcpFlags::RST,
            Flags::RstAck => TcpFlags::RST | TcpFlags::ACK,
            Flags::Any(bits) => u16::from(bits),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Num {
    /// What this side would send next (for seq), or what the other side sent up to (for ack).
    Next,
    /// The same, off by a little.
    Near(i8),
    Raw(u32),
}

#[derive(Arbitrary, Debug)]
enum Options {
    None,
    Syn { mss: u16, tsval: u32, tsecr: u32, wscale: u8 },
    Timestamps { tsval: u32, tsecr: u32 },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Gap {
    Micros(u16),
    Millis(u16),
    Secs(u8),
    Minutes(u8),
}

impl Gap {
    fn duration(self) -> Duration {
        match self {
            Gap::Micros(n) => Duration::from_micros(u64::from(n)),
            Gap::Millis(n) => Duration::from_millis(u64::from(n)),
            Gap::Secs(n) => Duration::from_secs(u64::from(n)),
            Gap::Minutes(n) => Duration::from_secs(60 * u64::from(n)),
        }
    }
}

const MAC_CLIENT: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
const MAC_SERVER: [u8; 6] = [2, 0, 0, 0, 0, 5];

/// One of 32 tuples: 4 clients, 2 client ports, 2 server ports, IPv4 or IPv6.
fn tuple(conn: u8) -> (SocketAddr, SocketAddr) {
    let host = conn & 3;
    let client_port = 40000 + u16::from(conn >> 2 & 1);
    let server_port = [80, 5000][usize::from(conn >> 3 & 1)];
    if conn & 0x10 == 0 {
        (
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + host)), client_port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)), server_port),
        )
    } else {
        (
            SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, u16::from(host))), client_port),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20)), server_port),
        )
    }
}

/// Options padded with NOPs to a multiple of four, at most 40 bytes.
fn padded(options: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = options.iter().copied().take(40).collect();
    while !out.len().is_multiple_of(4) {
        out.push(1);
    }
    out
}

/// The tracker's statistics that must never go down.
fn counters(tracker: &Tracker) -> [u64; 14] {
    let s = tracker.stats();
    let (evictions, evicted_half_open) = tracker.evictions();
    [
        s.connections,
        s.attempts,
        s.handshakes_completed,
        s.refused,
        s.resets,
        s.retransmissions,
        s.half_open_timeouts,
        s.still_half_open,
        s.port_reuses,
        s.rtt.count(),
        evictions,
        evicted_half_open,
        tracker.floods_detected(),
        tracker.still_half_open.len() as u64,
    ]
}

struct Books {
    config: TrackerConfig,
    /// Packets handed to the tracker that it keys to a flow.
    fed: u64,
    records: u64,
    packets_in_records: u64,
    evicted_records: u64,
    half_open_events: u64,
    floods_started: u64,
    counters: [u64; 14],
    /// When `handle_timeout` last ran.
    last_timeout: Option<Timestamp>,
}

impl Books {
    /// Drains and checks what the tracker queued during a call at `now`; `timeout` says the call was
    /// `handle_timeout`.
    fn after(&mut self, tracker: &mut Tracker, now: Timestamp, timeout: bool) {
        let bound = self.config.max_flows.max(1);
        assert!(tracker.tracked() <= bound, "{} connections tracked, bound {bound}", tracker.tracked());
        let counters = counters(tracker);
        for (i, (now_value, before)) in counters.iter().zip(&self.counters).enumerate() {
            assert!(now_value >= before, "counter {i} went down: {before} -> {now_value}");
        }
        self.counters = counters;
        let (evictions, evicted_half_open) = tracker.evictions();
        assert!(evicted_half_open <= evictions);
        assert!(tracker.still_half_open.len() <= 5);

        let mut half_open = Vec::new();
        while let Some(event) = tracker.poll_event() {
            match event {
                TrackerEvent::HalfOpen { ts, orig, resp, after } => {
                    assert!(timeout, "a half-open event outside handle_timeout");
                    assert!(ts <= now && after == self.config.syn_timeout);
                    self.half_open_events += 1;
                    half_open.push((ts, orig, resp));
                }
                TrackerEvent::Flood(FloodEvent::Started { ts, .. }) => {
                    assert!(ts <= now, "a flood started in the future");
                    self.floods_started += 1;
                }
                TrackerEvent::Flood(FloodEvent::Ended { started, ended, .. }) => {
                    assert!(started <= ended && ended <= now, "flood from {started} to {ended}, now {now}");
                }
            }
        }
        assert_eq!(self.half_open_events, tracker.stats().half_open_timeouts);
        assert!(self.floods_started <= tracker.floods_detected());

        let mut records = Vec::new();
        tracker.take_records(&mut records);
        for record in &records {
            self.check_record(record, now, timeout, &half_open);
        }
        self.last_timeout = if timeout { Some(now) } else { self.last_timeout };
        assert_eq!(self.evicted_records, evictions, "eviction records and the eviction count disagree");
        assert_eq!(
            tracker.tracked() as u64 + self.records,
            tracker.stats().connections,
            "connections lost or counted twice"
        );
    }

    fn check_record(
        &mut self,
        record: &ConnRecord,
        now: Timestamp,
        timeout: bool,
        half_open: &[(Timestamp, Endpoint, Endpoint)],
    ) {
        self.records += 1;
        let packets = record.orig_pkts + record.resp_pkts;
        assert!(packets >= 1, "a record without packets");
        self.packets_in_records += packets;
        if let Some(d) = record.duration {
            assert!(d > Duration::ZERO, "a zero duration is written as none");
        }
        let duration = record.duration.unwrap_or(Duration::ZERO);
        let last = record.ts.saturating_add(duration);
        assert!(last <= now, "a record's last packet at {last} is after now {now}");
        if let Some(rtt) = record.handshake_rtt {
            assert!(rtt <= duration, "handshake RTT {rtt:?} longer than the connection {duration:?}");
        }
        if record.end_reason == EndReason::Eviction {
            self.evicted_records += 1;
        }
        if !timeout {
            return;
        }
        // Written by a timer: find which one, and check that it fired when it fell due, not before or after.
        let c = &self.config;
        let deadline = match (record.proto, record.end_reason) {
            (Proto::Udp | Proto::Icmp, EndReason::Timeout) => last.saturating_add(c.udp_inactivity),
            (Proto::Tcp, EndReason::Timeout) => {
                let syn_deadline = record.ts.saturating_add(c.syn_timeout);
                if half_open.iter().any(|&(ts, o, r)| ts == syn_deadline && o == record.orig && r == record.resp) {
                    syn_deadline
                } else {
                    last.saturating_add(c.tcp_inactivity)
                }
            }
            (Proto::Tcp, EndReason::Close | EndReason::Reset) => last.saturating_add(c.close_delay),
            (proto, reason) => panic!("handle_timeout wrote a {proto:?} record ended by {reason:?}"),
        };
        assert!(deadline <= now, "a record written at {now}, before its deadline {deadline}: {record:?}");
        if let Some(previous) = self.last_timeout {
            assert!(previous < deadline, "a record due at {deadline} was kept past the timeout at {previous}");
        }
    }
}

/// The tracker being fed, its books, packet time, and what each side of each tuple sends next.
struct Run {
    tracker: Tracker,
    books: Books,
    now: Timestamp,
    /// (tuple, from the server) -> the next sequence number that side sends.
    next_seq: HashMap<(u8, bool), u32>,
    /// The tuple of the last TCP or UDP step.
    conn: u8,
    frame: Vec<u8>,
}

impl Run {
    fn pick(&mut self, conn: Conn) -> u8 {
        if let Conn::Pick(id) = conn {
            self.conn = id & 0x1f;
        }
        self.conn
    }

    /// Sends one segment of tuple `id`; `seq` and `ack` are picked relative to what each side sent so far.
    #[allow(clippy::too_many_arguments)]
    fn tcp(
        &mut self,
        id: u8,
        reply: bool,
        flags: u16,
        (seq, ack): (Num, Num),
        payload: u8,
        window: u16,
        options: &[u8],
    ) {
        let (client, server) = tuple(id);
        let (from, to) = if reply { (server, client) } else { (client, server) };
        let mine = self.next_seq.get(&(id, reply)).copied().unwrap_or(1000);
        let theirs = self.next_seq.get(&(id, !reply)).copied().unwrap_or(0);
        let pick = |num: Num, base: u32| match num {
            Num::Next => base,
            Num::Near(off) => base.wrapping_add(off as i32 as u32),
            Num::Raw(n) => n,
        };
        let (seq, ack) = (pick(seq, mine), pick(ack, theirs));
        let flags = TcpFlags(flags);
        let body = vec![0x5a; usize::from(payload)];
        let (src, dst) = if reply { (MAC_SERVER, MAC_CLIENT) } else { (MAC_CLIENT, MAC_SERVER) };
        let spec =
            TcpSpec { src_port: from.port(), dst_port: to.port(), seq, ack, flags, window, options, payload: &body };
        let eth = EthernetSpec { src, dst, vlans: &[] };
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        craft::tcp_frame(&mut frame, Some(&eth), &craft::ip_between(from, to, 64, 1), &spec).expect("a segment");
        let consumed = u32::from(flags.syn()) + u32::from(flags.fin()) + u32::from(payload);
        self.next_seq.insert((id, reply), seq.wrapping_add(consumed));
        self.feed(frame);
    }

    /// Hands a frame to the tracker as the engine does: timers first, then the packet.
    fn feed(&mut self, frame: Vec<u8>) {
        let packet = decode(LinkType::Ethernet, &frame);
        self.tracker.handle_timeout(self.now);
        self.books.after(&mut self.tracker, self.now, true);
        self.tracker.handle_packet(self.now, &packet);
        self.books.fed += u64::from(FlowKey::of(&packet).is_some());
        self.books.after(&mut self.tracker, self.now, false);
        drop(packet);
        self.frame = frame;
    }
}

fuzz_target!(|script: Script| {
    let mut config = TrackerConfig {
        max_flows: usize::from(script.max_flows % 16),
        flood: FloodConfig {
            syn_rate: 1 + u32::from(script.flood_rate % 32),
            max_completion: 0.5,
            window: Duration::from_secs(1),
            max_targets: 2,
        },
        ..TrackerConfig::default()
    };
    if script.short_timeouts {
        config.syn_timeout = Duration::from_millis(50);
        config.tcp_inactivity = Duration::from_secs(2);
        config.udp_inactivity = Duration::from_secs(1);
        config.close_delay = Duration::from_millis(100);
    }
    let tracker = Tracker::new(config, HashKey::from_seed(script.hash_seed));
    let books = Books {
        config,
        fed: 0,
        records: 0,
        packets_in_records: 0,
        evicted_records: 0,
        half_open_events: 0,
        floods_started: 0,
        counters: counters(&tracker),
        last_timeout: None,
    };
    let mut run = Run {
        tracker,
        books,
        now: Timestamp::from_nanos(1_780_315_200_000_000_000),
        next_seq: HashMap::new(),
        conn: 0,
        frame: Vec::new(),
    };
    for step in script.steps.iter().take(256) {
        match step {
            Step::Tcp { conn, reply, flags, seq, ack, payload, window, options } => {
                let options = match options {
                    Options::None => Vec::new(),
                    Options::Syn { mss, tsval, tsecr, wscale } => {
                        craft::linux_syn_options(*mss, *tsval, *tsecr, *wscale).to_vec()
                    }
                    Options::Timestamps { tsval, tsecr } => craft::timestamp_option(*tsval, *tsecr).to_vec(),
                    Options::Raw(bytes) => padded(bytes),
                };
                let id = run.pick(*conn);
                run.tcp(id, *reply, flags.bits(), (*seq, *ack), *payload, *window, &options);
            }
            Step::Handshake { conn, gap } => {
                let id = run.pick(*conn);
                let gap = Duration::from_micros(u64::from(*gap));
                let syn_options = craft::linux_syn_options(1460, 1, 0, 7);
                run.tcp(id, false, TcpFlags::SYN, (Num::Next, Num::Raw(0)), 0, 64240, &syn_options);
                run.now = run.now.saturating_add(gap);
                run.tcp(id, true, TcpFlags::SYN | TcpFlags::ACK, (Num::Next, Num::Next), 0, 65160, &syn_options);
                run.now = run.now.saturating_add(gap);
                run.tcp(id, false, TcpFlags::ACK, (Num::Next, Num::Next), 0, 502, &[]);
            }
            Step::Udp { conn, reply, payload } => {
                let (client, server) = tuple(run.pick(*conn));
                let (from, to) = if *reply { (server, client) } else { (client, server) };
                let body = vec![0x33; usize::from(*payload)];
                let eth = EthernetSpec { src: MAC_CLIENT, dst: MAC_SERVER, vlans: &[] };
                let ip = craft::ip_between(from, to, 64, 1);
                let mut frame = std::mem::take(&mut run.frame);
                frame.clear();
                craft::udp_frame(&mut frame, Some(&eth), &ip, from.port(), to.port(), &body).expect("a datagram");
                run.feed(frame);
            }
            Step::Raw(bytes) => run.feed(bytes.clone()),
            Step::Wait(gap) => run.now = run.now.saturating_add(gap.duration()),
            Step::Tick => {
                run.tracker.handle_timeout(run.now);
                run.books.after(&mut run.tracker, run.now, true);
            }
        }
    }
    let Run { mut tracker, mut books, mut now, .. } = run;

    if script.expire_at_end {
        // Past every timeout and the flood window: everything must have been written.
        now = now.saturating_add(Duration::from_secs(24 * 3600));
        tracker.handle_timeout(now);
        books.after(&mut tracker, now, true);
        assert_eq!(tracker.tracked(), 0, "connections outlived every timeout");
    }
    tracker.finish();
    books.after(&mut tracker, now, false);
    assert!(!tracker.finish_some(1), "finish left connections behind");
    assert_eq!(tracker.tracked(), 0);
    assert_eq!(books.records, tracker.stats().connections);
    assert_eq!(books.packets_in_records, books.fed, "packets lost or counted twice");
});
