//! The SYN-cookie codec: any key, tick and age limit, any tuple (either family, even mixed), client ISN, MSS and
//! options, issued at any time, then checked at times chosen relative to the cookie's tick; and arbitrary ACKs.
//!
//! Checked on every input, besides "no panic":
//! - issuing is deterministic and advertises the largest table entry not above the client's MSS (entry 0 without
//!   one), with a TSval exactly when the client sent timestamps;
//! - round trip: the client's ACK (seq = ISN + 1, ack = cookie + 1, TSecr = our TSval) validates at any time while
//!   the cookie's age in ticks is below the limit, with that MSS and, when it echoes our TSval, the client's window
//!   scale (clamped to 14), SACK-permitted and ECN; without timestamps, with none of them. It still validates after
//!   one key rotation, with the same options;
//! - expiry: the same ACK, once the cookie is `max_age_ticks` to 255 ticks old, is refused as `Expired`, not
//!   `Invalid` or accepted;
//! - a TSecr half the 2^32 ms clock away from our TSval is refused as `BadTimestamp` (while the cookie's life is
//!   shorter than that);
//! - any ACK at any time: a cookie it validates carries a table entry, a window scale of at most 14, and options only
//!   when it echoed a timestamp. (That a random ACK validates only rarely is a statistical property, 2^-31 or so per
//!   try; it cannot be asserted per input, so it is not.)

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use synscope::defense::cookie::{
    AcceptedCookie, CookieCodec, CookieConfig, CookieError, IssuedCookie, MSS_TABLE_V4, MSS_TABLE_V6,
};
use synscope::defense::{SynOptions, Tuple};
use synscope::time::{Duration, Timestamp};

#[derive(Arbitrary, Debug)]
struct Input {
    key: [u8; 32],
    next_key: [u8; 32],
    tick: Tick,
    max_age_ticks: u8,
    client: Addr,
    server: Addr,
    client_isn: u32,
    mss: Option<u16>,
    wscale: Option<u8>,
    sack_permitted: bool,
    tsval: Option<u32>,
    ecn: bool,
    issued_at: u64,
    /// Where in its tick the fresh check happens, how many ticks later (below the limit), and likewise for the
    /// expired check.
    fresh: (u64, u8),
    expired: (u64, u8),
    acks: Vec<Ack>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Tick {
    Default,
    Secs(u16),
    Nanos(u64),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Addr {
    V4([u8; 4], u16),
    V6([u8; 16], u16),
}

impl Addr {
    fn socket(self) -> SocketAddr {
        match self {
            Addr::V4(ip, port) => SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port),
            Addr::V6(ip, port) => SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Ack {
    /// Nanoseconds after the cookie was issued (wrapping: before it, too).
    after: u64,
    seq: u32,
    ack: u32,
    tsecr: Option<u32>,
}

/// The table an address family uses: IPv4's only when both ends are IPv4.
fn table(tuple: &Tuple) -> &'static [u16; 4] {
    if tuple.client.is_ipv4() && tuple.server.is_ipv4() { &MSS_TABLE_V4 } else { &MSS_TABLE_V6 }
}

/// A time during tick `counter`, `within` nanoseconds into it (mod the tick), if it fits in 64 bits.
fn during(counter: u64, tick: u64, within: u64) -> Option<Timestamp> {
    counter.checked_mul(tick)?.checked_add(within % tick).map(Timestamp::from_nanos)
}

/// What any accepted cookie must look like.
fn plausible(accepted: &AcceptedCookie, tuple: &Tuple, tsecr: Option<u32>) {
    assert!(table(tuple).contains(&accepted.mss), "MSS {} is no table entry", accepted.mss);
    assert!(accepted.wscale.is_none_or(|w| w <= 14), "window scale {:?}", accepted.wscale);
    assert_eq!(accepted.timestamps, tsecr.is_some());
    if tsecr.is_none() {
        assert!(accepted.wscale.is_none() && !accepted.sack_permitted && !accepted.ecn, "options without a TSecr");
    }
}

/// The client's ACK of `issued`, checked at `now`, echoing its TSval or not.
fn check_ack(
    codec: &CookieCodec,
    now: Timestamp,
    tuple: &Tuple,
    isn: u32,
    issued: &IssuedCookie,
    echo: bool,
) -> Result<AcceptedCookie, CookieError> {
    let tsecr = if echo { issued.tsval } else { None };
    codec.check(now, tuple, isn.wrapping_add(1), issued.isn.wrapping_add(1), tsecr)
}

fuzz_target!(|input: Input| {
    let tick = match input.tick {
        Tick::Default => CookieConfig::default().tick,
        Tick::Secs(s) => Duration::from_secs(u64::from(s)),
        Tick::Nanos(n) => Duration::from_nanos(n),
    };
    let codec = CookieCodec::new(input.key, CookieConfig { tick, max_age_ticks: u32::from(input.max_age_ticks) });
    // The codec clamps its configuration; the expectations follow what it uses.
    let config = codec.config();
    let tick = config.tick.as_nanos();
    let max_age = u64::from(config.max_age_ticks);
    assert!(tick >= 1 && (1..=255).contains(&max_age));

    let tuple = Tuple { client: input.client.socket(), server: input.server.socket() };
    let syn = SynOptions {
        mss: input.mss,
        wscale: input.wscale,
        sack_permitted: input.sack_permitted,
        tsval: input.tsval,
        ecn: input.ecn,
    };
    let issued_at = Timestamp::from_nanos(input.issued_at);
    let issued = codec.issue(issued_at, &tuple, input.client_isn, &syn);
    assert_eq!(issued, codec.issue(issued_at, &tuple, input.client_isn, &syn), "issuing is not deterministic");
    let table = table(&tuple);
    let want_mss = input.mss.and_then(|m| table.iter().rev().find(|&&e| e <= m)).copied().unwrap_or(table[0]);
    assert_eq!(issued.mss, want_mss);
    assert_eq!(issued.tsval.is_some(), syn.tsval.is_some());

    let counter = input.issued_at / tick;
    let timestamps = syn.tsval.is_some();
    let want = AcceptedCookie {
        mss: want_mss,
        wscale: if timestamps { syn.wscale.map(|w| w.min(14)) } else { None },
        sack_permitted: timestamps && syn.sack_permitted,
        ecn: timestamps && syn.ecn,
        timestamps,
    };
    let bare = AcceptedCookie { mss: want_mss, wscale: None, sack_permitted: false, ecn: false, timestamps: false };

    // Fresh: any time in the ticks where the cookie's age is below the limit.
    let (within, age) = input.fresh;
    if let Some(now) = counter.checked_add(u64::from(age) % max_age).and_then(|c| during(c, tick, within)) {
        assert_eq!(check_ack(&codec, now, &tuple, input.client_isn, &issued, true), Ok(want), "a fresh cookie refused");
        assert_eq!(check_ack(&codec, now, &tuple, input.client_isn, &issued, false), Ok(bare));

        let mut rotated = codec.clone();
        rotated.rotate(input.next_key);
        let after_rotation = check_ack(&rotated, now, &tuple, input.client_isn, &issued, true);
        let accepted = after_rotation.expect("a fresh cookie refused after one rotation");
        // Options come from the TSecr alone; the MSS could differ only if the new key happened to validate the
        // cookie too (about 2^-31), so it is not compared.
        assert_eq!(
            (accepted.wscale, accepted.sack_permitted, accepted.ecn),
            (want.wscale, want.sack_permitted, want.ecn)
        );

        // A TSecr half the clock away from ours, while the cookie's life (at most 255 ticks of at most an hour,
        // plus the TSval's lag) is far shorter than half the 2^32 ms clock.
        let life_fits = counter.checked_add(max_age + 1).and_then(|c| c.checked_mul(tick)).is_some();
        if let (Some(tsval), true, true) = (issued.tsval, tick <= 3_600_000_000_000, life_fits) {
            let far = tsval.wrapping_add(1 << 31);
            let got = codec.check(now, &tuple, input.client_isn.wrapping_add(1), issued.isn.wrapping_add(1), Some(far));
            assert_eq!(got, Err(CookieError::BadTimestamp), "a TSecr we never sent was accepted");
        }
    }

    // Expired: `max_age` to 255 ticks later. With one secret the MAC is checked against the counter the cookie was
    // issued with, so the verdict is exact.
    let (within, age) = input.expired;
    let age = max_age + u64::from(age) % (256 - max_age);
    if let Some(now) = counter.checked_add(age).and_then(|c| during(c, tick, within)) {
        for echo in [true, false] {
            let got = check_ack(&codec, now, &tuple, input.client_isn, &issued, echo);
            assert_eq!(got, Err(CookieError::Expired), "a cookie {age} ticks old (limit {max_age})");
        }
    }

    // Arbitrary ACKs, before and after a rotation.
    let mut codec = codec;
    for (i, ack) in input.acks.iter().take(16).enumerate() {
        if i == 8 {
            codec.rotate(input.next_key);
        }
        let now = Timestamp::from_nanos(input.issued_at.wrapping_add(ack.after));
        if let Ok(accepted) = codec.check(now, &tuple, ack.seq, ack.ack, ack.tsecr) {
            plausible(&accepted, &tuple, ack.tsecr);
        }
    }
});
