//! What the guard counts: printed as a line every second and as JSON at the end.

use serde::Serialize;

/// Why the guard dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The half-open table refused the SYN (limit mode, drop-new) or a source's share was full.
    HalfOpenLimit,
    /// The source sent SYNs faster than --syn-rate-per-source.
    RateLimited,
    /// An ACK for the protected service matched no connection and carried no valid cookie.
    BadCookie,
    /// A cookie that was valid once but is too old.
    ExpiredCookie,
    /// A segment of a proxied connection arrived before the listener's SYN-ACK (the client will retransmit).
    NotYetEstablished,
    /// A segment for the protected service that belongs to no connection the guard knows (cookies mode holds
    /// state only for connections it has proxied).
    NoConnection,
    /// The proxy table was full.
    ProxyFull,
    /// A frame addressed to the protected service that does not parse as TCP.
    Malformed,
    /// An old duplicate of the SYN of a connection the proxy holds (its own ISN): it must not end the connection.
    DuplicateSyn,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Drops {
    pub half_open_limit: u64,
    pub rate_limited: u64,
    pub bad_cookie: u64,
    pub expired_cookie: u64,
    pub not_yet_established: u64,
    pub no_connection: u64,
    pub proxy_full: u64,
    pub malformed: u64,
    pub duplicate_syn: u64,
}

impl Drops {
    pub fn count(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::HalfOpenLimit => &mut self.half_open_limit,
            DropReason::RateLimited => &mut self.rate_limited,
            DropReason::BadCookie => &mut self.bad_cookie,
            DropReason::ExpiredCookie => &mut self.expired_cookie,
            DropReason::NotYetEstablished => &mut self.not_yet_established,
            DropReason::NoConnection => &mut self.no_connection,
            DropReason::ProxyFull => &mut self.proxy_full,
            DropReason::Malformed => &mut self.malformed,
            DropReason::DuplicateSyn => &mut self.duplicate_syn,
        };
        *counter += 1;
    }

    pub fn total(&self) -> u64 {
        self.half_open_limit
            + self.rate_limited
            + self.bad_cookie
            + self.expired_cookie
            + self.not_yet_established
            + self.no_connection
            + self.proxy_full
            + self.malformed
            + self.duplicate_syn
    }
}

/// The guard's own counters (the half-open table, proxy and policy keep theirs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GuardCounters {
    /// Frames in from each side, and out to each side (bridged, rewritten or crafted).
    pub frames_in: u64,
    pub frames_out: u64,
    /// Frames bridged unchanged because they are not for the protected service.
    pub bridged: u64,
    pub syns_seen: u64,
    pub synacks_sent: u64,
    pub synack_retransmits: u64,
    pub cookies_sent: u64,
    pub cookies_validated: u64,
    pub cookies_failed: u64,
    pub cookies_expired: u64,
    pub rsts_sent: u64,
    /// Frames for the protected service carrying VLAN tags, bridged uninspected.
    pub tagged_bridged: u64,
    /// The listener's SYN-ACK advertised a window scale other than the one the proxy told clients.
    pub wscale_mismatches: u64,
    /// Times the listener's SYN-ACK options replaced the ones the proxy promised.
    pub listener_options_learnt: u64,
    pub drops: Drops,
}
