//! Tests for the tracker's state transitions, annotations, timers and records, grouped by the state the connection is
//! in when the scripted exchange starts (DESIGN.md: "Unit tests sit in-module, grouped by state").
//!
//! The harness crafts real frames between fixed endpoints (client 192.0.2.10:40000, server 192.0.2.20:9999), decodes
//! them and feeds them to a [`Tracker`] with the scripted timestamps, smoltcp style:
//!
//! ```text
//! send!(t, client, "S", seq = 1000, at = 0)                      // a SYN at T0
//! send!(t, server, "SA", seq = 5000, ack = 1001, at = 10)        // the SYN-ACK 10 ms later
//! send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40)
//! ```
//!
//! Flags are letters (S SYN, A ACK, F FIN, R RST, P PSH); `at` is milliseconds after T0; `len` is payload bytes and
//! `win` the raw window (65535 unless given; no options, so no window scaling). The macro calls `handle_timeout(ts)`
//! then `handle_packet(ts, ..)` and returns the annotations, which compare against their Display strings. Time moves
//! only through these timestamps and explicit `handle_timeout` calls: no test sleeps.
//!
//! Fixtures bring the connection to a state with fixed numbers: client ISN 1000, server ISN 5000, SYN at 0 ms,
//! SYN-ACK at 10 ms, ACK at 30 ms; teardown fixtures continue at 100 ms and later.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::annotate::{Annotation, CloseForm, TcpState};
use super::conn::Phase;
use super::record::{ConnRecord, EndReason, Proto, Role, make_uid};
use super::zeek::ConnState;
use super::{Tracker, TrackerConfig, TrackerEvent};
use crate::time::{Duration, Timestamp};
use crate::wire::craft::{self, TcpSpec};
use crate::wire::flow::{Endpoint, FlowKey};
use crate::wire::{LinkType, TcpFlags, decode};

const CLIENT: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 10), 40000));
const SERVER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 20), 9999));
/// T0: an ordinary epoch time, so nothing depends on timestamps starting at zero.
const T0_NANOS: u64 = 1_700_000_000_000_000_000;
const C_ISN: u32 = 1000;
const S_ISN: u32 = 5000;
/// IPv4 + TCP headers of a crafted segment without options: 20 + 20 bytes.
const HDRS: u64 = 40;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_nanos(T0_NANOS + ms * 1_000_000)
}

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn client() -> Endpoint {
    Endpoint::new(CLIENT.ip(), CLIENT.port())
}

fn server() -> Endpoint {
    Endpoint::new(SERVER.ip(), SERVER.port())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Client,
    Server,
}

/// One scripted segment; the macro fills it with struct-update syntax.
struct Seg {
    from: Peer,
    flags: &'static str,
    seq: u32,
    ack: u32,
    len: u32,
    win: u16,
    at: u64,
}

const SEG: Seg = Seg { from: Peer::Client, flags: "", seq: 0, ack: 0, len: 0, win: 65535, at: 0 };

fn flags(letters: &str) -> TcpFlags {
    let bits = letters.chars().fold(0, |bits, c| {
        bits | match c {
            'S' => TcpFlags::SYN,
            'A' => TcpFlags::ACK,
            'F' => TcpFlags::FIN,
            'R' => TcpFlags::RST,
            'P' => TcpFlags::PSH,
            other => panic!("unknown flag letter {other:?}"),
        }
    });
    TcpFlags(bits)
}

/// What the tracker said about one packet: the annotations, compared (and printed) as their Display strings.
#[derive(Clone, PartialEq)]
struct Said(Vec<Annotation>);

impl Said {
    fn text(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Debug for Said {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Said {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.text() == other
    }
}

/// Nothing to say about a packet.
const NOTHING: [&str; 0] = [];

/// A raw-IP TCP frame between any two endpoints.
fn tcp_frame(src: SocketAddr, dst: SocketAddr, flag_letters: &str, seq: u32, ack: u32, len: u32, win: u16) -> Vec<u8> {
    let payload = vec![b'x'; len as usize];
    let spec = TcpSpec {
        src_port: src.port(),
        dst_port: dst.port(),
        seq,
        ack,
        flags: flags(flag_letters),
        window: win,
        options: &[],
        payload: &payload,
    };
    let mut frame = Vec::new();
    craft::tcp_frame(&mut frame, None, &craft::ip_between(src, dst, 64, 0), &spec).expect("well-formed segment");
    frame
}

/// An IPv4 frame (raw IP) as a snap length captures it: its total length set to `total`, larger than what it
/// holds, and its header checksum recomputed.
fn claiming(mut frame: Vec<u8>, total: u16) -> Vec<u8> {
    frame[2..4].copy_from_slice(&total.to_be_bytes());
    frame[10..12].fill(0);
    let sum = frame[..20].chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], w[1]]))).sum::<u32>();
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = ((sum & 0xffff) + (sum >> 16)) as u16;
    frame[10..12].copy_from_slice(&(!sum).to_be_bytes());
    frame
}

/// Decodes a frame and feeds it at `ts`, as the engine does: timers first, then the packet.
fn feed_frame(t: &mut Tracker, ts: Timestamp, frame: &[u8]) -> Said {
    let packet = decode(LinkType::RawIp, frame);
    assert_eq!(packet.malformed, None, "crafted frames decode cleanly");
    t.handle_timeout(ts);
    Said(t.handle_packet(ts, &packet).to_vec())
}

fn feed(t: &mut Tracker, s: Seg) -> Said {
    let (src, dst) = match s.from {
        Peer::Client => (CLIENT, SERVER),
        Peer::Server => (SERVER, CLIENT),
    };
    let frame = tcp_frame(src, dst, s.flags, s.seq, s.ack, s.len, s.win);
    feed_frame(t, at(s.at), &frame)
}

/// `send!(t, client|server, "FLAGS", seq = .., ack = .., len = .., win = .., at = ms)`; fields other than the
/// flags default to zero (win to 65535).
macro_rules! send {
    (@ $t:expr, $from:expr, $flags:literal $(, $field:ident = $value:expr)* $(,)?) => {
        feed(&mut $t, Seg { from: $from, flags: $flags, $($field: $value,)* ..SEG })
    };
    ($t:expr, client, $($rest:tt)*) => { send!(@ $t, Peer::Client, $($rest)*) };
    ($t:expr, server, $($rest:tt)*) => { send!(@ $t, Peer::Server, $($rest)*) };
}

/// A UDP datagram with `len` payload bytes.
fn datagram(t: &mut Tracker, from: Peer, len: usize, at_ms: u64) -> Said {
    let (src, dst) = match from {
        Peer::Client => (CLIENT, SERVER),
        Peer::Server => (SERVER, CLIENT),
    };
    let mut frame = Vec::new();
    craft::udp_frame(&mut frame, None, &craft::ip_between(src, dst, 64, 0), src.port(), dst.port(), &vec![0; len])
        .expect("well-formed datagram");
    feed_frame(t, at(at_ms), &frame)
}

fn tracker() -> Tracker {
    Tracker::new(TrackerConfig::default(), crate::hash_key::HashKey::from_seed(1))
}

/// Every record queued so far.
fn records(t: &mut Tracker) -> Vec<ConnRecord> {
    std::iter::from_fn(|| t.poll_record()).collect()
}

/// Every event queued so far.
fn events(t: &mut Tracker) -> Vec<TrackerEvent> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

/// The one record the connection produced, at end of input.
fn finish(mut t: Tracker) -> ConnRecord {
    t.finish();
    let mut all = records(&mut t);
    assert_eq!(all.len(), 1, "{all:#?}");
    all.pop().unwrap()
}

fn tcp_key() -> FlowKey {
    FlowKey::between(client(), server(), 6).0
}

/// The RFC 9293 states the tracker infers for (client, server).
fn states(t: &Tracker) -> (TcpState, TcpState) {
    let slot = t.table.find(&tcp_key()).expect("connection tracked");
    let conn = t.table.get(slot);
    (conn.half(Role::Orig).state, conn.half(Role::Resp).state)
}

fn phase(t: &Tracker) -> Phase {
    t.table.get(t.table.find(&tcp_key()).expect("connection tracked")).phase
}

/// The fields of a TCP record that every scenario pins down.
fn check(r: &ConnRecord, state: ConnState, history: &str, end: EndReason) {
    assert_eq!((r.conn_state, r.history.as_str(), r.end_reason), (state, history, end), "{r:#?}");
    assert_eq!(r.proto, Proto::Tcp);
}

// Fixtures: a connection already in a state.

/// A SYN from the client at 0 ms: client SYN-SENT, nothing from the server yet.
fn half_open() -> Tracker {
    let mut t = tracker();
    assert_eq!(send!(t, client, "S", seq = C_ISN, at = 0), ["[handshake 1/3 SYN]"]);
    t
}

/// The three-way handshake: SYN at 0 ms, SYN-ACK at 10 ms, ACK at 30 ms. Client next 1001, server next 5001.
fn established() -> Tracker {
    let mut t = half_open();
    assert_eq!(send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10).0.len(), 1);
    assert_eq!(send!(t, client, "A", seq = 1001, ack = 5001, at = 30).0.len(), 1);
    assert_eq!(states(&t), (TcpState::Established, TcpState::Established));
    t
}

/// Established, then the client's FIN at 100 ms: client FIN-WAIT-1.
fn fin_wait_1() -> Tracker {
    let mut t = established();
    assert_eq!(
        send!(t, client, "FA", seq = 1001, ack = 5001, at = 100),
        ["[teardown 1/4 FIN from client: FIN-WAIT-1]"]
    );
    t
}

/// FIN-WAIT-1, then the server's ACK of the FIN at 110 ms: client FIN-WAIT-2, server CLOSE-WAIT.
fn close_wait() -> Tracker {
    let mut t = fin_wait_1();
    assert_eq!(
        send!(t, server, "A", seq = 5001, ack = 1002, at = 110),
        ["[teardown 2/4 ACK of FIN: server in CLOSE-WAIT]"]
    );
    t
}

/// CLOSE-WAIT, then the server's FIN at 120 ms and the client's last ACK at 130 ms: client TIME-WAIT.
fn time_wait() -> Tracker {
    let mut t = close_wait();
    assert_eq!(send!(t, server, "FA", seq = 5001, ack = 1002, at = 120), ["[teardown 3/4 FIN from server: LAST-ACK]"]);
    assert_eq!(send!(t, client, "A", seq = 1002, ack = 5002, at = 130), ["[teardown 4/4 ACK: client in TIME-WAIT]"]);
    t
}

#[test]
fn harness_frames_decode_to_what_was_scripted() {
    let frame = tcp_frame(CLIENT, SERVER, "PA", 7, 9, 3, 1234);
    let packet = decode(LinkType::RawIp, &frame);
    let seg = packet.tcp().unwrap();
    assert_eq!((seg.seq, seg.ack, seg.payload_len, seg.window), (7, 9, 3, 1234));
    assert_eq!(seg.flags, TcpFlags(TcpFlags::PSH | TcpFlags::ACK));
    assert_eq!(frame.len() as u64, HDRS + 3);
}

/// Tests for SYN-SENT: the opening SYN, its retransmissions, refusal, and the half-open timer.
mod syn_sent {
    use super::*;

    #[test]
    fn three_way_handshake_with_exact_times() {
        let mut t = tracker();
        assert_eq!(send!(t, client, "S", seq = C_ISN, at = 0).0, [Annotation::HandshakeSyn { attempt: 1 }]);
        assert_eq!(states(&t), (TcpState::SynSent, TcpState::Closed));
        assert_eq!(phase(&t), Phase::HalfOpen);

        let said = send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10);
        assert_eq!(said.0, [Annotation::HandshakeSynAck { since_syn: Some(ms(10)), attempt: 1 }]);
        assert_eq!(said, ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]"]);
        assert_eq!(states(&t), (TcpState::SynSent, TcpState::SynReceived));
        assert_eq!(phase(&t), Phase::Active);

        let said = send!(t, client, "A", seq = 1001, ack = 5001, at = 30);
        assert_eq!(said.0, [Annotation::HandshakeAck { rtt: Some(ms(30)), since_syn_ack: Some(ms(20)) }]);
        assert_eq!(said, ["[handshake 3/3 ACK: established, rtt 30.000 ms (SYN-ACK→ACK 20.000 ms)]"]);
        assert_eq!(states(&t), (TcpState::Established, TcpState::Established));

        let s = t.stats();
        assert_eq!((s.connections, s.attempts, s.handshakes_completed, s.retransmissions), (1, 1, 1, 0));
        assert_eq!(s.rtt.count(), 1);
        let r = finish(t);
        check(&r, ConnState::S1, "ShA", EndReason::EndOfInput);
        assert_eq!(r.handshake_rtt, Some(ms(30)));
        assert_eq!((r.orig, r.resp), (client(), server()));
    }

    #[test]
    fn submillisecond_times_are_exact() {
        let mut t = tracker();
        let syn = tcp_frame(CLIENT, SERVER, "S", C_ISN, 0, 0, 65535);
        let syn_ack = tcp_frame(SERVER, CLIENT, "SA", S_ISN, 1001, 0, 65535);
        let ack = tcp_frame(CLIENT, SERVER, "A", 1001, 5001, 0, 65535);
        let us = |n: u64| Timestamp::from_nanos(T0_NANOS + n * 1_000);
        feed_frame(&mut t, us(0), &syn);
        assert_eq!(feed_frame(&mut t, us(105), &syn_ack), ["[handshake 2/3 SYN-ACK: 0.105 ms after SYN]"]);
        assert_eq!(
            feed_frame(&mut t, us(210), &ack),
            ["[handshake 3/3 ACK: established, rtt 0.210 ms (SYN-ACK→ACK 0.105 ms)]"]
        );
    }

    #[test]
    fn syn_retransmissions_count_tries() {
        let mut t = half_open();
        let said = send!(t, client, "S", seq = C_ISN, at = 1000);
        assert_eq!(said.0, [Annotation::HandshakeSyn { attempt: 2 }]);
        assert_eq!(said, ["[handshake 1/3 SYN, retransmission: try 2]"]);
        assert_eq!(send!(t, client, "S", seq = C_ISN, at = 3000), ["[handshake 1/3 SYN, retransmission: try 3]"]);
        assert_eq!(states(&t), (TcpState::SynSent, TcpState::Closed));
        // The handshake is timed from the first SYN, as the connecting application experiences it.
        assert_eq!(
            send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 3010),
            ["[handshake 2/3 SYN-ACK: 3010.000 ms after SYN]"]
        );
        assert_eq!(
            send!(t, client, "A", seq = 1001, ack = 5001, at = 3020),
            ["[handshake 3/3 ACK: established, rtt 3020.000 ms (SYN-ACK→ACK 10.000 ms)]"]
        );
        let s = t.stats();
        assert_eq!((s.attempts, s.retransmissions), (1, 2));
        let r = finish(t);
        // S repeats only for a new sequence number.
        check(&r, ConnState::S1, "ShA", EndReason::EndOfInput);
        assert_eq!((r.orig_pkts, r.resp_pkts), (4, 1));
        assert_eq!(r.handshake_rtt, Some(ms(3020)));
    }

    #[test]
    fn syn_with_a_new_isn_while_half_open_is_a_new_attempt() {
        let mut t = half_open();
        // Not a retransmission: a different ISN is a new attempt (try 1), and a new connection, as Zeek's IsReuse
        // takes a SYN whose ISN differs from the originator's start (its weird "SYN_seq_jump"): the first attempt
        // is logged as it stands.
        assert_eq!(send!(t, client, "S", seq = 7000, at = 1000).0, [Annotation::HandshakeSyn { attempt: 1 }]);
        let first = records(&mut t);
        assert_eq!(first.len(), 1);
        check(&first[0], ConnState::S0, "S", EndReason::Reuse);
        assert_eq!(
            send!(t, server, "SA", seq = S_ISN, ack = 7001, at = 1010),
            ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]"]
        );
        assert_eq!(
            send!(t, client, "A", seq = 7001, ack = 5001, at = 1030),
            ["[handshake 3/3 ACK: established, rtt 30.000 ms (SYN-ACK→ACK 20.000 ms)]"]
        );
        let s = t.stats();
        assert_eq!((s.connections, s.attempts, s.retransmissions, s.port_reuses), (2, 2, 0, 0));
        let r = finish(t);
        check(&r, ConnState::S1, "ShA", EndReason::EndOfInput);
        assert_eq!(r.handshake_rtt, Some(ms(30)), "timed from the new SYN");
    }

    #[test]
    fn data_on_syn_is_reported_and_counted() {
        let mut t = tracker();
        let said = send!(t, client, "S", seq = C_ISN, len = 20, at = 0);
        assert_eq!(said.0, [Annotation::HandshakeSyn { attempt: 1 }, Annotation::DataOnSyn { len: 20 }]);
        assert_eq!(said, ["[handshake 1/3 SYN]", "[data on SYN: 20 bytes]"]);
        // The SYN-ACK acknowledges the SYN and its data (TCP Fast Open); the ACK follows on from the data.
        assert_eq!(
            send!(t, server, "SA", seq = S_ISN, ack = 1021, at = 10),
            ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]", "[TFO: SYN-ACK accepts the SYN's 20 bytes]"]
        );
        assert_eq!(send!(t, client, "A", seq = 1021, ack = 5001, at = 30).0.len(), 1);
        let r = finish(t);
        // No D: a packet with SYN gets S, never D (one letter per packet).
        check(&r, ConnState::S1, "ShA", EndReason::EndOfInput);
        assert_eq!((r.orig_bytes, r.resp_bytes), (Some(20), Some(0)));
        assert_eq!((r.orig_pkts, r.orig_ip_bytes), (2, 2 * HDRS + 20));
    }

    #[test]
    fn a_syn_ack_accepting_the_syns_data_is_tfo() {
        let mut t = tracker();
        send!(t, client, "S", seq = C_ISN, len = 20, at = 0);
        // RFC 7413 §4.2.2: the server that accepts the SYN's data acknowledges it with the SYN: ISN+1+20.
        let said = send!(t, server, "SA", seq = S_ISN, ack = 1021, at = 10);
        assert_eq!(said.0[1], Annotation::TfoSynAck { len: 20 });
        assert_eq!(said, ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]", "[TFO: SYN-ACK accepts the SYN's 20 bytes]"]);
        // Its retransmission says the same; the data it acknowledges was seen, so nothing is unseen.
        assert_eq!(
            send!(t, server, "SA", seq = S_ISN, ack = 1021, at = 1010),
            [
                "[handshake 2/3 SYN-ACK: 1010.000 ms after SYN, retransmission: try 2]",
                "[TFO: SYN-ACK accepts the SYN's 20 bytes]"
            ]
        );
        let r = finish(t);
        assert_eq!((r.orig_bytes, r.missed_bytes), (Some(20), 0));
    }

    #[test]
    fn a_syn_ack_ignoring_the_syns_data_is_not_tfo() {
        let mut t = tracker();
        send!(t, client, "S", seq = C_ISN, len = 20, at = 0);
        // The server acknowledges the SYN only: it did not take the data, which the client sends again.
        assert_eq!(
            send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10),
            ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]"]
        );
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 20, at = 30).0[1], Annotation::Retransmission);
        // Nor is an ordinary SYN-ACK, or one of a SYN without data.
        let mut t = half_open();
        assert_eq!(
            send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10),
            ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]"]
        );
    }

    #[test]
    fn simultaneous_open() {
        // RFC 9293 figure 8: both ends send SYN, then each re-sends its SYN with an ACK of the other's.
        let mut t = half_open();
        assert_eq!(send!(t, server, "S", seq = S_ISN, at = 1).0, [Annotation::SimultaneousOpen]);
        assert_eq!(states(&t), (TcpState::SynReceived, TcpState::SynReceived));
        // Each SYN-ACK is that end's first: the same ISN as its SYN, but not a retransmission.
        let said = send!(t, client, "SA", seq = C_ISN, ack = 5001, at = 2);
        assert_eq!(said.0, [Annotation::HandshakeSynAck { since_syn: Some(ms(2)), attempt: 1 }]);
        assert_eq!(
            send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 3),
            ["[handshake 2/3 SYN-ACK: 3.000 ms after SYN]"]
        );
        assert_eq!(
            send!(t, client, "A", seq = 1001, ack = 5001, at = 4),
            ["[handshake 3/3 ACK: established, rtt 4.000 ms (SYN-ACK→ACK 2.000 ms)]"]
        );
        assert_eq!(states(&t), (TcpState::Established, TcpState::Established));
        let s = t.stats();
        assert_eq!((s.attempts, s.retransmissions, s.handshakes_completed), (1, 0, 1));
        // Zeek establishes both ends on the crossing SYNs; the SYN-ACKs repeat S's sequence numbers, so no H.
        check(&finish(t), ConnState::S1, "SsA", EndReason::EndOfInput);
    }

    #[test]
    fn refused_syn_is_rej_and_recorded_after_close_delay() {
        let mut t = half_open();
        let said = send!(t, server, "RA", seq = 0, ack = 1001, win = 0, at = 1);
        assert_eq!(said.0, [Annotation::Refused]);
        assert_eq!(said, ["[refused: RST answers SYN]"]);
        assert_eq!(states(&t), (TcpState::Closed, TcpState::Closed));
        assert_eq!(phase(&t), Phase::Closed);
        let s = t.stats();
        assert_eq!((s.refused, s.resets, s.attempts), (1, 1, 1));

        // Kept for tcp_close_delay (5 s) after the RST for trailing packets, then written.
        t.handle_timeout(Timestamp::from_nanos(at(5001).as_nanos() - 1));
        assert!(records(&mut t).is_empty());
        t.handle_timeout(at(5001));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        let r = &r[0];
        check(r, ConnState::REJ, "Sr", EndReason::Reset);
        assert_eq!((r.orig_pkts, r.resp_pkts, r.orig_ip_bytes, r.resp_ip_bytes), (1, 1, HDRS, HDRS));
        assert_eq!((r.duration, r.orig_bytes, r.resp_bytes), (Some(ms(1)), Some(0), Some(0)));
        assert_eq!(r.handshake_rtt, None);
        assert_eq!(r.close_initiator, Some(Role::Resp), "the responder's RST ended it");
        assert_eq!(t.tracked(), 0);
        // A refused attempt is not half-open: no event, ever.
        t.handle_timeout(at(60_000));
        let events = events(&mut t);
        assert!(events.iter().all(|e| !matches!(e, TrackerEvent::HalfOpen { .. })), "{events:?}");
    }

    /// Issue 13: an injected RST answers the SYN first, then the real server answers it and the connection goes on.
    /// The SYN-ACK contradicts the refusal, so the connection is open again and its real RSTs are resets.
    #[test]
    fn a_refusal_the_server_then_answers_does_not_end_the_connection() {
        for (rst_from, expected) in [
            (Peer::Server, "[reset: server aborts the connection]"),
            (Peer::Client, "[reset: client aborts the connection]"),
        ] {
            let mut t = half_open();
            assert_eq!(send!(t, server, "RA", seq = 0, ack = 1001, win = 0, at = 1), ["[refused: RST answers SYN]"]);
            assert_eq!(
                send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10),
                ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]"]
            );
            assert_eq!(
                send!(t, client, "A", seq = 1001, ack = 5001, at = 30),
                ["[handshake 3/3 ACK: established, rtt 30.000 ms (SYN-ACK→ACK 20.000 ms)]"]
            );
            assert_eq!(states(&t), (TcpState::Established, TcpState::Established));
            assert_eq!(phase(&t), Phase::Active);
            assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40), NOTHING);
            assert_eq!(send!(t, server, "A", seq = 5001, ack = 1101, at = 50), NOTHING);
            // Still tracked past the close delay of the refusal: it was not closed.
            t.handle_timeout(at(6000));
            assert!(records(&mut t).is_empty());
            let said = match rst_from {
                Peer::Server => send!(t, server, "RA", seq = 5001, ack = 1101, at = 6050),
                Peer::Client => send!(t, client, "RA", seq = 1101, ack = 5001, at = 6050),
            };
            assert_eq!(said, [expected], "RST from the {rst_from:?}");
            assert_eq!(states(&t), (TcpState::Closed, TcpState::Closed));
            assert_eq!(t.stats().resets, 2);
            t.handle_timeout(at(11_050));
            let r = records(&mut t);
            assert_eq!(r.len(), 1, "{r:#?}");
            assert_eq!(r[0].end_reason, EndReason::Reset);
            let closer = if rst_from == Peer::Server { Role::Resp } else { Role::Orig };
            assert_eq!(r[0].close_initiator, Some(closer), "the real RST ended it, not the refusal");
            assert_eq!(r[0].handshake_rtt, Some(ms(30)));
            assert_eq!(r[0].orig_bytes, Some(100));
        }
    }

    #[test]
    fn half_open_is_reported_and_logged_exactly_at_the_syn_timeout() {
        let mut t = half_open();
        // A retransmission does not restart the timer: it counts from the first SYN (Zeek's tcp_attempt_delay).
        send!(t, client, "S", seq = C_ISN, at = 3000);
        t.handle_timeout(Timestamp::from_nanos(at(5000).as_nanos() - 1));
        assert!(events(&mut t).is_empty());
        assert_eq!(t.stats().half_open_timeouts, 0);

        t.handle_timeout(at(5000));
        let after = Duration::from_secs(5);
        assert_eq!(events(&mut t), [TrackerEvent::HalfOpen { ts: at(5000), orig: client(), resp: server(), after }]);
        assert_eq!(t.stats().half_open_timeouts, 1);
        // Zeek's AttemptTimer logs the attempt and drops the connection then: S0, ended by timeout.
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        check(&r[0], ConnState::S0, "S", EndReason::Timeout);
        assert_eq!(r[0].orig_pkts, 2);
        assert_eq!(t.tracked(), 0);
        // Reported once.
        t.handle_timeout(at(20_000));
        assert!(events(&mut t).is_empty());
    }

    #[test]
    fn half_open_is_not_reported_when_the_syn_ack_comes_in_time() {
        let mut t = half_open();
        send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 4999);
        t.handle_timeout(at(60_000));
        assert!(events(&mut t).is_empty());
        assert_eq!(t.stats().half_open_timeouts, 0);
    }

    #[test]
    fn a_syn_retransmitted_after_the_attempt_was_logged_starts_a_new_attempt() {
        let mut t = half_open();
        t.handle_timeout(at(5000));
        assert_eq!(events(&mut t).len(), 1);
        assert_eq!(records(&mut t).len(), 1);
        // As in Zeek, the next SYN on the tuple is a connection of its own; with the same ISN it is still numbered
        // as the retransmission it is.
        assert_eq!(send!(t, client, "S", seq = C_ISN, at = 7000), ["[handshake 1/3 SYN, retransmission: try 2]"]);
        check(&finish(t), ConnState::S0, "S", EndReason::EndOfInput);
    }

    #[test]
    fn finish_lists_connections_still_half_open() {
        let mut t = half_open();
        t.finish();
        assert_eq!(t.still_half_open, [(client(), server())]);
        assert_eq!(t.stats().still_half_open, 1);
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        let r = &r[0];
        check(r, ConnState::S0, "S", EndReason::EndOfInput);
        // A single packet: Zeek leaves duration and the byte counts unset.
        assert_eq!((r.duration, r.orig_bytes, r.resp_bytes), (None, None, None));
        assert_eq!((r.orig_pkts, r.orig_ip_bytes, r.resp_pkts), (1, HDRS, 0));
        assert_eq!(r.ts, at(0));
        assert_eq!(r.uid(), make_uid(at(0), client(), server(), Proto::Tcp));
        assert_eq!((r.handshake_rtt, r.close_initiator), (None, None));
    }
}

/// Tests for SYN-RECEIVED: the SYN-ACK, its retransmission, a SYN-ACK seen first, and aborts before the ACK.
mod syn_received {
    use super::*;

    fn syn_received() -> Tracker {
        let mut t = half_open();
        send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10);
        t
    }

    #[test]
    fn syn_ack_retransmission_counts_tries_and_times_this_packet() {
        let mut t = syn_received();
        let said = send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 1010);
        assert_eq!(said.0, [Annotation::HandshakeSynAck { since_syn: Some(ms(1010)), attempt: 2 }]);
        assert_eq!(said, ["[handshake 2/3 SYN-ACK: 1010.000 ms after SYN, retransmission: try 2]"]);
        assert_eq!(t.stats().retransmissions, 1);
        // SYN-ACK→ACK counts from the first SYN-ACK, as the rtt counts from the first SYN.
        assert_eq!(
            send!(t, client, "A", seq = 1001, ack = 5001, at = 1020),
            ["[handshake 3/3 ACK: established, rtt 1020.000 ms (SYN-ACK→ACK 1010.000 ms)]"]
        );
        let r = finish(t);
        check(&r, ConnState::S1, "ShA", EndReason::EndOfInput);
        assert_eq!((r.orig_pkts, r.resp_pkts), (2, 2));
    }

    #[test]
    fn an_ack_of_the_wrong_number_does_not_complete_the_handshake() {
        let mut t = syn_received();
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 4000, at = 30), NOTHING);
        assert_eq!(states(&t), (TcpState::SynSent, TcpState::SynReceived));
        assert_eq!(t.stats().handshakes_completed, 0);
    }

    #[test]
    fn syn_ack_seen_first_flips_the_roles() {
        let mut t = tracker();
        // The first packet is the server's SYN-ACK: its receiver, the client, is the originator.
        let said = send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 0);
        assert_eq!(said.0, [Annotation::HandshakeSynAck { since_syn: None, attempt: 1 }]);
        assert_eq!(said, ["[handshake 2/3 SYN-ACK: SYN not seen]"]);
        let said = send!(t, client, "A", seq = 1001, ack = 5001, at = 5);
        assert_eq!(said.0, [Annotation::HandshakeAck { rtt: None, since_syn_ack: Some(ms(5)) }]);
        assert_eq!(said, ["[handshake 3/3 ACK: established (SYN-ACK→ACK 5.000 ms)]"]);
        assert_eq!(states(&t), (TcpState::Established, TcpState::Established));
        let r = finish(t);
        check(&r, ConnState::S1, "^hA", EndReason::EndOfInput);
        assert_eq!((r.orig, r.resp), (client(), server()));
        assert_eq!((r.orig_pkts, r.resp_pkts), (1, 1));
        assert_eq!(r.handshake_rtt, None);
    }

    #[test]
    fn client_rst_after_the_syn_ack_aborts() {
        // A SYN scan's reply to an open port.
        let mut t = syn_received();
        assert_eq!(send!(t, client, "R", seq = 1001, at = 11), ["[reset: client aborts the connection]"]);
        assert_eq!(states(&t), (TcpState::Closed, TcpState::Closed));
        t.handle_timeout(at(5011));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        // Zeek: the SYN-ACK established both ends, then the originator reset.
        check(&r[0], ConnState::RSTO, "ShR", EndReason::Reset);
        assert_eq!(r[0].close_initiator, Some(Role::Orig));
    }
}

/// Tests for ESTABLISHED: data analysis (retransmission, reordering, loss, ACK checks, windows, keep-alives), aborts,
/// and the inactivity timer.
mod established {
    use super::*;

    #[test]
    fn data_retransmission() {
        let mut t = established();
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40), NOTHING);
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1101, at = 50), NOTHING);
        let said = send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 300);
        assert_eq!(said.0, [Annotation::Retransmission]);
        assert_eq!(said, ["[retransmission]"]);
        assert_eq!(t.stats().retransmissions, 1);
        let r = finish(t);
        check(&r, ConnState::S1, "ShADaT", EndReason::EndOfInput);
        assert_eq!((r.orig_bytes, r.resp_bytes, r.missed_bytes), (Some(100), Some(0), 0));
        assert_eq!((r.orig_pkts, r.orig_ip_bytes), (4, 4 * HDRS + 200));
        assert_eq!((r.resp_pkts, r.resp_ip_bytes), (2, 2 * HDRS));
        assert_eq!(r.duration, Some(ms(300)));
    }

    #[test]
    fn gap_reports_the_missing_bytes_and_missed_bytes() {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        // 1101..1201 was not captured.
        let said = send!(t, client, "PA", seq = 1201, ack = 5001, len = 100, at = 41);
        assert_eq!(said.0, [Annotation::Gap { missing: 100 }]);
        assert_eq!(said, ["[previous segment lost: 100 bytes missing]"]);
        // The receiver acknowledges all of it: the bytes got there, the capture missed them.
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1301, at = 50), NOTHING);
        let r = finish(t);
        // Zeek learns of the gap from that ACK (its reassembler's AckReceived), after the ACK's own letter 'a'.
        check(&r, ConnState::S1, "ShADaG", EndReason::EndOfInput);
        assert_eq!(r.missed_bytes, 100);
        // Byte counts come from sequence numbers, gaps included.
        assert_eq!(r.orig_bytes, Some(300));
    }

    #[test]
    fn a_segment_filling_a_hole_is_out_of_order() {
        let mut t = established();
        assert_eq!(
            send!(t, client, "PA", seq = 1101, ack = 5001, len = 100, at = 40),
            ["[previous segment lost: 100 bytes missing]"]
        );
        let said = send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 41);
        assert_eq!(said.0, [Annotation::OutOfOrder]);
        assert_eq!(said, ["[out-of-order]"]);
        assert_eq!(t.stats().retransmissions, 0);
        // The hole is closed: the same bytes again are a retransmission.
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 300), ["[retransmission]"]);
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1201, at = 301), NOTHING);
        let r = finish(t);
        // Every byte was seen in the end: nothing was missed.
        assert_eq!(r.missed_bytes, 0, "{r:#?}");
        assert_eq!(r.orig_bytes, Some(200));
        assert_eq!(r.conn_state, ConnState::S1);
    }

    #[test]
    fn duplicate_acks_are_counted() {
        let mut t = established();
        send!(t, server, "PA", seq = 5001, ack = 1001, len = 100, at = 40);
        // 5101..5201 lost; the client keeps asking for 5101.
        assert_eq!(
            send!(t, server, "PA", seq = 5201, ack = 1001, len = 100, at = 41),
            ["[previous segment lost: 100 bytes missing]"]
        );
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, at = 50), NOTHING);
        let said = send!(t, client, "A", seq = 1001, ack = 5101, at = 51);
        assert_eq!(said.0, [Annotation::DuplicateAck { count: 1 }]);
        assert_eq!(said, ["[duplicate ACK #1]"]);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, at = 52), ["[duplicate ACK #2]"]);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, at = 53), ["[duplicate ACK #3]"]);
        // A new ACK ends the run; the next duplicate counts from 1 again.
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5201, at = 60), NOTHING);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5201, at = 61), ["[duplicate ACK #1]"]);
        check(&finish(t), ConnState::S1, "ShAdg", EndReason::EndOfInput);
    }

    #[test]
    fn the_segment_asked_for_by_duplicate_acks_is_a_fast_retransmission() {
        let mut t = established();
        send!(t, server, "PA", seq = 5001, ack = 1001, len = 100, at = 40);
        send!(t, server, "PA", seq = 5201, ack = 1001, len = 100, at = 41);
        send!(t, server, "PA", seq = 5301, ack = 1001, len = 100, at = 42);
        send!(t, client, "A", seq = 1001, ack = 5101, at = 50);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, at = 51), ["[duplicate ACK #1]"]);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, at = 52), ["[duplicate ACK #2]"]);
        // RFC 5681 §3.2: the sender resends what the duplicate ACKs ask for. It fills the hole, but it is no
        // reordering.
        let said = send!(t, server, "PA", seq = 5101, ack = 1001, len = 100, at = 53);
        assert_eq!(said.0, [Annotation::Retransmission]);
        assert_eq!(t.stats().retransmissions, 1);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5401, at = 60), NOTHING);
        let r = finish(t);
        assert_eq!((r.missed_bytes, r.resp_bytes), (0, Some(400)));
    }

    #[test]
    fn one_duplicate_ack_is_not_enough_to_call_a_hole_fill_a_retransmission() {
        let mut t = established();
        send!(t, server, "PA", seq = 5101, ack = 1001, len = 100, at = 40);
        // The handshake ACK already acknowledged 5001: this one repeats it.
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5001, at = 41), ["[duplicate ACK #1]"]);
        assert_eq!(send!(t, server, "PA", seq = 5001, ack = 1001, len = 100, at = 42), ["[out-of-order]"]);
    }

    #[test]
    fn a_zero_window_ack_is_never_a_duplicate() {
        let mut t = established();
        send!(t, server, "PA", seq = 5001, ack = 1001, len = 100, at = 40);
        send!(t, server, "PA", seq = 5101, ack = 1001, len = 100, at = 41);
        // The client's buffer fills: it acknowledges the first segment and closes its window, with data in flight.
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, win = 0, at = 50), ["[zero window]"]);
        // The same ACK, the same (zero) window, no data, data outstanding: RFC 5681's conditions, but a zero-window
        // ACK answers a window probe or repeats the closed window; tshark does not call it a duplicate either.
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, win = 0, at = 51), ["[zero window]"]);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, win = 0, at = 52), ["[zero window]"]);
        // The window opens again; the duplicates that follow count from 1.
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, win = 1000, at = 60), ["[window update]"]);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, win = 1000, at = 61), ["[duplicate ACK #1]"]);
        // A zero-window ACK in the middle of a run is not one of the run.
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, win = 0, at = 62), ["[zero window]"]);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5101, win = 0, at = 63), ["[zero window]"]);
    }

    #[test]
    fn a_repeated_ack_with_nothing_in_flight_is_not_a_duplicate() {
        let mut t = established();
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5001, at = 40), NOTHING);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5001, at = 41), NOTHING);
    }

    #[test]
    fn zero_window_and_window_update() {
        let mut t = established();
        let said = send!(t, client, "A", seq = 1001, ack = 5001, win = 0, at = 40);
        assert_eq!(said.0, [Annotation::ZeroWindow]);
        assert_eq!(said, ["[zero window]"]);
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5001, win = 0, at = 41), ["[zero window]"]);
        let said = send!(t, client, "A", seq = 1001, ack = 5001, win = 65535, at = 42);
        assert_eq!(said.0, [Annotation::WindowUpdate]);
        assert_eq!(said, ["[window update]"]);
        // Any change of window on an otherwise identical ACK is an update.
        assert_eq!(send!(t, client, "A", seq = 1001, ack = 5001, win = 30000, at = 43), ["[window update]"]);
        // W is logarithmic: the second zero window adds no letter.
        check(&finish(t), ConnState::S1, "ShAW", EndReason::EndOfInput);
    }

    #[test]
    fn keep_alives() {
        let mut t = established();
        // One below the next sequence number, no data (Linux) ...
        let said = send!(t, client, "A", seq = 1000, ack = 5001, at = 60_000);
        assert_eq!(said.0, [Annotation::KeepAlive]);
        assert_eq!(said, ["[keep-alive]"]);
        // ... and its answer repeats the server's last ACK: Wireshark's keep-alive ACK.
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1001, at = 60_001), ["[keep-alive ACK]"]);
        // With one garbage byte (Windows): still a keep-alive, not a retransmission.
        assert_eq!(send!(t, client, "A", seq = 1000, ack = 5001, len = 1, at = 120_000), ["[keep-alive]"]);
        assert_eq!(t.stats().retransmissions, 0);
        let r = finish(t);
        assert_eq!(r.orig_bytes, Some(0), "keep-alive bytes are not data");
        assert_eq!(r.conn_state, ConnState::S1);
    }

    #[test]
    fn a_keep_alive_ack_is_not_a_duplicate_ack() {
        let mut t = established();
        // The server has 100 bytes in flight when the client's keep-alive goes out.
        send!(t, server, "PA", seq = 5001, ack = 1001, len = 100, at = 40);
        send!(t, client, "A", seq = 1001, ack = 5101, at = 50);
        send!(t, server, "PA", seq = 5101, ack = 1001, len = 100, at = 60);
        assert_eq!(send!(t, client, "A", seq = 1000, ack = 5101, at = 60_000), ["[keep-alive]"]);
        // The server's answer repeats its ACK and window with data outstanding: RFC 5681's duplicate ACK in form,
        // but it answers the keep-alive (Wireshark: keep-alive ACK, and no duplicate ACK).
        let said = send!(t, server, "A", seq = 5201, ack = 1001, at = 60_001);
        assert_eq!(said.0, [Annotation::KeepAliveAck]);
        assert_eq!(said, ["[keep-alive ACK]"]);
        // The keep-alive is still the client's last segment: the same answer again is one too.
        assert_eq!(send!(t, server, "A", seq = 5201, ack = 1001, at = 60_002), ["[keep-alive ACK]"]);
        // Once the client sends something else, a repeated ACK is no keep-alive ACK.
        send!(t, client, "A", seq = 1001, ack = 5101, at = 60_010);
        assert_eq!(send!(t, server, "A", seq = 5201, ack = 1001, at = 60_011), NOTHING);
        assert_eq!(t.stats().retransmissions, 0);
    }

    #[test]
    fn a_keep_alive_answered_with_a_new_window_is_a_window_update() {
        let mut t = established();
        send!(t, client, "A", seq = 1000, ack = 5001, at = 60_000);
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1001, win = 30000, at = 60_001), ["[window update]"]);
    }

    #[test]
    fn data_up_to_the_edge_of_the_window_is_window_full() {
        let mut t = established();
        // No window scaling (the SYNs carried no option): the server's window is 1000 from ACK 1001.
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1001, win = 1000, at = 40), ["[window update]"]);
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 600, at = 50), NOTHING);
        let said = send!(t, client, "PA", seq = 1601, ack = 5001, len = 400, at = 51);
        assert_eq!(said.0, [Annotation::WindowFull]);
        assert_eq!(said, ["[window full]"]);
        // The window moves with the ACK: 1601 + 1000.
        send!(t, server, "A", seq = 5001, ack = 1601, win = 1000, at = 60);
        assert_eq!(send!(t, client, "PA", seq = 2001, ack = 5001, len = 600, at = 61), ["[window full]"]);
        // A FIN at the edge is not window full, as in Wireshark.
        send!(t, server, "A", seq = 5001, ack = 2601, win = 10, at = 70);
        assert_eq!(
            send!(t, client, "FPA", seq = 2601, ack = 5001, len = 10, at = 71),
            ["[teardown 1/4 FIN from client: FIN-WAIT-1]"]
        );
    }

    #[test]
    fn window_full_only_at_the_edge() {
        let mut t = established();
        send!(t, server, "A", seq = 5001, ack = 1001, win = 1000, at = 40);
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 999, at = 50), NOTHING);
        // Beyond the edge (a sender ignoring the window) is not "full" either.
        assert_eq!(send!(t, client, "PA", seq = 2000, ack = 5001, len = 2, at = 51), NOTHING);
    }

    /// A segment without payload carrying raw TCP options (a SYN's).
    fn with_options(
        src: SocketAddr,
        dst: SocketAddr,
        flag_letters: &str,
        seq: u32,
        ack: u32,
        win: u16,
        opts: &[u8],
    ) -> Vec<u8> {
        let spec = TcpSpec {
            src_port: src.port(),
            dst_port: dst.port(),
            seq,
            ack,
            flags: flags(flag_letters),
            window: win,
            options: opts,
            payload: &[],
        };
        let mut frame = Vec::new();
        craft::tcp_frame(&mut frame, None, &craft::ip_between(src, dst, 64, 0), &spec).expect("well-formed segment");
        frame
    }

    #[test]
    fn window_full_scales_the_window_but_not_a_syns() {
        const WSCALE_2: [u8; 4] = [1, 3, 3, 2];
        let mut t = tracker();
        feed_frame(&mut t, at(0), &with_options(CLIENT, SERVER, "S", C_ISN, 0, 65535, &WSCALE_2));
        feed_frame(&mut t, at(10), &with_options(SERVER, CLIENT, "SA", S_ISN, 1001, 1000, &WSCALE_2));
        send!(t, client, "A", seq = 1001, ack = 5001, at = 30);
        // The SYN-ACK's window is never scaled (RFC 7323 §2.2): 1000 bytes fill it.
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 1000, at = 40), ["[window full]"]);
        // Later windows are: 500 << 2 = 2000.
        send!(t, server, "A", seq = 5001, ack = 2001, win = 500, at = 50);
        assert_eq!(send!(t, client, "PA", seq = 2001, ack = 5001, len = 500, at = 51), NOTHING);
        assert_eq!(send!(t, client, "PA", seq = 2501, ack = 5001, len = 1500, at = 52), ["[window full]"]);
    }

    #[test]
    fn no_window_full_without_the_handshake() {
        // Mid-stream, the window scale is unknown: no edge to be at.
        let mut t = tracker();
        send!(t, server, "A", seq = 5001, ack = 1001, win = 1000, at = 0);
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 1000, at = 1), NOTHING);
    }

    /// Established, then the client sends 100 bytes and the server acknowledges them with a zero window at 50 ms.
    fn closed_window() -> Tracker {
        let mut t = established();
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 100, at = 40);
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1101, win = 0, at = 50), ["[zero window]"]);
        t
    }

    #[test]
    fn zero_window_probes_and_their_acks() {
        let mut t = closed_window();
        // RFC 9293 §3.8.6.1: one byte at the next sequence number into the closed window.
        let said = send!(t, client, "A", seq = 1101, ack = 5001, len = 1, at = 250);
        assert_eq!(said.0, [Annotation::ZeroWindowProbe]);
        assert_eq!(said, ["[zero-window probe]"]);
        // The receiver drops the byte: the same ACK, the window still zero.
        let said = send!(t, server, "A", seq = 5001, ack = 1101, win = 0, at = 251);
        assert_eq!(said.0, [Annotation::ZeroWindowProbeAck, Annotation::ZeroWindow]);
        assert_eq!(said, ["[zero-window probe ACK]", "[zero window]"]);
        // The next probe carries the same byte: a probe again, not a retransmission.
        assert_eq!(send!(t, client, "A", seq = 1101, ack = 5001, len = 1, at = 650), ["[zero-window probe]"]);
        assert_eq!(
            send!(t, server, "A", seq = 5001, ack = 1101, win = 0, at = 651),
            ["[zero-window probe ACK]", "[zero window]"]
        );
        // The window opens; the data that follows starts at the probe's byte and is in order.
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1101, win = 65535, at = 700), ["[window update]"]);
        assert_eq!(send!(t, client, "PA", seq = 1101, ack = 5001, len = 100, at = 701), NOTHING);
        assert_eq!(t.stats().retransmissions, 0);
        let r = finish(t);
        // The probes' bytes were not data: 200 bytes, none missed.
        assert_eq!((r.orig_bytes, r.missed_bytes), (Some(200), 0));
    }

    #[test]
    fn a_zero_window_probe_the_receiver_takes() {
        let mut t = closed_window();
        assert_eq!(send!(t, client, "A", seq = 1101, ack = 5001, len = 1, at = 250), ["[zero-window probe]"]);
        // The receiver takes the byte (ACK 1102): the probe's answer, not an ACK of data never seen.
        assert_eq!(
            send!(t, server, "A", seq = 5001, ack = 1102, win = 0, at = 251),
            ["[zero-window probe ACK]", "[zero window]"]
        );
        // The next probe is the next byte, and the data after the window opens follows on from it.
        assert_eq!(send!(t, client, "A", seq = 1102, ack = 5001, len = 1, at = 650), ["[zero-window probe]"]);
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1102, win = 100, at = 651), ["[window update]"]);
        assert_eq!(send!(t, client, "PA", seq = 1102, ack = 5001, len = 100, at = 652), ["[window full]"]);
        let r = finish(t);
        assert_eq!((r.orig_bytes, r.missed_bytes), (Some(201), 0));
    }

    #[test]
    fn one_byte_into_an_open_window_is_data() {
        let mut t = established();
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 1, at = 40), NOTHING);
        assert_eq!(send!(t, client, "PA", seq = 1002, ack = 5001, len = 1, at = 41), NOTHING);
        // A zero window ACK that answers no probe is only a zero window.
        let mut t = closed_window();
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1101, win = 0, at = 60), ["[zero window]"]);
    }

    #[test]
    fn zero_length_keep_alive_history() {
        let mut t = established();
        send!(t, client, "A", seq = 1000, ack = 5001, at = 60_000);
        send!(t, server, "A", seq = 5001, ack = 1001, at = 60_001);
        check(&finish(t), ConnState::S1, "ShAa", EndReason::EndOfInput);
    }

    #[test]
    fn ack_of_data_never_seen() {
        let mut t = established();
        let said = send!(t, client, "A", seq = 1001, ack = 5101, at = 40);
        assert_eq!(said.0, [Annotation::AckOfUnseen { bytes: 100 }]);
        assert_eq!(said, ["[ACK of 100 bytes never seen]"]);
        // The server's next data follows on from the unseen bytes: in order, no gap.
        assert_eq!(send!(t, server, "PA", seq = 5101, ack = 1001, len = 10, at = 50), NOTHING);
        let r = finish(t);
        // The gap is the responder's content: g.
        check(&r, ConnState::S1, "ShAgd", EndReason::EndOfInput);
        assert_eq!((r.missed_bytes, r.resp_bytes), (100, Some(110)));
    }

    /// A segment as a capture with a snap length keeps it: the headers only, the IP total length still counting
    /// `len` payload bytes, which is what the tracker counts from.
    fn snapped(src: SocketAddr, dst: SocketAddr, seq: u32, ack: u32, len: u16) -> Vec<u8> {
        claiming(tcp_frame(src, dst, "A", seq, ack, 0, 65535), HDRS as u16 + len)
    }

    /// Issue 13: a 5.4 GB transfer logged 1.1 GB (the sequence-space difference, modulo 2^32) and missed_bytes
    /// 4294967295 (a saturated u32). Byte counts add up what the sequence numbers advanced by, wraparound included.
    #[test]
    fn byte_counts_are_exact_past_4_gib_of_sequence_space() {
        const LEN: u32 = 60_000;
        let mut t = established();
        // The client sends 75,000 segments of 60,000 bytes: 4.5 GB, wrapping its sequence numbers once.
        let mut seq = 1001u32;
        for i in 0..75_000u64 {
            let said = feed_frame(&mut t, at(40 + i / 10), &snapped(CLIENT, SERVER, seq, 5001, LEN as u16));
            assert_eq!(said, NOTHING, "client segment {i}");
            seq = seq.wrapping_add(LEN);
        }
        // The server sends 7.2 GB, of which the capture shows one segment in three: 4.8 GB missed, in 40,000 gaps.
        let mut server_seq = 5001u32;
        for i in 0..40_000u64 {
            server_seq = server_seq.wrapping_add(2 * LEN);
            let said = feed_frame(&mut t, at(8000 + i / 10), &snapped(SERVER, CLIENT, server_seq, seq, LEN as u16));
            assert_eq!(said, ["[previous segment lost: 120000 bytes missing]"], "server segment {i}");
            server_seq = server_seq.wrapping_add(LEN);
        }
        // The client acknowledges all of it: nothing beyond what the capture accounted for.
        assert_eq!(send!(t, client, "A", seq = seq, ack = server_seq, at = 13_000), NOTHING);
        let r = finish(t);
        assert_eq!(r.conn_state, ConnState::S1);
        assert_eq!(r.orig_bytes, Some(4_500_000_000));
        assert_eq!(r.resp_bytes, Some(7_200_000_000));
        // Every payload here is cut by the snap length, and Zeek delivers no truncated payload to its reassembler,
        // so each byte the peer acknowledges is a content gap: the client's 4.5 GB and all of the server's 7.2 GB
        // (the 4.8 GB the capture skipped and the 2.4 GB it truncated).
        assert_eq!(r.missed_bytes, 11_700_000_000);
        assert_eq!((r.orig_pkts, r.orig_ip_bytes), (75_003, 3 * HDRS + 75_000 * (HDRS + u64::from(LEN))));
        assert_eq!((r.resp_pkts, r.resp_ip_bytes), (40_001, HDRS + 40_000 * (HDRS + u64::from(LEN))));
    }

    #[test]
    fn mid_stream_start() {
        let mut t = tracker();
        let said = send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 0);
        assert_eq!(said.0, [Annotation::MidStream]);
        assert_eq!(said, ["[mid-stream: handshake not seen]"]);
        assert_eq!(states(&t), (TcpState::Established, TcpState::Closed));
        // Said once, for the first packet.
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1011, at = 5), NOTHING);
        assert_eq!(send!(t, server, "PA", seq = 5001, ack = 1011, len = 20, at = 6), NOTHING);
        assert_eq!(states(&t), (TcpState::Established, TcpState::Established));
        assert_eq!(t.stats().handshakes_completed, 0);
        let r = finish(t);
        check(&r, ConnState::OTH, "Dad", EndReason::EndOfInput);
        assert_eq!((r.orig, r.resp), (client(), server()));
        assert_eq!((r.orig_bytes, r.resp_bytes, r.handshake_rtt), (Some(10), Some(20), None));
    }

    #[test]
    fn client_abort_is_rsto() {
        let mut t = established();
        let said = send!(t, client, "R", seq = 1001, at = 40);
        assert_eq!(said.0, [Annotation::Abort { from: Role::Orig }]);
        assert_eq!(said, ["[reset: client aborts the connection]"]);
        assert_eq!(states(&t), (TcpState::Closed, TcpState::Closed));
        assert_eq!(t.stats().resets, 1);
        t.handle_timeout(at(5040));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        check(&r[0], ConnState::RSTO, "ShAR", EndReason::Reset);
        assert_eq!(r[0].close_initiator, Some(Role::Orig));
    }

    #[test]
    fn server_abort_is_rstr() {
        let mut t = established();
        assert_eq!(send!(t, server, "RA", seq = 5001, ack = 1001, at = 40), ["[reset: server aborts the connection]"]);
        t.handle_timeout(at(5040));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        check(&r[0], ConnState::RSTR, "ShAr", EndReason::Reset);
        assert_eq!(r[0].close_initiator, Some(Role::Resp));
        assert_eq!(r[0].handshake_rtt, Some(ms(30)));
    }

    #[test]
    fn rst_at_the_edge_of_the_window() {
        // RFC 5961 §3.2: acceptable when RCV.NXT <= SEG.SEQ < RCV.NXT + RCV.WND. The client acknowledged 5001 with a
        // 65535-byte window (no scaling).
        let mut t = established();
        assert_eq!(send!(t, server, "R", seq = 5001 + 65534, at = 40), ["[reset: server aborts the connection]"]);
        let mut t = established();
        let said = send!(t, server, "R", seq = 5001 + 65535, at = 40);
        assert_eq!(said.0, [Annotation::ResetOutOfWindow { from: Role::Resp }]);
        assert_eq!(said, ["[RST from server out of window: possible injection]"]);
        let mut t = established();
        assert_eq!(send!(t, server, "R", seq = 5000, at = 40), ["[RST from server out of window: possible injection]"]);
    }

    #[test]
    fn an_out_of_window_rst_does_not_end_the_connection() {
        // The receiver drops it (RFC 5961 §3.2), so the connection carries on.
        let mut t = established();
        assert_eq!(
            send!(t, server, "R", seq = 5001 + 1_000_000, at = 40),
            ["[RST from server out of window: possible injection]"]
        );
        assert_eq!(states(&t), (TcpState::Established, TcpState::Established));
        assert_eq!(phase(&t), Phase::Active);
        assert_eq!(t.stats().resets, 0, "an RST the receiver drops resets nothing");
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 50), NOTHING);
        t.handle_timeout(at(10_000));
        assert!(records(&mut t).is_empty(), "not closed out after the close delay");
        assert_eq!(t.tracked(), 1);
        // The teardown that follows is the ordinary one.
        assert_eq!(
            send!(t, client, "FA", seq = 1011, ack = 5001, at = 20_000),
            ["[teardown 1/4 FIN from client: FIN-WAIT-1]"]
        );
        let r = finish(t);
        // Zeek does not check RST windows: its conn_state says RSTR. The record still ends by end of input.
        check(&r, ConnState::RSTR, "ShArDF", EndReason::EndOfInput);
        assert_eq!(r.close_initiator, Some(Role::Orig));
    }

    #[test]
    fn after_an_ignored_rst_and_a_half_close_the_clock_runs_on() {
        // Zeek's side states would read both ends closed (the server's by the RST it does not judge, the client's
        // by its FIN), but the tracker ignored the RST: the server streams on, and the connection must stay live,
        // not be expired as idle with its clock stopped at the FIN.
        let mut t = established();
        send!(t, server, "R", seq = 5001 + 1_000_000, at = 40);
        send!(t, client, "FA", seq = 1001, ack = 5001, at = 50);
        for i in 0..4u32 {
            let at_ms = 200_000 * u64::from(i + 1);
            send!(t, server, "PA", seq = 5001 + 100 * i, ack = 1002, len = 100, at = at_ms);
        }
        assert!(records(&mut t).is_empty(), "expired while the server was still sending");
        let r = finish(t);
        assert_eq!(r.duration, Some(ms(800_000)), "{r:#?}");
    }

    #[test]
    fn inactivity_expiry() {
        let mut t = established();
        // Activity at 100 s moves the deadline to 400 s (tcp_inactivity 300 s after the last packet).
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 5, at = 100_000);
        t.handle_timeout(Timestamp::from_nanos(at(400_000).as_nanos() - 1));
        assert!(records(&mut t).is_empty());
        t.handle_timeout(at(400_000));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        check(&r[0], ConnState::S1, "ShAD", EndReason::Timeout);
        assert_eq!(r[0].duration, Some(ms(100_000)));
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn finish_ends_open_connections_by_end_of_input() {
        let t = established();
        let r = finish(t);
        check(&r, ConnState::S1, "ShA", EndReason::EndOfInput);
        assert_eq!((r.orig_pkts, r.resp_pkts, r.orig_ip_bytes, r.resp_ip_bytes), (2, 1, 2 * HDRS, HDRS));
        assert_eq!((r.duration, r.orig_bytes, r.resp_bytes), (Some(ms(30)), Some(0), Some(0)));
        assert_eq!((r.handshake_rtt, r.close_initiator, r.missed_bytes), (Some(ms(30)), None, 0));
    }
}

/// Tests for FIN-WAIT-1 and FIN-WAIT-2: the teardown forms as seen from the first closer.
mod fin_wait {
    use super::*;

    #[test]
    fn four_way_teardown_by_the_client() {
        let mut t = established();
        let said = send!(t, client, "FA", seq = 1001, ack = 5001, at = 100);
        assert_eq!(said.0, [Annotation::TeardownFin { from: Role::Orig }]);
        assert_eq!(states(&t), (TcpState::FinWait1, TcpState::Established));

        let said = send!(t, server, "A", seq = 5001, ack = 1002, at = 110);
        assert_eq!(said.0, [Annotation::TeardownAckOfFin { from: Role::Resp }]);
        assert_eq!(said, ["[teardown 2/4 ACK of FIN: server in CLOSE-WAIT]"]);
        assert_eq!(states(&t), (TcpState::FinWait2, TcpState::CloseWait));

        let said = send!(t, server, "FA", seq = 5001, ack = 1002, at = 120);
        assert_eq!(said.0, [Annotation::TeardownSecondFin { from: Role::Resp, form: CloseForm::FourWay }]);
        assert_eq!(said, ["[teardown 3/4 FIN from server: LAST-ACK]"]);
        assert_eq!(states(&t), (TcpState::FinWait2, TcpState::LastAck));

        let said = send!(t, client, "A", seq = 1002, ack = 5002, at = 130);
        assert_eq!(said.0, [Annotation::TeardownLastAck { closer: Role::Orig, form: CloseForm::FourWay }]);
        assert_eq!(said, ["[teardown 4/4 ACK: client in TIME-WAIT]"]);
        assert_eq!(states(&t), (TcpState::TimeWait, TcpState::Closed));
        assert_eq!(phase(&t), Phase::Closed);

        let r = finish(t);
        check(&r, ConnState::SF, "ShAFaf", EndReason::Close);
        assert_eq!(r.close_initiator, Some(Role::Orig));
        assert_eq!((r.orig_pkts, r.orig_ip_bytes, r.resp_pkts, r.resp_ip_bytes), (4, 4 * HDRS, 3, 3 * HDRS));
        // Zeek's clock stops at the second FIN (120 ms): both ends have closed, the last ACK does not count.
        assert_eq!((r.duration, r.orig_bytes, r.resp_bytes), (Some(ms(120)), Some(0), Some(0)));
        assert_eq!(r.handshake_rtt, Some(ms(30)));
    }

    #[test]
    fn four_way_teardown_by_the_server() {
        let mut t = established();
        assert_eq!(
            send!(t, server, "FA", seq = 5001, ack = 1001, at = 100),
            ["[teardown 1/4 FIN from server: FIN-WAIT-1]"]
        );
        assert_eq!(states(&t), (TcpState::Established, TcpState::FinWait1));
        assert_eq!(
            send!(t, client, "A", seq = 1001, ack = 5002, at = 110),
            ["[teardown 2/4 ACK of FIN: client in CLOSE-WAIT]"]
        );
        assert_eq!(states(&t), (TcpState::CloseWait, TcpState::FinWait2));
        assert_eq!(
            send!(t, client, "FA", seq = 1001, ack = 5002, at = 120),
            ["[teardown 3/4 FIN from client: LAST-ACK]"]
        );
        assert_eq!(
            send!(t, server, "A", seq = 5002, ack = 1002, at = 130),
            ["[teardown 4/4 ACK: server in TIME-WAIT]"]
        );
        assert_eq!(states(&t), (TcpState::Closed, TcpState::TimeWait));
        let r = finish(t);
        check(&r, ConnState::SF, "ShAfFa", EndReason::Close);
        assert_eq!(r.close_initiator, Some(Role::Resp));
    }

    #[test]
    fn three_way_teardown() {
        let mut t = fin_wait_1();
        let said = send!(t, server, "FA", seq = 5001, ack = 1002, at = 110);
        assert_eq!(said.0, [Annotation::TeardownSecondFin { from: Role::Resp, form: CloseForm::ThreeWay }]);
        assert_eq!(said, ["[teardown 2/3 FIN+ACK from server: LAST-ACK]"]);
        assert_eq!(states(&t), (TcpState::FinWait2, TcpState::LastAck));
        let said = send!(t, client, "A", seq = 1002, ack = 5002, at = 120);
        assert_eq!(said.0, [Annotation::TeardownLastAck { closer: Role::Orig, form: CloseForm::ThreeWay }]);
        assert_eq!(said, ["[teardown 3/3 ACK: client in TIME-WAIT]"]);
        assert_eq!(states(&t), (TcpState::TimeWait, TcpState::Closed));
        let r = finish(t);
        check(&r, ConnState::SF, "ShAFf", EndReason::Close);
        assert_eq!(r.close_initiator, Some(Role::Orig));
    }

    #[test]
    fn simultaneous_close() {
        // RFC 9293 figure 13: the FINs cross, both ends go FIN-WAIT-1 → CLOSING → TIME-WAIT.
        let mut t = fin_wait_1();
        let said = send!(t, server, "FA", seq = 5001, ack = 1001, at = 100);
        assert_eq!(said.0, [Annotation::SimultaneousClose { from: Role::Resp, state: TcpState::Closing }]);
        assert_eq!(said, ["[simultaneous close: server CLOSING]"]);
        assert_eq!(states(&t), (TcpState::Closing, TcpState::Closing));

        assert_eq!(send!(t, client, "A", seq = 1002, ack = 5002, at = 110), ["[simultaneous close: client TIME-WAIT]"]);
        assert_eq!(states(&t), (TcpState::TimeWait, TcpState::Closing));
        assert_eq!(phase(&t), Phase::Active, "the client's FIN is not acknowledged yet");

        let said = send!(t, server, "A", seq = 5002, ack = 1002, at = 111);
        assert_eq!(said.0, [Annotation::SimultaneousClose { from: Role::Resp, state: TcpState::TimeWait }]);
        assert_eq!(states(&t), (TcpState::TimeWait, TcpState::TimeWait));
        assert_eq!(phase(&t), Phase::Closed);
        let r = finish(t);
        check(&r, ConnState::SF, "ShAFfa", EndReason::Close);
        assert_eq!(r.close_initiator, Some(Role::Orig));
    }

    #[test]
    fn fin_retransmission() {
        let mut t = fin_wait_1();
        assert_eq!(send!(t, client, "FA", seq = 1001, ack = 5001, at = 300), ["[retransmission]"]);
        assert_eq!(states(&t), (TcpState::FinWait1, TcpState::Established));
        // F repeats only at a new sequence number, and a bare FIN carries no payload, so Zeek logs no T for it
        // (update_last_seq calls DidRxmit only for a segment with payload).
        check(&finish(t), ConnState::S2, "ShAF", EndReason::EndOfInput);
    }

    #[test]
    fn data_with_the_fin() {
        let mut t = established();
        assert_eq!(
            send!(t, client, "FPA", seq = 1001, ack = 5001, len = 10, at = 100),
            ["[teardown 1/4 FIN from client: FIN-WAIT-1]"]
        );
        // The FIN sits after the data: the ACK of it is 1012.
        assert_eq!(send!(t, server, "A", seq = 5001, ack = 1011, at = 110), NOTHING);
        assert_eq!(
            send!(t, server, "A", seq = 5001, ack = 1012, at = 111),
            ["[teardown 2/4 ACK of FIN: server in CLOSE-WAIT]"]
        );
        let r = finish(t);
        check(&r, ConnState::S2, "ShAFa", EndReason::EndOfInput);
        assert_eq!(r.orig_bytes, Some(10));
    }

    #[test]
    fn unanswered_fin_is_s2() {
        let r = finish(fin_wait_1());
        check(&r, ConnState::S2, "ShAF", EndReason::EndOfInput);
        assert_eq!(r.close_initiator, Some(Role::Orig));
    }
}

/// Tests for CLOSE-WAIT: the server has acknowledged the client's FIN and may keep sending (half-close).
mod close_wait {
    use super::*;

    #[test]
    fn half_close_then_the_servers_fin() {
        let mut t = close_wait();
        let said = send!(t, server, "PA", seq = 5001, ack = 1002, len = 100, at = 200);
        assert_eq!(said.0, [Annotation::HalfClose { from: Role::Resp }]);
        assert_eq!(said, ["[half-close: server still sending after the peer's FIN]"]);
        assert_eq!(states(&t), (TcpState::FinWait2, TcpState::CloseWait));
        assert_eq!(send!(t, client, "A", seq = 1002, ack = 5101, at = 210), NOTHING);
        assert_eq!(
            send!(t, server, "FA", seq = 5101, ack = 1002, at = 300),
            ["[teardown 3/4 FIN from server: LAST-ACK]"]
        );
        assert_eq!(
            send!(t, client, "A", seq = 1002, ack = 5102, at = 310),
            ["[teardown 4/4 ACK: client in TIME-WAIT]"]
        );
        let r = finish(t);
        check(&r, ConnState::SF, "ShAFadf", EndReason::Close);
        assert_eq!((r.orig_bytes, r.resp_bytes), (Some(0), Some(100)));
        assert_eq!(r.close_initiator, Some(Role::Orig));
    }

    #[test]
    fn the_server_never_closes() {
        let r = finish(close_wait());
        check(&r, ConnState::S2, "ShAFa", EndReason::EndOfInput);
    }
}

/// Tests for TIME-WAIT: the close delay, RSTs hitting TIME-WAIT, and port reuse.
mod time_wait {
    use super::*;

    #[test]
    fn record_is_written_after_the_close_delay() {
        let mut t = time_wait();
        assert_eq!(phase(&t), Phase::Closed);
        // The close delay counts from the connection's last time, which stopped at the second FIN (120 ms), as
        // Zeek's ConnDeleteTimer at LastTime + tcp_close_delay: the last ACK at 130 ms does not move it.
        t.handle_timeout(Timestamp::from_nanos(at(5120).as_nanos() - 1));
        assert!(records(&mut t).is_empty());
        assert_eq!(t.tracked(), 1);
        t.handle_timeout(at(5120));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        check(&r[0], ConnState::SF, "ShAFaf", EndReason::Close);
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn finish_before_the_close_delay_says_close() {
        check(&finish(time_wait()), ConnState::SF, "ShAFaf", EndReason::Close);
    }

    #[test]
    fn rst_in_time_wait() {
        let mut t = time_wait();
        let said = send!(t, server, "R", seq = 5002, at = 200);
        assert_eq!(said.0, [Annotation::ResetInTimeWait { from: Role::Resp }]);
        assert_eq!(said, ["[RST in TIME-WAIT from server]"]);
        let r = finish(t);
        // After a full FIN exchange a RST changes nothing: still SF, ended by the FINs.
        check(&r, ConnState::SF, "ShAFafr", EndReason::Close);
        assert_eq!(r.close_initiator, Some(Role::Orig));
    }

    #[test]
    fn rst_from_the_closer_in_time_wait() {
        let mut t = time_wait();
        assert_eq!(send!(t, client, "R", seq = 1002, at = 200), ["[RST in TIME-WAIT from client]"]);
    }

    #[test]
    fn port_reuse_with_a_new_isn() {
        let mut t = time_wait();
        let said = send!(t, client, "S", seq = 9000, at = 1000);
        assert_eq!(said.0, [Annotation::PortReuse, Annotation::HandshakeSyn { attempt: 1 }]);
        assert_eq!(said, ["[port reuse: new connection on a closed tuple]", "[handshake 1/3 SYN]"]);
        // The old connection's record is written at once.
        let old = records(&mut t);
        assert_eq!(old.len(), 1);
        check(&old[0], ConnState::SF, "ShAFaf", EndReason::Close);
        assert_eq!(old[0].ts, at(0));
        let s = t.stats();
        assert_eq!((s.port_reuses, s.connections, s.attempts), (1, 2, 2));
        assert_eq!(t.tracked(), 1);
        assert_eq!(states(&t), (TcpState::SynSent, TcpState::Closed));
        assert_eq!(phase(&t), Phase::HalfOpen);
        // The new connection is timed from its own SYN.
        assert_eq!(
            send!(t, server, "SA", seq = 20_000, ack = 9001, at = 1010),
            ["[handshake 2/3 SYN-ACK: 10.000 ms after SYN]"]
        );
        let r = finish(t);
        check(&r, ConnState::S1, "Sh", EndReason::EndOfInput);
        assert_eq!(r.ts, at(1000));
        assert_ne!(r.uid(), old[0].uid());
    }
}

/// Tests for CLOSED: what happens after a RST, and port reuse on a reset tuple.
mod closed {
    use super::*;

    fn reset_by_server() -> Tracker {
        let mut t = established();
        send!(t, server, "RA", seq = 5001, ack = 1001, at = 40);
        t
    }

    #[test]
    fn trailing_packets_stay_on_the_closed_connection() {
        let mut t = reset_by_server();
        // A segment already in flight: no new mid-stream connection.
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 41), NOTHING);
        assert_eq!(t.tracked(), 1);
        assert_eq!(t.stats().connections, 1);
        assert_eq!(phase(&t), Phase::Closed);
    }

    #[test]
    fn record_after_the_close_delay_says_reset() {
        let mut t = reset_by_server();
        t.handle_timeout(Timestamp::from_nanos(at(5040).as_nanos() - 1));
        assert!(records(&mut t).is_empty());
        t.handle_timeout(at(5040));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        check(&r[0], ConnState::RSTR, "ShAr", EndReason::Reset);
    }

    #[test]
    fn port_reuse_after_a_reset() {
        let mut t = reset_by_server();
        assert_eq!(
            send!(t, client, "S", seq = 9000, at = 100),
            ["[port reuse: new connection on a closed tuple]", "[handshake 1/3 SYN]"]
        );
        let old = records(&mut t);
        assert_eq!(old.len(), 1);
        check(&old[0], ConnState::RSTR, "ShAr", EndReason::Reset);
        assert_eq!(t.stats().port_reuses, 1);
        check(&finish(t), ConnState::S0, "S", EndReason::EndOfInput);
    }

    #[test]
    fn repeated_rsts_after_an_abort_are_not_time_wait() {
        let mut t = reset_by_server();
        // The client's data was already in flight; the server, now CLOSED, answers it with another RST.
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 41), NOTHING);
        assert_eq!(send!(t, server, "R", seq = 5001, at = 42), NOTHING);
        assert_eq!(states(&t), (TcpState::Closed, TcpState::Closed));
        let r = finish(t);
        // The second RST repeats the sequence number: no second r.
        check(&r, ConnState::RSTR, "ShArD", EndReason::Reset);
        assert_eq!(r.close_initiator, Some(Role::Resp));
    }

    #[test]
    fn trailing_packets_on_one_closed_connection_do_not_hold_back_the_others() {
        let other = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 11), 40001));
        let mut t = reset_by_server(); // closed at 40 ms
        let (syn, rst) = (tcp_frame(other, SERVER, "S", 1, 0, 0, 1000), tcp_frame(SERVER, other, "RA", 0, 2, 0, 0));
        feed_frame(&mut t, at(999), &syn);
        feed_frame(&mut t, at(1000), &rst); // closed at 1 s
        // The first connection keeps hearing from a client that missed the RST, until 2 s.
        send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 2000);
        // The second is due at 1 s + close delay; the first, 5 s after its last packet.
        t.handle_timeout(at(6000));
        let r = records(&mut t);
        assert_eq!(r.len(), 1, "{r:#?}");
        assert_eq!(r[0].orig, Endpoint::new(other.ip(), other.port()));
        t.handle_timeout(at(7000));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].orig, client());
    }

    #[test]
    fn a_refused_port_tried_again_is_a_new_connection() {
        let mut t = half_open();
        send!(t, server, "RA", seq = 0, ack = 1001, win = 0, at = 1);
        assert_eq!(
            send!(t, client, "S", seq = 3000, at = 1000),
            ["[port reuse: new connection on a closed tuple]", "[handshake 1/3 SYN]"]
        );
        check(&records(&mut t)[0], ConnState::REJ, "Sr", EndReason::Reset);
        assert_eq!(send!(t, server, "RA", seq = 0, ack = 3001, win = 0, at = 1001), ["[refused: RST answers SYN]"]);
        assert_eq!(t.stats().refused, 2);
    }

    /// Issue 13: a client that retries a refused connection may resend the same SYN. Zeek logs
    /// every refusal: any SYN on a tuple one side has closed is a new connection to it, whatever its ISN, so each
    /// try is a REJ record of its own, not a continuation of the first.
    #[test]
    fn a_refused_syn_resent_with_the_same_isn_is_a_new_connection() {
        let mut t = half_open();
        send!(t, server, "RA", seq = 0, ack = 1001, win = 0, at = 1);
        assert_eq!(send!(t, client, "S", seq = C_ISN, at = 500), ["[handshake 1/3 SYN, retransmission: try 2]"]);
        let first = records(&mut t);
        assert_eq!(first.len(), 1, "the refused attempt is written when the retry arrives");
        check(&first[0], ConnState::REJ, "Sr", EndReason::Reset);
        assert_eq!((first[0].orig_pkts, first[0].resp_pkts, first[0].duration), (1, 1, Some(ms(1))));
        assert_eq!(send!(t, server, "RA", seq = 0, ack = 1001, win = 0, at = 501), ["[refused: RST answers SYN]"]);
        assert_eq!(send!(t, client, "S", seq = C_ISN, at = 1000), ["[handshake 1/3 SYN, retransmission: try 3]"]);
        assert_eq!(send!(t, server, "RA", seq = 0, ack = 1001, win = 0, at = 1001), ["[refused: RST answers SYN]"]);
        let s = t.stats();
        assert_eq!((s.connections, s.attempts, s.refused, s.port_reuses), (3, 3, 3, 0));
        t.finish();
        let rest = records(&mut t);
        assert_eq!(rest.len(), 2, "{rest:#?}");
        for (r, start) in rest.iter().zip([500, 1000]) {
            check(r, ConnState::REJ, "Sr", EndReason::Reset);
            assert_eq!((r.ts, r.orig_pkts, r.resp_pkts, r.duration), (at(start), 1, 1, Some(ms(1))));
            assert_eq!((r.orig, r.resp), (client(), server()));
        }
        assert_ne!(rest[0].uid(), first[0].uid());
        assert_ne!(rest[1].uid(), rest[0].uid());
    }
}

/// Tests for UDP flows: Zeek's SF / S0 from which sides spoke, and the UDP inactivity timer.
mod udp {
    use super::*;

    fn udp_key() -> FlowKey {
        FlowKey::between(client(), server(), 17).0
    }

    fn finish_udp(mut t: Tracker) -> ConnRecord {
        t.finish();
        let mut r = records(&mut t);
        assert_eq!(r.len(), 1);
        let r = r.pop().unwrap();
        assert_eq!(r.proto, Proto::Udp);
        r
    }

    #[test]
    fn request_and_reply_is_sf() {
        let mut t = tracker();
        assert_eq!(datagram(&mut t, Peer::Client, 10, 0), NOTHING);
        assert_eq!(datagram(&mut t, Peer::Server, 20, 5), NOTHING);
        assert!(t.table.find(&udp_key()).is_some());
        let r = finish_udp(t);
        assert_eq!((r.conn_state, r.history.as_str(), r.end_reason), (ConnState::SF, "Dd", EndReason::EndOfInput));
        assert_eq!((r.orig, r.resp), (client(), server()));
        assert_eq!((r.orig_bytes, r.resp_bytes, r.duration), (Some(10), Some(20), Some(ms(5))));
        // IP total length: 20 + 8 + payload.
        assert_eq!((r.orig_pkts, r.orig_ip_bytes, r.resp_pkts, r.resp_ip_bytes), (1, 38, 1, 48));
        assert_eq!((r.handshake_rtt, r.close_initiator), (None, None));
        assert_eq!(r.uid(), make_uid(at(0), client(), server(), Proto::Udp));
    }

    /// Issue 13: a UDP flow's byte count was a u32 that saturated at 4 GiB.
    #[test]
    fn byte_counts_are_exact_past_4_gib() {
        const LEN: u16 = 65_000;
        let mut t = tracker();
        let mut frame = Vec::new();
        craft::udp_frame(&mut frame, None, &craft::ip_between(CLIENT, SERVER, 64, 0), 40000, 9999, &[]).unwrap();
        // As a 28-byte snap length captures a datagram of LEN bytes: the headers, their lengths counting the payload.
        let mut frame = claiming(frame, 28 + LEN);
        frame[24..26].copy_from_slice(&(8 + LEN).to_be_bytes());
        for i in 0..70_000 {
            feed_frame(&mut t, at(i / 10), &frame);
        }
        let r = finish_udp(t);
        assert_eq!((r.orig_pkts, r.orig_bytes), (70_000, Some(70_000 * u64::from(LEN))));
        assert_eq!(r.orig_ip_bytes, 70_000 * (28 + u64::from(LEN)));
    }

    #[test]
    fn unanswered_is_s0() {
        let mut t = tracker();
        datagram(&mut t, Peer::Client, 10, 0);
        datagram(&mut t, Peer::Client, 10, 1000);
        let r = finish_udp(t);
        assert_eq!((r.conn_state, r.history.as_str()), (ConnState::S0, "D"));
        assert_eq!((r.orig_pkts, r.orig_bytes, r.resp_pkts), (2, Some(20), 0));
    }

    #[test]
    fn the_first_sender_is_the_originator() {
        // Port 9999 is no well-known service port, so nothing suggests flipping (Zeek flips UDP roles only when the
        // source port is a likely server port and the destination is not): the server's datagram makes it the
        // originator of an unanswered flow.
        let mut t = tracker();
        datagram(&mut t, Peer::Server, 10, 0);
        let r = finish_udp(t);
        assert_eq!((r.orig, r.resp), (server(), client()));
        assert_eq!((r.conn_state, r.history.as_str()), (ConnState::S0, "D"));
        // A single datagram: no duration, no byte counts.
        assert_eq!((r.duration, r.orig_bytes), (None, None));
    }

    fn udp(src: &str, dst: &str) -> Vec<u8> {
        let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut frame = Vec::new();
        craft::udp_frame(&mut frame, None, &craft::ip_between(src, dst, 64, 0), src.port(), dst.port(), &[0; 10])
            .expect("well-formed datagram");
        frame
    }

    fn ends(r: &ConnRecord) -> (String, String) {
        (
            SocketAddr::new(r.orig.ip(), r.orig.port()).to_string(),
            SocketAddr::new(r.resp.ip(), r.resp.port()).to_string(),
        )
    }

    /// Issue 13: Zeek flips a UDP flow whose first datagram comes from a likely server port (its
    /// `likely_server_ports`) to a port that is not one, so the client is the originator even when the capture
    /// starts with the server's answer; the history starts with '^'.
    #[test]
    fn a_flow_starting_with_a_servers_datagram_is_flipped() {
        let (server, client) = ("192.0.2.53:53", "192.0.2.10:40000");
        let mut t = tracker();
        feed_frame(&mut t, at(0), &udp(server, client));
        let r = finish_udp(t);
        assert_eq!(ends(&r), (client.to_string(), server.to_string()));
        assert_eq!((r.conn_state, r.history.as_str()), (ConnState::SHR, "^d"));
        assert_eq!((r.orig_pkts, r.resp_pkts), (0, 1));

        // The client speaks next: its datagram is the originator's.
        let mut t = tracker();
        feed_frame(&mut t, at(0), &udp(server, client));
        feed_frame(&mut t, at(5), &udp(client, server));
        let r = finish_udp(t);
        assert_eq!(ends(&r), (client.to_string(), server.to_string()));
        assert_eq!((r.conn_state, r.history.as_str()), (ConnState::SF, "^dD"));
        assert_eq!((r.orig_pkts, r.resp_pkts, r.orig_bytes, r.resp_bytes), (1, 1, Some(10), Some(10)));
    }

    #[test]
    fn udp_flips_follow_zeeks_server_ports() {
        // (first datagram from, to, expected originator): NTP, mDNS, syslog and SNMP answers flip; DHCP's 68 is a
        // client port for Zeek, so its server's 67 -> 68 flips and the client's 68 -> 67 does not; two servers
        // (NTP peers) and a datagram to the broadcast address keep the sender as the originator; 80 is no UDP
        // service port.
        let cases = [
            ("192.0.2.1:123", "192.0.2.10:40000", "192.0.2.10:40000"),
            ("192.0.2.1:5353", "192.0.2.10:40000", "192.0.2.10:40000"),
            ("192.0.2.1:514", "192.0.2.10:40000", "192.0.2.10:40000"),
            ("192.0.2.1:161", "192.0.2.10:40000", "192.0.2.10:40000"),
            ("192.0.2.1:67", "192.0.2.10:68", "192.0.2.10:68"),
            ("192.0.2.10:68", "192.0.2.1:67", "192.0.2.10:68"),
            ("0.0.0.0:68", "255.255.255.255:67", "0.0.0.0:68"),
            ("192.0.2.1:67", "255.255.255.255:68", "192.0.2.1:67"),
            ("192.0.2.1:123", "192.0.2.2:123", "192.0.2.1:123"),
            ("192.0.2.1:80", "192.0.2.10:40000", "192.0.2.1:80"),
        ];
        for (src, dst, orig) in cases {
            let mut t = tracker();
            feed_frame(&mut t, at(0), &udp(src, dst));
            let r = finish_udp(t);
            assert_eq!(ends(&r).0, orig, "{src} > {dst}");
            let flipped = orig != src;
            assert_eq!(r.history.as_str(), if flipped { "^d" } else { "D" }, "{src} > {dst}");
        }
    }

    #[test]
    fn inactivity_expiry() {
        let mut t = tracker();
        datagram(&mut t, Peer::Client, 10, 0);
        datagram(&mut t, Peer::Server, 10, 30_000);
        t.handle_timeout(Timestamp::from_nanos(at(90_000).as_nanos() - 1));
        assert!(records(&mut t).is_empty());
        t.handle_timeout(at(90_000));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].conn_state, r[0].end_reason), (ConnState::SF, EndReason::Timeout));
        assert_eq!(t.tracked(), 0);
        // The next datagram starts a new flow.
        datagram(&mut t, Peer::Client, 10, 100_000);
        assert_eq!(t.stats().connections, 2);
    }

    #[test]
    fn udp_and_tcp_on_the_same_ports_are_separate_flows() {
        let mut t = tracker();
        datagram(&mut t, Peer::Client, 10, 0);
        send!(t, client, "S", seq = C_ISN, at = 1);
        assert_eq!(t.tracked(), 2);
    }
}

/// Tests for other IP protocols: Zeek's `unknown_transport` connections.
mod unknown_transport {
    use super::*;

    /// A raw IPv4 packet of IP protocol `protocol` carrying 10 bytes: a crafted datagram relabelled.
    fn ip_packet(src: SocketAddr, dst: SocketAddr, protocol: u8) -> Vec<u8> {
        let mut frame = Vec::new();
        craft::udp_frame(&mut frame, None, &craft::ip_between(src, dst, 64, 0), src.port(), dst.port(), &[0; 10])
            .expect("well-formed datagram");
        frame[9] = protocol;
        claiming(frame, 38)
    }

    fn host(addr: SocketAddr) -> Endpoint {
        Endpoint::new(addr.ip(), 0)
    }

    /// Issue 13: Zeek logs a connection for every IP protocol it has no analyzer for (SCTP, OSPF, VRRP ...), keyed
    /// by the two addresses with ports 0, proto `unknown_transport`, conn_state OTH, no history, no payload bytes.
    #[test]
    fn other_ip_protocols_get_a_record_each() {
        let mut t = tracker();
        assert_eq!(feed_frame(&mut t, at(0), &ip_packet(CLIENT, SERVER, 132)), NOTHING); // SCTP
        feed_frame(&mut t, at(10), &ip_packet(SERVER, CLIENT, 132));
        feed_frame(&mut t, at(20), &ip_packet(CLIENT, SERVER, 132));
        feed_frame(&mut t, at(30), &ip_packet(SERVER, CLIENT, 89)); // OSPF, the other way
        assert_eq!(t.tracked(), 2);
        t.finish();
        let mut r = records(&mut t);
        r.sort_by_key(|r| r.ts);
        assert_eq!(r.len(), 2, "{r:#?}");
        let sctp = &r[0];
        assert_eq!((sctp.proto, sctp.proto.as_str()), (Proto::Unknown(132), "unknown_transport"));
        assert_eq!((sctp.orig, sctp.resp), (host(CLIENT), host(SERVER)));
        assert_eq!((sctp.conn_state, sctp.history.as_str()), (ConnState::OTH, ""));
        assert_eq!((sctp.orig_pkts, sctp.orig_ip_bytes, sctp.resp_pkts, sctp.resp_ip_bytes), (2, 76, 1, 38));
        assert_eq!((sctp.duration, sctp.orig_bytes, sctp.resp_bytes), (Some(ms(20)), Some(0), Some(0)));
        let ospf = &r[1];
        assert_eq!(ospf.proto, Proto::Unknown(89));
        assert_eq!((ospf.orig, ospf.resp), (host(SERVER), host(CLIENT)));
        assert_eq!((ospf.conn_state, ospf.orig_pkts, ospf.resp_pkts, ospf.duration), (ConnState::OTH, 1, 0, None));
        assert_ne!(sctp.uid(), ospf.uid());
    }

    #[test]
    fn tunnels_and_igmp_are_not_unknown_transports() {
        // Zeek decapsulates IP-in-IP (4), IPv6 in IP (41) and GRE (47), and IGMP (2) has an analyzer of its own.
        let mut t = tracker();
        for protocol in [2, 4, 41, 47] {
            let frame = ip_packet(CLIENT, SERVER, protocol);
            t.handle_packet(at(0), &decode(LinkType::RawIp, &frame));
        }
        assert_eq!((t.tracked(), t.stats().connections), (0, 0));
    }

    #[test]
    fn an_idle_unknown_transport_ends_after_a_minute() {
        // Zeek's unknown_ip_inactivity_timeout is 1 min, as for UDP.
        let mut t = tracker();
        feed_frame(&mut t, at(0), &ip_packet(CLIENT, SERVER, 112)); // VRRP
        t.handle_timeout(Timestamp::from_nanos(at(60_000).as_nanos() - 1));
        assert!(records(&mut t).is_empty());
        t.handle_timeout(at(60_000));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].proto, r[0].end_reason), (Proto::Unknown(112), EndReason::Timeout));
    }
}

/// Tests for the bounded flow table under a SYN flood.
mod table_pressure {
    use super::*;

    fn small() -> Tracker {
        Tracker::new(
            TrackerConfig { max_flows: 100, ..TrackerConfig::default() },
            crate::hash_key::HashKey::from_seed(1),
        )
    }

    fn spoofed(i: u32) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(198, 18, (i >> 8) as u8, i as u8), 1024 + (i % 60_000) as u16))
    }

    #[test]
    fn a_flood_keeps_the_table_bounded_and_the_established_connection() {
        let mut t = small();
        send!(t, client, "S", seq = C_ISN, at = 0);
        send!(t, server, "SA", seq = S_ISN, ack = 1001, at = 10);
        send!(t, client, "A", seq = 1001, ack = 5001, at = 30);
        // 1000 SYNs from distinct sources, 100 µs apart: all within the SYN timeout, none answered.
        for i in 0..1000u32 {
            let frame = tcp_frame(spoofed(i), SERVER, "S", i.wrapping_mul(7919), 0, 0, 1024);
            let ts = Timestamp::from_nanos(at(100).as_nanos() + u64::from(i) * 100_000);
            assert_eq!(feed_frame(&mut t, ts, &frame), ["[handshake 1/3 SYN]"]);
            assert!(t.tracked() <= 100, "{} tracked after SYN {i}", t.tracked());
        }
        assert_eq!(t.tracked(), 100);
        // 1 + 1000 connections in 100 slots: 901 evicted, every one of them half-open.
        assert_eq!(t.evictions(), (901, 901));
        assert_eq!(t.stats().connections, 1001);
        let evicted = records(&mut t);
        assert_eq!(evicted.len(), 901);
        assert!(evicted.iter().all(|r| r.end_reason == EndReason::Eviction && r.conn_state == ConnState::S0));
        // Oldest first.
        assert_eq!(evicted[0].orig, Endpoint::new(spoofed(0).ip(), spoofed(0).port()));
        assert_eq!(evicted[900].orig, Endpoint::new(spoofed(900).ip(), spoofed(900).port()));
        // The established connection survived and still works.
        assert_eq!(states(&t), (TcpState::Established, TcpState::Established));
        assert_eq!(send!(t, client, "PA", seq = 1001, ack = 5001, len = 10, at = 300), NOTHING);
        t.finish();
        let rest = records(&mut t);
        assert_eq!(rest.len(), 100);
        assert_eq!(rest.iter().filter(|r| r.conn_state == ConnState::S1).count(), 1);
        assert_eq!(t.stats().still_half_open, 99);
        assert_eq!(t.still_half_open.len(), crate::track::LISTED_AT_END, "the summary lists the first few");
    }

    #[test]
    fn an_unanswered_attempt_frees_its_entry_at_the_syn_timeout() {
        let mut t = small();
        // The client's SYN is logged at 5 s and leaves the table ...
        send!(t, client, "S", seq = C_ISN, at = 0);
        t.handle_timeout(at(5000));
        let r = records(&mut t);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].orig, client());
        assert!(t.table.find(&tcp_key()).is_none());
        // ... so 100 fresh ones fit in the 100-entry table without evicting anything.
        for i in 0..100u32 {
            let frame = tcp_frame(spoofed(i), SERVER, "S", i, 0, 0, 1024);
            feed_frame(&mut t, at(5001 + u64::from(i)), &frame);
        }
        assert_eq!(t.evictions(), (0, 0));
        assert_eq!(t.tracked(), 100);
    }
}

/// Issue 13's Zeek rules: T, content gaps, byte spans and the stopped clock.
mod zeek_rules;

/// The fast path for plain segments against the general path, on whole captures.
mod fast_path;
