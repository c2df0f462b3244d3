//! Flow keys: the 5-tuple of a conversation, the same whichever way a packet travels, so both directions of a
//! connection find one table entry.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::Packet;
use super::packet::{Net, Transport};
use crate::hash_key::HashKey;

/// The first 12 bytes of an IPv4-mapped IPv6 address, `::ffff:0:0/96` (RFC 4291 §2.5.5.2).
const MAPPED_PREFIX: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/// An endpoint packed into 18 bytes plus a family tag, so a key stays small in a table of a million flows.
/// Ordered by address (as bytes, most significant first) then port: the order that picks a flow key's `low` side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// IPv4 addresses are stored as IPv4-mapped IPv6 (::ffff:a.b.c.d, RFC 4291 §2.5.5.2).
    addr: [u8; 16],
    port: u16,
}

impl Endpoint {
    pub fn new(ip: IpAddr, port: u16) -> Endpoint {
        match ip {
            IpAddr::V4(v4) => Endpoint::v4(v4, port),
            IpAddr::V6(v6) => Endpoint::v6(v6, port),
        }
    }

    /// An IPv4 endpoint: its address after the IPv4-mapped prefix, written as whole arrays (through
    /// `Ipv4Addr::to_ipv6_mapped` and an `IpAddr` the compiler copied it a byte at a time).
    #[inline]
    pub fn v4(ip: Ipv4Addr, port: u16) -> Endpoint {
        let mut addr = [0u8; 16];
        addr[..12].copy_from_slice(&MAPPED_PREFIX);
        addr[12..].copy_from_slice(&ip.octets());
        Endpoint { addr, port }
    }

    #[inline]
    pub fn v6(ip: Ipv6Addr, port: u16) -> Endpoint {
        Endpoint { addr: ip.octets(), port }
    }

    pub fn ip(&self) -> IpAddr {
        let v6 = Ipv6Addr::from(self.addr);
        match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address as stored: IPv6, or IPv4-mapped IPv6.
    pub fn addr_bytes(&self) -> [u8; 16] {
        self.addr
    }

    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip(), self.port)
    }

    /// The address then the port, big-endian: what `Hash` writes, and what [`HashKey::hash_bytes`] hashes.
    #[inline]
    pub fn to_bytes(&self) -> [u8; 18] {
        let mut bytes = [0u8; 18];
        bytes[..16].copy_from_slice(&self.addr);
        bytes[16..].copy_from_slice(&self.port.to_be_bytes());
        bytes
    }

    pub fn is_ipv4(&self) -> bool {
        self.addr[..12] == MAPPED_PREFIX
    }

    pub const UNSPECIFIED: Endpoint = Endpoint { addr: [0; 16], port: 0 };
}

/// The address compared as one big-endian `u128`, which orders exactly as the bytes do lexicographically (what a
/// derived `Ord` on `[u8; 16]` gives), in a couple of instructions instead of a byte loop: `FlowKey::of` runs this
/// on every packet.
impl Ord for Endpoint {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        u128::from_be_bytes(self.addr).cmp(&u128::from_be_bytes(other.addr)).then(self.port.cmp(&other.port))
    }
}

impl PartialOrd for Endpoint {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Default for Endpoint {
    fn default() -> Self {
        Endpoint::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    }
}

/// Which way a packet travels relative to the key's ordering.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From `FlowKey::low` to `FlowKey::high`.
    LowToHigh,
    HighToLow,
}

/// A direction-independent 5-tuple: the lower endpoint first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowKey {
    pub low: Endpoint,
    pub high: Endpoint,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub protocol: u8,
}

/// Hashed as one write of its 18 bytes: the tables hash under keyed SipHash ([`crate::hash_key`]), whose cost is
/// per `write` call as much as per byte, and the derived impl made three (a length prefix, the address, the port).
impl Hash for Endpoint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.to_bytes());
    }
}

/// Hashed as one write, for the reason given at `Endpoint`'s impl: a flow-table lookup per packet is the tracker's
/// hottest hash. When both ends are IPv4 (the `::ffff:0:0/96` prefix on both, RFC 4291 §2.5.5.2) only what varies is
/// written: 13 bytes, two SipHash blocks instead of five. Equal keys still hash equally (whether both ends are
/// IPv4 is a property of the key), and the 13-byte form can only collide with a 37-byte one through SipHash itself,
/// since the length is part of SipHash's last block. [`FlowKey::hash_under`] gives the same value faster.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self.ipv4_bytes() {
            Some(bytes) => state.write(&bytes),
            None => state.write(&self.bytes()),
        }
    }
}

impl FlowKey {
    /// `key.hash_one(self)`, the value `Hash` gives, through [`HashKey::hash_bytes`]: the message's length is
    /// known here, so the hash runs on whole words instead of siphasher's streaming `write`.
    #[inline]
    pub fn hash_under(&self, key: &HashKey) -> u64 {
        match self.ipv4_bytes() {
            Some(bytes) => key.hash_bytes(&bytes),
            None => key.hash_bytes(&self.bytes()),
        }
    }

    /// The 13 bytes that vary when both ends are IPv4: each address's last four bytes and port, then the protocol.
    #[inline]
    fn ipv4_bytes(&self) -> Option<[u8; 13]> {
        if !(self.low.is_ipv4() && self.high.is_ipv4()) {
            return None;
        }
        let mut bytes = [0u8; 13];
        bytes[..4].copy_from_slice(&self.low.addr[12..]);
        bytes[4..6].copy_from_slice(&self.low.port.to_be_bytes());
        bytes[6..10].copy_from_slice(&self.high.addr[12..]);
        bytes[10..12].copy_from_slice(&self.high.port.to_be_bytes());
        bytes[12] = self.protocol;
        Some(bytes)
    }

    /// The whole key: each address and port, then the protocol.
    #[inline]
    fn bytes(&self) -> [u8; 37] {
        let mut bytes = [0u8; 37];
        bytes[..16].copy_from_slice(&self.low.addr);
        bytes[16..18].copy_from_slice(&self.low.port.to_be_bytes());
        bytes[18..34].copy_from_slice(&self.high.addr);
        bytes[34..36].copy_from_slice(&self.high.port.to_be_bytes());
        bytes[36] = self.protocol;
        bytes
    }

    /// The key and direction of a packet, for TCP and UDP (ICMP uses ports 0). The sender and receiver are
    /// [`FlowKey::ends`]: returning them too made a 96-byte tuple the tracker copied once more per packet. Inlined
    /// into the tracker, its only caller, so the 40-byte answer is built in place, not returned through memory:
    /// `read -q` 1,387 -> 1,353 instr/pkt (callgrind, 100k bench file).
    #[inline]
    pub fn of(packet: &Packet<'_>) -> Option<(FlowKey, Direction)> {
        let (protocol, sport, dport) = match &packet.transport {
            Transport::Tcp(t) => (6, t.src_port, t.dst_port),
            Transport::Udp(u) => (17, u.src_port, u.dst_port),
            Transport::Icmp(i) => {
                let (sport, dport) = icmp_ports(i.v6, i.icmp_type, i.code);
                (if i.v6 { 58 } else { 1 }, sport, dport)
            }
            _ => return None,
        };
        let (src, dst) = match &packet.net {
            Net::Ipv4(ip) => (Endpoint::v4(ip.src, sport), Endpoint::v4(ip.dst, dport)),
            Net::Ipv6(ip) => (Endpoint::v6(ip.src, sport), Endpoint::v6(ip.dst, dport)),
            _ => return None,
        };
        Some(FlowKey::ordered(src, dst, protocol))
    }

    /// The key of a packet from `src` to `dst`, and which way it goes.
    #[inline]
    pub fn ordered(src: Endpoint, dst: Endpoint, protocol: u8) -> (FlowKey, Direction) {
        if src <= dst {
            (FlowKey { low: src, high: dst, protocol }, Direction::LowToHigh)
        } else {
            (FlowKey { low: dst, high: src, protocol }, Direction::HighToLow)
        }
    }

    /// A packet's sender and receiver, from its key and direction.
    #[inline]
    pub fn ends(&self, direction: Direction) -> (Endpoint, Endpoint) {
        match direction {
            Direction::LowToHigh => (self.low, self.high),
            Direction::HighToLow => (self.high, self.low),
        }
    }

    #[inline]
    pub fn between(src: Endpoint, dst: Endpoint, protocol: u8) -> (FlowKey, Direction, Endpoint, Endpoint) {
        let (key, direction) = FlowKey::ordered(src, dst, protocol);
        (key, direction, src, dst)
    }
}

/// ICMP "ports" as Zeek assigns them: a request's type on the sender's side and its reply's type on the other
/// (so a request and its reply share a flow), or the type and the code for messages that have no reply.
pub fn icmp_ports(v6: bool, icmp_type: u8, code: u8) -> (u16, u16) {
    // (request, reply): echo, timestamp, information, address mask, router solicitation (RFC 792, RFC 1256), and
    // for ICMPv6 echo, MLD query/report, router and neighbor solicitation (RFC 4443, RFC 2710, RFC 4861).
    const V4: [(u8, u8); 5] = [(8, 0), (13, 14), (15, 16), (17, 18), (10, 9)];
    const V6: [(u8, u8); 4] = [(128, 129), (130, 131), (133, 134), (135, 136)];
    let pairs: &[(u8, u8)] = if v6 { &V6 } else { &V4 };
    for &(request, reply) in pairs {
        if icmp_type == request {
            return (u16::from(request), u16::from(reply));
        }
        if icmp_type == reply {
            return (u16::from(reply), u16::from(request));
        }
    }
    (u16::from(icmp_type), u16::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_give_one_key() {
        let a = Endpoint::new("192.0.2.10".parse().unwrap(), 40000);
        let b = Endpoint::new("192.0.2.20".parse().unwrap(), 9999);
        let (k1, d1, _, _) = FlowKey::between(a, b, 6);
        let (k2, d2, _, _) = FlowKey::between(b, a, 6);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        assert_eq!(a.ip(), "192.0.2.10".parse::<IpAddr>().unwrap());
        assert!(a.is_ipv4());
        let v6 = Endpoint::new("2001:db8::1".parse().unwrap(), 1);
        assert_eq!(v6.ip(), "2001:db8::1".parse::<IpAddr>().unwrap());
        assert!(std::mem::size_of::<FlowKey>() <= 40);
    }

    #[test]
    fn an_echo_and_its_reply_share_a_flow() {
        assert_eq!(icmp_ports(false, 8, 0), (8, 0));
        assert_eq!(icmp_ports(false, 0, 0), (0, 8));
        assert_eq!(icmp_ports(true, 135, 0), (135, 136));
        assert_eq!(icmp_ports(false, 3, 3), (3, 3), "an error has no reply: type and code");
    }
}
