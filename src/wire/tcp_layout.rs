//! Where a TCP segment's fields sit inside an Ethernet frame. Decoding (`decode.rs`) builds a read-only view; this
//! finds offsets only, so a field can be rewritten and its checksum adjusted without copying the frame. The face
//! callers use is [`super::tcp_frame::TcpFrame`], which keeps these offsets with the bytes they describe; the
//! offsets stay private to `wire`. The getters taking a frame remain public for the lab's simulation
//! (`lab::sim::segment`), which reads frames once and has not moved to `TcpFrame` yet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::segment::TcpFlags;
use super::vlan;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const IPPROTO_TCP: u8 = 6;

/// Offsets of a TCP segment in an Ethernet frame. Only unfragmented IPv4 (any options) and IPv6 whose next header is
/// TCP are laid out; anything else is not a segment the proxy may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpLayout {
    /// Start of the IP header.
    pub(super) ip: usize,
    pub(super) ipv6: bool,
    /// Start of the TCP header.
    pub(super) tcp: usize,
    /// TCP header length, options included.
    pub(super) tcp_header_len: usize,
    /// End of the IP packet (Ethernet padding after it is not part of the segment).
    pub(super) end: usize,
}

impl TcpLayout {
    /// Lays out `frame`, or `None` when it is not a whole, unfragmented TCP segment.
    pub(super) fn of(frame: &[u8]) -> Option<TcpLayout> {
        let (ethertype, ip) = vlan::skip_tags(frame)?;
        let (tcp, end, ipv6) = match ethertype {
            ETHERTYPE_IPV4 => {
                let version_ihl = *frame.get(ip)?;
                let header_len = usize::from(version_ihl & 0x0F) * 4;
                let total = usize::from(be16(frame, ip + 2)?);
                let fragment = be16(frame, ip + 6)?;
                // More-fragments set or a fragment offset: not a whole segment.
                if version_ihl >> 4 != 4
                    || header_len < 20
                    || fragment & 0x3FFF != 0
                    || frame.get(ip + 9)? != &IPPROTO_TCP
                {
                    return None;
                }
                (ip + header_len, ip + total, false)
            }
            ETHERTYPE_IPV6 => {
                if frame.get(ip)? >> 4 != 6 || frame.get(ip + 6)? != &IPPROTO_TCP {
                    return None;
                }
                (ip + 40, ip + 40 + usize::from(be16(frame, ip + 4)?), true)
            }
            _ => return None,
        };
        let tcp_header_len = usize::from(frame.get(tcp + 12)? >> 4) * 4;
        if tcp_header_len < 20 || end > frame.len() || tcp + tcp_header_len > end {
            return None;
        }
        Some(TcpLayout { ip, ipv6, tcp, tcp_header_len, end })
    }

    /// Whether VLAN tags sit between the Ethernet header and the IP header ([`vlan::skip_tags`]).
    pub(super) fn tagged(&self) -> bool {
        self.ip != vlan::ETHERNET_HEADER_LEN
    }

    pub(super) fn src_ip(&self, frame: &[u8]) -> IpAddr {
        if self.ipv6 { IpAddr::V6(v6(frame, self.ip + 8)) } else { IpAddr::V4(v4(frame, self.ip + 12)) }
    }

    pub(super) fn dst_ip(&self, frame: &[u8]) -> IpAddr {
        if self.ipv6 { IpAddr::V6(v6(frame, self.ip + 24)) } else { IpAddr::V4(v4(frame, self.ip + 16)) }
    }

    pub(super) fn src(&self, frame: &[u8]) -> SocketAddr {
        SocketAddr::new(self.src_ip(frame), self.u16_at(frame, 0))
    }

    pub(super) fn dst(&self, frame: &[u8]) -> SocketAddr {
        SocketAddr::new(self.dst_ip(frame), self.u16_at(frame, 2))
    }

    pub(super) fn seq(&self, frame: &[u8]) -> u32 {
        self.u32_at(frame, 4)
    }

    pub(super) fn ack(&self, frame: &[u8]) -> u32 {
        self.u32_at(frame, 8)
    }

    pub(super) fn flags(&self, frame: &[u8]) -> TcpFlags {
        TcpFlags(u16::from(frame[self.tcp + 12] & 0x01) << 8 | u16::from(frame[self.tcp + 13]))
    }

    pub(super) fn window(&self, frame: &[u8]) -> u16 {
        self.u16_at(frame, 14)
    }

    pub(super) fn options<'f>(&self, frame: &'f [u8]) -> &'f [u8] {
        &frame[self.tcp + 20..self.tcp + self.tcp_header_len]
    }

    pub(super) fn payload_len(&self) -> usize {
        self.end - self.tcp - self.tcp_header_len
    }

    fn u16_at(&self, frame: &[u8], field: usize) -> u16 {
        u16::from_be_bytes([frame[self.tcp + field], frame[self.tcp + field + 1]])
    }

    fn u32_at(&self, frame: &[u8], field: usize) -> u32 {
        let at = self.tcp + field;
        u32::from_be_bytes([frame[at], frame[at + 1], frame[at + 2], frame[at + 3]])
    }
}

fn be16(frame: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*frame.get(at)?, *frame.get(at + 1)?]))
}

fn v4(frame: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(frame[at], frame[at + 1], frame[at + 2], frame[at + 3])
}

fn v6(frame: &[u8], at: usize) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&frame[at..at + 16]);
    Ipv6Addr::from(octets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::craft::{EthernetSpec, IpSpec, TcpSpec, linux_syn_options, tcp_frame};

    fn syn(src: &str, dst: &str, vlans: &[u16]) -> Vec<u8> {
        let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        let mut out = Vec::new();
        let options = linux_syn_options(1460, 7, 0, 7);
        tcp_frame(
            &mut out,
            Some(&EthernetSpec { src: [2; 6], dst: [4; 6], vlans }),
            &IpSpec { src: src.ip(), dst: dst.ip(), ttl: 64, id: 1 },
            &TcpSpec {
                src_port: src.port(),
                dst_port: dst.port(),
                seq: 1000,
                ack: 0,
                flags: TcpFlags(TcpFlags::SYN),
                window: 64240,
                options: &options,
                payload: b"",
            },
        )
        .unwrap();
        out
    }

    #[test]
    fn ipv4_ipv6_and_tagged_frames_are_laid_out() {
        for (frame, ip) in [
            (syn("10.0.0.1:4000", "10.0.0.2:80", &[]), 14),
            (syn("10.0.0.1:4000", "10.0.0.2:80", &[5]), 18),
            (syn("10.0.0.1:4000", "10.0.0.2:80", &[5, 6]), 22),
            (syn("[fd00::1]:4000", "[fd00::2]:80", &[]), 14),
        ] {
            let layout = TcpLayout::of(&frame).expect("a TCP segment");
            assert_eq!(layout.ip, ip);
            assert_eq!(layout.src(&frame).port(), 4000);
            assert_eq!(layout.dst(&frame).port(), 80);
            assert_eq!(layout.seq(&frame), 1000);
            assert!(layout.flags(&frame).syn());
            assert_eq!(layout.options(&frame).len(), 20);
            assert_eq!(layout.payload_len(), 0);
        }
    }

    #[test]
    fn truncated_and_non_tcp_frames_are_refused() {
        let frame = syn("10.0.0.1:4000", "10.0.0.2:80", &[]);
        for cut in [0, 13, 20, 40, frame.len() - 1] {
            assert_eq!(TcpLayout::of(&frame[..cut]), None, "cut at {cut}");
        }
        let mut udp = frame.clone();
        udp[14 + 9] = 17;
        assert_eq!(TcpLayout::of(&udp), None);
        let mut fragment = frame;
        fragment[14 + 6] = 0x20; // more fragments
        assert_eq!(TcpLayout::of(&fragment), None);
    }
}
