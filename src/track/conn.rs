//! Per-connection state: the two half-flows (one per sender), RFC 9293 state names for each endpoint, Zeek's view,
//! and the timestamps of the handshake. Kept small on purpose: a flood fills the table with these, and the whole
//! entry must stay under 256 bytes (see the size test in table.rs).

use super::annotate::TcpState;
use super::record::Role;
use super::zeek::ZeekTcp;
use crate::time::{Duration, Timestamp};
use crate::wire::flow::FlowKey;
use crate::wire::seq::SeqNumber;
use crate::wire::tcp_options::MAX_WINDOW_SCALE;

/// What one endpoint has sent, as far as the capture shows.
#[derive(Clone, Copy, Debug, Default)]
pub struct HalfFlow {
    /// Initial sequence number (the SYN's), or the first sequence number seen mid-stream.
    pub isn: SeqNumber,
    /// The sequence number after the highest byte (or SYN/FIN) this endpoint sent: its SND.NXT as we saw it.
    pub next_seq: SeqNumber,
    /// The highest acknowledgement this endpoint sent.
    pub max_ack: SeqNumber,
    /// Sequence number of this endpoint's FIN.
    pub fin_seq: SeqNumber,
    /// Start of the latest hole in this endpoint's sequence space (a gap we saw open), and its end.
    pub hole_start: SeqNumber,
    pub hole_end: SeqNumber,
    pub packets: u32,
    pub ip_bytes: u64,
    /// Highest payload byte end, for Zeek's sequence-derived byte counts.
    pub payload_end: SeqNumber,
    /// Payload bytes sent: how far `payload_end` advanced from the start of the sequence space, added up as it
    /// moves, so a transfer past 4 GiB (sequence numbers wrap) counts in full. For a datagram flow, the payload
    /// bytes of its datagrams.
    pub payload_total: u64,
    pub window: u16,
    pub state: TcpState,
    pub flags: u8,
    /// SYNs (or SYN-ACKs) sent with the same ISN: 1 for the first, 2 for the first retransmission...
    pub syn_tries: u8,
    pub dup_acks: u8,
    /// `MARK_*` bits: what this endpoint's last segment was, for the ACK that answers it (Wireshark's "last segment
    /// flags"), and whether its window came from a SYN. Kept apart from `flags`, which has no bit left.
    pub marks: u8,
    /// Window scale from the SYN (RFC 7323 §2.2), or NO_WSCALE.
    pub wscale: u8,
}

impl HalfFlow {
    pub const SEEN_SYN: u8 = 0x01;
    pub const SEEN_FIN: u8 = 0x02;
    pub const FIN_ACKED: u8 = 0x04;
    pub const SEQ_KNOWN: u8 = 0x08;
    pub const ACK_KNOWN: u8 = 0x10;
    pub const SEEN_RST: u8 = 0x20;
    pub const HOLE_OPEN: u8 = 0x40;
    /// Sent the RST that refused the connection ([`super::annotate::Annotation::Refused`]): a SYN-ACK from this end
    /// afterwards contradicts it and reopens the connection.
    pub const REFUSED: u8 = 0x80;
    pub const NO_WSCALE: u8 = 0xff;
    /// `marks`: the last segment from this endpoint was a keep-alive.
    pub const MARK_KEEP_ALIVE: u8 = 0x01;
    /// `marks`: the last segment from this endpoint was a zero-window probe (its byte not counted in `next_seq`).
    pub const MARK_ZW_PROBE: u8 = 0x02;
    /// `marks`: `window` is a SYN's, which is never scaled (RFC 7323 §2.2).
    pub const MARK_WINDOW_ON_SYN: u8 = 0x04;
    /// `marks`: the open hole (`hole_start..hole_end`) holds payload the capture truncated (snap length), not bytes
    /// the capture skipped: a segment later resent into it is a retransmission, not out-of-order.
    pub const MARK_TRUNCATED_HOLE: u8 = 0x10;
    /// `marks`: Zeek's 'D' (payload) of this direction has been asked for ([`super::zeek::ZeekTcp::packet`]): it is in
    /// the history, or the history was full, and either way asking again changes nothing. The fast path
    /// (`tcp::fast_segment`) skips the history search then.
    pub const MARK_DATA_LETTER: u8 = 0x20;
    /// `marks`: the same for 'A' (a pure ACK).
    pub const MARK_ACK_LETTER: u8 = 0x40;
    /// `marks` that describe the last segment, cleared when the next one arrives.
    pub const LAST_SEGMENT_MARKS: u8 = Self::MARK_KEEP_ALIVE | Self::MARK_ZW_PROBE;

    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    pub fn set(&mut self, flag: u8) {
        self.flags |= flag;
    }

    pub fn marked(&self, mark: u8) -> bool {
        self.marks & mark != 0
    }

    /// Payload bytes sent, from sequence numbers as Zeek counts them (conn.log orig_bytes / resp_bytes).
    pub fn payload_bytes(&self) -> u64 {
        if !self.has(Self::SEQ_KNOWN) {
            return 0;
        }
        self.payload_total
    }

    /// Starts this endpoint's payload count: its payload ends at `end`, `bytes` of it already sent (data on a SYN).
    pub fn start_payload(&mut self, end: SeqNumber, bytes: u32) {
        self.payload_end = end;
        self.payload_total = u64::from(bytes);
    }

    /// Moves the payload end forward to `end` when that is ahead of it (modulo 2^32), counting the bytes passed.
    pub fn advance_payload(&mut self, end: SeqNumber) {
        let by = end.diff(self.payload_end);
        if by > 0 {
            self.payload_end = end;
            self.payload_total += by as u64;
        }
    }

    /// The receive window this endpoint advertised, scaled (RFC 7323: never scaled on a SYN).
    pub fn scaled_window(&self) -> u32 {
        let shift = if self.wscale == Self::NO_WSCALE { 0 } else { self.wscale.min(MAX_WINDOW_SCALE) };
        u32::from(self.window) << shift
    }
}

/// Which timer list a connection sits on (see table.rs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Phase {
    /// A SYN without a SYN-ACK yet.
    #[default]
    HalfOpen,
    /// Established, mid-stream, or anything in between.
    Active,
    /// Both FINs exchanged, or reset: kept a little for trailing packets, port reuse and RST-in-TIME-WAIT.
    Closed,
    /// A UDP flow.
    Udp,
}

/// One tracked connection.
#[derive(Clone, Debug)]
pub struct Conn {
    pub key: FlowKey,
    /// Whether the originator is the key's low endpoint.
    pub orig_is_low: bool,
    pub first_ts: Timestamp,
    /// The last packet's time, where the record's duration ends and the idle and close-delay timers count from.
    /// For TCP it stops once both ends have closed ([`Conn::clock_stopped`]), as Zeek's does.
    pub last_ts: Timestamp,
    /// Microseconds from `first_ts` to the first SYN, SYN-ACK and handshake-completing ACK (u32::MAX: not seen).
    pub syn_at: u32,
    pub syn_ack_at: u32,
    pub established_at: u32,
    /// [originator, responder].
    pub halves: [HalfFlow; 2],
    pub zeek: ZeekTcp,
    pub phase: Phase,
    pub close_initiator: Option<Role>,
    pub mid_stream: bool,
    pub reset: bool,
    /// The second FIN also acknowledged the first: the three-packet close (FIN, FIN+ACK, ACK).
    pub three_way_close: bool,
    /// Bytes skipped over in gaps (Zeek's missed_bytes).
    pub missed_bytes: u64,
    /// Timer-list links (slot indices), maintained by the table.
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

pub const NOT_SEEN: u32 = u32::MAX;

impl Conn {
    pub fn new(key: FlowKey, orig_is_low: bool, ts: Timestamp, flipped: bool, phase: Phase) -> Conn {
        let half = HalfFlow { wscale: HalfFlow::NO_WSCALE, ..HalfFlow::default() };
        Conn {
            key,
            orig_is_low,
            first_ts: ts,
            last_ts: ts,
            syn_at: NOT_SEEN,
            syn_ack_at: NOT_SEEN,
            established_at: NOT_SEEN,
            halves: [half, half],
            zeek: ZeekTcp::new(flipped),
            phase,
            close_initiator: None,
            mid_stream: false,
            reset: false,
            three_way_close: false,
            missed_bytes: 0,
            prev: u32::MAX,
            next: u32::MAX,
        }
    }

    /// Microseconds since the connection's first packet, saturating below NOT_SEEN.
    pub fn offset_of(&self, ts: Timestamp) -> u32 {
        (ts.saturating_since(self.first_ts).as_nanos() / 1_000).min(u64::from(NOT_SEEN - 1)) as u32
    }

    pub fn at(&self, offset: u32) -> Option<Duration> {
        (offset != NOT_SEEN).then(|| Duration::from_micros(u64::from(offset)))
    }

    pub fn half(&self, role: Role) -> &HalfFlow {
        &self.halves[role as usize]
    }

    pub fn half_mut(&mut self, role: Role) -> &mut HalfFlow {
        &mut self.halves[role as usize]
    }

    /// Handshake round trip: first SYN to the ACK that completed the handshake.
    pub fn handshake_rtt(&self) -> Option<Duration> {
        match (self.at(self.syn_at), self.at(self.established_at)) {
            (Some(syn), Some(est)) => Some(Duration::from_nanos(est.as_nanos().saturating_sub(syn.as_nanos()))),
            _ => None,
        }
    }

    /// Both ends have closed, each by a FIN or by a RST the tracker accepted: Zeek stops the connection's clock then
    /// (TCPSessionAdapter::Process moves the connection's last time only while `! orig->did_close || !
    /// resp->did_close`, before the packet moves the state machine, so the packet that closes the second end still
    /// counts). The ends are judged by the tracker's own flags, not by Zeek's endpoint states: an out-of-window RST
    /// the tracker ignores (RFC 5961) leaves Zeek's side at RESET while the connection goes on, and the clock must
    /// run on with it (regression test `after_an_ignored_rst_and_a_half_close_the_clock_runs_on`).
    pub fn clock_stopped(&self) -> bool {
        let closed = |h: &HalfFlow| h.has(HalfFlow::SEEN_FIN) || h.has(HalfFlow::SEEN_RST);
        self.key.protocol == 6 && closed(&self.halves[0]) && closed(&self.halves[1])
    }

    /// The timer list the connection sits on (table.rs): its phase's, except that a connection whose clock has
    /// stopped waits on the close-delay list whatever its phase, with its record due at `last_ts + close_delay` (Zeek's
    /// ConnDeleteTimer at LastTime + tcp_close_delay once both ends closed). It moved to that list's tail with the
    /// packet that stopped its clock, when `last_ts` was the newest time in the table, and no later packet moves it
    /// (they do not move `last_ts`), so every list stays in time order: the timer walk stops at the first head not
    /// yet due and relies on that order.
    pub fn timer_list(&self) -> Phase {
        self.timer_list_given(self.clock_stopped())
    }

    /// [`Conn::timer_list`] for a caller that already read [`Conn::clock_stopped`] (`clock_stopped` must be its
    /// current value).
    pub fn timer_list_given(&self, clock_stopped: bool) -> Phase {
        debug_assert_eq!(clock_stopped, self.clock_stopped());
        if clock_stopped { Phase::Closed } else { self.phase }
    }

    /// A SYN went out and nothing answered it yet.
    pub fn is_half_open(&self) -> bool {
        self.phase == Phase::HalfOpen
    }
}

impl Role {
    /// The other end of the connection.
    pub fn other(self) -> Role {
        match self {
            Role::Orig => Role::Resp,
            Role::Resp => Role::Orig,
        }
    }
}
