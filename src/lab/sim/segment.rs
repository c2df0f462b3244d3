//! The segments the simulated hosts exchange. The client, the attacker and the listener model speak [`Seg`], a few
//! words per packet; only where the real guard sits are they turned into Ethernet frames
//! ([`Seg::write_frame`]) and the guard's frames read back ([`Seg::from_frame`]), so the guard sees exactly the
//! bytes it would see on a veth.

use std::net::{IpAddr, SocketAddr, SocketAddrV4};

use crate::listener::GREETING;
use crate::wire::checksum::adjust;
use crate::wire::craft::{CraftError, EthernetSpec, IpSpec, TcpSpec, linux_syn_options, tcp_frame, timestamp_option};
use crate::wire::segment::TcpFlags;
use crate::wire::tcp_frame::TcpFrame;
use crate::wire::tcp_options::TcpOptions;

/// The MSS and window scale a Linux host on an Ethernet link offers (and the guard's `ListenerOptions` default).
pub const MSS: u16 = 1460;
pub const WSCALE: u8 = 7;
/// The SYN and SYN-ACK window of Linux with default buffers and a 1460-byte MSS (tcp_select_initial_window).
pub const WINDOW: u16 = 64240;

/// MAC addresses of the two veth ends the guard sits between.
const CLIENT_SIDE_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
const SERVER_SIDE_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seg {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub flags: TcpFlags,
    pub seq: u32,
    pub ack: u32,
    /// Payload bytes (the only payload in the simulation is the seed's greeting).
    pub payload: u16,
    /// TSval and TSecr, when the sender uses timestamps (RFC 7323).
    pub ts: Option<(u32, u32)>,
    /// A SYN or SYN-ACK carrying Linux's MSS, SACK-permitted and window-scale options besides timestamps. hping3's
    /// SYNs carry no options at all.
    pub handshake_options: bool,
}

impl Seg {
    /// A bare segment: no payload, no options.
    pub fn new(src: SocketAddrV4, dst: SocketAddrV4, flags: u16, seq: u32, ack: u32) -> Seg {
        Seg { src, dst, flags: TcpFlags(flags), seq, ack, payload: 0, ts: None, handshake_options: false }
    }

    pub fn is_syn(&self) -> bool {
        self.flags.syn() && !self.flags.ack() && !self.flags.rst()
    }

    pub fn is_synack(&self) -> bool {
        self.flags.syn() && self.flags.ack() && !self.flags.rst()
    }

    /// The frame a host would put on the wire for this segment, into `out` (cleared first). `server` tells which
    /// side of the guard the sender is on, for the MAC addresses.
    pub fn write_frame(&self, server: SocketAddrV4, out: &mut Vec<u8>) -> Result<(), CraftError> {
        out.clear();
        let (src_mac, dst_mac) =
            if self.src == server { (SERVER_SIDE_MAC, CLIENT_SIDE_MAC) } else { (CLIENT_SIDE_MAC, SERVER_SIDE_MAC) };
        let syn_options;
        let ts_options;
        let options: &[u8] = match (self.flags.syn() && self.handshake_options, self.ts) {
            (true, ts) => {
                let (val, ecr) = ts.unwrap_or((0, 0));
                syn_options = linux_syn_options(MSS, val, ecr, WSCALE);
                &syn_options
            }
            (false, Some((val, ecr))) => {
                ts_options = timestamp_option(val, ecr);
                &ts_options
            }
            (false, None) => &[],
        };
        let payload = &GREETING[..usize::from(self.payload).min(GREETING.len())];
        tcp_frame(
            out,
            Some(&EthernetSpec { src: src_mac, dst: dst_mac, vlans: &[] }),
            &IpSpec { src: IpAddr::V4(*self.src.ip()), dst: IpAddr::V4(*self.dst.ip()), ttl: 64, id: 0 },
            &TcpSpec {
                src_port: self.src.port(),
                dst_port: self.dst.port(),
                seq: self.seq,
                ack: self.ack,
                flags: self.flags,
                window: WINDOW,
                options,
                payload,
            },
        )
    }

    /// Reads a frame the guard forwarded or crafted; `None` for anything but IPv4 TCP.
    pub fn from_frame(frame: &[u8]) -> Option<Seg> {
        let tcp = TcpFrame::new_checked(frame).ok()?;
        let (SocketAddr::V4(src), SocketAddr::V4(dst)) = (tcp.src(), tcp.dst()) else {
            return None;
        };
        let options = TcpOptions::new(tcp.options()).handshake();
        Some(Seg {
            src,
            dst,
            flags: tcp.flags(),
            seq: tcp.seq(),
            ack: tcp.ack(),
            payload: u16::try_from(tcp.payload_len()).unwrap_or(u16::MAX),
            ts: options.timestamps,
            handshake_options: options.mss.is_some(),
        })
    }

    /// Where a frame goes, without reading the rest of it (the guard's SYN-ACKs to spoofed sources are only
    /// counted).
    pub fn frame_destination(frame: &[u8]) -> Option<IpAddr> {
        TcpFrame::new_checked(frame).ok().map(|tcp| tcp.dst_ip())
    }
}

/// Offsets in a crafted IPv4 frame without VLAN tags or IP options.
const IP: usize = 14;
const TCP: usize = IP + 20;

/// The attacker's SYNs as frames, fast: one crafted once, then copied with the source address, port and sequence
/// number patched and both checksums updated (RFC 1624), which the flood rates of the lab need. The bytes are the
/// same as [`Seg::write_frame`]'s.
pub struct SynFrames {
    template: Vec<u8>,
    base: Seg,
}

impl SynFrames {
    /// Frames like `base` (a SYN without options, from an IPv4 source), for senders that differ only in source and
    /// sequence number.
    pub fn new(base: Seg, server: SocketAddrV4) -> Result<SynFrames, CraftError> {
        let mut template = Vec::new();
        base.write_frame(server, &mut template)?;
        Ok(SynFrames { template, base })
    }

    /// `seg`'s frame into `out`. `seg` must be `base` but for its source and sequence number.
    pub fn write(&self, seg: &Seg, out: &mut Vec<u8>) {
        debug_assert_eq!(Seg { src: self.base.src, seq: self.base.seq, ..*seg }, self.base);
        out.clear();
        out.extend_from_slice(&self.template);
        let (ip, port, seq) = (seg.src.ip().octets(), seg.src.port().to_be_bytes(), seg.seq.to_be_bytes());
        let old_ip = self.base.src.ip().octets();
        let ip_sum = u16::from_be_bytes([out[IP + 10], out[IP + 11]]);
        out[IP + 10..IP + 12].copy_from_slice(&adjust(ip_sum, 12, &old_ip, &ip).to_be_bytes());
        // The TCP checksum covers the source address through the pseudo-header (RFC 9293 §3.1), word-aligned.
        let mut tcp_sum = u16::from_be_bytes([out[TCP + 16], out[TCP + 17]]);
        tcp_sum = adjust(tcp_sum, 0, &old_ip, &ip);
        tcp_sum = adjust(tcp_sum, 0, &self.base.src.port().to_be_bytes(), &port);
        tcp_sum = adjust(tcp_sum, 4, &self.base.seq.to_be_bytes(), &seq);
        out[TCP + 16..TCP + 18].copy_from_slice(&tcp_sum.to_be_bytes());
        out[IP + 12..IP + 16].copy_from_slice(&ip);
        out[TCP..TCP + 2].copy_from_slice(&port);
        out[TCP + 4..TCP + 8].copy_from_slice(&seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let server: SocketAddrV4 = "10.77.0.2:9999".parse().unwrap();
        let client: SocketAddrV4 = "10.77.0.1:40000".parse().unwrap();
        let mut syn = Seg::new(client, server, TcpFlags::SYN, 1000, 0);
        syn.ts = Some((5, 0));
        syn.handshake_options = true;
        let mut greeting = Seg::new(server, client, TcpFlags::PSH | TcpFlags::ACK, 7, 1001);
        greeting.payload = GREETING.len() as u16;
        greeting.ts = Some((9, 5));
        let bare = Seg::new(client, server, TcpFlags::RST, 1001, 0);
        let mut frame = Vec::new();
        for seg in [syn, greeting, bare] {
            seg.write_frame(server, &mut frame).unwrap();
            assert_eq!(Seg::from_frame(&frame), Some(seg));
            assert_eq!(Seg::frame_destination(&frame), Some(IpAddr::V4(*seg.dst.ip())));
        }
    }

    #[test]
    fn patched_syns_are_byte_for_byte_crafted_ones() {
        let server: SocketAddrV4 = "10.77.0.2:9999".parse().unwrap();
        let base = Seg::new("198.18.0.0:1024".parse().unwrap(), server, TcpFlags::SYN, 0, 0);
        let frames = SynFrames::new(base, server).unwrap();
        let mut rng = crate::rng::XorShift::new(9);
        let (mut patched, mut crafted) = (Vec::new(), Vec::new());
        for _ in 0..1000 {
            let src = SocketAddrV4::new(rng.next_u32().into(), rng.next_u32() as u16);
            let seg = Seg { src, seq: rng.next_u32(), ..base };
            frames.write(&seg, &mut patched);
            seg.write_frame(server, &mut crafted).unwrap();
            assert_eq!(patched, crafted);
        }
    }
}
