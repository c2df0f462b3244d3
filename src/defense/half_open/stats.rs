//! Counters of the half-open table. Every SYN the table sees lands in exactly one of admitted, duplicates,
//! rejected_global, rejected_source or cookie_fallbacks; every admitted entry leaves through exactly one of completed,
//! reset, timed_out or evicted, or is still `current` (DESIGN.md: what exceeds a cap is counted, never lost).

use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HalfOpenStats {
    /// SYNs that created an entry (those that evicted a victim included).
    pub admitted: u64,
    /// SYNs repeating a pending entry's ISN: the client's SYN retransmission; the caller repeats its SYN-ACK.
    pub duplicates: u64,
    /// SYNs refused because the table was full (overflow `drop-new`).
    pub rejected_global: u64,
    /// SYNs refused because their source held its full share (overflows `drop-new` and `cookies`).
    pub rejected_source: u64,
    /// Entries recycled to make room (overflow `evict-oldest`), `evicted_for_source` included.
    pub evicted: u64,
    /// Of `evicted`, those recycled within their own source's full share.
    pub evicted_for_source: u64,
    /// Entries whose last timer ran out without an ACK.
    pub timed_out: u64,
    /// SYN-ACK retransmissions the timers asked for.
    pub synack_retransmits: u64,
    /// Entries whose handshake completed.
    pub completed: u64,
    /// Entries ended by a RST, or by a new SYN on the same tuple with another ISN.
    pub reset: u64,
    /// SYNs that found the table full and were left to a SYN cookie (overflow `cookies`).
    pub cookie_fallbacks: u64,
    /// Entries now in the table.
    pub current: u64,
    /// The most entries the table has held at once.
    pub peak: u64,
}

impl HalfOpenStats {
    /// Entries that have left the table, for whatever reason.
    pub fn departed(&self) -> u64 {
        self.completed + self.reset + self.timed_out + self.evicted
    }
}
