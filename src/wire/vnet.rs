//! The `virtio_net_hdr` that a packet socket with `PACKET_VNET_HDR` puts before each frame it receives and expects
//! before each frame it sends (packet(7); include/uapi/linux/virtio_net.h). It carries what the frame's bytes do not
//! say: that it is a GSO super-frame the kernel will cut into `gso_size` segments on egress, and that its TCP or
//! UDP checksum is partial (only the pseudo-header sum is in the field; the rest is summed on egress from
//! `csum_start`, and stored at `csum_start + csum_offset`).
//!
//! Every veth pair, every container link and every NIC with GRO hands a reader such frames (64 KB of TCP in one
//! frame, with a partial checksum); a bridge that forwards them must send them on with this header, or segment them
//! itself.
//!
//! Fields are in the host's byte order: af_packet converts them with `vio_le()`, which on a legacy virtio header is
//! little-endian exactly when the host is.

/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`: the checksum is partial.
pub const F_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified on receipt (received frames only).
pub const F_DATA_VALID: u8 = 2;

/// `VIRTIO_NET_HDR_GSO_*`.
pub const GSO_NONE: u8 = 0;
pub const GSO_TCPV4: u8 = 1;
pub const GSO_UDP: u8 = 3;
pub const GSO_TCPV6: u8 = 4;
pub const GSO_UDP_L4: u8 = 5;
/// Set with a TCP type when the super-frame had CWR set (the kernel clears it on all but the first segment).
pub const GSO_ECN: u8 = 0x80;

/// `sizeof(struct virtio_net_hdr)`.
pub const LEN: usize = 10;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHeader {
    pub flags: u8,
    pub gso_type: u8,
    /// Bytes of headers (Ethernet to transport). On send, how much the kernel copies into the skb's linear part.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where checksumming starts, from the start of the frame (the transport header).
    pub csum_start: u16,
    /// Where the checksum field is, from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHeader {
    /// A plain frame: no GSO, checksum complete.
    pub const PLAIN: VnetHeader =
        VnetHeader { flags: 0, gso_type: GSO_NONE, hdr_len: 0, gso_size: 0, csum_start: 0, csum_offset: 0 };

    pub fn parse(bytes: &[u8; LEN]) -> VnetHeader {
        let field = |at: usize| u16::from_ne_bytes([bytes[at], bytes[at + 1]]);
        VnetHeader {
            flags: bytes[0],
            gso_type: bytes[1],
            hdr_len: field(2),
            gso_size: field(4),
            csum_start: field(6),
            csum_offset: field(8),
        }
    }

    pub fn to_bytes(self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        out[0] = self.flags;
        out[1] = self.gso_type;
        out[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        out[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        out[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        out[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        out
    }

    /// A super-frame the kernel would cut into segments on egress.
    pub fn is_gso(&self) -> bool {
        self.gso_type & !GSO_ECN != GSO_NONE
    }

    /// The transport checksum field holds only the pseudo-header sum.
    pub fn checksum_partial(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }

    /// TCP segmentation (IPv4 or IPv6), the only kind of GSO this project segments itself.
    pub fn is_tcp_gso(&self) -> bool {
        matches!(self.gso_type & !GSO_ECN, GSO_TCPV4 | GSO_TCPV6)
    }

    /// Whether the frame needs this header at all when sent: a plain frame goes the same with or without it.
    pub fn is_plain(&self) -> bool {
        !self.is_gso() && !self.checksum_partial()
    }

    /// The header for the frame once `shift` bytes were inserted before its transport header (a VLAN tag put
    /// back): the checksum start moves with it, and so do the headers. `None` if an offset would pass 65535 (no
    /// frame the kernel hands over is that long; a header that says so is not forwarded).
    pub fn shifted(self, shift: u16) -> Option<VnetHeader> {
        Some(VnetHeader {
            csum_start: if self.checksum_partial() { self.csum_start.checked_add(shift)? } else { self.csum_start },
            hdr_len: if self.hdr_len > 0 { self.hdr_len.checked_add(shift)? } else { 0 },
            ..self
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_in_host_order() {
        let header = VnetHeader {
            flags: F_NEEDS_CSUM,
            gso_type: GSO_TCPV4 | GSO_ECN,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        };
        let bytes = header.to_bytes();
        assert_eq!(VnetHeader::parse(&bytes), header);
        assert_eq!(bytes[0], 1);
        assert_eq!(bytes[1], 0x81);
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 1448);
        assert!(header.is_gso() && header.is_tcp_gso() && header.checksum_partial() && !header.is_plain());
    }

    #[test]
    fn kinds() {
        assert!(VnetHeader::PLAIN.is_plain());
        let ecn_only = VnetHeader { gso_type: GSO_ECN, ..VnetHeader::PLAIN };
        assert!(!ecn_only.is_gso());
        let udp = VnetHeader { gso_type: GSO_UDP_L4, gso_size: 1200, ..VnetHeader::PLAIN };
        assert!(udp.is_gso() && !udp.is_tcp_gso());
        let valid = VnetHeader { flags: F_DATA_VALID, ..VnetHeader::PLAIN };
        assert!(valid.is_plain());
    }

    #[test]
    fn a_tag_put_back_moves_the_checksum_start() {
        let header =
            VnetHeader { flags: F_NEEDS_CSUM, csum_start: 34, csum_offset: 16, hdr_len: 66, ..VnetHeader::PLAIN };
        let moved = header.shifted(4).unwrap();
        assert_eq!((moved.csum_start, moved.csum_offset, moved.hdr_len), (38, 16, 70));
        assert_eq!(VnetHeader::PLAIN.shifted(4), Some(VnetHeader::PLAIN));
        let absurd = VnetHeader { csum_start: u16::MAX - 1, ..header };
        assert_eq!(absurd.shifted(4), None);
    }
}
