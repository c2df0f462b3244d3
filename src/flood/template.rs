//! One frame built once, then patched per packet: the source address, source port, sequence number, IPv4
//! identification, the acknowledgment number (when the flood's flags include ACK) and TSval (when the timestamp
//! option is on) change; everything else, the [`Shape`], is the same for the whole flood. A SYN flood is the
//! default shape; ACK, RST and FIN floods, hostile options, payload sizes and fragments are others.
//!
//! Running etherparse's builder per frame would cost more than the kernel's send path does. Instead the template's
//! one's-complement sums are taken once over everything that does not change (RFC 1071 §2: the sum is
//! associative, so the changing words can be added in later), and each frame adds only its own few words: about a
//! dozen 16-bit additions for both checksums. Pure: the random numbers come from a seeded generator.

use std::net::{IpAddr, SocketAddr};

use super::spec::{Cidr, PortRange, Shape};
use crate::rng::XorShift;
use crate::wire::craft::{CraftError, EthernetSpec, IpSpec, TcpSpec, tcp_frame};

/// Linux's initial receive window for a SYN (10 × 1460 rounded up to 64240 by `tcp_select_initial_window`).
pub const WINDOW: u16 = 64240;
/// Linux's default TTL (`net.ipv4.ip_default_ttl`).
pub const TTL: u8 = 64;

const ETHERNET: usize = 14;

/// Where the changing fields sit in the frame.
#[derive(Clone, Copy, Debug)]
struct Layout {
    v4: bool,
    src: usize,
    /// IPv4 identification and header checksum (IPv6 has neither).
    ip_id: usize,
    ip_checksum: usize,
    src_port: usize,
    seq: usize,
    /// The acknowledgment number, stamped only when the flags include ACK (RFC 9293 §3.1: otherwise it is zero).
    ack: Option<usize>,
    tcp_checksum: usize,
    ts_val: Option<usize>,
}

/// The fields one frame gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentFields {
    /// The source address as an integer: IPv4 in the low 32 bits.
    pub src: u128,
    pub src_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub ip_id: u16,
    pub ts_val: u32,
}

/// A frame to one destination, ready to be stamped with per-packet fields.
#[derive(Clone, Debug)]
pub struct SegmentTemplate {
    frame: Vec<u8>,
    layout: Layout,
    /// Unfolded sums of the IPv4 header and of the TCP pseudo-header plus segment, with every changing field and
    /// both checksums zero.
    ip_base: u32,
    tcp_base: u32,
}

/// The 16-bit big-endian words of `bytes` added up, unfolded (enough headroom for 65535 words).
fn word_sum(bytes: &[u8]) -> u32 {
    bytes.chunks(2).map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]))).sum()
}

fn fold(mut sum: u32) -> u16 {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

impl SegmentTemplate {
    /// A frame of `shape` from `src_mac` to `dst_mac` and `dst`, with the source of the same family as `dst` left
    /// blank. A fragment shape is IPv4 only (IPv6 fragments need an extension header): the caller checks.
    pub fn new(src_mac: [u8; 6], dst_mac: [u8; 6], dst: SocketAddr, shape: &Shape) -> Result<Self, CraftError> {
        let (option_bytes, ts_at) = shape.option_bytes();
        let payload = vec![0; usize::from(shape.data)];
        let blank = match dst {
            SocketAddr::V4(_) => IpAddr::V4(0.into()),
            SocketAddr::V6(_) => IpAddr::V6(0.into()),
        };
        let mut frame = Vec::with_capacity(128);
        let eth = EthernetSpec { src: src_mac, dst: dst_mac, vlans: &[] };
        let ip = IpSpec { src: blank, dst: dst.ip(), ttl: TTL, id: 0 };
        let tcp = TcpSpec {
            src_port: 0,
            dst_port: dst.port(),
            seq: 0,
            ack: 0,
            flags: shape.flags.0,
            window: WINDOW,
            options: &option_bytes,
            payload: &payload,
        };
        tcp_frame(&mut frame, Some(&eth), &ip, &tcp)?;

        let v4 = dst.is_ipv4();
        if v4 && shape.fragment {
            // Flags and fragment offset (RFC 791 §3.1): More Fragments, offset 0. Set before the sums are taken.
            frame[ETHERNET + 6] |= 0x20;
        }
        let (ip_len, src) = if v4 { (20, ETHERNET + 12) } else { (40, ETHERNET + 8) };
        let tcp_at = ETHERNET + ip_len;
        let layout = Layout {
            v4,
            src,
            ip_id: ETHERNET + 4,
            ip_checksum: ETHERNET + 10,
            src_port: tcp_at,
            seq: tcp_at + 4,
            ack: shape.flags.0.ack().then_some(tcp_at + 8),
            tcp_checksum: tcp_at + 16,
            ts_val: ts_at.map(|at| tcp_at + 20 + at),
        };
        let segment_len = frame.len() - tcp_at;
        for field in [layout.tcp_checksum].into_iter().chain(v4.then_some(layout.ip_checksum)) {
            frame[field..field + 2].fill(0);
        }
        let ip_base = if v4 { word_sum(&frame[ETHERNET..tcp_at]) } else { 0 };
        // The pseudo-header: RFC 9293 §3.1 (IPv4), RFC 8200 §8.1 (IPv6). The source is zero in the template.
        let dst_bytes = match dst.ip() {
            IpAddr::V4(ip) => ip.octets().to_vec(),
            IpAddr::V6(ip) => ip.octets().to_vec(),
        };
        let tcp_base = word_sum(&dst_bytes) + 6 + segment_len as u32 + word_sum(&frame[tcp_at..]);
        Ok(SegmentTemplate { frame, layout, ip_base, tcp_base })
    }

    /// Length of every frame of the flood.
    pub fn len(&self) -> usize {
        self.frame.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frame.is_empty()
    }

    /// The template itself, source blank: what the safety check reads (only the destination matters to it).
    pub fn frame(&self) -> &[u8] {
        &self.frame
    }

    pub fn is_ipv4(&self) -> bool {
        self.layout.v4
    }

    /// Writes one frame into `out`, which must be exactly [`SegmentTemplate::len`] bytes long.
    pub fn write(&self, out: &mut [u8], fields: &SegmentFields) {
        let l = &self.layout;
        out.copy_from_slice(&self.frame);
        let src_sum = if l.v4 {
            let src = (fields.src as u32).to_be_bytes();
            out[l.src..l.src + 4].copy_from_slice(&src);
            out[l.ip_id..l.ip_id + 2].copy_from_slice(&fields.ip_id.to_be_bytes());
            let src_sum = word_sum(&src);
            let ip = fold(self.ip_base + src_sum + u32::from(fields.ip_id));
            out[l.ip_checksum..l.ip_checksum + 2].copy_from_slice(&(!ip).to_be_bytes());
            src_sum
        } else {
            let src = fields.src.to_be_bytes();
            out[l.src..l.src + 16].copy_from_slice(&src);
            word_sum(&src)
        };
        out[l.src_port..l.src_port + 2].copy_from_slice(&fields.src_port.to_be_bytes());
        out[l.seq..l.seq + 4].copy_from_slice(&fields.seq.to_be_bytes());
        let mut tcp = self.tcp_base + src_sum + u32::from(fields.src_port) + (fields.seq >> 16) + (fields.seq & 0xffff);
        if let Some(at) = l.ack {
            out[at..at + 4].copy_from_slice(&fields.ack.to_be_bytes());
            tcp += (fields.ack >> 16) + (fields.ack & 0xffff);
        }
        if let Some(at) = l.ts_val {
            out[at..at + 4].copy_from_slice(&fields.ts_val.to_be_bytes());
            tcp += (fields.ts_val >> 16) + (fields.ts_val & 0xffff);
        }
        out[l.tcp_checksum..l.tcp_checksum + 2].copy_from_slice(&(!fold(tcp)).to_be_bytes());
    }
}

/// Random frames from a template: sources in a range, ports in a range, random sequence and acknowledgment
/// numbers, IP IDs and TSvals.
#[derive(Clone, Debug)]
pub struct SegmentGenerator {
    template: SegmentTemplate,
    sources: Cidr,
    ports: PortRange,
    rng: XorShift,
}

impl SegmentGenerator {
    /// The caller makes sure `sources` is of the template's family.
    pub fn new(template: SegmentTemplate, sources: Cidr, ports: PortRange, seed: u64) -> SegmentGenerator {
        SegmentGenerator { template, sources, ports, rng: XorShift::new(seed) }
    }

    pub fn template(&self) -> &SegmentTemplate {
        &self.template
    }

    /// The next frame's fields. The acknowledgment number is mixed from the draws already made, a new value per
    /// frame without a fourth draw: it only has to be one the target cannot predict.
    pub fn next_fields(&mut self) -> SegmentFields {
        let (a, b, c) = (self.rng.next_u64(), self.rng.next_u64(), self.rng.next_u64());
        let random = if self.sources.is_ipv4() { u128::from(a) } else { (u128::from(a) << 64) | u128::from(b) };
        let span = u64::from(self.ports.high - self.ports.low) + 1;
        SegmentFields {
            src: self.sources.base_bits() | (random & self.sources.host_mask()),
            src_port: self.ports.low + ((c >> 16) % span) as u16,
            seq: (c >> 32) as u32,
            ack: (a >> 32) as u32 ^ b as u32,
            ip_id: c as u16,
            ts_val: (b >> 32) as u32,
        }
    }

    /// Writes the next frame into `out` (exactly the template's length).
    pub fn fill(&mut self, out: &mut [u8]) {
        let fields = self.next_fields();
        self.template.write(out, &fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::segment::TcpFlags;
    use crate::wire::{LinkType, decode};

    const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const DST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn generator(dst: &str, sources: &str, options: &str) -> SegmentGenerator {
        let shape = Shape { options: options.parse().unwrap(), ..Shape::default() };
        let template = SegmentTemplate::new(SRC_MAC, DST_MAC, dst.parse().unwrap(), &shape).unwrap();
        SegmentGenerator::new(template, sources.parse().unwrap(), "1024-65535".parse().unwrap(), 7)
    }

    /// Both checksums, recomputed from scratch by etherparse.
    fn checksums_verify(frame: &[u8]) {
        let sliced = etherparse::SlicedPacket::from_ethernet(frame).unwrap();
        let Some(etherparse::TransportSlice::Tcp(tcp)) = &sliced.transport else { panic!("not TCP") };
        let expected = match &sliced.net {
            Some(etherparse::NetSlice::Ipv4(ip)) => {
                let header = ip.header().to_header();
                assert_eq!(header.header_checksum, header.calc_header_checksum());
                tcp.to_header().calc_checksum_ipv4(&header, tcp.payload()).unwrap()
            }
            Some(etherparse::NetSlice::Ipv6(ip)) => {
                tcp.to_header().calc_checksum_ipv6(&ip.header().to_header(), tcp.payload()).unwrap()
            }
            _ => panic!("not IP"),
        };
        assert_eq!(tcp.checksum(), expected);
    }

    #[test]
    fn every_syn_has_valid_checksums_and_the_asked_fields() {
        for (dst, sources, options) in [
            ("10.0.0.2:80", "198.18.0.0/15", "mss"),
            ("127.0.0.1:9999", "0.0.0.0/0", "mss,sack,ts,wscale"),
            ("10.0.0.2:80", "192.0.2.1", "none"),
            ("[::1]:9999", "2001:2::/48", "mss,ts"),
        ] {
            let mut generator = generator(dst, sources, options);
            let cidr: Cidr = sources.parse().unwrap();
            let mut frame = vec![0; generator.template().len()];
            for _ in 0..2000 {
                generator.fill(&mut frame);
                checksums_verify(&frame);
                let packet = decode(LinkType::Ethernet, &frame);
                assert_eq!(packet.malformed, None);
                let tcp = packet.tcp().unwrap();
                assert_eq!(tcp.flags, TcpFlags(TcpFlags::SYN));
                assert!(tcp.src_port >= 1024);
                let (src, dst_ip) = match &packet.net {
                    crate::wire::packet::Net::Ipv4(ip) => (IpAddr::V4(ip.src), IpAddr::V4(ip.dst)),
                    crate::wire::packet::Net::Ipv6(ip) => (IpAddr::V6(ip.src), IpAddr::V6(ip.dst)),
                    other => panic!("{other:?}"),
                };
                assert!(cidr.contains(src), "{src} outside {cidr}");
                assert_eq!(SocketAddr::new(dst_ip, tcp.dst_port), dst.parse::<SocketAddr>().unwrap());
                assert_eq!(tcp.options().mss(), options.contains("mss").then_some(super::super::spec::MSS));
            }
        }
    }

    #[test]
    fn checksum_edge_values_survive() {
        // Fields whose words sum to all ones, or to zero, exercise the fold and the complement.
        let shape = Shape { options: "ts".parse().unwrap(), flags: "A".parse().unwrap(), ..Shape::default() };
        let template = SegmentTemplate::new(SRC_MAC, DST_MAC, "10.0.0.2:80".parse().unwrap(), &shape);
        let template = template.unwrap();
        let mut frame = vec![0; template.len()];
        for value in [0u32, u32::MAX, 0xffff, 0xffff_0000, 1] {
            let fields = SegmentFields {
                src: u128::from(value),
                src_port: value as u16,
                seq: value,
                ack: !value,
                ip_id: !value as u16,
                ts_val: value,
            };
            template.write(&mut frame, &fields);
            checksums_verify(&frame);
        }
    }

    #[test]
    fn the_same_seed_makes_the_same_flood_and_ports_stay_in_range() {
        let make = || {
            let template = SegmentTemplate::new(SRC_MAC, DST_MAC, "10.0.0.2:80".parse().unwrap(), &Shape::default());
            SegmentGenerator::new(template.unwrap(), "10.9.0.0/16".parse().unwrap(), "5000-5009".parse().unwrap(), 42)
        };
        let (mut a, mut b) = (make(), make());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let fields = a.next_fields();
            assert_eq!(fields, b.next_fields());
            assert!((5000..=5009).contains(&fields.src_port));
            seen.insert(fields.src_port);
        }
        assert_eq!(seen.len(), 10, "every port of a small range is used");
    }

    #[test]
    fn other_shapes_keep_valid_checksums_and_carry_their_flags_options_payload_and_fragment_bits() {
        let shapes = [
            ("A", None, 0, false),
            ("R", None, 1, false),
            ("F", None, 0, false),
            ("S", Some("02040000"), 0, false),
            ("S", Some("010303ff"), 0, false),
            ("S", Some("02ff"), 0, false),
            ("A", None, 1460, false),
            ("S", None, 0, true),
        ];
        for (flags, raw, data, fragment) in shapes {
            let shape = Shape {
                flags: flags.parse().unwrap(),
                raw: raw.map(|hex| hex.parse().unwrap()),
                data,
                fragment,
                ..Shape::default()
            };
            let template = SegmentTemplate::new(SRC_MAC, DST_MAC, "10.0.0.2:80".parse().unwrap(), &shape).unwrap();
            let mut generator =
                SegmentGenerator::new(template, "198.18.0.0/15".parse().unwrap(), "1024-65535".parse().unwrap(), 3);
            let mut frame = vec![0; generator.template().len()];
            let mut acks = std::collections::HashSet::new();
            for _ in 0..200 {
                generator.fill(&mut frame);
                assert_eq!(frame[20] & 0x20 != 0, fragment, "More Fragments bit");
                if fragment {
                    // etherparse will not slice a fragment's transport; check the IPv4 header sum by hand.
                    assert_eq!(fold(word_sum(&frame[14..34])), 0xffff);
                    continue;
                }
                checksums_verify(&frame);
                let packet = decode(LinkType::Ethernet, &frame);
                let tcp = packet.tcp().unwrap();
                assert_eq!(tcp.flags, shape.flags.0);
                assert_eq!(tcp.payload_len, u32::from(data));
                if let Some(raw) = &shape.raw {
                    assert_eq!(&frame[54..54 + raw.0.len()], raw.0.as_slice());
                }
                if shape.flags.0.ack() {
                    acks.insert(tcp.ack);
                } else {
                    assert_eq!(tcp.ack, 0, "no ACK flag, no acknowledgment number");
                }
            }
            if shape.flags.0.ack() {
                assert!(acks.len() > 190, "{flags}: acknowledgment numbers are random ({} distinct)", acks.len());
            }
        }
    }
}
