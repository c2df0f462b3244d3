//! TCP segmentation of a GSO super-frame in userspace, for a sender that cannot pass the super-frame on with its
//! `virtio_net_hdr` (a kernel that refuses `PACKET_VNET_HDR` on the socket). Each segment is what the kernel's own
//! software GSO would have sent (`tcp_gso_segment`, `inet_gso_segment`, `ipv6_gso_segment`):
//!
//! - the headers repeated, with `gso_size` bytes of payload each (the last one gets the rest);
//! - the sequence number advanced by the payload before it;
//! - FIN and PSH only on the last segment, CWR only on the first (RFC 3168 §6.1.2: CWR marks one segment);
//! - IPv4: total length per segment, the identification incremented per segment, the header checksum redone;
//!   IPv6: payload length per segment;
//! - a complete TCP checksum on every segment, whether the super-frame's was partial or not.

use super::tcp_frame::TcpFrame;
use super::vnet::VnetHeader;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    #[error("not a whole TCP segment over IPv4 or IPv6")]
    NotTcp,
    #[error("GSO type {0:#x} is not TCP")]
    NotTcpGso(u8),
    #[error("a segment size of {0}, below TCP's minimum of 88")]
    SegmentSizeTooSmall(u16),
}

/// Linux `TCP_MIN_MSS`.
const MIN_SEGMENT_SIZE: usize = 88;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;
const CWR: u8 = 0x80;

/// Cuts `frame` into segments of `vnet.gso_size` payload bytes, appending each to `out`. Returns how many.
pub fn segment(frame: &[u8], vnet: &VnetHeader, out: &mut Vec<Vec<u8>>) -> Result<usize, SegmentError> {
    if !vnet.is_tcp_gso() {
        return Err(SegmentError::NotTcpGso(vnet.gso_type));
    }
    // Linux never sends below TCP_MIN_MSS (88); a smaller size only makes a header claim thousands of segments.
    let mss = usize::from(vnet.gso_size);
    if mss < MIN_SEGMENT_SIZE {
        return Err(SegmentError::SegmentSizeTooSmall(vnet.gso_size));
    }
    let original = TcpFrame::new_checked(frame).map_err(|_| SegmentError::NotTcp)?;
    let headers = &frame[..original.headers_len()];
    let payload = original.payload();
    let (first_seq, first_id) = (original.seq(), original.ipv4_id());
    let chunks = payload.len().div_ceil(mss).max(1);
    for index in 0..chunks {
        let chunk = &payload[(index * mss).min(payload.len())..((index + 1) * mss).min(payload.len())];
        let mut bytes = Vec::with_capacity(headers.len() + chunk.len());
        bytes.extend_from_slice(headers);
        bytes.extend_from_slice(chunk);
        let mut seg = original.same_headers(bytes);
        if let Some(id) = first_id {
            seg.set_ipv4_id(id.wrapping_add(index as u16));
        }
        seg.set_ip_length();
        seg.set_seq_unchecked(first_seq.wrapping_add((index * mss) as u32));
        if index + 1 < chunks {
            seg.clear_flags_unchecked(FIN | PSH);
        }
        if index > 0 {
            seg.clear_flags_unchecked(CWR);
        }
        seg.fill_checksum();
        out.push(seg.into_inner());
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::wire::craft::{self, EthernetSpec, TcpSpec};
    use crate::wire::decode;
    use crate::wire::segment::TcpFlags;
    use crate::wire::vnet::{GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4};

    fn super_frame(from: &str, to: &str, flags: u16, payload: &[u8], vlans: &[u16]) -> Vec<u8> {
        let (from, to): (SocketAddr, SocketAddr) = (from.parse().unwrap(), to.parse().unwrap());
        let mut out = Vec::new();
        craft::tcp_frame(
            &mut out,
            Some(&EthernetSpec { src: [2; 6], dst: [4; 6], vlans }),
            &craft::ip_between(from, to, 64, 0x1234),
            &TcpSpec {
                src_port: from.port(),
                dst_port: to.port(),
                seq: 0xffff_fff0,
                ack: 77,
                flags: TcpFlags(flags),
                window: 501,
                options: &craft::timestamp_option(5, 6),
                payload,
            },
        )
        .unwrap();
        out
    }

    fn tcp_gso(v6: bool, mss: u16) -> VnetHeader {
        VnetHeader { gso_type: if v6 { GSO_TCPV6 } else { GSO_TCPV4 }, gso_size: mss, ..VnetHeader::PLAIN }
    }

    /// Each segment decodes cleanly with a valid checksum, and the payloads put back together are the original.
    fn check_segments(frame: &[u8], vnet: &VnetHeader, expect: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        assert_eq!(segment(frame, vnet, &mut out), Ok(expect));
        let original = TcpFrame::new_checked(frame).unwrap();
        let mut joined = Vec::new();
        for (i, seg) in out.iter().enumerate() {
            let view = TcpFrame::new_checked(seg).expect("each segment lays out");
            assert!(view.payload_len() <= usize::from(vnet.gso_size));
            assert_eq!(view.seq(), original.seq().wrapping_add(i as u32 * u32::from(vnet.gso_size)));
            let mut copy = seg.clone();
            assert!(crate::wire::checksum::fill_transport_checksum(&mut copy));
            assert_eq!(&copy, seg, "segment {i}: TCP checksum");
            let packet = decode(crate::wire::LinkType::Ethernet, seg);
            assert!(packet.malformed.is_none(), "{:?}", packet.malformed);
            joined.extend_from_slice(view.payload());
        }
        assert_eq!(joined, original.payload());
        out
    }

    #[test]
    fn an_ipv4_super_frame_becomes_segments_with_ids_lengths_and_checksums() {
        let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let flags = TcpFlags::ACK | TcpFlags::PSH | TcpFlags::FIN | TcpFlags::CWR;
        let frame = super_frame("10.0.0.1:4000", "10.0.0.2:80", flags, &payload, &[]);
        let segments = check_segments(&frame, &tcp_gso(false, 1448), 7);
        for (i, seg) in segments.iter().enumerate() {
            let view = TcpFrame::new_checked(seg).unwrap();
            assert_eq!(view.ipv4_id(), Some(0x1234 + i as u16));
            // Untagged IPv4 without options: the header is bytes 14..34.
            assert_eq!(crate::wire::checksum::checksum(0, &seg[14..34]), 0, "IPv4 header checksum");
            let f = view.flags();
            let last = i == segments.len() - 1;
            assert_eq!(f.fin(), last);
            assert_eq!(f.has(TcpFlags::PSH), last);
            assert_eq!(f.has(TcpFlags::CWR), i == 0);
            assert!(f.ack());
        }
        // The sequence space wraps through zero without a hiccup.
        assert_eq!(TcpFrame::new_checked(&segments[1]).unwrap().seq(), 0xffff_fff0u32.wrapping_add(1448));
    }

    #[test]
    fn ipv6_and_vlan_tagged_super_frames() {
        let payload = vec![0xab; 4000];
        let v6 = super_frame("[2001:db8::1]:4000", "[2001:db8::2]:80", TcpFlags::ACK, &payload, &[]);
        check_segments(&v6, &tcp_gso(true, 1428), 3);
        let tagged = super_frame("10.0.0.1:4000", "10.0.0.2:80", TcpFlags::ACK, &payload, &[7]);
        check_segments(&tagged, &tcp_gso(false, 1000), 4);
    }

    #[test]
    fn a_payload_smaller_than_one_segment_is_one_segment() {
        let frame = super_frame("10.0.0.1:4000", "10.0.0.2:80", TcpFlags::ACK, b"short", &[]);
        check_segments(&frame, &tcp_gso(false, 1448), 1);
    }

    #[test]
    fn refuses_what_it_cannot_segment() {
        let frame = super_frame("10.0.0.1:4000", "10.0.0.2:80", TcpFlags::ACK, b"x", &[]);
        let mut out = Vec::new();
        assert_eq!(segment(&frame, &tcp_gso(false, 0), &mut out), Err(SegmentError::SegmentSizeTooSmall(0)));
        assert_eq!(segment(&frame, &tcp_gso(false, 87), &mut out), Err(SegmentError::SegmentSizeTooSmall(87)));
        let udp = VnetHeader { gso_type: GSO_UDP_L4, gso_size: 1000, ..VnetHeader::PLAIN };
        assert_eq!(segment(&frame, &udp, &mut out), Err(SegmentError::NotTcpGso(GSO_UDP_L4)));
        assert_eq!(segment(&frame[..30], &tcp_gso(false, 100), &mut out), Err(SegmentError::NotTcp));
        assert!(out.is_empty());
    }
}
