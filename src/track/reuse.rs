//! Zeek's connection-reuse rule: when a SYN on a tracked tuple starts a new connection (a new conn.log record)
//! instead of continuing the old one. Facts from Zeek's `TCPSessionAdapter::IsReuse`
//! (src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc), which Zeek asks for every packet of a known tuple
//! (IPBasedAnalyzer::AnalyzePacket); the code is ours.
//!
//! - Only a SYN can reuse a tuple. A bare SYN is judged against the originator; a SYN-ACK only on a "half"
//!   connection whose originator has sent nothing (Zeek's orig still INACTIVE), judged against the responder.
//! - Once either end has closed (Zeek's `did_close`: it sent a FIN or a RST), any such SYN is a new connection,
//!   whatever its sequence number: a client retrying a refused port, or a SYN after a FIN.
//! - While neither has closed, a SYN is new when its sequence number differs from that end's start: its first
//!   SYN's ISN, or one below its first segment when the capture joined mid-stream (Zeek numbers a partial
//!   connection as if a SYN had preceded it). A resent SYN (same ISN) continues the connection.
//!
//! Where we differ: Zeek does not look at who sent the SYN, so in a simultaneous open (RFC 9293 figure 8) the
//! responder's SYN, whose ISN is not the originator's, starts a new connection for Zeek. The tracker keeps the
//! simultaneous open one connection (it annotates it as such), judging only the end Zeek compares with.

use super::conn::{Conn, HalfFlow};
use super::record::Role;
use super::zeek::ZeekState;
use crate::wire::TcpSegment;

/// How a SYN takes over a tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// The same ISN again, after an end closed: a retry (a refused client's resent SYN), numbered as the
    /// retransmission it is.
    Retry,
    /// A different ISN (or nothing to compare with).
    NewIsn,
}

/// Whether the segment `from` sends starts a new connection on `conn`'s tuple, by Zeek's `IsReuse`.
pub fn reuse(conn: &Conn, from: Role, seg: &TcpSegment<'_>) -> Option<Reuse> {
    if !seg.flags.syn() {
        return None;
    }
    let judged = if seg.flags.ack() {
        if conn.zeek.orig != ZeekState::Inactive {
            return None;
        }
        Role::Resp
    } else {
        Role::Orig
    };
    if from != judged {
        return None;
    }
    let h = conn.half(judged);
    let closed = |h: &HalfFlow| h.has(HalfFlow::SEEN_FIN) || h.has(HalfFlow::SEEN_RST);
    let same_isn = h.has(HalfFlow::SEEN_SYN) && seg.seq_number() == h.isn;
    if closed(conn.half(Role::Orig)) || closed(conn.half(Role::Resp)) {
        return Some(if same_isn { Reuse::Retry } else { Reuse::NewIsn });
    }
    let start_differs = if h.has(HalfFlow::SEEN_SYN) {
        seg.seq_number() != h.isn
    } else if h.has(HalfFlow::SEQ_KNOWN) {
        seg.seq_number() != h.isn.minus(1)
    } else {
        // That end has sent nothing yet: its SYN starts it, nothing to compare with.
        false
    };
    start_differs.then_some(Reuse::NewIsn)
}
