//! The segments the guard writes itself: the SYN-ACK a client gets from the proxy, the SYN and ACK the proxy sends
//! the listener, and the RSTs that free a listener's SYN-queue slot or tell a client the listener refused.

use std::net::{IpAddr, SocketAddr};

use crate::wire::checksum::{checksum, pseudo_header_sum};
use crate::wire::craft::CraftError;

/// Hop limit of crafted packets (Linux's default ip_default_ttl).
const TTL: u8 = 64;

/// The MAC addresses on either side of the guard, learnt from the frames it bridges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Macs {
    /// The next hop towards the clients (the source of frames arriving on the outside).
    pub client_side: [u8; 6],
    /// The listener's host (the destination of frames towards the protected address).
    pub server_side: [u8; 6],
}

/// TCP options in the order Linux writes them (tcp_options_write): MSS; SACK-permitted folded with the timestamps
/// when both are present, else NOP-padded; window scale last behind a NOP.
pub fn handshake_options(
    out: &mut [u8; 40],
    mss: u16,
    sack_permitted: bool,
    timestamps: Option<(u32, u32)>,
    wscale: Option<u8>,
) -> usize {
    let mut len = 0;
    let mut put = |bytes: &[u8]| {
        out[len..len + bytes.len()].copy_from_slice(bytes);
        len += bytes.len();
    };
    put(&[2, 4]);
    put(&mss.to_be_bytes());
    match (sack_permitted, timestamps) {
        (true, Some((tsval, tsecr))) => {
            put(&[4, 2, 8, 10]);
            put(&tsval.to_be_bytes());
            put(&tsecr.to_be_bytes());
        }
        (false, Some((tsval, tsecr))) => {
            put(&[1, 1, 8, 10]);
            put(&tsval.to_be_bytes());
            put(&tsecr.to_be_bytes());
        }
        (true, None) => put(&[1, 1, 4, 2]),
        (false, None) => {}
    }
    if let Some(shift) = wscale {
        put(&[1, 3, 3, shift]);
    }
    len
}

/// One crafted segment: who from, who to, and the TCP fields.
pub struct Segment<'a> {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: u16,
    pub window: u16,
    pub options: &'a [u8],
}

impl Segment<'_> {
    /// Writes the frame into `out` (cleared first). The guard writes one of these for every SYN of a flood, so the
    /// headers are laid down directly rather than through a general packet builder (which cost about half of the
    /// guard's time per SYN); `wire::craft` builds the same bytes, as a test checks.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), CraftError> {
        out.clear();
        if self.options.len() > 40 || !self.options.len().is_multiple_of(4) {
            return Err(CraftError::BadOptions(self.options.len()));
        }
        let tcp_len = 20 + self.options.len();
        out.extend_from_slice(&self.dst_mac);
        out.extend_from_slice(&self.src_mac);
        let pseudo = match (self.from.ip(), self.to.ip()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                out.extend_from_slice(&[0x08, 0x00]);
                let ip = out.len();
                let total = (20 + tcp_len) as u16;
                // Version 4, IHL 5, no TOS; ID 0 with Don't Fragment (RFC 6864: atomic datagrams); TTL; TCP.
                out.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, TTL, 6, 0, 0]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                let header = checksum(0, &out[ip..ip + 20]);
                out[ip + 10..ip + 12].copy_from_slice(&header.to_be_bytes());
                pseudo_header_sum(&src.octets(), &dst.octets(), 6, tcp_len as u32)
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                out.extend_from_slice(&[0x86, 0xDD]);
                let length = tcp_len as u16;
                out.extend_from_slice(&[0x60, 0, 0, 0, (length >> 8) as u8, length as u8, 6, TTL]);
                out.extend_from_slice(&src.octets());
                out.extend_from_slice(&dst.octets());
                pseudo_header_sum(&src.octets(), &dst.octets(), 6, tcp_len as u32)
            }
            _ => return Err(CraftError::MixedFamilies),
        };
        let tcp = out.len();
        out.extend_from_slice(&self.from.port().to_be_bytes());
        out.extend_from_slice(&self.to.port().to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ack.to_be_bytes());
        // Data offset in 32-bit words, then NS, then the eight other control bits (RFC 9293 §3.1).
        out.push(((tcp_len / 4) as u8) << 4 | ((self.flags >> 8) & 1) as u8);
        out.push(self.flags as u8);
        out.extend_from_slice(&self.window.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(self.options);
        let sum = checksum(pseudo, &out[tcp..]);
        out[tcp + 16..tcp + 18].copy_from_slice(&sum.to_be_bytes());
        Ok(())
    }
}

/// The timestamps option as it follows the header of a non-SYN segment: NOP, NOP, TS.
pub fn timestamp_only(out: &mut [u8; 40], tsval: u32, tsecr: u32) -> usize {
    out[..4].copy_from_slice(&[1, 1, 8, 10]);
    out[4..8].copy_from_slice(&tsval.to_be_bytes());
    out[8..12].copy_from_slice(&tsecr.to_be_bytes());
    12
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::craft::linux_syn_options;

    #[test]
    fn segments_are_the_bytes_wire_craft_builds() {
        use crate::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame};
        use crate::wire::segment::TcpFlags;
        let mut options = [0u8; 40];
        let len = handshake_options(&mut options, 1460, true, Some((7, 9)), Some(7));
        for (from, to) in [("10.0.0.2:80", "198.18.3.4:40000"), ("[fd00::2]:80", "[2001:2::9]:1234")] {
            for (flags, opts) in [
                (TcpFlags::SYN | TcpFlags::ACK, &options[..len]),
                (TcpFlags::RST, &[][..]),
                (TcpFlags::ACK | TcpFlags::ECE | TcpFlags::NS, &options[..12]),
            ] {
                let segment = Segment {
                    src_mac: [1, 2, 3, 4, 5, 6],
                    dst_mac: [7, 8, 9, 10, 11, 12],
                    from: from.parse().unwrap(),
                    to: to.parse().unwrap(),
                    seq: 0xdead_beef,
                    ack: 0x0102_0304,
                    flags,
                    window: 64240,
                    options: opts,
                };
                let mut ours = Vec::new();
                segment.write(&mut ours).unwrap();
                let mut crafted = Vec::new();
                tcp_frame(
                    &mut crafted,
                    Some(&EthernetSpec { src: segment.src_mac, dst: segment.dst_mac, vlans: &[] }),
                    &IpSpec { src: segment.from.ip(), dst: segment.to.ip(), ttl: TTL, id: 0 },
                    &TcpSpec {
                        src_port: segment.from.port(),
                        dst_port: segment.to.port(),
                        seq: segment.seq,
                        ack: segment.ack,
                        flags: TcpFlags(flags),
                        window: segment.window,
                        options: opts,
                        payload: b"",
                    },
                )
                .unwrap();
                assert_eq!(ours, crafted, "{from} -> {to}, flags {flags:#x}");
            }
        }
    }

    #[test]
    fn linux_layouts() {
        let mut out = [0u8; 40];
        // All four: the same 20 bytes Linux puts in a SYN.
        let len = handshake_options(&mut out, 1460, true, Some((7, 9)), Some(7));
        assert_eq!(&out[..len], &linux_syn_options(1460, 7, 9, 7));
        let len = handshake_options(&mut out, 536, false, None, None);
        assert_eq!(&out[..len], &[2, 4, 2, 24]);
        let len = handshake_options(&mut out, 1460, true, None, Some(2));
        assert_eq!(&out[..len], &[2, 4, 5, 180, 1, 1, 4, 2, 1, 3, 3, 2]);
        let len = handshake_options(&mut out, 1460, false, Some((1, 2)), None);
        assert_eq!(&out[..len], &[2, 4, 5, 180, 1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    }
}
