//! Keyed hashing for tables whose keys an attacker chooses. A SYN flood picks its spoofed sources and ports freely,
//! so an unkeyed (or weakly keyed) hash lets it aim every entry at one bucket and turn O(1) lookups into O(n) scans
//! (HashDoS). SipHash-1-3 is the keyed PRF std's `HashMap` uses for exactly this; hashbrown's default (foldhash) is
//! faster but documents only "minimal" DoS resistance and cannot be keyed by the caller. The key comes from a
//! caller-given seed rather than from the OS, so the core stays sans-IO and a replay with the same seed behaves
//! identically; the guard passes a random seed.

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr};

use siphasher::sip::SipHasher13;

/// Builds SipHash-1-3 hashers whose 128-bit key is derived from a 64-bit seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeededState {
    k0: u64,
    k1: u64,
}

impl SeededState {
    pub(crate) fn new(seed: u64) -> SeededState {
        // splitmix64 spreads small or sequential seeds over both key halves.
        let mut state = seed;
        let k0 = splitmix64(&mut state);
        let k1 = splitmix64(&mut state);
        SeededState { k0, k1 }
    }
}

impl BuildHasher for SeededState {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The unit a per-source limit counts: an IPv4 address, or an IPv6 /64. One IPv6 subscriber is routinely given a
/// whole /64 (RFC 6177), so counting /128s would let a single host bypass any per-source cap by cycling its interface
/// identifier. IPv4-mapped IPv6 addresses count as the IPv4 address they carry.
pub(crate) fn source_prefix(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_key_the_hash() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(SeededState::new(7).hash_one(ip), SeededState::new(7).hash_one(ip));
        assert_ne!(SeededState::new(7).hash_one(ip), SeededState::new(8).hash_one(ip));
    }

    #[test]
    fn ipv6_sources_are_grouped_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(source_prefix(a), source_prefix(b));
        assert_ne!(source_prefix(a), source_prefix(c));
        assert_eq!(source_prefix("::ffff:192.0.2.9".parse().unwrap()), "192.0.2.9".parse::<IpAddr>().unwrap());
        assert_eq!(source_prefix("192.0.2.9".parse().unwrap()), "192.0.2.9".parse::<IpAddr>().unwrap());
    }
}
