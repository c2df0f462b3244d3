//! Zeek's sequence-number view of each direction, for conn.log's `T`/`t` and `G`/`g` letters and `missed_bytes`:
//! when Zeek calls a segment retransmitted, and when it calls bytes a content gap. Facts read from Zeek's TCP
//! analyzer (src/packet_analysis/protocol/tcp/TCPSessionAdapter.cc, src/analyzer/protocol/tcp/TCP_Endpoint.cc and
//! TCP_Reassembler.cc); the code is ours. The annotations Wireshark-style analysis attaches to packets
//! (tcp.rs) follow their own rules; docs/analysis.md sets the two side by side.
//!
//! - **Retransmission** (`update_last_seq`): a segment carrying payload that ends at or below the highest sequence
//!   number its sender was seen sending (Zeek's `last_seq`; see [`retransmitted`] for where ours differs). A bare FIN
//!   or SYN resent is no `T` (no payload); a hole filled late is one (it lies below data already seen).
//! - **Content gap** (`TCP_Reassembler::Undelivered`, reached from `AckReceived`): bytes the peer acknowledged that
//!   were never delivered to the reassembler, because the capture skipped them (a hole) or truncated them (a
//!   payload shorter in the capture than the IP length says: `TCP_Endpoint::DataSent` delivers nothing of it). A hole
//!   that is filled before the peer's ACK passes it is no gap (the fill is a `T`: it lies below `last_seq`). Zeek
//!   adds a `G` and the bytes to `missed_bytes` (its `content_gap` event) only while both ends are established or
//!   closed after being established, so mid-stream connections and resets report none.
//!
//! Bounded: one pending hole per direction (`hole_start..hole_end` in [`HalfFlow`], shared with the out-of-order
//! annotation). A second hole opening before the first is acknowledged settles the first as a gap at once; a fill
//! is tracked at either edge of the hole, not in its middle. Both only matter when the missing bytes arrive later.

use super::conn::{Conn, HalfFlow};
use super::record::Role;
use super::zeek::ZeekState;
use crate::wire::TcpSegment;
use crate::wire::seq::SeqNumber;

/// Zeek ignores a SYN or RST whose sequence number jumps further than this from `last_seq` (TOO_LARGE_SEQ_DELTA).
const TOO_LARGE_SEQ_DELTA: i32 = 1_048_576;

/// The widest hole kept pending; a wider run of missing bytes is settled in parts.
const MAX_HOLE: u32 = 1 << 30;

fn ahead(a: SeqNumber, b: SeqNumber) -> i32 {
    a.diff(b)
}

/// One segment from the end `half` describes, before it moves anything (`sender_state` is the sender's Zeek state
/// before it): whether Zeek takes it as a retransmission (its `DidRxmit`), which needs payload ending at or below
/// the highest sequence number seen from the sender.
///
/// Zeek compares with its `last_seq`, moved only by the sender's own segments. We compare with `next_seq`, which
/// the peer's ACK of bytes the capture never saw also moves (tcp.rs, `AckOfUnseen`), because a separate field would
/// not fit the 256-byte budget per connection: so a segment resending bytes the peer already acknowledged unseen is
/// a `T` here and new bytes to Zeek. Likewise a repeated zero-window probe, whose byte `next_seq` does not count
/// (tcp.rs), is no `T` here and one to Zeek.
pub fn retransmitted(half: &HalfFlow, sender_state: ZeekState, seg: &TcpSegment<'_>) -> bool {
    if seg.payload_len == 0 || !half.has(HalfFlow::SEQ_KNOWN) || sender_state == ZeekState::Reset {
        // No payload (a bare FIN or SYN resent is no `T`), the sender's first segment, or anything after its own
        // RST (Zeek trusts no sequence number from a RESET end).
        return false;
    }
    let (syn, fin, rst) = (seg.flags.syn(), seg.flags.fin(), seg.flags.rst());
    // A RST's payload is not in the sequence space Zeek counts (get_segment_len).
    let seg_len = if rst { 0 } else { seg.payload_len } + u32::from(syn) + u32::from(fin);
    let delta = ahead(seg.seq_number().plus(seg_len), half.next_seq);
    // A SYN or RST far from the expected number is ignored (TOO_LARGE_SEQ_DELTA).
    let wild = (syn || rst) && delta < -TOO_LARGE_SEQ_DELTA;
    // A FIN while only the SYN was seen resets the count instead (Zeek: connections past 2 GB seen only by SYN and
    // FIN).
    let fin_after_syn_only = fin && half.has(HalfFlow::SEEN_SYN) && half.next_seq == half.isn.plus(1);
    delta <= 0 && !wild && !fin_after_syn_only
}

/// Whether Zeek would report a content gap now: both ends established, or closed after having been (Zeek's
/// `established_or_cleanly_closing`). We do not keep Zeek's previous endpoint state, so "closed after being
/// established" is read as "closed, on a connection whose start was seen": a side that went from SYN-SENT straight
/// to CLOSED is counted as clean too (a FIN before any answer; rare, and such a side has no data to miss).
fn clean(conn: &Conn) -> bool {
    use ZeekState::{Closed, Established};
    let ok = |s: ZeekState| matches!(s, Established | Closed);
    ok(conn.zeek.orig) && ok(conn.zeek.resp) && !conn.mid_stream
}

/// `bytes` of `sender`'s stream were acknowledged and never seen: a content gap, `G`/`g` and `missed_bytes`.
pub fn content_gap(conn: &mut Conn, sender: Role, bytes: u32) {
    if bytes > 0 && clean(conn) {
        conn.missed_bytes += u64::from(bytes);
        conn.zeek.history.gap(sender == Role::Orig);
    }
}

/// `sender`'s bytes `start..end` did not reach the capture whole: skipped (`truncated` false: the segment after them
/// arrived first) or cut by the snap length (`truncated` true). They wait as the direction's hole until the peer's
/// ACK passes them ([`acknowledged`]) or they arrive.
pub fn open_hole(conn: &mut Conn, sender: Role, start: SeqNumber, end: SeqNumber, truncated: bool) {
    let h = *conn.half(sender);
    if h.has(HalfFlow::HOLE_OPEN) {
        // Sequence arithmetic is modulo 2^32: a hole may not grow past 2^30 bytes, or its width would wrap.
        let bounded = end.since(h.hole_start) < MAX_HOLE;
        if h.hole_end == start && bounded {
            // Contiguous (the next truncated segment, or a truncated one right after skipped bytes): the hole
            // grows, as Zeek's reassembler reports one gap for one undelivered run.
            let h = conn.half_mut(sender);
            h.hole_end = end;
            if truncated {
                h.marks |= HalfFlow::MARK_TRUNCATED_HOLE;
            }
            return;
        }
        // One hole per direction: the old one is settled now, as if acknowledged.
        let missing = h.hole_end.since(h.hole_start);
        close_hole(conn.half_mut(sender));
        content_gap(conn, sender, missing);
    }
    let h = conn.half_mut(sender);
    h.hole_start = start;
    h.hole_end = end;
    h.set(HalfFlow::HOLE_OPEN);
    if truncated {
        h.marks |= HalfFlow::MARK_TRUNCATED_HOLE;
    }
}

fn close_hole(h: &mut HalfFlow) {
    h.flags &= !HalfFlow::HOLE_OPEN;
    h.marks &= !HalfFlow::MARK_TRUNCATED_HOLE;
}

/// A segment from `sender` at `seq..end` arrived whole: the part of the hole it covers at either edge is seen.
pub fn seen(h: &mut HalfFlow, seq: SeqNumber, end: SeqNumber) {
    if !h.has(HalfFlow::HOLE_OPEN) {
        return;
    }
    let width = h.hole_end.since(h.hole_start);
    let inside = |s: SeqNumber| s.since(h.hole_start) <= width;
    if ahead(seq, h.hole_start) <= 0 && ahead(end, h.hole_start) > 0 {
        h.hole_start = if inside(end) { end } else { h.hole_end };
    } else if ahead(end, h.hole_end) >= 0 && ahead(seq, h.hole_end) < 0 && inside(seq) {
        h.hole_end = seq;
    }
    if h.hole_start == h.hole_end {
        close_hole(h);
    }
}

/// The peer acknowledged `ack` of `sender`'s stream: the part of the hole below it is a content gap.
pub fn acknowledged(conn: &mut Conn, sender: Role, ack: SeqNumber) {
    let h = *conn.half(sender);
    if !h.has(HalfFlow::HOLE_OPEN) || ahead(ack, h.hole_start) <= 0 {
        return;
    }
    let upto = if ahead(ack, h.hole_end) >= 0 { h.hole_end } else { ack };
    let missing = upto.since(h.hole_start);
    let hm = conn.half_mut(sender);
    hm.hole_start = upto;
    if upto == hm.hole_end {
        close_hole(hm);
    }
    content_gap(conn, sender, missing);
}
