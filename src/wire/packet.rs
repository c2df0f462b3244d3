//! The decoded view of one captured frame, layer by layer. It borrows the frame's bytes and allocates nothing, so
//! decoding stays cheap enough to keep up with a flood. A layer that could not be decoded leaves the later layers
//! empty and sets `malformed`; the layers before it stay filled in, so a printer can show how far decoding got
//! (and, for a damaged TCP or UDP header, `partial` holds the fields tcpdump still prints of it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::DecodeError;
use super::linktype::LinkType;
use super::segment::{TcpFlags, TcpSegment};

/// One decoded frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    pub link: Link,
    pub net: Net,
    pub transport: Transport<'a>,
    pub malformed: Option<DecodeError>,
    /// What was read of a TCP or UDP header that could not be decoded (`malformed` says why), for a printer to show
    /// what tcpdump shows of it; `transport` stays `None` then.
    pub partial: Option<PartialTransport>,
}

/// The part of a damaged TCP or UDP header that tcpdump still prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartialTransport {
    /// A TCP header cut short of its 20 bytes (tcpdump's `[|tcp]`), or whose data offset is below 5 words or runs
    /// past the IP payload (`bad hdr length`).
    Tcp {
        /// The ports, when their four bytes were there.
        ports: Option<(u16, u16)>,
        /// The flags and the header length the data offset gives, when the 20 bytes were there.
        header: Option<(TcpFlags, u8)>,
        /// The IP payload length, as the IP header announces it.
        ip_payload_len: u32,
    },
    /// A UDP header cut short of its 8 bytes (tcpdump's `truncated-udp`, `[|udp]`), or whose length field is below
    /// 8 (`truncated-udplength`) or beyond the IP payload (`bad length`).
    Udp {
        /// The ports, when their four bytes were there.
        ports: Option<(u16, u16)>,
        /// The length field, when its two bytes were there.
        length: Option<u16>,
        /// The bytes of the header and payload that were captured, within the IP payload.
        captured: u32,
        /// The IP payload length, as the IP header announces it.
        ip_payload_len: u32,
    },
}

/// What the link layer said: the capture's link type, Ethernet addresses when there were any, and VLAN tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub link_type: LinkType,
    pub ethernet: Option<EthernetInfo>,
    pub vlans: Vlans,
    /// The protocol the link layer announced for its payload (an EtherType, or the address family mapped to one).
    pub ether_type: Option<u16>,
    /// Bytes of link-layer header, VLAN tags and encapsulations included: where the network layer starts.
    pub header_len: u16,
    /// Headers looked past between the link header and the network layer (MPLS labels, PPPoE, ...).
    pub encaps: Encaps,
}

/// One header between the link layer and IP that the decoder looked past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// An MPLS label stack entry (RFC 3032 §2.1; the EXP bits renamed Traffic Class by RFC 5462).
    Mpls { label: u32, tc: u8, bottom: bool, ttl: u8 },
    /// A PPPoE session-stage header (RFC 2516 §4): its version and type nibbles (both 1 in RFC 2516), code (0 for
    /// session data), session ID and length field, and how many bytes were captured after it (at most 65,535, which
    /// the 16-bit length can never exceed), so the printer can note a length past the frame as tcpdump does.
    PppoeSession { version_type: u8, code: u8, session: u16, length: u16, captured_after: u16 },
    /// PPP's protocol field (RFC 1661 §2), on PPP links and inside PPPoE.
    Ppp { protocol: u16 },
    /// An 802.1ah (PBB) I-tag's service instance identifier; an inner Ethernet header follows it.
    Pbb { isid: u32 },
    /// A VN-Tag (IEEE 802.1Qbh draft, EtherType 0x8926): destination and source virtual interfaces.
    VnTag { dst_vif: u16, src_vif: u16 },
    /// A Cisco FabricPath header (EtherType 0x8903 after the outer MACs): forwarding tag and TTL.
    FabricPath { ftag: u16, ttl: u8 },
    /// A Frame Relay RFC 2427 header: its Q.922 address length and whether a pad byte preceded the NLPID (RFC 2427
    /// §2.3 pads to an even header; tcpdump expects the pad with 3-byte addresses only, and says so otherwise).
    FrameRelay { address_len: u8, padded: bool },
}

/// The most encapsulation headers kept per packet; more are counted in `deeper`.
pub const MAX_ENCAPS: usize = 8;

/// Encapsulation headers, outermost first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encaps {
    items: [Encap; MAX_ENCAPS],
    len: u8,
    pub deeper: u8,
}

impl Default for Encaps {
    /// The unused slots hold the first variant with every field zero, so a fresh `Encaps` (one per decoded frame)
    /// is all zero bytes, written with a few wide stores rather than slot by slot.
    fn default() -> Self {
        Encaps { items: [Encap::Mpls { label: 0, tc: 0, bottom: false, ttl: 0 }; MAX_ENCAPS], len: 0, deeper: 0 }
    }
}

impl Encaps {
    pub fn push(&mut self, encap: Encap) {
        if (self.len as usize) < MAX_ENCAPS {
            self.items[self.len as usize] = encap;
            self.len += 1;
        } else {
            self.deeper = self.deeper.saturating_add(1);
        }
    }

    pub fn as_slice(&self) -> &[Encap] {
        &self.items[..self.len as usize]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EthernetInfo {
    pub src: [u8; 6],
    pub dst: [u8; 6],
    /// The outermost EtherType, before any VLAN tag (0x8100 or 0x88a8 for tagged frames).
    pub outer_ether_type: u16,
}

/// Up to two VLAN tags (802.1Q, and 802.1ad QinQ), outermost first. Deeper stacks are counted, not stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vlans {
    tags: [VlanTag; 2],
    len: u8,
    pub deeper: u8,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VlanTag {
    pub id: u16,
    pub priority: u8,
    /// The EtherType carried inside this tag.
    pub inner_ether_type: u16,
}

impl Vlans {
    pub fn push(&mut self, tag: VlanTag) {
        if (self.len as usize) < self.tags.len() {
            self.tags[self.len as usize] = tag;
            self.len += 1;
        } else {
            self.deeper = self.deeper.saturating_add(1);
        }
    }

    pub fn as_slice(&self) -> &[VlanTag] {
        &self.tags[..self.len as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The network layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Net {
    /// Nothing decoded at this layer (the link layer failed, or the frame ended).
    None,
    Ipv4(Ipv4Info),
    Ipv6(Ipv6Info),
    Arp(ArpInfo),
    /// A link payload we do not decode, by EtherType.
    Other {
        ether_type: u16,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Info {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub tos: u8,
    pub id: u16,
    pub protocol: u8,
    pub header_len: u16,
    pub total_len: u16,
    pub dont_fragment: bool,
    pub more_fragments: bool,
    /// Fragment offset in bytes.
    pub fragment_offset: u16,
    pub checksum: u16,
}

impl Ipv4Info {
    /// RFC 791: a datagram is a fragment when MF is set or the offset is non-zero.
    pub fn is_fragment(&self) -> bool {
        self.more_fragments || self.fragment_offset != 0
    }
}

/// The most extension headers we list per packet; more are counted in `extensions_truncated`.
pub const MAX_LISTED_EXTENSIONS: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Info {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub traffic_class: u8,
    pub flow_label: u32,
    pub payload_len: u16,
    /// Bytes after the extension headers, as the header announces them.
    pub upper_len: u32,
    /// The protocol after the extension headers.
    pub next_header: u8,
    extensions: [u8; MAX_LISTED_EXTENSIONS],
    extension_count: u8,
    pub fragment: Option<Ipv6Fragment>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv6Fragment {
    pub id: u32,
    /// Offset in bytes.
    pub offset: u16,
    pub more_fragments: bool,
}

impl Ipv6Info {
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr) -> Self {
        Ipv6Info {
            src,
            dst,
            hop_limit: 0,
            traffic_class: 0,
            flow_label: 0,
            payload_len: 0,
            upper_len: 0,
            next_header: 0,
            extensions: [0; MAX_LISTED_EXTENSIONS],
            extension_count: 0,
            fragment: None,
        }
    }

    /// Records an extension header by its protocol number (0 hop-by-hop, 43 routing, 44 fragment, 60 dest opts, 51 AH).
    pub fn push_extension(&mut self, protocol: u8) {
        if (self.extension_count as usize) < MAX_LISTED_EXTENSIONS {
            self.extensions[self.extension_count as usize] = protocol;
            self.extension_count += 1;
        }
    }

    pub fn extensions(&self) -> &[u8] {
        &self.extensions[..self.extension_count as usize]
    }
}

/// An ARP packet. Only Ethernet/IPv4 ARP carries addresses we show; others keep their hardware and protocol types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpInfo {
    pub operation: u16,
    pub hardware_type: u16,
    pub protocol_type: u16,
    pub ethernet_ipv4: Option<ArpEthIpv4>,
    pub len: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpEthIpv4 {
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_mac: [u8; 6],
    pub target_ip: Ipv4Addr,
}

/// The transport layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport<'a> {
    None,
    Tcp(TcpSegment<'a>),
    Udp(UdpInfo),
    Icmp(IcmpInfo),
    /// A non-first IP fragment: its transport header is in another packet.
    Fragment {
        protocol: u8,
        len: u32,
    },
    /// A transport protocol we do not decode, by IP protocol number.
    Other {
        protocol: u8,
        len: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpInfo {
    pub src_port: u16,
    pub dst_port: u16,
    /// The UDP length field: header plus payload.
    pub length: u16,
    pub checksum: u16,
}

impl UdpInfo {
    pub fn payload_len(&self) -> u16 {
        self.length.saturating_sub(8)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcmpInfo {
    /// ICMPv6 (RFC 4443) rather than ICMP (RFC 792).
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    /// The four bytes after the checksum: identifier and sequence for echo messages.
    pub rest: [u8; 4],
    /// ICMP message length, header included.
    pub len: u32,
}

impl IcmpInfo {
    pub fn is_echo(&self) -> bool {
        matches!((self.v6, self.icmp_type), (false, 0 | 8) | (true, 128 | 129))
    }
}

impl Packet<'_> {
    /// A frame of `link_type` with nothing decoded yet: where [`super::decode::decode`] starts.
    pub fn undecoded(link_type: LinkType) -> Self {
        Packet {
            link: Link {
                link_type,
                ethernet: None,
                vlans: Vlans::default(),
                encaps: Encaps::default(),
                ether_type: None,
                header_len: 0,
            },
            net: Net::None,
            transport: Transport::None,
            malformed: None,
            partial: None,
        }
    }

    pub fn src_ip(&self) -> Option<IpAddr> {
        match &self.net {
            Net::Ipv4(ip) => Some(IpAddr::V4(ip.src)),
            Net::Ipv6(ip) => Some(IpAddr::V6(ip.src)),
            _ => None,
        }
    }

    pub fn dst_ip(&self) -> Option<IpAddr> {
        match &self.net {
            Net::Ipv4(ip) => Some(IpAddr::V4(ip.dst)),
            Net::Ipv6(ip) => Some(IpAddr::V6(ip.dst)),
            _ => None,
        }
    }

    /// Transport ports for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match &self.transport {
            Transport::Tcp(t) => Some((t.src_port, t.dst_port)),
            Transport::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        }
    }

    pub fn tcp(&self) -> Option<&TcpSegment<'_>> {
        match &self.transport {
            Transport::Tcp(t) => Some(t),
            _ => None,
        }
    }

    /// The IP protocol number of the transport, also for fragments and undecoded protocols.
    pub fn ip_protocol(&self) -> Option<u8> {
        match &self.net {
            Net::Ipv4(ip) => Some(ip.protocol),
            Net::Ipv6(ip) => Some(ip.next_header),
            _ => None,
        }
    }

    pub fn is_fragment(&self) -> bool {
        match &self.net {
            Net::Ipv4(ip) => ip.is_fragment(),
            Net::Ipv6(ip) => ip.fragment.is_some(),
            _ => false,
        }
    }
}
