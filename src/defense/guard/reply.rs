//! The segments the guard writes itself: the SYN-ACK a client gets from the proxy, the SYN and ACK the proxy sends
//! the listener, and the RSTs that free a listener's SYN-queue slot or tell a client the listener refused.

use std::net::SocketAddr;

use crate::wire::craft::{CraftError, EthernetSpec, IpSpec, TcpSpec, tcp_frame};
use crate::wire::segment::TcpFlags;

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
    /// Appends the frame to `out` (cleared first).
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), CraftError> {
        out.clear();
        tcp_frame(
            out,
            Some(&EthernetSpec { src: self.src_mac, dst: self.dst_mac, vlans: &[] }),
            &IpSpec { src: self.from.ip(), dst: self.to.ip(), ttl: TTL, id: 0 },
            &TcpSpec {
                src_port: self.from.port(),
                dst_port: self.to.port(),
                seq: self.seq,
                ack: self.ack,
                flags: TcpFlags(self.flags),
                window: self.window,
                options: self.options,
                payload: b"",
            },
        )
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
