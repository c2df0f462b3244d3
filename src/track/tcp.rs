//! The per-segment TCP analysis: handshake, teardown, resets, and the sequence and acknowledgement checks that
//! Wireshark calls "TCP analysis". Each function reads and updates one connection and appends annotations; the
//! returned `Signals` tell the tracker what changed (for its timer lists, the flood detector and the summary).

use super::annotate::{Annotation, CloseForm, TcpState};
use super::conn::{Conn, HalfFlow, NOT_SEEN, Phase};
use super::record::Role;
use super::zeek::ZeekState;
use super::zeek_stream;
use crate::time::Timestamp;
use crate::wire::TcpSegment;
use crate::wire::seq::SeqNumber;
use crate::wire::tcp_options::{MAX_WINDOW_SCALE, OptionSpans};

/// How far sequence number `a` is ahead of `b`, modulo 2^32 (negative when behind).
fn ahead(a: SeqNumber, b: SeqNumber) -> i32 {
    a.diff(b)
}

/// What a segment changed, for the tracker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// A new connection attempt (a first SYN, not a retransmission).
    pub new_attempt: bool,
    pub syn_ack: bool,
    pub established: bool,
    pub refused: bool,
    pub reset: bool,
    pub retransmission: bool,
}

/// Feeds one segment from `from` to its connection; `clock_was_stopped` is the connection's
/// [`Conn::clock_stopped`] before the segment (the caller reads it anyway, for the timer list it leaves).
pub fn segment(
    conn: &mut Conn,
    ts: Timestamp,
    from: Role,
    seg: &TcpSegment<'_>,
    ip_len: u32,
    clock_was_stopped: bool,
    out: &mut Vec<Annotation>,
) -> Signals {
    // Zeek moves the connection's clock before the packet moves its state machine, while one end has not closed
    // (Conn::clock_stopped): the packet that closes the second end counts, a later ACK, resent FIN or RST does not.
    debug_assert_eq!(clock_was_stopped, conn.clock_stopped());
    if !clock_was_stopped {
        conn.last_ts = ts;
    }
    let sig = analyse(conn, ts, from, seg, ip_len, out);
    // The clock starts again when an end reopens (a SYN-ACK contradicting the RST that refused the connection, see
    // `reopen_refused`), and the packet that completes the handshake moves it too, so a record never reports a
    // handshake longer than the connection. Either way `last_ts` becomes the newest time, and the tracker moves the
    // connection to its list's tail.
    if clock_was_stopped && (!conn.clock_stopped() || sig.established) {
        conn.last_ts = ts;
    }
    sig
}

/// The common segment, taken without the general analysis: an in-order data segment or a pure ACK that moves the
/// acknowledgement, from an end of an established connection on which nothing unusual is pending. Returns false,
/// having changed nothing, when any condition of that case fails; the caller then runs [`segment`].
///
/// It exists for speed: most packets of an ordinary capture are such segments (12 of the 19 of a short session in
/// `synscope gen bench`), and for them the general path's checks all come out "nothing to say". Each condition
/// below rules out one branch of [`analyse`] (named beside it), so what is left is exactly what that path does to
/// such a segment: count it, note Zeek's first 'D' or 'A' of the direction, advance `next_seq` and the payload end,
/// move `max_ack`, take the window. `tests/fast_path.rs` reads captures with and without it and compares every
/// annotation, event, record and statistic; debug builds check each segment it takes against the general path.
#[inline]
pub fn fast_segment(conn: &mut Conn, ts: Timestamp, from: Role, seg: &TcpSegment<'_>, ip_len: u32) -> bool {
    if !is_plain(conn, from, seg) {
        return false;
    }
    let from_orig = from == Role::Orig;
    // `segment`: the clock runs (no end has closed).
    conn.last_ts = ts;
    // `ZeekTcp::packet`: no SYN, FIN or RST and a non-zero window from an established end give the one letter and
    // no state change.
    // Asked for at most once per direction: searching the history for it cost about 30 instructions a segment.
    let (letter, mark) = plain_letter(seg.payload_len);
    if !conn.half(from).marked(mark) {
        conn.zeek.history.once(from_orig, letter);
    }
    let h = conn.half_mut(from);
    h.marks |= mark;
    h.packets = h.packets.saturating_add(1);
    h.ip_bytes += u64::from(ip_len);
    h.marks &= !(HalfFlow::LAST_SEGMENT_MARKS | HalfFlow::MARK_WINDOW_ON_SYN);
    // `sequence`: in order, so the data moves `next_seq` and the payload end, and nothing else.
    if seg.payload_len > 0 {
        let end = seg.seq_number().plus(seg.payload_len);
        h.next_seq = end;
        h.advance_payload(end);
    }
    // `acknowledgement`: a newer ACK moves `max_ack` and ends a run of duplicates.
    if ahead(seg.ack_number(), h.max_ack) > 0 {
        h.max_ack = seg.ack_number();
        h.dup_acks = 0;
    }
    h.window = seg.window;
    true
}

/// Zeek's letter for a segment without SYN, FIN or RST ('D' with payload, 'A' without), and the mark that says the
/// direction already asked for it.
fn plain_letter(payload_len: u32) -> (u8, u8) {
    if payload_len > 0 { (b'D', HalfFlow::MARK_DATA_LETTER) } else { (b'A', HalfFlow::MARK_ACK_LETTER) }
}

/// Whether `seg` is the case [`fast_segment`] takes: for each branch of [`analyse`], the condition that keeps the
/// segment out of it.
fn is_plain(conn: &Conn, from: Role, seg: &TcpSegment<'_>) -> bool {
    let (half, peer) = (conn.half(from), conn.half(from.other()));
    // Only the ACK among SYN, FIN, RST and ACK: no reset, SYN, teardown or flag letter but 'D'/'A' (`ZeekTcp`).
    // Checked first, and alone: it turns away the handshake and teardown segments (about a third of the bench
    // file's) before any of the connection is read.
    if !(seg.flags.ack() && !seg.flags.syn() && !seg.flags.fin() && !seg.flags.rst()) {
        return false;
    }
    // Neither end closed (the clock runs, no half-close, no FIN to acknowledge), no hole to fill or acknowledge,
    // the sender's sequence and acknowledgement known, and the peer's sequence known (`AckOfUnseen` is judged).
    const CLOSED_OR_HOLE: u8 = HalfFlow::SEEN_FIN | HalfFlow::SEEN_RST | HalfFlow::HOLE_OPEN;
    const KNOWN: u8 = HalfFlow::SEQ_KNOWN | HalfFlow::ACK_KNOWN;
    let ends = half.flags & (CLOSED_OR_HOLE | KNOWN) == KNOWN
        && peer.flags & (CLOSED_OR_HOLE | HalfFlow::SEQ_KNOWN) == HalfFlow::SEQ_KNOWN
        // No zero-window probe to answer (`acknowledgement`).
        && !peer.marked(HalfFlow::MARK_ZW_PROBE);
    // The handshake is done (`handshake_ack` has nothing to do) and the connection stays on the active list.
    let conn_state = conn.phase == Phase::Active && conn.established_at != NOT_SEEN;
    // Zeek's endpoint does not move on an ACK or data from an established (or partial) end (`ZeekTcp::transition`),
    // and a zero window ('W', `ZeroWindow`) is left to the general path.
    let sender_state = if from == Role::Orig { conn.zeek.orig } else { conn.zeek.resp };
    let zeek = matches!(sender_state, ZeekState::Established | ZeekState::Partial) && seg.window != 0;
    ends && conn_state && zeek && in_order_and_plain(conn, from, seg)
}

/// The sequence and acknowledgement side of [`is_plain`].
fn in_order_and_plain(conn: &Conn, from: Role, seg: &TcpSegment<'_>) -> bool {
    let (half, peer) = (conn.half(from), conn.half(from.other()));
    let len = seg.payload_len;
    // In order: no gap, retransmission, out-of-order or keep-alive, and no 'T' for Zeek (`sequence`,
    // `zeek_stream::retransmitted`); captured whole (no truncated hole).
    let in_order = seg.seq_number() == half.next_seq && (seg.payload.len() as u64) >= u64::from(len);
    // Data: no zero-window probe and no window full (`sequence`). No data: the ACK moves, so it is no duplicate
    // ACK, keep-alive ACK, probe answer or window update (`acknowledgement`).
    let plain = if len > 0 {
        !(len == 1 && window_is_zero(peer)) && window_edge(conn, from.other()) != Some(seg.seq_number().plus(len))
    } else {
        seg.ack_number() != half.max_ack
    };
    // The ACK claims nothing the peer has not sent (`AckOfUnseen`).
    in_order && plain && ahead(seg.ack_number(), peer.next_seq) <= 0
}

fn analyse(
    conn: &mut Conn,
    ts: Timestamp,
    from: Role,
    seg: &TcpSegment<'_>,
    ip_len: u32,
    out: &mut Vec<Annotation>,
) -> Signals {
    let mut sig = Signals::default();
    {
        let half = conn.half_mut(from);
        half.packets = half.packets.saturating_add(1);
        half.ip_bytes += u64::from(ip_len);
        // What the previous segment was no longer matters: this one replaces it.
        half.marks &= !HalfFlow::LAST_SEGMENT_MARKS;
    }
    let from_orig = from == Role::Orig;
    let sender_state = if from_orig { conn.zeek.orig } else { conn.zeek.resp };
    let zeek_rxmit = zeek_stream::retransmitted(conn.half(from), sender_state, seg);
    conn.zeek.packet(from_orig, seg.flags, seg.seq, seg.payload_len, seg.window);
    if !seg.flags.syn() && !seg.flags.fin() && !seg.flags.rst() && (seg.payload_len > 0 || seg.flags.ack()) {
        // `ZeekTcp::letters` asked for this direction's 'D' or 'A' (the fast path skips asking again).
        conn.half_mut(from).marks |= plain_letter(seg.payload_len).1;
    }
    // After the packet's flag letters, as Zeek adds them (update_history before update_last_seq).
    if zeek_rxmit {
        conn.zeek.history.retransmission(from_orig);
    }

    if seg.flags.rst() {
        reset(conn, from, seg, out, &mut sig);
        return sig;
    }
    if seg.flags.syn() {
        syn(conn, ts, from, seg, out, &mut sig);
    } else {
        if !conn.half(from).has(HalfFlow::SEQ_KNOWN) {
            // First segment from this side without a SYN: start its sequence space here.
            let half = conn.half_mut(from);
            half.isn = seg.seq_number();
            half.next_seq = seg.seq_number();
            half.start_payload(seg.seq_number(), 0);
            half.set(HalfFlow::SEQ_KNOWN);
            if half.state == TcpState::Closed {
                half.state = TcpState::Established;
            }
        }
        handshake_ack(conn, ts, from, seg, out, &mut sig);
        sequence(conn, from, seg, out, &mut sig);
    }
    if seg.flags.ack() {
        acknowledgement(conn, from, seg, out);
    }
    teardown(conn, from, seg, out);
    sig
}

/// The SYN's window scale, clamped to 14 (RFC 7323 §2.3). Clamping here also keeps a shift of 255 from reading
/// as `NO_WSCALE`.
///
/// Found on the framing walk alone, with the parser's rules for where its search ends (`next` of
/// [`crate::wire::tcp_options::TcpOptions`]): a
/// framing error, or a known kind (2 to 5, 8) with a length wrong for it, ends it; End of option list ends the walk.
/// Parsing every option's value (timestamps, SACK blocks) only to look for this one cost about 30 instr/pkt of
/// `read -q` on the bench file, whose SYNs carry five options (callgrind). The test `wscale_as_the_parser_finds_it`
/// compares it with the parser on random option bytes.
fn wscale_of(seg: &TcpSegment<'_>) -> u8 {
    let raw = seg.options_raw;
    for span in OptionSpans::new(raw) {
        let Ok(span) = span else { break };
        let body = span.data(raw);
        match (span.kind, body.len()) {
            (3, 1) => return body[0].min(MAX_WINDOW_SCALE),
            (2, 2) | (4, 0) | (8, 8) => {}
            (5, n) if n % 8 == 0 && n > 0 && n <= 32 => {}
            (2..=5 | 8, _) => break,
            _ => {}
        }
    }
    HalfFlow::NO_WSCALE
}

/// SYN and SYN-ACK (RFC 9293 §3.5).
fn syn(conn: &mut Conn, ts: Timestamp, from: Role, seg: &TcpSegment<'_>, out: &mut Vec<Annotation>, sig: &mut Signals) {
    let offset = conn.offset_of(ts);
    let len = seg.payload_len;
    let seen_before = conn.half(from).has(HalfFlow::SEEN_SYN);
    // In a simultaneous open each end re-sends its SYN with an ACK of the other's (RFC 9293 figure 8, line 5): the
    // same ISN, but that end's first SYN-ACK, not a retransmission. An end that never acknowledged anything has not
    // sent a SYN-ACK yet.
    let first_syn_ack = seg.flags.ack() && !conn.half(from).has(HalfFlow::ACK_KNOWN);
    let same_isn = seen_before && conn.half(from).isn == seg.seq_number() && !first_syn_ack;
    if same_isn {
        let half = conn.half_mut(from);
        half.syn_tries = half.syn_tries.saturating_add(1);
        sig.retransmission = true;
    } else {
        let half = conn.half_mut(from);
        half.isn = seg.seq_number();
        half.next_seq = seg.seq_number().plus(1).plus(len);
        half.start_payload(seg.seq_number().plus(1).plus(len), len);
        half.syn_tries = 1;
        half.window = seg.window;
        half.marks |= HalfFlow::MARK_WINDOW_ON_SYN;
        half.wscale = wscale_of(seg);
        half.set(HalfFlow::SEEN_SYN | HalfFlow::SEQ_KNOWN);
    }
    if seg.flags.ack() && !seen_before && conn.half(from).has(HalfFlow::REFUSED) {
        reopen_refused(conn, from, seg);
    }
    let attempt = u32::from(conn.half(from).syn_tries);
    if !seg.flags.ack() {
        let peer_sent_syn = conn.half(from.other()).has(HalfFlow::SEEN_SYN);
        if from == Role::Resp && peer_sent_syn && !seen_before {
            // Both ends sent a bare SYN: each goes SYN-SENT → SYN-RECEIVED (RFC 9293 figure 8).
            conn.half_mut(Role::Orig).state = TcpState::SynReceived;
            conn.half_mut(Role::Resp).state = TcpState::SynReceived;
            out.push(Annotation::SimultaneousOpen);
        } else {
            conn.half_mut(from).state = TcpState::SynSent;
            if conn.syn_at == NOT_SEEN || !same_isn {
                conn.syn_at = offset;
            }
            sig.new_attempt = !same_isn;
            out.push(Annotation::HandshakeSyn { attempt });
        }
    } else {
        if !same_isn && conn.syn_ack_at == NOT_SEEN {
            conn.syn_ack_at = offset;
            sig.syn_ack = true;
        }
        conn.half_mut(from).state = TcpState::SynReceived;
        // Timed to this packet: a retransmitted SYN-ACK says how long after the SYN it came, not when the first did.
        let since_syn = match (conn.at(conn.syn_at), conn.at(offset)) {
            (Some(syn), Some(now)) => {
                Some(crate::time::Duration::from_nanos(now.as_nanos().saturating_sub(syn.as_nanos())))
            }
            _ => None,
        };
        if conn.phase == Phase::HalfOpen {
            conn.phase = Phase::Active;
        }
        out.push(Annotation::HandshakeSynAck { since_syn, attempt });
        if let Some(len) = tfo_accepted(conn, from, seg) {
            out.push(Annotation::TfoSynAck { len });
        }
    }
    if len > 0 {
        out.push(Annotation::DataOnSyn { len });
    }
}

/// The bytes of the peer's SYN data this SYN-ACK acknowledges (TCP Fast Open, RFC 7413 §4.2.2): it acknowledges
/// past the peer's ISN+1, and no further than the peer sent. None when it acknowledges only the SYN.
fn tfo_accepted(conn: &Conn, from: Role, seg: &TcpSegment<'_>) -> Option<u32> {
    let peer = conn.half(from.other());
    if !peer.has(HalfFlow::SEEN_SYN) {
        return None;
    }
    let syn_end = peer.isn.plus(1);
    let len = ahead(seg.ack_number(), syn_end);
    (len > 0 && ahead(seg.ack_number(), peer.next_seq) <= 0).then_some(len as u32)
}

/// A SYN-ACK from the end whose RST "refused" the connection, answering the SYN that RST answered: that end
/// listens after all, so the RST was not its answer (an injected one, or one the client did not take), and the
/// handshake goes on. Undoes what the RST did to the connection, so that it stays open and a later RST is a reset.
fn reopen_refused(conn: &mut Conn, from: Role, seg: &TcpSegment<'_>) {
    let to = from.other();
    let peer = *conn.half(to);
    if !peer.has(HalfFlow::SEEN_SYN) || seg.ack_number() != peer.isn.plus(1) {
        return;
    }
    conn.reset = false;
    if conn.close_initiator == Some(from) {
        conn.close_initiator = None;
    }
    conn.half_mut(from).flags &= !(HalfFlow::SEEN_RST | HalfFlow::REFUSED);
    conn.half_mut(to).state = TcpState::SynSent;
    conn.phase = Phase::HalfOpen;
}

/// The ACK that completes the handshake: it acknowledges the responder's SYN (RFC 9293 §3.5, step 3).
fn handshake_ack(
    conn: &mut Conn,
    ts: Timestamp,
    from: Role,
    seg: &TcpSegment<'_>,
    out: &mut Vec<Annotation>,
    sig: &mut Signals,
) {
    let resp = conn.half(Role::Resp);
    if from != Role::Orig
        || conn.established_at != NOT_SEEN
        || !seg.flags.ack()
        || !resp.has(HalfFlow::SEEN_SYN)
        || seg.ack_number() != resp.isn.plus(1)
    {
        return;
    }
    conn.established_at = conn.offset_of(ts);
    conn.half_mut(Role::Orig).state = TcpState::Established;
    conn.half_mut(Role::Resp).state = TcpState::Established;
    let since_syn_ack = match (conn.at(conn.syn_ack_at), conn.at(conn.established_at)) {
        (Some(a), Some(b)) => Some(crate::time::Duration::from_nanos(b.as_nanos().saturating_sub(a.as_nanos()))),
        _ => None,
    };
    sig.established = true;
    out.push(Annotation::HandshakeAck { rtt: conn.handshake_rtt(), since_syn_ack });
}

/// RST (RFC 9293 §3.10.7, RFC 5961 §3).
fn reset(conn: &mut Conn, from: Role, seg: &TcpSegment<'_>, out: &mut Vec<Annotation>, sig: &mut Signals) {
    let to = from.other();
    let sender = *conn.half(from);
    let peer = *conn.half(to);
    let was_closed = conn.phase == Phase::Closed;
    if peer.state == TcpState::SynSent && !sender.has(HalfFlow::SEEN_SYN) {
        sig.refused = true;
        conn.half_mut(from).set(HalfFlow::REFUSED);
        out.push(Annotation::Refused);
    } else if matches!(sender.state, TcpState::TimeWait) || matches!(peer.state, TcpState::TimeWait) {
        out.push(Annotation::ResetInTimeWait { from });
    } else if was_closed {
        // Both ends are CLOSED already (an earlier RST): this one answers a segment for a connection that no longer
        // exists (RFC 9293 §3.10.7.1). Nobody is in TIME-WAIT and there is nothing left to abort, so say nothing.
    } else {
        // An RST is acceptable when its sequence number lies in the receiver's window; RCV.NXT is what the
        // receiver last acknowledged (RFC 5961 §3.2). Without that knowledge we cannot judge, and do not accuse.
        let in_window = if peer.has(HalfFlow::ACK_KNOWN) {
            let offset = seg.seq_number().since(peer.max_ack);
            offset < peer.scaled_window().max(1) || seg.seq_number() == sender.next_seq
        } else {
            true
        };
        if !in_window {
            // The receiver silently drops an RST outside its window (RFC 5961 §3.2), so the connection goes on:
            // tearing it down here would split one connection into two records and call the rest mid-stream.
            out.push(Annotation::ResetOutOfWindow { from });
            return;
        }
        out.push(Annotation::Abort { from });
    }
    sig.reset = true;
    conn.half_mut(from).set(HalfFlow::SEEN_RST);
    // A RST after both FINs were acknowledged (TIME-WAIT) ends nothing: the FINs closed the connection, as Zeek
    // keeps it SF. Otherwise the RST is what ended it, and its sender closed first (record.rs: "who sent the first
    // FIN (or RST)").
    if !was_closed {
        conn.reset = true;
    }
    conn.close_initiator.get_or_insert(from);
    conn.half_mut(from).state = TcpState::Closed;
    conn.half_mut(to).state = TcpState::Closed;
    conn.phase = Phase::Closed;
}

/// Sequence checks on segments that occupy sequence space: in order, gap, retransmission, out-of-order.
fn sequence(conn: &mut Conn, from: Role, seg: &TcpSegment<'_>, out: &mut Vec<Annotation>, sig: &mut Signals) {
    let len = seg.payload_len;
    let fin = u32::from(seg.flags.fin());
    let half = *conn.half(from);
    let next = half.next_seq;
    if len == 0 && fin == 0 {
        // Wireshark's keep-alive: no data (or one garbage byte), one below the next expected sequence number.
        if seg.seq_number() == next.minus(1) && half.has(HalfFlow::ACK_KNOWN) {
            keep_alive(conn, from, out);
        }
        return;
    }
    if len == 1 && fin == 0 && seg.seq_number() == next && window_is_zero(conn.half(from.other())) {
        // One byte at the next sequence number into a closed window: a zero-window probe (RFC 9293 §3.8.6.1). The
        // receiver normally drops the byte and answers with its ACK and window, so the byte does not move
        // `next_seq` (the data that follows resends it); an ACK that does take it moves `next_seq` then.
        conn.half_mut(from).marks |= HalfFlow::MARK_ZW_PROBE;
        out.push(Annotation::ZeroWindowProbe);
        return;
    }
    // Wireshark's window full: data (no FIN) that ends exactly at the right edge of the receiver's window.
    let full = len > 0 && fin == 0 && window_edge(conn, from.other()) == Some(seg.seq_number().plus(len));
    let end = seg.seq_number().plus(len).plus(fin);
    let jump = ahead(seg.seq_number(), next);
    if jump > 0 {
        let missing = jump as u32;
        out.push(Annotation::Gap { missing });
        // For Zeek the skipped bytes are a content gap only once the receiver acknowledges them unseen
        // (zeek_stream::acknowledged); until then they may still arrive.
        zeek_stream::open_hole(conn, from, next, seg.seq_number(), false);
    } else if jump < 0 {
        if len <= 1 && fin == 0 && seg.seq_number() == next.minus(1) {
            keep_alive(conn, from, out);
            return;
        }
        let in_hole = half.has(HalfFlow::HOLE_OPEN)
            && !half.marked(HalfFlow::MARK_TRUNCATED_HOLE)
            && seg.seq_number().since(half.hole_start) < half.hole_end.since(half.hole_start)
            && end.since(half.hole_start) <= half.hole_end.since(half.hole_start);
        if in_hole {
            // Fills (part of) a hole we saw open: it was late, not resent ... unless the receiver asked for exactly
            // these bytes again with duplicate ACKs. Then it is the sender's fast retransmit (RFC 5681 §3.2), which
            // Wireshark calls a retransmission from the second duplicate ACK on. (Zeek logs a 'T' for it either
            // way: it lies below the highest sequence number seen, see zeek_stream.)
            let receiver = conn.half(from.other());
            if receiver.dup_acks >= 2 && receiver.max_ack == seg.seq_number() {
                out.push(Annotation::Retransmission);
                sig.retransmission = true;
            } else {
                out.push(Annotation::OutOfOrder);
            }
        } else {
            out.push(Annotation::Retransmission);
            sig.retransmission = true;
        }
    }
    let data_end = seg.seq_number().plus(len);
    if (seg.payload.len() as u64) < u64::from(len) {
        // Cut by the snap length: Zeek delivers none of a truncated payload to its reassembler
        // (TCP_Endpoint::DataSent, "truncated_tcp_payload"), so its new bytes wait as a hole like skipped ones.
        if ahead(data_end, next) > 0 {
            let start = if jump > 0 { seg.seq_number() } else { next };
            zeek_stream::open_hole(conn, from, start, data_end, true);
        }
    } else if len > 0 {
        zeek_stream::seen(conn.half_mut(from), seg.seq_number(), data_end);
    }
    if full {
        out.push(Annotation::WindowFull);
    }
    let h = conn.half_mut(from);
    if ahead(end, h.next_seq) > 0 {
        h.next_seq = end;
    }
    if len > 0 {
        h.advance_payload(data_end);
    }
    // Data after the peer's FIN: the peer half-closed and this side keeps sending (RFC 9293 §3.6).
    if len > 0 && conn.half(from.other()).has(HalfFlow::SEEN_FIN) && !conn.half(from).has(HalfFlow::SEEN_FIN) {
        out.push(Annotation::HalfClose { from });
    }
}

fn keep_alive(conn: &mut Conn, from: Role, out: &mut Vec<Annotation>) {
    conn.half_mut(from).marks |= HalfFlow::MARK_KEEP_ALIVE;
    out.push(Annotation::KeepAlive);
}

/// Whether `receiver` has advertised a zero window (and we saw it advertise one at all).
fn window_is_zero(receiver: &HalfFlow) -> bool {
    receiver.has(HalfFlow::ACK_KNOWN | HalfFlow::SEEN_SYN) && receiver.window == 0
}

/// The window scale in effect for `role`'s advertised windows (RFC 7323 §2.2): its SYN's shift when both SYNs
/// carried the option, none when either SYN went without it; None when we did not see enough SYNs to know.
fn window_shift(conn: &Conn, role: Role) -> Option<u8> {
    let (own, peer) = (conn.half(role), conn.half(role.other()));
    let unscaled = |h: &HalfFlow| h.has(HalfFlow::SEEN_SYN) && h.wscale == HalfFlow::NO_WSCALE;
    if unscaled(own) || unscaled(peer) {
        Some(0)
    } else if own.has(HalfFlow::SEEN_SYN) && peer.has(HalfFlow::SEEN_SYN) {
        Some(own.wscale.min(MAX_WINDOW_SCALE))
    } else {
        None
    }
}

/// The right edge of `receiver`'s window: its last acknowledgement plus its advertised window, scaled unless the
/// window was a SYN's. None when it has not acknowledged anything or its window scale is unknown.
fn window_edge(conn: &Conn, receiver: Role) -> Option<SeqNumber> {
    let r = conn.half(receiver);
    if !r.has(HalfFlow::ACK_KNOWN) {
        return None;
    }
    let shift = if r.marked(HalfFlow::MARK_WINDOW_ON_SYN) { 0 } else { window_shift(conn, receiver)? };
    Some(r.max_ack.plus(u32::from(r.window) << shift))
}

/// Acknowledgement checks: duplicate ACKs, window updates, zero windows, ACKs of data never seen.
fn acknowledgement(conn: &mut Conn, from: Role, seg: &TcpSegment<'_>, out: &mut Vec<Annotation>) {
    let to = from.other();
    let peer = *conn.half(to);
    let half = *conn.half(from);
    let pure = seg.payload_len == 0 && !seg.flags.syn() && !seg.flags.fin() && !seg.flags.rst();
    if !half.has(HalfFlow::ACK_KNOWN) {
        let h = conn.half_mut(from);
        h.max_ack = seg.ack_number();
        h.set(HalfFlow::ACK_KNOWN);
    } else if pure && seg.ack_number() == half.max_ack {
        let outstanding = peer.has(HalfFlow::SEQ_KNOWN) && peer.next_seq != seg.ack_number();
        let repeats = seg.seq_number() == half.next_seq && seg.window == half.window;
        if repeats && seg.window != 0 && peer.marked(HalfFlow::MARK_KEEP_ALIVE) {
            // The same ACK and window, answering the peer's keep-alive (Wireshark's keep-alive ACK): not a
            // duplicate ACK, whatever is in flight.
            out.push(Annotation::KeepAliveAck);
        } else if repeats && seg.window == 0 && peer.marked(HalfFlow::MARK_ZW_PROBE) {
            // The window still closed, the probe's byte not taken: the answer to a zero-window probe.
            out.push(Annotation::ZeroWindowProbeAck);
        } else if seg.window == half.window && seg.window != 0 && outstanding && seg.seq_number() == half.next_seq {
            // Same ACK, same window, no data, while the peer has data in flight (RFC 5681 §2 "duplicate ACK"). Not
            // with a zero window, as in tshark: that ACK repeats a closed window or answers a window probe, and
            // says nothing about a lost segment.
            let h = conn.half_mut(from);
            h.dup_acks = h.dup_acks.saturating_add(1);
            out.push(Annotation::DuplicateAck { count: u32::from(h.dup_acks) });
        } else if seg.window > half.window && half.window == 0 || seg.window != half.window && seg.window > 0 {
            out.push(Annotation::WindowUpdate);
        }
    } else if ahead(seg.ack_number(), half.max_ack) > 0 {
        let h = conn.half_mut(from);
        h.max_ack = seg.ack_number();
        h.dup_acks = 0;
    }
    if peer.marked(HalfFlow::MARK_ZW_PROBE) && seg.flags.ack() && seg.ack_number() == peer.next_seq.plus(1) {
        // The receiver took the probe's byte: it is sent data after all.
        out.push(Annotation::ZeroWindowProbeAck);
        let p = conn.half_mut(to);
        p.next_seq = seg.ack_number();
        p.advance_payload(seg.ack_number());
    }
    // Zeek's reassembler learns from the ACK what the receiver got: a hole below it was never seen.
    zeek_stream::acknowledged(conn, to, seg.ack_number());
    let peer = *conn.half(to);
    if peer.has(HalfFlow::SEQ_KNOWN) {
        let beyond = ahead(seg.ack_number(), peer.next_seq);
        if beyond > 0 {
            out.push(Annotation::AckOfUnseen { bytes: beyond as u32 });
            zeek_stream::content_gap(conn, to, beyond as u32);
            let p = conn.half_mut(to);
            p.next_seq = seg.ack_number();
            p.advance_payload(seg.ack_number());
        }
    }
    if seg.window == 0 && !seg.flags.syn() {
        out.push(Annotation::ZeroWindow);
    }
    let h = conn.half_mut(from);
    h.window = seg.window;
    if seg.flags.syn() {
        h.marks |= HalfFlow::MARK_WINDOW_ON_SYN;
    } else {
        h.marks &= !HalfFlow::MARK_WINDOW_ON_SYN;
    }
}

/// FIN handling and the ACKs of FINs (RFC 9293 §3.6).
fn teardown(conn: &mut Conn, from: Role, seg: &TcpSegment<'_>, out: &mut Vec<Annotation>) {
    let to = from.other();
    let acks = |fin_seq: SeqNumber| seg.flags.ack() && ahead(seg.ack_number(), fin_seq.plus(1)) >= 0;
    let mut handled_ack_of_fin = false;
    if seg.flags.fin() && !conn.half(from).has(HalfFlow::SEEN_FIN) {
        let fin_seq = seg.seq_number().plus(seg.payload_len);
        {
            let h = conn.half_mut(from);
            h.fin_seq = fin_seq;
            h.set(HalfFlow::SEEN_FIN);
        }
        let peer = *conn.half(to);
        if !peer.has(HalfFlow::SEEN_FIN) {
            conn.close_initiator.get_or_insert(from);
            conn.half_mut(from).state = TcpState::FinWait1;
            out.push(Annotation::TeardownFin { from });
        } else if !peer.has(HalfFlow::FIN_ACKED) && acks(peer.fin_seq) {
            // FIN+ACK answering the first FIN: the common three-packet close.
            conn.three_way_close = true;
            conn.half_mut(to).set(HalfFlow::FIN_ACKED);
            conn.half_mut(to).state = TcpState::FinWait2;
            conn.half_mut(from).state = TcpState::LastAck;
            out.push(Annotation::TeardownSecondFin { from, form: CloseForm::ThreeWay });
            handled_ack_of_fin = true;
        } else if peer.has(HalfFlow::FIN_ACKED) {
            conn.half_mut(from).state = TcpState::LastAck;
            out.push(Annotation::TeardownSecondFin { from, form: CloseForm::FourWay });
            handled_ack_of_fin = true;
        } else {
            // The FINs crossed: each side is in FIN-WAIT-1 when the other's FIN arrives, and moves to CLOSING.
            conn.half_mut(from).state = TcpState::Closing;
            conn.half_mut(to).state = TcpState::Closing;
            out.push(Annotation::SimultaneousClose { from, state: TcpState::Closing });
            handled_ack_of_fin = true;
        }
    }
    let peer = *conn.half(to);
    if handled_ack_of_fin || !peer.has(HalfFlow::SEEN_FIN) || peer.has(HalfFlow::FIN_ACKED) || !acks(peer.fin_seq) {
        return;
    }
    conn.half_mut(to).set(HalfFlow::FIN_ACKED);
    let own = *conn.half(from);
    if !own.has(HalfFlow::SEEN_FIN) {
        conn.half_mut(from).state = TcpState::CloseWait;
        conn.half_mut(to).state = TcpState::FinWait2;
        out.push(Annotation::TeardownAckOfFin { from });
    } else if own.state == TcpState::Closing || peer.state == TcpState::Closing || peer.state == TcpState::TimeWait {
        conn.half_mut(from).state = TcpState::TimeWait;
        out.push(Annotation::SimultaneousClose { from, state: TcpState::TimeWait });
    } else {
        let form = if conn.three_way_close { CloseForm::ThreeWay } else { CloseForm::FourWay };
        conn.half_mut(from).state = TcpState::TimeWait;
        conn.half_mut(to).state = TcpState::Closed;
        out.push(Annotation::TeardownLastAck { closer: from, form });
    }
    if conn.half(from).has(HalfFlow::FIN_ACKED) && conn.half(to).has(HalfFlow::FIN_ACKED) {
        conn.phase = Phase::Closed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::TcpFlags;
    use crate::wire::tcp_options::TcpOption;

    /// The search as the option parser does it.
    fn parsed_wscale(raw: &[u8]) -> u8 {
        crate::wire::tcp_options::TcpOptions::new(raw)
            .find_map(|o| match o {
                TcpOption::WindowScale(s) => Some(s.min(MAX_WINDOW_SCALE)),
                _ => None,
            })
            .unwrap_or(HalfFlow::NO_WSCALE)
    }

    #[test]
    fn wscale_as_the_parser_finds_it() {
        let mut state = 17;
        // Kinds and lengths drawn from small sets, so known kinds with right and wrong lengths, NOPs, ends of list
        // and bad lengths all turn up often.
        const KINDS: [u8; 10] = [0, 1, 2, 3, 4, 5, 8, 30, 254, 3];
        const LENS: [u8; 10] = [0, 1, 2, 3, 4, 6, 10, 18, 40, 3];
        for _ in 0..200_000 {
            let mut raw = Vec::new();
            let n = crate::hash_key::splitmix64(&mut state) % 12;
            for _ in 0..n {
                let r = crate::hash_key::splitmix64(&mut state);
                raw.push(KINDS[(r % 10) as usize]);
                raw.push(LENS[((r >> 8) % 10) as usize]);
                raw.push((r >> 16) as u8);
            }
            let len = (crate::hash_key::splitmix64(&mut state) % 41) as usize;
            raw.truncate(len);
            let seg = TcpSegment {
                src_port: 1,
                dst_port: 2,
                seq: 0,
                ack: 0,
                flags: TcpFlags(TcpFlags::SYN),
                window: 0,
                urgent: 0,
                checksum: 0,
                header_len: 20,
                options_raw: &raw,
                payload_len: 0,
                payload: &[],
            };
            assert_eq!(wscale_of(&seg), parsed_wscale(&raw), "{raw:?}");
        }
    }
}
