//! Frame decoding: link layer by hand (the headers etherparse does not know, and the address-family quirks of BSD
//! loopback), everything from the EtherType inwards by etherparse's lax slicer, which keeps the layers it could read
//! when a later one is damaged (plain IPv4, the common case, is read by hand to the same result: `plain_ipv4`).
//! Nothing here panics on any input: a damaged layer becomes `Packet::malformed`.

use std::net::Ipv4Addr;

use etherparse::err::Layer;
use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::{ArpPacketSlice, IpNumber, LaxIpPayloadSlice, LaxIpSlice, LenSource, UdpSlice};

use super::DecodeError;
use super::ipv6_ext::ExtensionWalk;
use super::link::{self, Next};
use super::linktype::LinkType;
use super::packet::*;
use super::segment::{TcpFlags, TcpSegment};
use super::vlan;

use super::link::{ETHERTYPE_IPV4, ETHERTYPE_IPV6};

/// Decodes one captured frame of the given link type.
pub fn decode(link_type: LinkType, frame: &[u8]) -> Packet<'_> {
    let mut packet = Packet::undecoded(link_type);
    decode_in_place(frame, &mut packet);
    packet
}

/// [`decode`] into a packet the caller holds, which must be [`Packet::undecoded`] for the frame's link type. The
/// engine decodes every frame this way: returning the 336-byte `Packet` by value cost a copy of it per frame
/// (`decode`'s memcpy, 64 instructions per packet in callgrind).
pub fn decode_in_place<'a>(frame: &'a [u8], packet: &mut Packet<'a>) {
    if let Err(err) = decode_into(packet.link.link_type, frame, packet) {
        packet.malformed = Some(err);
    }
}

fn truncated(what: &'static str, got: usize, need: usize) -> DecodeError {
    DecodeError::Truncated { what, got, need }
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

/// Walks the layers one by one with etherparse's per-layer slices. (etherparse's all-in-one `LaxSlicedPacket`
/// passes a 300-byte struct by value through every layer, which cost a third of our decode time.)
fn decode_into<'a>(link_type: LinkType, frame: &'a [u8], packet: &mut Packet<'a>) -> Result<(), DecodeError> {
    let first = match link_type {
        LinkType::Ethernet => match untagged_ethernet_ip(frame, packet) {
            Some((ether_type, payload)) => return ip(ether_type, payload, packet),
            None => Next::Ethernet(frame),
        },
        LinkType::LinuxSll => {
            // 16-byte header; protocol at offset 14 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html).
            if frame.len() < 16 {
                return Err(truncated("Linux cooked header", frame.len(), 16));
            }
            Next::EtherType(be16(&frame[14..16]), &frame[16..])
        }
        LinkType::LinuxSll2 => {
            // 20-byte header; protocol at offset 0 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html).
            if frame.len() < 20 {
                return Err(truncated("Linux cooked v2 header", frame.len(), 20));
            }
            Next::EtherType(be16(&frame[0..2]), &frame[20..])
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
            Next::EtherType(ether_type, &frame[4..])
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
            Next::EtherType(if version == 6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 }, frame)
        }
        // Every other link type is `link`'s; one it does not know of carries nothing we decode.
        other => link::link_header(other, frame, &mut packet.link.encaps).unwrap_or(Ok(Next::Opaque(frame)))?,
    };
    layers(first, frame, packet)
}

/// The most link headers and encapsulations followed per frame (an Ethernet header, tags, PBB, MPLS...): a bound
/// beyond any real stack. Each step also consumes bytes, so the frame's length bounds the walk too.
const MAX_LAYERS: usize = 32;

/// From the first link-level step to the network layer, through any encapsulations ([`link::encap::step`]).
/// `header_len` follows each step, so a printer knows where the undecoded part starts whatever fails.
fn layers<'a>(mut next: Next<'a>, frame: &'a [u8], packet: &mut Packet<'a>) -> Result<(), DecodeError> {
    let offset = |rest: &[u8]| (frame.len() - rest.len()) as u16;
    // The last protocol an EtherType named, and where its payload started: what an opaque payload is shown as.
    let mut last: Option<(u16, u16)> = None;
    for _ in 0..MAX_LAYERS {
        match next {
            Next::Ethernet(bytes) => {
                packet.link.header_len = offset(bytes);
                let (ether_type, payload) = ethernet(bytes, packet)?;
                next = Next::EtherType(ether_type, payload);
            }
            Next::EtherType(ether_type, payload) => {
                packet.link.header_len = offset(payload);
                packet.link.ether_type = Some(ether_type);
                last = Some((ether_type, offset(payload)));
                match link::encap::step(ether_type, payload, &mut packet.link) {
                    Some(stepped) => next = stepped?,
                    None => return network(ether_type, payload, packet),
                }
            }
            Next::Opaque(payload) => {
                packet.link.header_len = offset(payload);
                if let Some((ether_type, at)) = last {
                    packet.net = Net::Other { ether_type };
                    packet.link.header_len = at;
                }
                return Ok(());
            }
        }
    }
    Err(DecodeError::Invalid(format!("more than {MAX_LAYERS} nested link headers")))
}

/// The common frame, Ethernet II straight to IPv4 or IPv6 with no tag: records what [`layers`] records for it (the
/// addresses, the EtherType, a 14-byte link header) and answers the EtherType and the IP header's bytes, without the layer walk, the
/// VLAN walk and the encapsulation step (measured: decode_in_place 259 -> 225 instructions per packet). Any other
/// frame is `None`, for [`layers`].
#[inline]
fn untagged_ethernet_ip<'a>(frame: &'a [u8], packet: &mut Packet<'a>) -> Option<(u16, &'a [u8])> {
    let (header, payload) = frame.split_first_chunk::<{ vlan::ETHERNET_HEADER_LEN }>()?;
    let ether_type = u16::from_be_bytes([header[12], header[13]]);
    if ether_type != ETHERTYPE_IPV4 && ether_type != ETHERTYPE_IPV6 {
        return None;
    }
    let mac = |at: usize| -> [u8; 6] {
        [header[at], header[at + 1], header[at + 2], header[at + 3], header[at + 4], header[at + 5]]
    };
    packet.link.ethernet = Some(EthernetInfo { src: mac(6), dst: mac(0), outer_ether_type: ether_type });
    packet.link.header_len = vlan::ETHERNET_HEADER_LEN as u16;
    packet.link.ether_type = Some(ether_type);
    Some((ether_type, payload))
}

/// Ethernet II (IEEE 802.3 clause 3) and any stack of VLAN tags ([`vlan::is_tpid`]: 802.1Q, 802.1ad, 0x9100).
fn ethernet<'a>(frame: &'a [u8], packet: &mut Packet<'a>) -> Result<(u16, &'a [u8]), DecodeError> {
    if frame.len() < vlan::ETHERNET_HEADER_LEN {
        return Err(truncated("Ethernet header", frame.len(), vlan::ETHERNET_HEADER_LEN));
    }
    let mac = |at: usize| -> [u8; 6] {
        [frame[at], frame[at + 1], frame[at + 2], frame[at + 3], frame[at + 4], frame[at + 5]]
    };
    let outer = be16(&frame[12..14]);
    // An inner frame (802.1ah, FabricPath) keeps the outer addresses, the ones on the wire.
    if packet.link.ethernet.is_none() {
        packet.link.ethernet = Some(EthernetInfo { src: mac(6), dst: mac(0), outer_ether_type: outer });
    }
    let link = &mut packet.link;
    let walked = vlan::walk(frame, |tag| {
        link.ether_type = Some(tag.tpid);
        link.vlans.push(VlanTag {
            id: tag.tci & 0x0fff,
            priority: (tag.tci >> 13) as u8,
            inner_ether_type: tag.inner_ether_type,
        });
    });
    match walked {
        Ok((ether_type, at)) => Ok((ether_type, &frame[at..])),
        Err(vlan::TagError::TruncatedTag { tpid, got }) => {
            link.ether_type = Some(tpid);
            Err(truncated("VLAN tag", got, vlan::TAG_LEN))
        }
        Err(vlan::TagError::NoEthernetHeader { got }) => {
            Err(truncated("Ethernet header", got, vlan::ETHERNET_HEADER_LEN))
        }
    }
}

/// From the link layer's protocol field inwards. Values below 0x0600 are not EtherTypes (802.3 lengths, or the
/// cooked header's pseudo-protocols such as 0x0004 for 802.2 LLC) and, like other protocols, are shown by number.
fn network<'a>(ether_type: u16, payload: &'a [u8], packet: &mut Packet<'a>) -> Result<(), DecodeError> {
    packet.link.ether_type = Some(ether_type);
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => ip(ether_type, payload, packet),
        0x0806 => {
            let arp =
                ArpPacketSlice::from_slice(payload).map_err(|e| truncated("ARP packet", e.len, e.required_len))?;
            packet.net = Net::Arp(decode_arp(arp.slice()));
            Ok(())
        }
        other => {
            packet.net = Net::Other { ether_type: other };
            Ok(())
        }
    }
}

/// The IP header `ether_type` announces (IPv4's or IPv6's EtherType: the link layer, not the version nibble, says
/// which).
fn ip<'a>(ether_type: u16, bytes: &'a [u8], packet: &mut Packet<'a>) -> Result<(), DecodeError> {
    // `plain_ipv4` reads only version 4, so behind IPv4's EtherType it needs no version check; the check runs
    // only before the general path (checking every packet first cost 12 instructions per packet, callgrind).
    let plain = if ether_type == ETHERTYPE_IPV4 { plain_ipv4(bytes, packet) } else { None };
    let payload = match plain {
        Some(payload) => payload,
        None => {
            check_version(ether_type, bytes)?;
            any_ip(bytes, packet)?
        }
    };
    upper_layer(&payload, packet)
}

/// tcpdump picks IPv4 or IPv6 by the EtherType and calls a header of the other version invalid (print-ip.c's
/// "IP6, wrong link-layer encapsulation", print-ip6.c's check of the version): so does this, rather than decoding
/// the header as the version its nibble names. Other versions are left to the header's own check, as before.
#[inline]
fn check_version(ether_type: u16, bytes: &[u8]) -> Result<(), DecodeError> {
    let Some(first) = bytes.first() else { return Ok(()) };
    let announced = if ether_type == ETHERTYPE_IPV6 { 6 } else { 4 };
    // 4 ^ 6 == 2: the nibble names the other IP version.
    if (first >> 4) ^ announced == 2 {
        return Err(version_mismatch(first >> 4, ether_type, announced));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn version_mismatch(version: u8, ether_type: u16, announced: u8) -> DecodeError {
    DecodeError::Invalid(format!(
        "IPv{version} header behind EtherType 0x{ether_type:04x}, which announces IPv{announced}"
    ))
}

/// The common case, IPv4 without an authentication header, read by hand: the same fields, payload bounds and
/// `fragmented`/`incomplete` flags etherparse's `LaxIpSlice::from_slice` gives for it (etherparse 0.21,
/// `lax_ip_slice.rs`), without building and matching on its large result (measured: `read -q` 2386 -> 2332 instructions
/// per packet). Anything else (IPv6, an IHL below 5, a header longer than the frame, AH) is `None`, for
/// [`any_ip`]; the two agree on every input where this answers (the `plain_ipv4_agrees_with_etherparse` proptest).
fn plain_ipv4<'a>(bytes: &'a [u8], packet: &mut Packet<'a>) -> Option<LaxIpPayloadSlice<'a>> {
    let first = *bytes.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < 20 || bytes.len() < header_len {
        return None;
    }
    let h: &[u8; 20] = bytes.first_chunk()?;
    let protocol = h[9];
    if protocol == etherparse::ip_number::AUTH.0 {
        return None;
    }
    let total_len = be16(&h[2..4]);
    // etherparse's lax bounds (RFC 791's total length, trusted only when it is consistent): a total length below
    // the header's is ignored and the frame's length used; one beyond the frame marks the payload incomplete.
    let announced = usize::from(total_len);
    let (end, len_source, incomplete) = if announced < header_len {
        (bytes.len(), LenSource::Slice, false)
    } else if bytes.len() < announced {
        (bytes.len(), LenSource::Slice, true)
    } else {
        (announced, LenSource::Ipv4HeaderTotalLen, false)
    };
    // Flags and fragment offset share bytes 6..8: reserved, DF, MF, then 13 bits of offset in 8-byte units.
    let offset_units = be16(&h[6..8]) & 0x1fff;
    let more_fragments = h[6] & 0x20 != 0;
    packet.net = Net::Ipv4(Ipv4Info {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        ttl: h[8],
        tos: h[1],
        id: be16(&h[4..6]),
        protocol,
        header_len: header_len as u16,
        total_len,
        dont_fragment: h[6] & 0x40 != 0,
        more_fragments,
        fragment_offset: offset_units.wrapping_mul(8),
        checksum: be16(&h[10..12]),
    });
    Some(LaxIpPayloadSlice {
        incomplete,
        ip_number: IpNumber(protocol),
        fragmented: more_fragments || offset_units != 0,
        len_source,
        payload: &bytes[header_len..end],
    })
}

/// Any IP header, by etherparse's lax slicer: IPv6 and its extension headers, IPv4 with AH, and the damaged ones.
fn any_ip<'a>(bytes: &'a [u8], packet: &mut Packet<'a>) -> Result<LaxIpPayloadSlice<'a>, DecodeError> {
    let (sliced, extension_error) = LaxIpSlice::from_slice(bytes).map_err(|e| match e {
        LaxHeaderSliceError::Len(len) => truncated(layer_name(len.layer), len.len, len.required_len),
        LaxHeaderSliceError::Content(content) => DecodeError::Invalid(format!("bad IP header: {content}")),
    })?;
    let payload = match &sliced {
        LaxIpSlice::Ipv4(v4) => {
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
            packet.net = Net::Ipv4(info);
            v4.payload().clone()
        }
        LaxIpSlice::Ipv6(v6) => {
            let h = v6.header();
            let mut info = Ipv6Info::new(h.source_addr(), h.destination_addr());
            info.hop_limit = h.hop_limit();
            info.traffic_class = h.traffic_class();
            info.flow_label = h.flow_label().value();
            info.payload_len = h.payload_length();
            // Only the bytes etherparse's lax parse validated, walked with our own bounds checks: its iterator
            // reads past them after an extension error (see `ipv6_ext`).
            for ext in ExtensionWalk::new(h.next_header().0, v6.extensions().slice()) {
                info.push_extension(ext.protocol);
                if let Some(frag) = ext.fragment {
                    info.fragment =
                        Some(Ipv6Fragment { id: frag.id, offset: frag.offset, more_fragments: frag.more_fragments });
                }
            }
            let payload = v6.payload();
            info.next_header = payload.ip_number.0;
            info.upper_len = if payload.incomplete {
                u32::from(info.payload_len).saturating_sub(v6.extensions().slice().len() as u32)
            } else {
                payload.payload.len() as u32
            };
            packet.net = Net::Ipv6(info);
            payload.clone()
        }
    };
    if let Some((err, layer)) = extension_error {
        return Err(match err {
            etherparse::err::ipv6_exts::HeaderSliceError::Len(len) => {
                truncated(layer_name(len.layer), len.len, len.required_len)
            }
            etherparse::err::ipv6_exts::HeaderSliceError::Content(
                etherparse::err::ipv6_exts::HeaderError::HopByHopNotAtStart,
            ) => DecodeError::Invalid(format!(
                "bad {}: not directly after the IPv6 header (RFC 8200 §4.1)",
                layer_name(layer)
            )),
            etherparse::err::ipv6_exts::HeaderSliceError::Content(c) => {
                DecodeError::Invalid(format!("bad {}: {c}", layer_name(layer)))
            }
        });
    }
    Ok(payload)
}

/// From the IP payload: what it announces, and the transport header.
fn upper_layer<'a>(payload: &LaxIpPayloadSlice<'a>, packet: &mut Packet<'a>) -> Result<(), DecodeError> {
    let announced = match &packet.net {
        Net::Ipv4(info) if payload.incomplete => u32::from(info.total_len.saturating_sub(info.header_len)),
        Net::Ipv6(info) => info.upper_len,
        _ => payload.payload.len() as u32,
    };
    transport(packet, payload, announced)
}

/// The transport header, into `packet.transport`; a damaged one is `Err`, with what a printer can still show of it in
/// `packet.partial`. A first fragment still carries it, and tcpdump decodes it, so we do too; later fragments only
/// carry data. Each arm writes the packet's field itself: returning a `Result<Transport, _>` for the caller to store
/// cost two copies of it (measured: `read -q` 2264 -> 2228 instructions per packet).
fn transport<'a>(packet: &mut Packet<'a>, payload: &LaxIpPayloadSlice<'a>, announced: u32) -> Result<(), DecodeError> {
    let protocol = payload.ip_number.0;
    let bytes = payload.payload;
    if payload.fragmented {
        let first_fragment = match &packet.net {
            Net::Ipv4(ip) => ip.fragment_offset == 0,
            Net::Ipv6(ip) => ip.fragment.is_some_and(|f| f.offset == 0),
            _ => false,
        };
        if !first_fragment {
            packet.transport = Transport::Fragment { protocol, len: announced };
            return Ok(());
        }
    }
    // A fragment or a snap-length cut holds less than the lengths inside it describe: slice leniently then.
    let partial = payload.fragmented || payload.incomplete;
    match protocol {
        6 => match tcp_segment(bytes, announced) {
            Some(segment) => packet.transport = Transport::Tcp(segment),
            None => {
                let error = tcp_error(bytes);
                // What tcpdump stops at: fewer than 20 bytes, or a data offset below 5 words or past the IP
                // payload. A header whole in the packet but cut by the snap length goes on to its options there,
                // which this does not follow.
                let header = (bytes.len() >= 20).then(|| (TcpFlags(u16::from(bytes[13])), (bytes[12] >> 4) * 4));
                let stops = match header {
                    None => true,
                    Some((_, header_len)) => header_len < 20 || u32::from(header_len) > announced,
                };
                let partial = PartialTransport::Tcp { ports: ports(bytes), header, ip_payload_len: announced };
                packet.partial = stops.then_some(partial);
                return Err(error);
            }
        },
        17 => {
            let udp = if partial { UdpSlice::from_slice_lax(bytes) } else { UdpSlice::from_slice(bytes) };
            match udp {
                Ok(udp) => packet.transport = Transport::Udp(udp_info(&udp)),
                Err(e) => {
                    let partial = PartialTransport::Udp {
                        ports: ports(bytes),
                        length: bytes.get(4..6).map(be16),
                        captured: bytes.len() as u32,
                        ip_payload_len: announced,
                    };
                    packet.partial = Some(partial);
                    return Err(truncated(layer_name(e.layer), e.len, e.required_len));
                }
            }
        }
        1 | 58 => {
            if bytes.len() < 8 {
                let what = if protocol == 1 { "ICMP header" } else { "ICMPv6 header" };
                return Err(truncated(what, bytes.len(), 8));
            }
            packet.transport = Transport::Icmp(icmp_info(protocol == 58, bytes, announced));
        }
        // A first fragment of another protocol is shown as that protocol, as an unfragmented packet would be.
        _ => packet.transport = Transport::Other { protocol, len: announced },
    }
    Ok(())
}

/// The source and destination ports at the start of a TCP or UDP header, when their four bytes are there.
fn ports(header: &[u8]) -> Option<(u16, u16)> {
    Some((be16(header.get(0..2)?), be16(header.get(2..4)?)))
}

/// RFC 9293 §3.1's header, read by hand: the fields, options and payload etherparse's `TcpSlice::from_slice` gives
/// (`tcp_header_agrees_with_etherparse`), without building its slice and result (measured: `read -q --no-track`
/// 261 -> 259 instructions per packet in `decode_in_place`, callgrind). `None` when the header is damaged:
/// [`tcp_error`] says how.
#[inline]
fn tcp_segment(bytes: &[u8], announced_ip_payload: u32) -> Option<TcpSegment<'_>> {
    let h = bytes.first_chunk::<20>()?;
    let header_len = tcp_header_len(h);
    if header_len < 20 || bytes.len() < header_len {
        return None;
    }
    let word = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    Some(TcpSegment {
        src_port: be16(&h[0..2]),
        dst_port: be16(&h[2..4]),
        seq: word(4),
        ack: word(8),
        // Flags are the low 9 bits of bytes 12..14 (NS/AE in byte 12, the classic eight in byte 13).
        flags: TcpFlags(be16(&h[12..14]) & 0x01ff),
        window: be16(&h[14..16]),
        checksum: be16(&h[16..18]),
        urgent: be16(&h[18..20]),
        header_len: header_len as u8,
        options_raw: &bytes[20..header_len],
        payload_len: announced_ip_payload.saturating_sub(header_len as u32),
        payload: &bytes[header_len..],
    })
}

/// The data offset, in 32-bit words, is the high nibble of byte 12.
fn tcp_header_len(header: &[u8; 20]) -> usize {
    usize::from(header[12] >> 4) * 4
}

/// Why [`tcp_segment`] refused `bytes`, in the words etherparse's errors gave us.
#[cold]
fn tcp_error(bytes: &[u8]) -> DecodeError {
    let Some(h) = bytes.first_chunk::<20>() else {
        return truncated("TCP header", bytes.len(), 20);
    };
    let header_len = tcp_header_len(h);
    if header_len < 20 {
        let data_offset = header_len / 4;
        return DecodeError::Invalid(format!(
            "bad TCP header: data offset {data_offset} is below the minimum of 5 words"
        ));
    }
    truncated("TCP header", bytes.len(), header_len)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the general path makes of `bytes` as an IP packet, for comparison with the fast one.
    fn by_etherparse(bytes: &[u8]) -> Packet<'_> {
        let mut packet = Packet::undecoded(LinkType::RawIp);
        packet.link.ether_type = Some(ETHERTYPE_IPV4);
        let result = any_ip(bytes, &mut packet).and_then(|payload| upper_layer(&payload, &mut packet));
        if let Err(err) = result {
            packet.malformed = Some(err);
        }
        packet
    }

    /// What etherparse's `TcpSlice` makes of `bytes`, as the decoder read TCP headers before `tcp_segment`.
    fn tcp_by_etherparse(bytes: &[u8], announced: u32) -> Result<TcpSegment<'_>, DecodeError> {
        use etherparse::err::tcp::{HeaderError, HeaderSliceError};
        match etherparse::TcpSlice::from_slice(bytes) {
            Ok(tcp) => {
                let header = tcp.header_slice();
                let header_len = header.len() as u8;
                Ok(TcpSegment {
                    src_port: tcp.source_port(),
                    dst_port: tcp.destination_port(),
                    seq: tcp.sequence_number(),
                    ack: tcp.acknowledgment_number(),
                    flags: TcpFlags(u16::from_be_bytes([header[12], header[13]]) & 0x01ff),
                    window: tcp.window_size(),
                    urgent: tcp.urgent_pointer(),
                    checksum: tcp.checksum(),
                    header_len,
                    options_raw: &header[20..],
                    payload_len: announced.saturating_sub(u32::from(header_len)),
                    payload: tcp.payload(),
                })
            }
            Err(HeaderSliceError::Len(l)) => Err(truncated("TCP header", bytes.len().min(l.len), l.required_len)),
            Err(HeaderSliceError::Content(HeaderError::DataOffsetTooSmall { data_offset })) => {
                Err(DecodeError::Invalid(format!(
                    "bad TCP header: data offset {data_offset} is below the minimum of 5 words"
                )))
            }
        }
    }

    proptest! {
        /// The hand-read TCP header gives etherparse's fields, options and payload, and the same error for a
        /// damaged header, on any bytes and any data offset.
        #[test]
        fn tcp_header_agrees_with_etherparse(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..80),
            data_offset in 0u8..16,
            announced in 0u32..200,
        ) {
            if let Some(byte) = bytes.get_mut(12) {
                *byte = data_offset << 4 | *byte & 0x0f;
            }
            let ours = tcp_segment(&bytes, announced).ok_or_else(|| tcp_error(&bytes));
            prop_assert_eq!(ours, tcp_by_etherparse(&bytes, announced));
        }

        /// On any bytes that start like IPv4 (any IHL, total length near the frame's, fragment bits, common
        /// protocols and AH), decoding gives the packet etherparse's lax slicer gives. (An empty frame is the link
        /// layer's to refuse, before either.)
        #[test]
        fn plain_ipv4_agrees_with_etherparse(
            mut bytes in proptest::collection::vec(any::<u8>(), 1..96),
            ihl in 0u8..16,
            total_len in 0u16..110,
            protocol in prop_oneof![Just(6u8), Just(17), Just(1), Just(51), Just(58), any::<u8>()],
            flags in any::<u8>(),
        ) {
            if let Some(first) = bytes.first_mut() {
                *first = 0x40 | ihl;
            }
            if bytes.len() >= 10 {
                bytes[2..4].copy_from_slice(&total_len.to_be_bytes());
                bytes[6] = flags & 0xe0 | bytes[6] & 0x1f;
                if flags & 1 == 0 {
                    // Often not a fragment, or a first one.
                    bytes[6] &= 0xe0;
                    bytes[7] = 0;
                }
                bytes[9] = protocol;
            }
            let fast = decode(LinkType::RawIp, &bytes);
            prop_assert_eq!(fast, by_etherparse(&bytes));
        }

        /// An untagged Ethernet frame carrying IP decodes to the packet the general layer walk makes of it.
        #[test]
        fn untagged_ethernet_agrees_with_the_layer_walk(
            mut bytes in proptest::collection::vec(any::<u8>(), 0..96),
            ether_type in prop_oneof![Just(ETHERTYPE_IPV4), Just(ETHERTYPE_IPV6), Just(0x8100u16), any::<u16>()],
            version in prop_oneof![Just(4u8), Just(6), any::<u8>()],
        ) {
            if bytes.len() >= 14 {
                bytes[12..14].copy_from_slice(&ether_type.to_be_bytes());
            }
            if let Some(first) = bytes.get_mut(14) {
                *first = version << 4 | *first & 0x0f;
            }
            let fast = decode(LinkType::Ethernet, &bytes);
            let mut walked = Packet::undecoded(LinkType::Ethernet);
            if let Err(err) = layers(Next::Ethernet(&bytes), &bytes, &mut walked) {
                walked.malformed = Some(err);
            }
            prop_assert_eq!(fast, walked);
        }
    }

    fn ethernet_frame(ether_type: u16, ip: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        frame.extend_from_slice(&ether_type.to_be_bytes());
        frame.extend_from_slice(ip);
        frame
    }

    /// tcpdump reads the IP version the EtherType names and calls another version's header invalid: a version-6
    /// header behind IPv4's EtherType is malformed, not IPv6, and the other way round.
    #[test]
    fn an_ip_version_the_ethertype_does_not_announce_is_malformed() {
        let mut v6 = vec![0u8; 60];
        v6[0] = 0x60;
        v6[6] = 6;
        let frame = ethernet_frame(ETHERTYPE_IPV4, &v6);
        let packet = decode(LinkType::Ethernet, &frame);
        assert_eq!(packet.net, Net::None);
        assert_eq!(
            packet.malformed,
            Some(DecodeError::Invalid("IPv6 header behind EtherType 0x0800, which announces IPv4".into()))
        );
        let mut v4 = vec![0u8; 40];
        v4[0] = 0x45;
        v4[3] = 40;
        v4[9] = 6;
        v4[32] = 0x50; // TCP data offset: 5 words
        let frame = ethernet_frame(ETHERTYPE_IPV6, &v4);
        let packet = decode(LinkType::Ethernet, &frame);
        assert_eq!(packet.net, Net::None);
        assert_eq!(
            packet.malformed,
            Some(DecodeError::Invalid("IPv4 header behind EtherType 0x86dd, which announces IPv6".into()))
        );
        // Behind a VLAN tag, through the general walk, too.
        let mut tagged = ethernet_frame(0x8100, &[0, 5]);
        tagged.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        tagged.extend_from_slice(&v6);
        let packet = decode(LinkType::Ethernet, &tagged);
        assert!(matches!(packet.malformed, Some(DecodeError::Invalid(ref m)) if m.starts_with("IPv6 header behind")));
        // The version the EtherType names still decodes.
        assert!(decode(LinkType::Ethernet, &ethernet_frame(ETHERTYPE_IPV4, &v4)).malformed.is_none());
    }
}
