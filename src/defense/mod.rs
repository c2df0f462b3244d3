//! SYN-flood defences as pure state machines (DESIGN.md: no I/O, time passed in). RFC 4987 lists them with their
//! trade-offs; the seed lists four: shorten the SYN-RECEIVED timeout, raise or enforce the half-open limit, filter
//! at a gateway, and SYN cookies. Each lives in its own module:
//!
//! - [`cookie`]: the SYN-cookie codec, laid out like Linux's `net/ipv4/syncookies.c`, keyed with SipHash;
//! - [`half_open`]: a bounded table of half-open connections with global and per-source limits, a SYN-RECEIVED
//!   timeout, SYN-ACK retries with exponential backoff and an overflow policy (RFC 4987 §3.2–3.4, §3.7);
//! - [`rate_limit`]: per-source SYN token buckets, the filtering of RFC 4987 §3.1;
//! - [`policy`]: which defence answers a SYN now (`off | limit | cookies | auto`, with hysteresis);
//! - [`proxy`]: the SYN proxy of RFC 4987 §3.8, and the sequence translation it needs afterwards.
//!
//! The guard (`cmd/guard/`) and the lab drive these with frames and clock readings; tests drive them with
//! scripted ones.

pub mod cookie;
pub mod guard;
pub mod half_open;
pub mod policy;
pub mod proxy;
pub mod rate_limit;
pub mod source_hash;

use std::net::SocketAddr;

/// A TCP connection attempt's addresses, as the client's SYN carries them: client → server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    pub client: SocketAddr,
    pub server: SocketAddr,
}

/// What a client's SYN asked for in its options (RFC 9293 §3.2, RFC 7323, RFC 2018, RFC 3168).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOptions {
    /// Maximum segment size; `None` means the RFC 9293 default (536 for IPv4, 1220 for IPv6).
    pub mss: Option<u16>,
    /// Window scale shift (0..=14).
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// The client's TSval, when it sent the timestamps option.
    pub tsval: Option<u32>,
    /// ECN setup SYN (ECE and CWR set, RFC 3168 §6.1.1).
    pub ecn: bool,
}
