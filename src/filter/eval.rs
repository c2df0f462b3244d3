//! Matching a parsed filter against a decoded packet. Runs once per packet, so nothing here allocates: the AST is
//! walked in place and every test reads the decoded layers directly.

use std::net::IpAddr;

use super::ast::{Dir, Node, PortProto, Proto};
use crate::wire::Packet;
use crate::wire::packet::{Net, Transport};

/// IP protocol numbers (IANA).
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;

/// Whether `packet` passes the filter `node`. No expression (`Any`) is answered inline, without a call: most runs
/// have no filter, and the call cost 28 instructions per packet (callgrind, `read -q`).
#[inline]
pub(super) fn matches(node: &Node, packet: &Packet<'_>) -> bool {
    matches!(node, Node::Any) || matches_node(node, packet)
}

fn matches_node(node: &Node, packet: &Packet<'_>) -> bool {
    match node {
        Node::Any => true,
        Node::Not(inner) => !matches_node(inner, packet),
        Node::And(terms) => terms.iter().all(|term| matches_node(term, packet)),
        Node::Or(terms) => terms.iter().any(|term| matches_node(term, packet)),
        Node::Proto(proto) => protocol(*proto, packet),
        Node::Vlan(id) => vlan(*id, packet),
        Node::Host(dir, addr) => endpoints(packet).is_some_and(|ends| dir.check(ends, |ip| ip == *addr)),
        Node::Net(dir, net) => endpoints(packet).is_some_and(|ends| dir.check(ends, |ip| net.contains(ip))),
        Node::Port { proto, dir, low, high } => port(*proto, *dir, *low..=*high, packet),
        Node::TcpFlag(bit) => packet.tcp().is_some_and(|tcp| tcp.flags.has(*bit)),
    }
}

/// `tcp`, `udp`, `icmp` and `icmp6` go by the IP protocol number, as tcpdump's do, so non-first fragments (which
/// have no transport header) still count. The packet's layers are decoded through any VLAN tags already.
fn protocol(proto: Proto, packet: &Packet<'_>) -> bool {
    match proto {
        Proto::Tcp => packet.ip_protocol() == Some(IPPROTO_TCP),
        Proto::Udp => packet.ip_protocol() == Some(IPPROTO_UDP),
        Proto::Icmp => is_icmpv4(packet) || is_icmpv6(packet),
        Proto::Icmp6 => is_icmpv6(packet),
        Proto::Ip => matches!(packet.net, Net::Ipv4(_)),
        Proto::Ip6 => matches!(packet.net, Net::Ipv6(_)),
        Proto::Arp => matches!(packet.net, Net::Arp(_)),
    }
}

fn is_icmpv4(packet: &Packet<'_>) -> bool {
    matches!(&packet.net, Net::Ipv4(ip) if ip.protocol == IPPROTO_ICMP)
}

fn is_icmpv6(packet: &Packet<'_>) -> bool {
    matches!(&packet.net, Net::Ipv6(ip) if ip.next_header == IPPROTO_ICMPV6)
}

fn vlan(id: Option<u16>, packet: &Packet<'_>) -> bool {
    let vlans = &packet.link.vlans;
    match id {
        None => !vlans.is_empty(),
        Some(id) => vlans.as_slice().iter().any(|tag| tag.id == id),
    }
}

/// Source and destination addresses for `host` and `net`. As in pcap-filter(7), an unqualified `host` also matches
/// ARP, by the sender (source) and target (destination) protocol addresses.
fn endpoints(packet: &Packet<'_>) -> Option<(IpAddr, IpAddr)> {
    match &packet.net {
        Net::Arp(arp) => arp.ethernet_ipv4.map(|a| (IpAddr::V4(a.sender_ip), IpAddr::V4(a.target_ip))),
        _ => Some((packet.src_ip()?, packet.dst_ip()?)),
    }
}

/// TCP and UDP ports; a packet without a decoded transport header (a non-first fragment, say) has none.
fn port(proto: Option<PortProto>, dir: Dir, range: std::ops::RangeInclusive<u16>, packet: &Packet<'_>) -> bool {
    let proto_ok = match proto {
        None => true,
        Some(PortProto::Tcp) => matches!(packet.transport, Transport::Tcp(_)),
        Some(PortProto::Udp) => matches!(packet.transport, Transport::Udp(_)),
    };
    proto_ok && packet.ports().is_some_and(|ports| dir.check(ports, |p| range.contains(&p)))
}
