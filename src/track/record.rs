//! The connection record: one per connection when it ends, with Zeek's conn.log fields plus a few of our own.
//!
//! Field meanings follow Zeek's `Conn::Info`
//! (<https://docs.zeek.org/en/current/scripts/base/protocols/conn/main.zeek.html>): `ts` is the first packet's time,
//! `duration` and the byte counts are unset for a connection Zeek saw no duration for, `orig_ip_bytes` counts IP
//! total lengths. The writers in [`crate::output::connlog`] spell the endpoints as `id.orig_h` .. `id.resp_p`.

use super::inline_str::InlineStr;
use serde::{Serialize, Serializer};

use super::zeek::ConnState;
use crate::time::{Duration, Timestamp};
use crate::wire::flow::Endpoint;

/// Transport protocol, as conn.log's `proto` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
    /// ICMP and ICMPv6, both "icmp" in conn.log as in Zeek.
    Icmp,
    /// Any other IP protocol (SCTP, OSPF, VRRP, ESP ...), by number: Zeek's `unknown_transport`, one connection per
    /// pair of addresses and protocol, its ports 0.
    #[serde(rename = "unknown_transport")]
    Unknown(u8),
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Icmp => "icmp",
            Proto::Unknown(_) => "unknown_transport",
        }
    }

    /// IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Icmp => 1,
            Proto::Unknown(n) => n,
        }
    }
}

/// Which side of a connection: the originator (sent the first SYN, or the first packet) or the responder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Orig,
    Resp,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Orig => "orig",
            Role::Resp => "resp",
        }
    }
}

/// Why the tracker wrote the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndReason {
    /// Both sides closed (FIN exchange finished).
    Close,
    /// A RST ended it.
    Reset,
    /// Idle past its timeout.
    Timeout,
    /// Pushed out of a full flow table.
    Eviction,
    /// Still open when the capture ended.
    EndOfInput,
    /// A SYN on its tuple started a new connection before it closed (Zeek's connection reuse, reuse.rs).
    Reuse,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Close => "close",
            EndReason::Reset => "reset",
            EndReason::Timeout => "timeout",
            EndReason::Eviction => "eviction",
            EndReason::EndOfInput => "end-of-input",
            EndReason::Reuse => "reuse",
        }
    }
}

/// One conn.log line. The derived `Serialize` is for snapshots and debugging (times as strings with nine decimals,
/// endpoints as "ip:port"); the conn.log writers format each field the way Zeek does.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConnRecord {
    /// Time of the first packet.
    #[serde(serialize_with = "ser_display")]
    pub ts: Timestamp,
    #[serde(serialize_with = "ser_endpoint")]
    pub orig: Endpoint,
    #[serde(serialize_with = "ser_endpoint")]
    pub resp: Endpoint,
    pub proto: Proto,
    /// Last packet minus first; `None` for a single-packet connection (Zeek leaves it unset).
    #[serde(serialize_with = "ser_opt_display")]
    pub duration: Option<Duration>,
    /// Payload bytes; unset alongside `duration`, as Zeek does.
    pub orig_bytes: Option<u64>,
    pub resp_bytes: Option<u64>,
    pub conn_state: ConnState,
    /// Bytes acknowledged but never seen (content gaps).
    pub missed_bytes: u64,
    pub history: HistoryText,
    pub orig_pkts: u64,
    /// IP-level bytes (IP total length) the originator sent.
    pub orig_ip_bytes: u64,
    pub resp_pkts: u64,
    pub resp_ip_bytes: u64,
    /// Ours: from the SYN to the ACK that completes the handshake.
    #[serde(serialize_with = "ser_opt_display")]
    pub handshake_rtt: Option<Duration>,
    /// Ours: who sent the first FIN (or RST).
    pub close_initiator: Option<Role>,
    /// Ours: why the record was written.
    pub end_reason: EndReason,
}

impl ConnRecord {
    /// Zeek-like: 'C' and 17 base62 characters (see [`make_uid`]). Derived from the record rather than stored, so
    /// the engine does not spend its time on uids nobody writes.
    pub fn uid(&self) -> Uid {
        make_uid(self.ts, self.orig, self.resp, self.proto)
    }
}

fn ser_display<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_opt_display<T: std::fmt::Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

fn ser_endpoint<S: Serializer>(e: &Endpoint, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&e.socket_addr())
}

/// A keyed hash over whole 64-bit words: each word is folded in and stirred with the SplitMix64 finaliser. Word at
/// a time rather than byte at a time, because a SYN flood writes hundreds of thousands of uids.
fn hash_words(seed: u64, bytes: &[u8; 48]) -> u64 {
    let mut h = seed;
    for chunk in bytes.chunks_exact(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(word));
    }
    h
}

/// A final avalanche (the SplitMix64 finaliser): FNV alone barely stirs the high bits for the last input bytes, and
/// two uids differing only in a port should not share a prefix.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of a uid: 'C' plus 17 base62 digits (≈101 bits).
pub const UID_LEN: usize = 18;

/// A Zeek-like connection uid ('C' + 17 base62 characters), **deterministic**: a fixed-key hash of the first
/// packet's time, both endpoints and the protocol, so the same capture always yields the same uids and golden
/// outputs stay stable. (Zeek draws its uids at random; it documents them only as unique identifiers.)
/// A uid: 'C' and 17 base62 characters.
pub type Uid = InlineStr<UID_LEN>;

/// A history string as logged; Zeek's letters are bounded (see zeek::History), so 40 bytes always suffice.
pub type HistoryText = InlineStr<40>;

pub fn make_uid(first_ts: Timestamp, orig: Endpoint, resp: Endpoint, proto: Proto) -> Uid {
    let mut bytes = [0u8; 48];
    bytes[..8].copy_from_slice(&first_ts.as_nanos().to_le_bytes());
    for (i, e) in [orig, resp].iter().enumerate() {
        let at = 8 + i * 18;
        // IPv4 is stored IPv4-mapped, which is what the hash has always covered.
        bytes[at..at + 16].copy_from_slice(&e.addr_bytes());
        bytes[at + 16..at + 18].copy_from_slice(&e.port().to_be_bytes());
    }
    bytes[44] = proto.number();
    let mut hi = hash_words(0x5359_4e53_434f_5045, &bytes); // "SYNSCOPE"
    let mut lo = hash_words(0x636f_6e6e_6c6f_6721, &bytes); // "connlog!"
    // 9 base62 digits from one word and 8 from the other (62^9 < 2^64): 64-bit divisions only.
    let mut uid = [b'C'; UID_LEN];
    for digit in &mut uid[1..10] {
        *digit = BASE62[(hi % 62) as usize];
        hi /= 62;
    }
    for digit in &mut uid[10..] {
        *digit = BASE62[(lo % 62) as usize];
        lo /= 62;
    }
    // Base62 digits are ASCII.
    Uid::new(std::str::from_utf8(&uid).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(s: &str, port: u16) -> Endpoint {
        Endpoint::new(s.parse().unwrap(), port)
    }

    fn sample() -> ConnRecord {
        let orig = ep("192.0.2.10", 40000);
        let resp = ep("198.51.100.7", 80);
        let ts = Timestamp::from_secs_nanos(1_591_367_999, 430_166_000);
        ConnRecord {
            ts,
            orig,
            resp,
            proto: Proto::Tcp,
            duration: Some(Duration::from_micros(254_115)),
            orig_bytes: Some(77),
            resp_bytes: Some(295),
            conn_state: ConnState::SF,
            missed_bytes: 0,
            history: "ShADadFf".into(),
            orig_pkts: 6,
            orig_ip_bytes: 397,
            resp_pkts: 4,
            resp_ip_bytes: 511,
            handshake_rtt: Some(Duration::from_micros(1_200)),
            close_initiator: Some(Role::Orig),
            end_reason: EndReason::EndOfInput,
        }
    }

    #[test]
    fn uid_has_zeeks_shape() {
        let r = sample();
        assert_eq!(r.uid().len(), UID_LEN);
        assert!(r.uid().starts_with('C'));
        assert!(r.uid()[1..].bytes().all(|b| b.is_ascii_alphanumeric()), "{}", r.uid());
    }

    #[test]
    fn uid_is_deterministic() {
        let r = sample();
        assert_eq!(make_uid(r.ts, r.orig, r.resp, r.proto), r.uid());
        // Pinned so that a change to the hash, which would churn every golden output, is deliberate.
        assert_eq!(r.uid(), "Cw6NWguHESRGSyLizR");
        let pinned = make_uid(Timestamp::from_nanos(0), Endpoint::UNSPECIFIED, Endpoint::UNSPECIFIED, Proto::Udp);
        assert_eq!(pinned, "C3zLWiz0diiXJ1CffS");
    }

    #[test]
    fn distinct_inputs_give_distinct_uids() {
        let r = sample();
        let base = r.uid();
        let variants = [
            make_uid(Timestamp::from_nanos(r.ts.as_nanos() + 1), r.orig, r.resp, r.proto),
            make_uid(r.ts, r.resp, r.orig, r.proto),
            make_uid(r.ts, r.orig, r.resp, Proto::Udp),
            make_uid(r.ts, ep("192.0.2.10", 40001), r.resp, r.proto),
            make_uid(r.ts, r.orig, ep("198.51.100.8", 80), r.proto),
            make_uid(r.ts, ep("::ffff:192.0.2.10", 40000), r.resp, r.proto),
        ];
        // An IPv4-mapped IPv6 address is the same endpoint as the IPv4 one.
        assert_eq!(variants[5], base);
        let mut all: Vec<&str> = variants[..5].iter().map(|u| u.as_str()).collect();
        all.push(base.as_str());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 6);

        let mut uids: Vec<String> =
            (0..10_000u64).map(|i| make_uid(Timestamp::from_nanos(i), r.orig, r.resp, r.proto).to_string()).collect();
        uids.sort();
        uids.dedup();
        assert_eq!(uids.len(), 10_000);
    }

    #[test]
    fn enums_spell_like_conn_log() {
        assert_eq!(Proto::Tcp.as_str(), "tcp");
        assert_eq!(Proto::Udp.as_str(), "udp");
        assert_eq!(Role::Resp.as_str(), "resp");
        let reasons = [
            (EndReason::Close, "close"),
            (EndReason::Reset, "reset"),
            (EndReason::Timeout, "timeout"),
            (EndReason::Eviction, "eviction"),
            (EndReason::EndOfInput, "end-of-input"),
        ];
        for (r, s) in reasons {
            assert_eq!(r.as_str(), s);
            assert_eq!(serde_json::to_value(r).unwrap(), s);
        }
    }

    #[test]
    fn derived_serialize_is_readable() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["ts"], "1591367999.430166000");
        assert_eq!(v["orig"], "192.0.2.10:40000");
        assert_eq!(v["proto"], "tcp");
        assert_eq!(v["duration"], "0.254115");
        assert_eq!(v["conn_state"], "SF");
        assert_eq!(v["close_initiator"], "orig");
        assert_eq!(v["end_reason"], "end-of-input");
        let mut r = sample();
        r.duration = None;
        assert!(serde_json::to_value(r).unwrap()["duration"].is_null());
    }
}
