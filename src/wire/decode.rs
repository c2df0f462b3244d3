//! Frame decoding: link layer by hand (the headers etherparse does not know, and the address-family quirks of BSD
//! loopback), everything from the EtherType inwards by etherparse's lax slicer, which keeps the layers it could read
//! when a later one is damaged. Nothing here panics on any input: a damaged layer becomes `Packet::malformed`.

use etherparse::err::Layer;
use etherparse::err::packet::SliceError;
use etherparse::{
    EtherType, Ipv6ExtensionSlice, LaxIpPayloadSlice, LaxNetSlice, LaxSlicedPacket, LinkSlice, TcpSlice,
    TransportSlice, UdpSlice,
};

use super::DecodeError;
use super::linktype::LinkType;
use super::packet::*;
use super::segment::{TcpFlags, TcpSegment};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Decodes one captured frame of the given link type.
pub fn decode(link_type: LinkType, frame: &[u8]) -> Packet<'_> {
    let mut packet = Packet {
        link: Link { link_type, ethernet: None, vlans: Vlans::default(), ether_type: None },
        net: Net::None,
        transport: Transport::None,
        malformed: None,
    };
    let sliced = match slice_link(link_type, frame, &mut packet) {
        Ok(Some(sliced)) => sliced,
        Ok(None) => return packet,
        Err(err) => {
            packet.malformed = Some(err);
            return packet;
        }
    };
    fill_from_sliced(&sliced, &mut packet);
    packet
}

fn truncated(what: &'static str, got: usize, need: usize) -> DecodeError {
    DecodeError::Truncated { what, got, need }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Strips the link header and hands the rest to etherparse. `Ok(None)` means the payload is not something we decode
/// further (already recorded in `packet`).
fn slice_link<'a>(
    link_type: LinkType,
    frame: &'a [u8],
    packet: &mut Packet<'a>,
) -> Result<Option<LaxSlicedPacket<'a>>, DecodeError> {
    match link_type {
        LinkType::Ethernet => {
            if frame.len() < 14 {
                return Err(truncated("Ethernet header", frame.len(), 14));
            }
            LaxSlicedPacket::from_ethernet(frame)
                .map(Some)
                .map_err(|e| truncated("Ethernet header", e.len, e.required_len))
        }
        LinkType::LinuxSll => {
            // 16-byte header; protocol at offset 14 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html).
            if frame.len() < 16 {
                return Err(truncated("Linux cooked header", frame.len(), 16));
            }
            Ok(from_protocol(be16(&frame[14..16]), &frame[16..], packet))
        }
        LinkType::LinuxSll2 => {
            // 20-byte header; protocol at offset 0 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html).
            if frame.len() < 20 {
                return Err(truncated("Linux cooked v2 header", frame.len(), 20));
            }
            Ok(from_protocol(be16(&frame[0..2]), &frame[20..], packet))
        }
        LinkType::Null | LinkType::Loop => {
            if frame.len() < 4 {
                return Err(truncated("loopback header", frame.len(), 4));
            }
            let bytes = [frame[0], frame[1], frame[2], frame[3]];
            // LINKTYPE_NULL stores the family in the capturing host's byte order; families are small numbers, so
            // the order that yields one below 2^16 is the right one. LINKTYPE_LOOP is always big-endian.
            let family = if link_type == LinkType::Loop || u32::from_le_bytes(bytes) > 0xffff {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            };
            let ether_type = match family {
                2 => ETHERTYPE_IPV4,
                // AF_INET6 differs by system: Linux 10, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
                10 | 24 | 28 | 30 => ETHERTYPE_IPV6,
                other => return Err(DecodeError::Invalid(format!("unknown loopback address family {other}"))),
            };
            Ok(from_protocol(ether_type, &frame[4..], packet))
        }
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 => {
            let Some(first) = frame.first() else {
                return Err(truncated("IP header", 0, 20));
            };
            let version = first >> 4;
            let expected = match link_type {
                LinkType::Ipv4 => Some(4),
                LinkType::Ipv6 => Some(6),
                _ => None,
            };
            if expected.is_some_and(|v| v != version) {
                return Err(DecodeError::Invalid(format!("IPv{version} packet on a {} link", link_type.name())));
            }
            packet.link.ether_type = Some(if version == 6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 });
            LaxSlicedPacket::from_ip(frame).map(Some).map_err(|e| DecodeError::Invalid(e.to_string()))
        }
    }
}

/// Continues from a link-layer protocol field. Values below 0x0600 are not EtherTypes (802.3 lengths, or the
/// cooked header's pseudo-protocols such as 0x0004 for 802.2 LLC) and are shown by number.
fn from_protocol<'a>(protocol: u16, payload: &'a [u8], packet: &mut Packet<'a>) -> Option<LaxSlicedPacket<'a>> {
    packet.link.ether_type = Some(protocol);
    if protocol < 0x0600 {
        packet.net = Net::Other { ether_type: protocol };
        return None;
    }
    Some(LaxSlicedPacket::from_ether_type(EtherType(protocol), payload))
}

fn fill_from_sliced<'a>(sliced: &LaxSlicedPacket<'a>, packet: &mut Packet<'a>) {
    if let Some(LinkSlice::Ethernet2(eth)) = &sliced.link {
        let ether_type = eth.ether_type().0;
        packet.link.ethernet =
            Some(EthernetInfo { src: eth.source(), dst: eth.destination(), outer_ether_type: ether_type });
        packet.link.ether_type = Some(ether_type);
    }
    for ext in &sliced.link_exts {
        if let etherparse::LaxLinkExtSlice::Vlan(vlan) = ext {
            let inner = vlan.ether_type().0;
            packet.link.vlans.push(VlanTag {
                id: vlan.vlan_identifier().value(),
                priority: vlan.priority_code_point().value(),
                inner_ether_type: inner,
            });
            packet.link.ether_type = Some(inner);
        }
    }

    let mut ip_payload: Option<&LaxIpPayloadSlice<'a>> = None;
    let mut announced_payload = 0u32;
    match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            let info = Ipv4Info {
                src: h.source_addr(),
                dst: h.destination_addr(),
                ttl: h.ttl(),
                tos: h.slice()[1],
                id: h.identification(),
                protocol: h.protocol().0,
                header_len: u16::from(h.ihl()) * 4,
                total_len: h.total_len(),
                dont_fragment: h.dont_fragment(),
                more_fragments: h.more_fragments(),
                fragment_offset: h.fragments_offset().value().wrapping_mul(8),
                checksum: h.header_checksum(),
            };
            let payload = v4.payload();
            announced_payload = if payload.incomplete {
                u32::from(info.total_len.saturating_sub(info.header_len))
            } else {
                payload.payload.len() as u32
            };
            ip_payload = Some(payload);
            packet.net = Net::Ipv4(info);
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            let mut info = Ipv6Info::new(h.source_addr(), h.destination_addr());
            info.hop_limit = h.hop_limit();
            info.traffic_class = h.traffic_class();
            info.flow_label = h.flow_label().value();
            info.payload_len = h.payload_length();
            for ext in v6.extensions().clone() {
                match ext {
                    Ipv6ExtensionSlice::HopByHop(_) => info.push_extension(0),
                    Ipv6ExtensionSlice::Routing(_) => info.push_extension(43),
                    Ipv6ExtensionSlice::DestinationOptions(_) => info.push_extension(60),
                    Ipv6ExtensionSlice::Authentication(_) => info.push_extension(51),
                    Ipv6ExtensionSlice::Fragment(frag) => {
                        info.push_extension(44);
                        info.fragment = Some(Ipv6Fragment {
                            id: frag.identification(),
                            offset: frag.fragment_offset().value().wrapping_mul(8),
                            more_fragments: frag.more_fragments(),
                        });
                    }
                }
            }
            let payload = v6.payload();
            info.next_header = payload.ip_number.0;
            announced_payload = if payload.incomplete {
                u32::from(info.payload_len).saturating_sub(v6.extensions().slice().len() as u32)
            } else {
                payload.payload.len() as u32
            };
            info.upper_len = announced_payload;
            ip_payload = Some(payload);
            packet.net = Net::Ipv6(info);
        }
        Some(LaxNetSlice::Arp(arp)) => packet.net = Net::Arp(decode_arp(arp.slice())),
        None => {
            if sliced.stop_err.is_none()
                && let Some(ether_type) = packet.link.ether_type
            {
                packet.net = Net::Other { ether_type };
            }
        }
    }

    packet.transport = match &sliced.transport {
        Some(TransportSlice::Tcp(tcp)) => Transport::Tcp(tcp_segment(tcp, announced_payload)),
        Some(TransportSlice::Udp(udp)) => Transport::Udp(udp_info(udp)),
        Some(TransportSlice::Icmpv4(icmp)) => Transport::Icmp(icmp_info(false, icmp.slice(), announced_payload)),
        Some(TransportSlice::Icmpv6(icmp)) => Transport::Icmp(icmp_info(true, icmp.slice(), announced_payload)),
        Some(TransportSlice::Igmp(_)) => Transport::Other { protocol: 2, len: announced_payload },
        None => match ip_payload {
            Some(payload) if sliced.stop_err.is_none() => untransported(packet, payload, announced_payload)
                .unwrap_or_else(|err| {
                    packet.malformed = Some(err);
                    Transport::None
                }),
            _ => Transport::None,
        },
    };

    if let Some((err, layer)) = &sliced.stop_err {
        packet.malformed = Some(describe_slice_error(err, *layer));
    }
}

/// The IP payload etherparse did not slice: fragments and protocols it does not know. A first fragment still
/// carries the transport header, and tcpdump decodes it, so we do too.
fn untransported<'a>(
    packet: &Packet<'a>,
    payload: &LaxIpPayloadSlice<'a>,
    announced: u32,
) -> Result<Transport<'a>, DecodeError> {
    let protocol = payload.ip_number.0;
    if !payload.fragmented {
        return Ok(Transport::Other { protocol, len: announced });
    }
    let first_fragment = match &packet.net {
        Net::Ipv4(ip) => ip.fragment_offset == 0,
        Net::Ipv6(ip) => ip.fragment.is_some_and(|f| f.offset == 0),
        _ => false,
    };
    if !first_fragment {
        return Ok(Transport::Fragment { protocol, len: announced });
    }
    let bytes = payload.payload;
    Ok(match protocol {
        6 => match TcpSlice::from_slice(bytes) {
            Ok(tcp) => Transport::Tcp(tcp_segment(&tcp, announced)),
            Err(err) => return Err(describe_tcp_error(bytes.len(), err)),
        },
        17 => {
            if bytes.len() < 8 {
                return Err(truncated("UDP header", bytes.len(), 8));
            }
            // A first fragment holds only part of the datagram the UDP length describes, so slice leniently.
            match UdpSlice::from_slice_lax(bytes) {
                Ok(udp) => Transport::Udp(udp_info(&udp)),
                Err(e) => return Err(truncated("UDP header", e.len, e.required_len)),
            }
        }
        1 | 58 if bytes.len() >= 8 => Transport::Icmp(icmp_info(protocol == 58, bytes, announced)),
        _ => Transport::Fragment { protocol, len: announced },
    })
}

fn describe_tcp_error(got: usize, err: etherparse::err::tcp::HeaderSliceError) -> DecodeError {
    match err {
        etherparse::err::tcp::HeaderSliceError::Len(l) => truncated("TCP header", got.min(l.len), l.required_len),
        etherparse::err::tcp::HeaderSliceError::Content(c) => DecodeError::Invalid(c.to_string()),
    }
}

fn tcp_segment<'a>(tcp: &TcpSlice<'a>, announced_ip_payload: u32) -> TcpSegment<'a> {
    let header = tcp.header_slice();
    // Flags are the low 9 bits of bytes 12..14 (NS/AE in byte 12, the classic eight in byte 13).
    let flags = TcpFlags(u16::from_be_bytes([header[12], header[13]]) & 0x01ff);
    let header_len = header.len() as u8;
    TcpSegment {
        src_port: tcp.source_port(),
        dst_port: tcp.destination_port(),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags,
        window: tcp.window_size(),
        urgent: tcp.urgent_pointer(),
        checksum: tcp.checksum(),
        header_len,
        options_raw: &header[20..],
        payload_len: announced_ip_payload.saturating_sub(u32::from(header_len)),
        payload: tcp.payload(),
    }
}

fn udp_info(udp: &UdpSlice<'_>) -> UdpInfo {
    UdpInfo {
        src_port: udp.source_port(),
        dst_port: udp.destination_port(),
        length: udp.length(),
        checksum: udp.checksum(),
    }
}

fn icmp_info(v6: bool, bytes: &[u8], len: u32) -> IcmpInfo {
    let mut rest = [0u8; 4];
    if bytes.len() >= 8 {
        rest.copy_from_slice(&bytes[4..8]);
    }
    IcmpInfo { v6, icmp_type: bytes.first().copied().unwrap_or(0), code: bytes.get(1).copied().unwrap_or(0), rest, len }
}

/// RFC 826 ARP. etherparse has validated the lengths by the time we get here; we still index defensively.
fn decode_arp(bytes: &[u8]) -> ArpInfo {
    let field = |at: usize| bytes.get(at..at + 2).map(be16).unwrap_or(0);
    let mut info = ArpInfo {
        hardware_type: field(0),
        protocol_type: field(2),
        operation: field(6),
        ethernet_ipv4: None,
        len: bytes.len().min(u16::MAX as usize) as u16,
    };
    let (hlen, plen) = (bytes.get(4).copied(), bytes.get(5).copied());
    if hlen == Some(6) && plen == Some(4) && bytes.len() >= 28 {
        let mac = |at: usize| <[u8; 6]>::try_from(&bytes[at..at + 6]).unwrap_or_default();
        let ip = |at: usize| std::net::Ipv4Addr::new(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
        info.ethernet_ipv4 =
            Some(ArpEthIpv4 { sender_mac: mac(8), sender_ip: ip(14), target_mac: mac(18), target_ip: ip(24) });
        info.len = 28;
    }
    info
}

fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::LinuxSllHeader => "Linux cooked header",
        Layer::Ethernet2Header => "Ethernet header",
        Layer::EtherPayload => "Ethernet payload",
        Layer::VlanHeader => "VLAN tag",
        Layer::MacsecHeader | Layer::MacsecPacket => "MACsec header",
        Layer::IpHeader => "IP header",
        Layer::Ipv4Header => "IPv4 header",
        Layer::Ipv4Packet => "IPv4 packet",
        Layer::IpAuthHeader => "IP authentication header",
        Layer::Ipv6Header => "IPv6 header",
        Layer::Ipv6Packet => "IPv6 packet",
        Layer::Ipv6ExtHeader => "IPv6 extension header",
        Layer::Ipv6HopByHopHeader => "IPv6 hop-by-hop header",
        Layer::Ipv6DestOptionsHeader => "IPv6 destination options header",
        Layer::Ipv6RouteHeader => "IPv6 routing header",
        Layer::Ipv6FragHeader => "IPv6 fragment header",
        Layer::UdpHeader => "UDP header",
        Layer::UdpPayload => "UDP payload",
        Layer::TcpHeader => "TCP header",
        Layer::Icmpv4 | Layer::Icmpv4Timestamp | Layer::Icmpv4TimestampReply => "ICMP header",
        Layer::Icmpv6 => "ICMPv6 header",
        Layer::Igmp => "IGMP header",
        Layer::Arp => "ARP packet",
    }
}

fn describe_slice_error(err: &SliceError, layer: Layer) -> DecodeError {
    match err {
        SliceError::Len(len) => truncated(layer_name(len.layer), len.len, len.required_len),
        other => DecodeError::Invalid(format!("bad {}: {other}", layer_name(layer))),
    }
}
