//! What a per-source limit counts as one source. The tables that count them are keyed as every table facing
//! attacker-chosen keys is ([`crate::hash_key`]).

use std::net::{IpAddr, Ipv6Addr};

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
