//! One line per packet, close to `tcpdump -nn`, with room at the end for the tracker's annotations.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use super::app::{self, Payload};
use super::fast::{Ipv4Text, push_dec, push_ip};
use super::icmp_text::write_icmp;
use super::ipsec_text::{AH, ESP, write_ah, write_esp};
use super::ipv6_ext_text::{ChainEnd, write_extensions};
use super::link_header::{ether_type, mac, write_link_header, write_sll2_interface};
use super::names::{ether_type_name, ip_protocol_name};
use super::relative_seq::{Relative, RelativeSeq};
use super::time_column::TimeColumn;
pub use super::time_column::TimeFormat;
use super::{PacketRecord, Sink};
use crate::time::Timestamp;
use crate::track::TrackerEvent;
use crate::track::flood_detector::FloodEvent;
use crate::wire::packet::{ArpInfo, IcmpInfo, Ipv4Info, Net, PartialTransport, Transport, UdpInfo};
use crate::wire::tcp_options::{OptionsEnd, TcpdumpView, write_tcpdump_options_field};
use crate::wire::{LinkType, Packet, TcpFlags, TcpSegment};

#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    pub time: TimeFormat,
    /// `--nano`: nine fractional digits instead of six.
    pub nano: bool,
    /// `-S`: absolute TCP sequence numbers.
    pub absolute_seq: bool,
    /// `-e`: link-level header (MACs, EtherType, VLAN tags).
    pub link_header: bool,
}

pub struct TextPrinter<W: Write> {
    out: W,
    options: TextOptions,
    line: String,
    relative: RelativeSeq,
    time: TimeColumn,
    ipv4: Ipv4Text,
}

impl<W: Write> TextPrinter<W> {
    pub fn new(out: W, options: TextOptions) -> Self {
        TextPrinter {
            out,
            options,
            line: String::with_capacity(256),
            relative: RelativeSeq::default(),
            time: TimeColumn::new(options.time, options.nano),
            ipv4: Ipv4Text::default(),
        }
    }

    /// Formats one packet without the newline; annotations may be appended before it is written.
    pub fn format(&mut self, record: &PacketRecord<'_>) -> &mut String {
        self.line.clear();
        self.time.write_raw(&mut self.line, record.frame.ts, record.frame.raw_stamp);
        let mut line = std::mem::take(&mut self.line);
        if self.options.link_header {
            write_link_header(&mut line, record);
        } else if record.packet.link.link_type == LinkType::LinuxSll2 {
            write_sll2_interface(&mut line, record.frame.data);
        }
        let relative = if self.options.absolute_seq { None } else { self.relative.relative(record.packet) };
        let shown = self.options.link_header;
        super::link_prefix::write(&mut line, record.packet, record.frame.data, record.frame.orig_len, shown);
        if !super::link_prefix::write_undecoded(&mut line, record.packet, record.frame.data, record.frame.orig_len) {
            let frame = record.frame;
            write_packet(&mut line, &mut self.ipv4, record.packet, frame.data, frame.orig_len, shown, relative);
        }
        for annotation in record.annotations {
            line.push(' ');
            annotation.push_text(&mut line);
        }
        self.line = line;
        &mut self.line
    }

    fn write_time(&mut self, ts: Timestamp) {
        self.time.write(&mut self.line, ts);
    }

    /// Writes the line formatted last, plus a newline.
    pub fn emit(&mut self) -> io::Result<()> {
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }
}

impl<W: Write> Sink for TextPrinter<W> {
    fn packet(&mut self, record: &PacketRecord<'_>) -> io::Result<()> {
        self.format(record);
        self.emit()
    }

    fn event(&mut self, event: &TrackerEvent) -> io::Result<()> {
        self.line.clear();
        match event {
            TrackerEvent::HalfOpen { ts, orig, resp, after } => {
                self.write_time(*ts);
                let _ = write!(
                    self.line,
                    "[half-open: no SYN-ACK after {} s] {} > {}",
                    after.as_secs_f64(),
                    orig.socket_addr(),
                    resp.socket_addr()
                );
            }
            TrackerEvent::Flood(flood) => {
                let ts = match flood {
                    FloodEvent::Started { ts, .. } => *ts,
                    FloodEvent::Ended { ended, .. } => *ended,
                };
                self.write_time(ts);
                let _ = write!(self.line, "{flood}");
            }
        }
        self.emit()
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The packet from the network layer on: `IP a.p > b.p: Flags [S], ...`. `orig_len` is the frame's length on the
/// wire, which may exceed the bytes captured. `link_shown`: `-e` printed the link header, after which tcpdump names
/// neither IP, IPv6 nor ARP again.
fn write_packet(
    line: &mut String,
    ipv4: &mut Ipv4Text,
    packet: &Packet<'_>,
    frame: &[u8],
    orig_len: u32,
    link_shown: bool,
    relative: Option<Relative>,
) {
    let captured = frame.len();
    let on_wire = orig_len.saturating_sub(u32::from(packet.link.header_len));
    // Whether the damage was shown in tcpdump's own notation (`[|hbhopt]`, ...), which says it already.
    let mut notation_shown = false;
    match &packet.net {
        Net::Ipv4(_) | Net::Ipv6(_) => {
            notation_shown = write_ip(line, ipv4, packet, frame, on_wire, link_shown, relative);
        }
        // arp_print's length is what the link layer passed on: the wire's, Ethernet padding included.
        Net::Arp(arp) => write_arp(line, arp, on_wire, link_shown),
        // An EtherType tcpdump has no printer for: without -e it still shows the MACs, the type and the wire length
        // (ether_print's "type not known" branch), with -e the header already said all that.
        Net::Other { ether_type: value } if ether_type_name(*value).is_none() && packet.link.ethernet.is_some() => {
            if !link_shown && let Some(eth) = &packet.link.ethernet {
                mac(line, &eth.src);
                line.push_str(" > ");
                mac(line, &eth.dst);
                line.push_str(", ");
                ether_type(line, *value);
                let _ = write!(line, ", length {orig_len}: ");
            }
        }
        Net::Other { ether_type: value } => {
            match ether_type_name(*value) {
                Some(name) => line.push_str(name),
                None => {
                    let _ = write!(line, "ethertype 0x{value:04x}");
                }
            }
            // Like tcpdump, the length of what follows the link header.
            let _ = write!(line, ", length {}", captured.saturating_sub(usize::from(packet.link.header_len)));
        }
        Net::None => {
            if packet.malformed.is_none() {
                let _ = write!(line, "{}, length {captured}", packet.link.link_type.name());
            } else if packet.link.link_type != LinkType::Ethernet || packet.link.ethernet.is_none() {
                line.push_str(packet.link.link_type.name());
            } else {
                line.push_str("Ethernet");
            }
        }
    }
    // A damaged TCP or UDP header is shown as tcpdump shows it (`[|tcp]`, `bad length`, ...), which says so already.
    if let Some(err) = &packet.malformed
        && packet.partial.is_none()
        && !notation_shown
    {
        let _ = write!(line, " [malformed: {err}]");
    }
}

const TCP: u8 = 6;
const UDP: u8 = 17;
const DCCP: u8 = 33;
const SCTP: u8 = 132;
const NO_NEXT_HEADER: u8 = 59;

/// `on_wire` is the IP packet's length on the wire: what was sent after the link header, captured or not. Returns
/// whether the line ended in tcpdump's truncation notation for the damage (so no `[malformed]` note is needed).
fn write_ip(
    line: &mut String,
    ipv4: &mut Ipv4Text,
    packet: &Packet<'_>,
    frame: &[u8],
    on_wire: u32,
    link_shown: bool,
    relative: Option<Relative>,
) -> bool {
    let (Some(src), Some(dst)) = (packet.src_ip(), packet.dst_ip()) else { return false };
    if !link_shown {
        line.push_str(if matches!(packet.net, Net::Ipv4(_)) { "IP " } else { "IP6 " });
    }
    // A header announcing more than the wire carried: tcpdump (4.99.5 on) flags it and decodes what is there.
    match &packet.net {
        Net::Ipv4(ip) if u32::from(ip.total_len) > on_wire => {
            let _ = write!(line, "[total length {} > length {on_wire}] (invalid) ", ip.total_len);
        }
        // A payload length of 0 is a jumbogram's (RFC 2675), whose length is elsewhere.
        Net::Ipv6(ip) if ip.payload_len != 0 && 40 + u32::from(ip.payload_len) > on_wire => {
            let _ = write!(
                line,
                "[header+payload length {} > length {on_wire}] (invalid) ",
                40 + u32::from(ip.payload_len)
            );
        }
        _ => {}
    }
    // A total length shorter than the header itself ends the line (0 is a TCP segmentation offload's, tcpdump
    // presumes, and stands for the wire length).
    if let Net::Ipv4(ip) = &packet.net
        && ip.total_len != 0
        && ip.total_len < ip.header_len
    {
        let _ = write!(line, "[total length {} < header length {}] (invalid)", ip.total_len, ip.header_len);
        return false;
    }
    let addresses = |line: &mut String, ipv4: &mut Ipv4Text| {
        push_addr(line, ipv4, src);
        line.push_str(" > ");
        push_addr(line, ipv4, dst);
    };
    if let Net::Ipv4(ip) = &packet.net
        && ip.fragment_offset != 0
    {
        // A later fragment has no transport header: tcpdump names only the protocol, by number under -n.
        addresses(line, ipv4);
        let _ = write!(line, ": ip-proto-{}", ip.protocol);
        return false;
    }
    let ip_bytes = frame.get(usize::from(packet.link.header_len)..).unwrap_or(&[]);
    if let Net::Ipv4(ip) = &packet.net
        && matches!(ip.protocol, AH | ESP)
    {
        addresses(line, ipv4);
        line.push_str(": ");
        match write_ipsec_v4(line, ip, ip_bytes) {
            IpsecEnd::Upper { protocol: TCP | UDP } => {
                // What follows is printed as after an IPv6 extension header: the ports without the addresses.
                if let Some((sport, dport)) = packet.ports().or_else(|| partial_ports(packet)) {
                    let _ = write!(line, "{sport} > {dport}: ");
                }
            }
            IpsecEnd::Upper { .. } => {}
            IpsecEnd::Done => return false,
            IpsecEnd::Truncated => return true,
        }
    } else if let Net::Ipv6(ip) = &packet.net
        && !matches!(ip_bytes.get(6), Some(&(TCP | UDP | DCCP | SCTP)) | None)
    {
        // Unless TCP, UDP, DCCP or SCTP follows the fixed header, ip6_print prints the addresses alone, then each
        // extension header, then the upper layer, a TCP or UDP header as `SPORT > DPORT: `.
        addresses(line, ipv4);
        line.push_str(": ");
        match write_extensions(line, ip_bytes) {
            ChainEnd::Stop => return false,
            ChainEnd::Truncated => return true,
            ChainEnd::Invalid => return false,
            ChainEnd::Upper { protocol: TCP | UDP } => {
                if let Some((sport, dport)) = packet.ports().or_else(|| partial_ports(packet)) {
                    let _ = write!(line, "{sport} > {dport}: ");
                }
            }
            ChainEnd::Upper { protocol: NO_NEXT_HEADER } => {
                line.push_str("no next header");
                return false;
            }
            ChainEnd::Upper { protocol } if ip_protocol_name(protocol).is_none() => {
                // ip_demux_print's default: the number and the length left, each after a space.
                let _ = write!(line, " ip-proto-{protocol} {}", ip.upper_len);
                return false;
            }
            ChainEnd::Upper { .. } => {}
        }
    } else if let Some((sport, dport)) = packet.ports().or_else(|| partial_ports(packet)) {
        push_addr(line, ipv4, src);
        line.push('.');
        push_dec(line, sport);
        line.push_str(" > ");
        push_addr(line, ipv4, dst);
        line.push('.');
        push_dec(line, dport);
        line.push_str(": ");
    } else {
        addresses(line, ipv4);
        line.push_str(": ");
    }
    match &packet.transport {
        Transport::Tcp(tcp) => write_tcp(line, tcp, relative),
        Transport::Udp(udp) => write_udp(line, packet, udp, frame),
        Transport::Icmp(icmp) => write_icmp(line, icmp, icmp_bytes(packet, icmp, frame)),
        // Only a later fragment, whose transport header is in the first: printed above.
        Transport::Fragment { .. } => {}
        Transport::Other { protocol, len } => {
            match ip_protocol_name(*protocol) {
                Some(name) => line.push_str(name),
                None => {
                    let _ = write!(line, "ip-proto-{protocol}");
                }
            }
            let _ = write!(line, ", length {len}");
        }
        Transport::None => match packet.partial {
            Some(partial) => write_partial(line, &partial),
            None if packet.malformed.is_none() => line.push_str("no payload"),
            None => line.truncate(line.trim_end_matches([' ', ':']).len()),
        },
    }
    false
}

/// Where the transport header starts behind any IPv4 authentication headers (RFC 4302 §2.2: next header, then the
/// length in 32-bit words minus 2) that begin at `at` in `frame`.
fn after_authentication_headers(frame: &[u8], mut at: usize, mut protocol: u8) -> usize {
    while protocol == AH {
        let Some(&[next, len]) = frame.get(at..at + 2) else { break };
        at += (usize::from(len) + 2) * 4;
        protocol = next;
    }
    at
}

/// Where the IPsec headers after an IPv4 header led.
enum IpsecEnd {
    /// To this protocol, which the caller prints.
    Upper { protocol: u8 },
    /// ESP: nothing more can be read.
    Done,
    /// The capture ended in an authentication header (` [|ah]`).
    Truncated,
}

/// ip_demux_print's loop over AH and ESP for an IPv4 packet (`ip_bytes` from its header on): each AH header, then
/// ESP or the protocol the last one protects.
fn write_ipsec_v4(line: &mut String, ip: &Ipv4Info, ip_bytes: &[u8]) -> IpsecEnd {
    let end = if ip.total_len == 0 { ip_bytes.len() } else { usize::from(ip.total_len).min(ip_bytes.len()) };
    let mut rest = ip_bytes.get(usize::from(ip.header_len)..end).unwrap_or_default();
    let mut length = u32::from(ip.total_len.saturating_sub(ip.header_len));
    let mut protocol = ip.protocol;
    loop {
        match protocol {
            AH => match write_ah(line, rest) {
                Some((next, len)) => {
                    protocol = next;
                    rest = rest.get(len..).unwrap_or_default();
                    length = length.saturating_sub(len as u32);
                }
                None => return IpsecEnd::Truncated,
            },
            ESP => {
                write_esp(line, rest, length);
                return IpsecEnd::Done;
            }
            protocol => return IpsecEnd::Upper { protocol },
        }
    }
}

/// An address of the IP header: IPv4 through the printer's cache of dotted addresses.
fn push_addr(line: &mut String, ipv4: &mut Ipv4Text, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => ipv4.push(line, v4),
        IpAddr::V6(_) => push_ip(line, ip),
    }
}

fn write_udp(line: &mut String, packet: &Packet<'_>, udp: &UdpInfo, frame: &[u8]) {
    // The IP payload as announced (unknown under a total length of 0); a fragment's UDP length covers the whole
    // datagram, so tcpdump lets it exceed the fragment.
    let ip_payload = match &packet.net {
        Net::Ipv4(ip) if ip.total_len != 0 => u32::from(ip.total_len.saturating_sub(ip.header_len)),
        Net::Ipv6(ip) => ip.upper_len,
        _ => u32::MAX,
    };
    if udp.length < 8 {
        let _ = write!(line, "truncated-udplength {}", udp.length);
        return;
    }
    // udp_print hands its printers the smaller of the lengths the UDP and IP headers give.
    let payload_len = u32::from(udp.length - 8).min(ip_payload.saturating_sub(8));
    let payload_bytes = transport_bytes(packet, frame).get(8..).unwrap_or_default();
    if app::write_udp_payload(line, udp.src_port, udp.dst_port, Payload::new(payload_bytes, payload_len)) {
        return;
    }
    if !packet.is_fragment() && u32::from(udp.length) > ip_payload {
        let _ = write!(line, "UDP, bad length {} > {}", udp.length - 8, ip_payload.saturating_sub(8));
    } else {
        line.push_str("UDP, length ");
        push_dec(line, udp.payload_len());
    }
}

/// A TCP or UDP header tcpdump stops in, after the addresses (and the ports, when they were there), as tcpdump
/// 4.99's `tcp_print` and `udp_print` word it. A truncation mark brings a space of its own after the `: `.
fn write_partial(line: &mut String, partial: &PartialTransport) {
    match *partial {
        PartialTransport::Tcp { ports: None, .. } => line.push_str("[|tcp]"),
        PartialTransport::Tcp { header: None, .. } => line.push_str(" [|tcp]"),
        PartialTransport::Tcp { header: Some((flags, header_len)), ip_payload_len, .. } => {
            if header_len < 20 {
                let rest = ip_payload_len.saturating_sub(u32::from(header_len));
                let _ = write!(line, " tcp {rest} [bad hdr length {header_len} - too short, < 20]");
            } else {
                line.push_str("Flags [");
                line.push_str(flags.tcpdump_letters().as_str());
                let _ = write!(line, "] [bad hdr length {header_len} - too long, > {ip_payload_len}]");
            }
        }
        PartialTransport::Udp { ports: None, .. } => line.push_str(" [|udp]"),
        PartialTransport::Udp { ip_payload_len, .. } if ip_payload_len < 8 => {
            let _ = write!(line, "truncated-udp {ip_payload_len}");
        }
        PartialTransport::Udp { length: None, .. } => line.push_str(" [|udp]"),
        PartialTransport::Udp { length: Some(length), .. } if length < 8 => {
            let _ = write!(line, "truncated-udplength {length}");
        }
        PartialTransport::Udp { captured, .. } if captured < 8 => line.push_str(" [|udp]"),
        PartialTransport::Udp { length: Some(length), ip_payload_len, .. } => {
            let (length, payload) = (u32::from(length) - 8, ip_payload_len - 8);
            if length > payload {
                let _ = write!(line, "UDP, bad length {length} > {payload}");
            } else {
                let _ = write!(line, "UDP, length {length}");
            }
        }
    }
}

/// The ports of a TCP or UDP header that could not be decoded, when they were there.
fn partial_ports(packet: &Packet<'_>) -> Option<(u16, u16)> {
    match packet.partial? {
        PartialTransport::Tcp { ports, .. } | PartialTransport::Udp { ports, .. } => ports,
    }
}

fn write_tcp(line: &mut String, tcp: &TcpSegment<'_>, relative: Option<Relative>) {
    let (seq, ack) = relative.and_then(|r| r.seq_ack).unwrap_or((tcp.seq, tcp.ack));
    let sack_base = relative.map_or(0, |r| r.peer_base);
    match common_flags_field(tcp.flags) {
        Some(field) => line.push_str(field),
        None => {
            line.push_str("Flags [");
            line.push_str(tcp.flags.tcpdump_letters().as_str());
            line.push(']');
        }
    }
    // tcpdump prints seq only when the segment occupies sequence space or carries a control flag.
    if tcp.payload_len > 0 || tcp.flags.syn() || tcp.flags.fin() || tcp.flags.rst() {
        line.push_str(", seq ");
        push_dec(line, seq);
        if tcp.payload_len > 0 {
            line.push(':');
            push_dec(line, seq.wrapping_add(tcp.payload_len));
        }
    }
    if tcp.flags.ack() {
        line.push_str(", ack ");
        push_dec(line, ack);
    }
    line.push_str(", win ");
    push_dec(line, tcp.window);
    if tcp.flags.has(TcpFlags::URG) {
        let _ = write!(line, ", urg {}", tcp.urgent);
    }
    if !tcp.options_raw.is_empty() {
        let view = TcpdumpView {
            flags: tcp.flags,
            sack_base,
            payload_captured: tcp.payload.len(),
            payload_complete: tcp.payload.len() as u64 >= u64::from(tcp.payload_len),
        };
        // After `[bad opt]` or a truncation tcpdump prints nothing more of the segment, not even its length.
        if write_tcpdump_options_field(line, tcp.options_raw, &view) != OptionsEnd::Closed {
            return;
        }
    }
    line.push_str(", length ");
    push_dec(line, tcp.payload_len);
    if tcp.payload_len > 0 {
        app::write_tcp_payload(line, tcp.src_port, tcp.dst_port, Payload::new(tcp.payload, tcp.payload_len));
    }
}

/// `Flags [letters]` for the flag sets of nearly every segment, as constants: building the letters bit by bit and
/// checking the buffer is UTF-8 cost 74 instr/pkt more, and three appends instead of one ~20 more (callgrind,
/// `gen bench` file). `None` for any other set.
fn common_flags_field(flags: TcpFlags) -> Option<&'static str> {
    const SYN: u16 = TcpFlags::SYN;
    const SYN_ACK: u16 = TcpFlags::SYN | TcpFlags::ACK;
    const ACK: u16 = TcpFlags::ACK;
    const PSH_ACK: u16 = TcpFlags::PSH | TcpFlags::ACK;
    const FIN_ACK: u16 = TcpFlags::FIN | TcpFlags::ACK;
    const FIN_PSH_ACK: u16 = TcpFlags::FIN | TcpFlags::PSH | TcpFlags::ACK;
    const RST: u16 = TcpFlags::RST;
    const RST_ACK: u16 = TcpFlags::RST | TcpFlags::ACK;
    Some(match flags.0 {
        SYN => "Flags [S]",
        SYN_ACK => "Flags [S.]",
        ACK => "Flags [.]",
        PSH_ACK => "Flags [P.]",
        FIN_ACK => "Flags [F.]",
        FIN_PSH_ACK => "Flags [FP.]",
        RST => "Flags [R]",
        RST_ACK => "Flags [R.]",
        _ => return None,
    })
}

/// The captured bytes of the ICMP message in `frame`: after the link header, the IP header and any IPv6 extension
/// headers, and no further than the message's length (Ethernet padding is not part of it).
fn icmp_bytes<'a>(packet: &Packet<'_>, icmp: &IcmpInfo, frame: &'a [u8]) -> &'a [u8] {
    let bytes = transport_bytes(packet, frame);
    &bytes[..bytes.len().min(icmp.len as usize)]
}

/// The captured bytes from the transport header on, up to the end of the IP packet (not the link's padding).
fn transport_bytes<'a>(packet: &Packet<'_>, frame: &'a [u8]) -> &'a [u8] {
    let ip_start = usize::from(packet.link.header_len);
    let (start, ip_end) = match &packet.net {
        Net::Ipv4(ip) => {
            // A total length of 0 (segmentation offload) stands for the rest of the frame.
            let end = if ip.total_len == 0 { frame.len() } else { ip_start + usize::from(ip.total_len) };
            (after_authentication_headers(frame, ip_start + usize::from(ip.header_len), ip.protocol), end)
        }
        // The extension headers are what the payload length counts beyond the upper layer; a jumbogram (payload
        // length 0, RFC 2675) runs to the end of the frame, so they are what the frame holds beyond it.
        Net::Ipv6(ip) if ip.payload_len != 0 => {
            let end = ip_start + 40 + usize::from(ip.payload_len);
            (end.saturating_sub(ip.upper_len as usize), end)
        }
        Net::Ipv6(ip) => (frame.len().saturating_sub(ip.upper_len as usize), frame.len()),
        _ => return &[],
    };
    frame.get(start..ip_end.min(frame.len())).unwrap_or_default()
}

fn write_arp(line: &mut String, arp: &ArpInfo, on_wire: u32, link_shown: bool) {
    if !link_shown {
        line.push_str("ARP, ");
    }
    match (&arp.ethernet_ipv4, arp.operation) {
        (Some(a), 1) => {
            let _ = write!(line, "Request who-has {} tell {}", a.target_ip, a.sender_ip);
        }
        (Some(a), 2) => {
            let _ = write!(line, "Reply {} is-at ", a.sender_ip);
            mac(line, &a.sender_mac);
        }
        _ => {
            let _ = write!(
                line,
                "hardware {} protocol 0x{:04x} op {}",
                arp.hardware_type, arp.protocol_type, arp.operation
            );
        }
    }
    let _ = write!(line, ", length {on_wire}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_flags_fields_hold_tcpdump_letters() {
        for bits in 0..0x200u16 {
            let flags = TcpFlags(bits);
            if let Some(field) = common_flags_field(flags) {
                assert_eq!(field, format!("Flags [{}]", flags.tcpdump_letters().as_str()), "flags {bits:#x}");
            }
        }
        assert_eq!(common_flags_field(TcpFlags(TcpFlags::PSH | TcpFlags::ACK)), Some("Flags [P.]"));
    }
}
