//! SYN cookies (RFC 4987 §3.6): answer a SYN without keeping any state, fold what the server must remember into
//! the initial sequence number (ISN) of the SYN-ACK, and rebuild it from the client's ACK, which echoes that ISN
//! plus one. The layout is Linux's (net/ipv4/syncookies.c, `secure_tcp_syn_cookie` and `check_tcp_syn_cookie`):
//!
//! ```text
//! isn = H0(tuple) + client_isn + (counter << 24) + ((H1(tuple, counter) + mss_index) mod 2^24)      (mod 2^32)
//! ```
//!
//! - `H0` and `H1` are SipHash-1-3 under two 128-bit keys (one [`CookieCodec::new`] key of 32 bytes). `H0` hashes
//!   the client and server addresses and ports (IPv4 and IPv6 tuples hash distinct inputs) and hides the client ISN
//!   and the counter from anyone who does not hold the key. `H1` is the MAC: it hashes `H0`'s full 64-bit digest and
//!   the counter (Linux hashes the tuple again; see [Departures from Linux](#departures-from-linux)). Only its low 24
//!   bits survive, so a guessed cookie passes with probability 4/2^24, the share of 24-bit values that decode to one
//!   of the 4 MSS indexes.
//! - `counter` is packet time divided by [`CookieConfig::tick`] (64 s by default; Linux counts minutes,
//!   `jiffies / (60 * HZ)`). The cookie carries its low 8 bits; `H1` hashes its low 32, as Linux hashes its `u32`.
//! - `mss_index` points into [`MSS_TABLE_V4`] or [`MSS_TABLE_V6`] (Linux's `msstab`): the largest entry not above
//!   the client's MSS, entry 0 when the client sent none. [`IssuedCookie::mss`] is that entry, for the SYN-ACK.
//! - A client that sent the timestamps option gets its window scale, SACK-permitted and ECN flags back through the
//!   low 6 bits of our TSval, which its ACK echoes as TSecr (Linux `cookie_init_timestamp`). Our TSval clock counts
//!   milliseconds of packet time since the Unix epoch, mod 2^32. A client without timestamps loses those options,
//!   as with Linux.
//!
//! # Checking an ACK
//!
//! [`CookieCodec::check`] takes the cookie as `ack_number - 1` and the client ISN as `ack_seq - 1`, subtracts `H0`
//! and the client ISN, reads the counter from the top 8 bits and its age `diff = (now_counter - counter) mod 256`,
//! and recovers `mss_index = (rest - H1(tuple, now_counter - diff)) mod 2^24`, which must be below 4. Only `H0` and
//! one `H1` are computed per secret tried, whatever the outcome:
//!
//! - **Age.** As in Linux (`diff >= MAX_SYNCOOKIE_AGE` rejects), a cookie is fresh while
//!   `diff < max_age_ticks`. With the default 2 ticks of 64 s, a cookie issued during tick `c` is accepted during
//!   ticks `c` and `c + 1` and refused from `c + 2` on: it lives between 64 s and 128 s.
//! - **[`CookieError::Expired`] versus [`CookieError::Invalid`].** Linux stops at the age test. We also evaluate
//!   `H1` for an out-of-window counter, with the full counter it must have had (`now_counter - diff`): if the index
//!   then checks out, the ACK carries a cookie we issued for this tuple 2 to 255 ticks ago and the answer is
//!   `Expired`; otherwise it is `Invalid`. Garbage is thus reported `Expired` with probability 4/2^24 only, and a
//!   rejection costs the same two hashes as an acceptance. A counter from the future (clock gone back across a tick)
//!   is `Invalid`, as in Linux.
//! - **[`CookieError::BadTimestamp`].** Linux's own TSecr test (`snd_wscale > TCP_MAX_WSCALE`) cannot fire with a
//!   4-bit field whose only value above 14 means "none". We check instead that the TSecr's clock part falls within
//!   the cookie's life, from the start of its tick (less our 127 ms TSval lag) to the end of the current tick, so
//!   options are never read from a TSecr that is not the echo of one of our SYN-ACKs. The window reaches the current
//!   tick, not just the cookie's, because a client that received a second SYN-ACK may echo the later TSval.
//! - **Malleability, as in Linux.** The client ISN and the index are added outside the MAC, so an ACK whose seq is
//!   off by `d` reads index `mss_index - d` and validates, with that entry's MSS, when it is still below 4 (and
//!   likewise for the ack number). Only someone who saw the SYN-ACK can do this, and they could have asked for that
//!   MSS in a SYN of their own; a blind guess gains nothing.
//!
//! # Secrets and rotation
//!
//! The codec holds a current secret and, after [`CookieCodec::rotate`], the previous one. Cookies are issued under
//! the current secret; `check` tries the current, then the previous, and takes the best verdict (fresh, then
//! expired, then invalid). A cookie therefore survives exactly one rotation; rotating no more often than the cookie
//! lifetime (`max_age_ticks * tick`) never refuses a fresh cookie. Linux never rotates (`syncookie_secret` is drawn
//! once at boot); rotation here bounds how long a leaked key is useful. While a previous secret is held, a random
//! ACK has two chances to pass, which doubles [`CookieConfig::forgery_probability`].
//!
//! # Why SipHash-1-3
//!
//! The MAC must be a keyed pseudo-random function that is fast on 12- to 36-byte inputs; an attacker sees 24 bits
//! of it per SYN-ACK and has two ticks to use what it learns. SipHash-1-3 is the variant Rust's standard `HashMap`
//! keys against hash flooding, with no known attack as a PRF. An issue plus a check runs four hashes: 20 SipHash
//! rounds for IPv4 and 26 for IPv6 with 1-3, against 32 and 44 with SipHash-2-4 (Linux's choice). Rounds are most
//! of the cost, and 1-3 is what brings the pair near the 50 ns budget of `benches/cookie.rs`.
//!
//! # Forgery odds
//!
//! A random ACK validates when its counter lands in the window, probability `max_age_ticks / 256`, and its 24-bit
//! remainder then decodes to a valid index, `4 / 2^24`: with the defaults `2/256 * 4/2^24 ≈ 1.9e-9` per ACK per
//! secret held. `cargo bench --bench cookie` prints this prediction beside a count over 10 million random ACKs.
//!
//! # Departures from Linux
//!
//! - SipHash-1-3 instead of SipHash-2-4, for speed (above).
//! - `H1` hashes `H0`'s 64-bit digest and the counter, not the tuple and the counter. It is as good a keyed function
//!   of (tuple, counter) unless two tuples collide in the 64-bit `H0`, which nobody without the key can arrange or
//!   even observe, and it costs 5 SipHash rounds instead of 6 (IPv4) or 9 (IPv6): an IPv6 pair went from about
//!   66 ns to 56 ns on the project's 2-vCPU machine.
//! - The age is counted in [`CookieConfig::tick`]s of packet time, 64 s by default, instead of minutes of jiffies.
//! - `Expired` is told apart from `Invalid`, and TSecr is range-checked (above).
//! - Our TSval clock counts from the Unix epoch of packet time and has no per-connection random offset (Linux adds
//!   `secure_tcp_ts_off` so the clock does not reveal uptime): the guard is a testbed, and TSvals a reader of a
//!   capture can relate to the packets' own timestamps are worth more here than hiding the guard's clock.
//! - Two secrets with rotation (above).
//!
//! # Example
//!
//! ```
//! use synscope::defense::cookie::{CookieCodec, CookieConfig};
//! use synscope::defense::{SynOptions, Tuple};
//! use synscope::time::{Duration, Timestamp};
//!
//! let codec = CookieCodec::new([7; 32], CookieConfig::default());
//! let tuple = Tuple { client: "192.0.2.10:40000".parse().unwrap(), server: "192.0.2.20:80".parse().unwrap() };
//! let syn = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, tsval: Some(1234), ecn: false };
//! let now = Timestamp::from_secs_nanos(1_700_000_000, 0);
//! let issued = codec.issue(now, &tuple, 1_000, &syn);
//! // The client's ACK: seq = its ISN + 1, ack = our ISN + 1, TSecr = our TSval.
//! let later = now.saturating_add(Duration::from_millis(30));
//! let accepted = codec.check(later, &tuple, 1_001, issued.isn.wrapping_add(1), issued.tsval).unwrap();
//! assert_eq!((accepted.mss, accepted.wscale, accepted.sack_permitted), (1460, Some(7), true));
//! ```

mod mac;
mod mss;
mod tsopt;

#[cfg(test)]
mod tests;

use std::fmt;

pub use mss::{MSS_TABLE_V4, MSS_TABLE_V6};

use self::mac::{Message, Secret};
use crate::defense::{SynOptions, Tuple};
use crate::time::{Duration, Timestamp};

/// Bits below the counter: the MAC plus the MSS index (Linux `COOKIEBITS`).
const COOKIE_BITS: u32 = 24;
const COOKIE_MASK: u32 = (1 << COOKIE_BITS) - 1;
/// The counter field is the cookie's top 8 bits, so ages are counted mod 256.
const COUNTER_MASK: u32 = u32::MAX >> COOKIE_BITS;

/// How the codec counts time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieConfig {
    /// How often the counter advances. Clamped to at least 1 ns.
    pub tick: Duration,
    /// A cookie is accepted while fewer than this many ticks have begun since it was issued (Linux
    /// `MAX_SYNCOOKIE_AGE`, 2). Clamped to `1..=255`, the ages the 8-bit counter can tell apart.
    pub max_age_ticks: u32,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig { tick: Duration::from_secs(64), max_age_ticks: 2 }
    }
}

impl CookieConfig {
    /// The chance that one random ACK (right tuple and `ack_seq`, random `ack_number`) validates against one
    /// secret: `max_age_ticks / 256` for the counter, times `4 / 2^24` for the MAC and index.
    pub fn forgery_probability(&self) -> f64 {
        let age = self.sanitized().max_age_ticks;
        f64::from(age) / 256.0 * MSS_TABLE_V4.len() as f64 / f64::from(1u32 << COOKIE_BITS)
    }

    fn sanitized(self) -> Self {
        CookieConfig {
            tick: Duration::from_nanos(self.tick.as_nanos().max(1)),
            max_age_ticks: self.max_age_ticks.clamp(1, COUNTER_MASK),
        }
    }
}

/// What [`CookieCodec::issue`] gives the SYN-ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssuedCookie {
    /// Our ISN: the cookie.
    pub isn: u32,
    /// The MSS we encoded, to advertise in the SYN-ACK: the client's, rounded down to a table entry.
    pub mss: u16,
    /// Our TSval, carrying the client's options; `Some` exactly when the client sent timestamps.
    pub tsval: Option<u32>,
}

/// What a valid cookie tells about the connection its ACK completes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptedCookie {
    /// The MSS table entry the cookie carries, the one our SYN-ACK advertised.
    pub mss: u16,
    /// The client's window scale shift, when it offered one and the ACK carried timestamps.
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub ecn: bool,
    /// Whether the ACK carried timestamps, so timestamps are in use on this connection.
    pub timestamps: bool,
}

/// Why an ACK does not complete a cookie handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    #[error("not a SYN cookie of ours for this connection")]
    Invalid,
    #[error("a SYN cookie of ours for this connection, but too old")]
    Expired,
    #[error("a valid SYN cookie, but TSecr echoes no timestamp we sent during its life")]
    BadTimestamp,
}

/// The outcome of checking a cookie against one secret, best first.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Fresh { index: u32, issued: u64 },
    Expired,
    Invalid,
}

/// Issues and checks SYN cookies; see the module docs for the layout. Pure: time comes in as `now`.
#[derive(Clone)]
pub struct CookieCodec {
    config: CookieConfig,
    current: Secret,
    previous: Option<Secret>,
}

impl fmt::Debug for CookieCodec {
    /// Never prints the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieCodec")
            .field("config", &self.config)
            .field("previous_secret", &self.previous.is_some())
            .finish_non_exhaustive()
    }
}

impl CookieCodec {
    /// A codec keyed with `key`: bytes 0..16 key `H0`, bytes 16..32 key `H1`.
    pub fn new(key: [u8; 32], config: CookieConfig) -> Self {
        CookieCodec { config: config.sanitized(), current: Secret::new(&key), previous: None }
    }

    /// Issues cookies under `new_key` from now on; the current secret becomes the previous one and keeps validating
    /// its cookies until they expire, and the one before it is forgotten.
    pub fn rotate(&mut self, new_key: [u8; 32]) {
        let old = std::mem::replace(&mut self.current, Secret::new(&new_key));
        self.previous = Some(old);
    }

    /// The configuration in force, after clamping.
    pub fn config(&self) -> CookieConfig {
        self.config
    }

    /// The cookie answering a SYN from `tuple.client` with ISN `client_isn` and options `syn`, received at `now`.
    pub fn issue(&self, now: Timestamp, tuple: &Tuple, client_isn: u32, syn: &SynOptions) -> IssuedCookie {
        let message = Message::new(tuple);
        let table = mss::table(message.is_v4());
        let index = mss::encode(table, syn.mss);
        let counter = self.counter(now) as u32;
        let h0 = self.current.h0(&message);
        let mac = self.current.h1(h0, counter).wrapping_add(index) & COOKIE_MASK;
        let isn = (h0 as u32).wrapping_add(client_isn).wrapping_add(counter << COOKIE_BITS).wrapping_add(mac);
        let tsval = syn.tsval.map(|_| tsopt::encode(tsopt::clock_ms(now), syn.wscale, syn.sack_permitted, syn.ecn));
        IssuedCookie { isn, mss: table[index as usize], tsval }
    }

    /// Checks the ACK of `tuple.client` that arrived at `now` with sequence number `ack_seq`, acknowledgment number
    /// `ack_number` and, when it carried timestamps, TSecr `tsecr`. The MAC and age come first, under the current
    /// secret and then the previous one; the TSecr is looked at only once a secret has accepted the cookie.
    pub fn check(
        &self,
        now: Timestamp,
        tuple: &Tuple,
        ack_seq: u32,
        ack_number: u32,
        tsecr: Option<u32>,
    ) -> Result<AcceptedCookie, CookieError> {
        let cookie = ack_number.wrapping_sub(1);
        let client_isn = ack_seq.wrapping_sub(1);
        let message = Message::new(tuple);
        let now_counter = self.counter(now);
        let mut verdict = self.verify(&self.current, &message, cookie, client_isn, now_counter);
        if let (Verdict::Expired | Verdict::Invalid, Some(previous)) = (verdict, &self.previous) {
            verdict = verdict.min(self.verify(previous, &message, cookie, client_isn, now_counter));
        }
        let (index, issued) = match verdict {
            Verdict::Fresh { index, issued } => (index, issued),
            Verdict::Expired => return Err(CookieError::Expired),
            Verdict::Invalid => return Err(CookieError::Invalid),
        };
        let mss = mss::table(message.is_v4())[index as usize];
        let Some(tsecr) = tsecr else {
            // Linux `cookie_timestamp_decode`: no timestamps, so no options (`tcp_clear_options`).
            return Ok(AcceptedCookie { mss, wscale: None, sack_permitted: false, ecn: false, timestamps: false });
        };
        let tick = self.config.tick.as_nanos();
        let life_start = issued.saturating_mul(tick);
        let life_end = now_counter.saturating_add(1).saturating_mul(tick).saturating_sub(1);
        if !tsopt::within(tsecr, life_start, life_end) {
            return Err(CookieError::BadTimestamp);
        }
        let (wscale, sack_permitted, ecn) = tsopt::decode(tsecr);
        Ok(AcceptedCookie { mss, wscale, sack_permitted, ecn, timestamps: true })
    }

    /// The counter at `now`: whole ticks since the Unix epoch of packet time.
    fn counter(&self, now: Timestamp) -> u64 {
        now.as_nanos() / self.config.tick.as_nanos()
    }

    /// Strips `H0` and the client ISN, then checks the age and the MAC (`check_tcp_syn_cookie`), computing `H1`
    /// even for an out-of-window counter so an expired cookie can be told from garbage.
    fn verify(&self, secret: &Secret, message: &Message, cookie: u32, client_isn: u32, now_counter: u64) -> Verdict {
        let h0 = secret.h0(message);
        let rest = cookie.wrapping_sub(h0 as u32).wrapping_sub(client_isn);
        let age = (now_counter as u32).wrapping_sub(rest >> COOKIE_BITS) & COUNTER_MASK;
        // A counter before the epoch of packet time was never issued.
        let Some(issued) = now_counter.checked_sub(u64::from(age)) else { return Verdict::Invalid };
        let index = rest.wrapping_sub(secret.h1(h0, issued as u32)) & COOKIE_MASK;
        if index as usize >= mss::table(message.is_v4()).len() {
            Verdict::Invalid
        } else if age < self.config.max_age_ticks {
            Verdict::Fresh { index, issued }
        } else {
            Verdict::Expired
        }
    }
}
