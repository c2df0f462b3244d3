//! Building frames: SYN, SYN-ACK, ACK, RST, data segments and UDP datagrams, with etherparse's `PacketBuilder`
//! computing lengths and checksums. Pure: frames are appended to a caller's buffer, so a flood generator can reuse
//! one allocation.

use std::net::{IpAddr, SocketAddr};

use etherparse::{
    IpHeaders, IpNumber, Ipv4Extensions, Ipv4Header, Ipv6Extensions, Ipv6Header, PacketBuilder, PacketBuilderStep,
    TcpHeader, VlanId,
};

use super::segment::TcpFlags;

/// The Ethernet header of a crafted frame; `vlans` holds zero, one (802.1Q) or two (QinQ, outer first) tags.
#[derive(Clone, Copy, Debug)]
pub struct EthernetSpec<'a> {
    pub src: [u8; 6],
    pub dst: [u8; 6],
    pub vlans: &'a [u16],
}

impl EthernetSpec<'_> {
    /// The same link seen from the other end.
    pub fn reversed(&self) -> Self {
        EthernetSpec { src: self.dst, dst: self.src, vlans: self.vlans }
    }
}

/// IP header fields a crafted packet may choose.
#[derive(Clone, Copy, Debug)]
pub struct IpSpec {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    /// IPv4 identification (ignored for IPv6).
    pub id: u16,
}

#[derive(Clone, Copy, Debug)]
pub struct TcpSpec<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    /// Raw option bytes, a multiple of four long (pad with NOPs).
    pub options: &'a [u8],
    pub payload: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CraftError {
    #[error("source and destination are of different address families")]
    MixedFamilies,
    #[error("TCP options must be at most 40 bytes and a multiple of 4, got {0}")]
    BadOptions(usize),
    #[error("VLAN id {0} is outside 0..4095, or more than two tags")]
    BadVlan(u16),
    #[error("payload too large for one packet")]
    TooLarge,
}

/// Linux's SYN options in Linux's order: MSS, SACK-permitted, timestamps, NOP, window scale (tcp_options_write).
pub fn linux_syn_options(mss: u16, ts_val: u32, ts_ecr: u32, wscale: u8) -> [u8; 20] {
    let m = mss.to_be_bytes();
    let v = ts_val.to_be_bytes();
    let e = ts_ecr.to_be_bytes();
    [2, 4, m[0], m[1], 4, 2, 8, 10, v[0], v[1], v[2], v[3], e[0], e[1], e[2], e[3], 1, 3, 3, wscale]
}

/// The timestamp option as Linux sends it on established segments: NOP, NOP, TS.
pub fn timestamp_option(ts_val: u32, ts_ecr: u32) -> [u8; 12] {
    let v = ts_val.to_be_bytes();
    let e = ts_ecr.to_be_bytes();
    [1, 1, 8, 10, v[0], v[1], v[2], v[3], e[0], e[1], e[2], e[3]]
}

fn ip_headers(ip: &IpSpec, protocol: IpNumber) -> Result<IpHeaders, CraftError> {
    match (ip.src, ip.dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let mut header =
                Ipv4Header::new(0, ip.ttl, protocol, src.octets(), dst.octets()).map_err(|_| CraftError::TooLarge)?;
            header.identification = ip.id;
            header.dont_fragment = true;
            Ok(IpHeaders::Ipv4(header, Ipv4Extensions::default()))
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => Ok(IpHeaders::Ipv6(
            Ipv6Header {
                traffic_class: 0,
                flow_label: Default::default(),
                payload_length: 0,
                next_header: protocol,
                hop_limit: ip.ttl,
                source: src.octets(),
                destination: dst.octets(),
            },
            Ipv6Extensions::default(),
        )),
        _ => Err(CraftError::MixedFamilies),
    }
}

fn vlan_id(id: u16) -> Result<VlanId, CraftError> {
    VlanId::try_new(id).map_err(|_| CraftError::BadVlan(id))
}

/// Starts a builder at the IP layer, with or without an Ethernet header and VLAN tags.
fn ip_step(eth: Option<&EthernetSpec<'_>>, ip: IpHeaders) -> Result<PacketBuilderStep<IpHeaders>, CraftError> {
    Ok(match eth {
        None => PacketBuilder::ip(ip),
        Some(eth) => {
            let base = PacketBuilder::ethernet2(eth.src, eth.dst);
            match eth.vlans {
                [] => base.ip(ip),
                [one] => base.single_vlan(vlan_id(*one)?).ip(ip),
                [outer, inner] => base.double_vlan(vlan_id(*outer)?, vlan_id(*inner)?).ip(ip),
                [_, _, extra, ..] => return Err(CraftError::BadVlan(*extra)),
            }
        }
    })
}

/// Appends one TCP frame to `out`. With `eth: None` the frame starts at the IP header (LINKTYPE_RAW).
pub fn tcp_frame(
    out: &mut Vec<u8>,
    eth: Option<&EthernetSpec<'_>>,
    ip: &IpSpec,
    tcp: &TcpSpec<'_>,
) -> Result<(), CraftError> {
    if tcp.options.len() > 40 || !tcp.options.len().is_multiple_of(4) {
        return Err(CraftError::BadOptions(tcp.options.len()));
    }
    let mut header = TcpHeader::new(tcp.src_port, tcp.dst_port, tcp.seq, tcp.window);
    let f = tcp.flags;
    header.fin = f.fin();
    header.syn = f.syn();
    header.rst = f.rst();
    header.psh = f.has(TcpFlags::PSH);
    header.ack = f.ack();
    header.urg = f.has(TcpFlags::URG);
    header.ece = f.has(TcpFlags::ECE);
    header.cwr = f.has(TcpFlags::CWR);
    header.ns = f.has(TcpFlags::NS);
    header.acknowledgment_number = tcp.ack;
    header.set_options_raw(tcp.options).map_err(|_| CraftError::BadOptions(tcp.options.len()))?;
    ip_step(eth, ip_headers(ip, IpNumber::TCP)?)?
        .tcp_header(header)
        .write(out, tcp.payload)
        .map_err(|_| CraftError::TooLarge)
}

/// Appends one UDP frame to `out`.
pub fn udp_frame(
    out: &mut Vec<u8>,
    eth: Option<&EthernetSpec<'_>>,
    ip: &IpSpec,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
) -> Result<(), CraftError> {
    ip_step(eth, ip_headers(ip, IpNumber::UDP)?)?
        .udp(src_port, dst_port)
        .write(out, payload)
        .map_err(|_| CraftError::TooLarge)
}

/// Convenience for tests and samples: a socket-address pair as an `IpSpec`.
pub fn ip_between(src: SocketAddr, dst: SocketAddr, ttl: u8, id: u16) -> IpSpec {
    IpSpec { src: src.ip(), dst: dst.ip(), ttl, id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{LinkType, decode};

    const ETH: EthernetSpec<'static> = EthernetSpec { src: [2, 0, 0, 0, 0, 1], dst: [2, 0, 0, 0, 0, 2], vlans: &[] };

    fn ip4() -> IpSpec {
        IpSpec { src: "192.0.2.10".parse().unwrap(), dst: "192.0.2.20".parse().unwrap(), ttl: 64, id: 7 }
    }

    #[test]
    fn a_crafted_syn_decodes_to_what_was_asked() {
        let options = linux_syn_options(1460, 1, 0, 7);
        let spec = TcpSpec {
            src_port: 40000,
            dst_port: 9999,
            seq: 1000,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            options: &options,
            payload: &[],
        };
        let mut frame = Vec::new();
        tcp_frame(&mut frame, Some(&ETH), &ip4(), &spec).unwrap();
        let packet = decode(LinkType::Ethernet, &frame);
        assert_eq!(packet.malformed, None);
        let tcp = packet.tcp().unwrap();
        assert_eq!((tcp.src_port, tcp.dst_port, tcp.seq, tcp.flags), (40000, 9999, 1000, TcpFlags(TcpFlags::SYN)));
        assert_eq!(tcp.options().mss(), Some(1460));
        assert_eq!(tcp.payload_len, 0);
    }

    #[test]
    fn checksums_verify() {
        let spec = TcpSpec {
            src_port: 1,
            dst_port: 2,
            seq: 3,
            ack: 4,
            flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
            window: 5,
            options: &timestamp_option(9, 8),
            payload: b"Lambda",
        };
        let mut frame = Vec::new();
        tcp_frame(&mut frame, Some(&ETH), &ip4(), &spec).unwrap();
        let sliced = etherparse::SlicedPacket::from_ethernet(&frame).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = sliced.net else { panic!("not IPv4") };
        let header = ip.header().to_header();
        assert_eq!(header.header_checksum, header.calc_header_checksum());
        let Some(etherparse::TransportSlice::Tcp(tcp)) = sliced.transport else { panic!("not TCP") };
        let expected = tcp.to_header().calc_checksum_ipv4(&header, tcp.payload()).unwrap();
        assert_eq!(tcp.checksum(), expected);
    }

    #[test]
    fn qinq_tags_and_raw_ip_frames() {
        let eth = EthernetSpec { vlans: &[200, 100], ..ETH };
        let mut frame = Vec::new();
        udp_frame(&mut frame, Some(&eth), &ip4(), 5000, 9999, b"Michael").unwrap();
        let packet = decode(LinkType::Ethernet, &frame);
        let ids: Vec<u16> = packet.link.vlans.as_slice().iter().map(|t| t.id).collect();
        assert_eq!(ids, [200, 100]);
        assert_eq!(packet.ports(), Some((5000, 9999)));

        let mut raw = Vec::new();
        udp_frame(&mut raw, None, &ip4(), 5000, 9999, b"x").unwrap();
        assert_eq!(decode(LinkType::RawIp, &raw).ports(), Some((5000, 9999)));
    }

    #[test]
    fn refuses_what_cannot_be_built() {
        let mixed = IpSpec { dst: "2001:db8::1".parse().unwrap(), ..ip4() };
        let mut out = Vec::new();
        assert_eq!(udp_frame(&mut out, None, &mixed, 1, 2, b""), Err(CraftError::MixedFamilies));
        let bad = TcpSpec {
            src_port: 1,
            dst_port: 2,
            seq: 0,
            ack: 0,
            flags: TcpFlags(0),
            window: 0,
            options: &[1, 1, 1],
            payload: &[],
        };
        assert_eq!(tcp_frame(&mut out, None, &ip4(), &bad), Err(CraftError::BadOptions(3)));
    }
}
