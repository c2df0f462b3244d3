//! `-e`: the link-level prefix tcpdump 4.99 prints before the packet, per link type (print-ether.c, print-sll.c,
//! print-null.c, print-raw.c here; the LAN, serial and firewall-log families in their own files). Where tcpdump
//! prints part of a link header without -e too and the -e text follows it (radiotap's fields, PPPoE's header),
//! [`super::link_prefix`] writes that -e text in its place; Frame Relay's pad notes lead its -e text, so under -e
//! they are written here. With it shown, tcpdump prints no `IP `/`IP6 `/`ARP, ` before the packet (ip_print,
//! ip6_print and arp_print leave their name out under -e), which [`super::text`] follows.

mod lan;
mod logs;
mod serial;

pub(super) use lan::radiotap_inner;
pub(super) use serial::ppp;

use std::fmt::Write as _;

use super::PacketRecord;
use super::names::ether_type_name;
use crate::wire::LinkType;

pub fn mac(line: &mut String, m: &[u8]) {
    for (i, byte) in m.iter().enumerate() {
        if i > 0 {
            line.push(':');
        }
        let _ = write!(line, "{byte:02x}");
    }
}

/// `ethertype IPv4 (0x0800)`, or `ethertype Unknown (0x88b5)` for a type tcpdump has no name for.
pub fn ether_type(line: &mut String, value: u16) {
    let name = ether_type_name(value).unwrap_or("Unknown");
    let _ = write!(line, "ethertype {name} (0x{value:04x})");
}

/// The prefix for `record`'s link type; `length` is always the frame's length on the wire.
pub fn write_link_header(line: &mut String, record: &PacketRecord<'_>) {
    let link = &record.packet.link;
    let data = record.frame.data;
    let wire = record.frame.orig_len;
    match link.link_type {
        LinkType::Ethernet => ethernet(line, link, wire),
        // raw_if_print: `ip: ` and nothing of the (absent) link header.
        LinkType::RawIp | LinkType::Ipv4 | LinkType::Ipv6 | LinkType::RawDlt12 | LinkType::RawDlt14 => {
            line.push_str("ip: ")
        }
        LinkType::Fddi => lan::fddi(line, data, wire),
        LinkType::Ieee80211 => lan::ieee80211(line, data, wire, false),
        // Radiotap's fields come first, with or without -e: link_prefix writes them, then the 802.11 part. A packet
        // that is not IP gets no fields from it (synscope does not show them there), so the 802.11 part is here.
        LinkType::Radiotap if !is_ip(record) => lan::radiotap_inner(line, data, wire),
        LinkType::Radiotap => {}
        LinkType::Ppi => lan::ppi(line, data, wire, |line, inner_wire| ethernet(line, link, inner_wire)),
        LinkType::CiscoHdlc => serial::cisco_hdlc(line, data, wire),
        LinkType::PppSerial => serial::ppp_hdlc(line, data, wire),
        LinkType::Slip => serial::slip(line, data, wire),
        LinkType::FrameRelay => {
            let _ = serial::frame_relay(line, data, wire);
        }
        // The PPP header's text follows the encapsulations (link_prefix), as PPP inside PPPoE and Frame Relay does.
        LinkType::Ppp => {}
        LinkType::Pflog => logs::pflog(line, data),
        LinkType::Nflog => logs::nflog(line, data, wire),
        LinkType::Null | LinkType::Loop => {
            let Some(bytes) = data.get(..4) else { return };
            // tcpdump reads the family in its host's order and swaps it when the upper half is set (a capture from
            // a host of the other byte order, or LOOP's network order); read as on the little-endian hosts it
            // runs on.
            let mut family = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if family & 0xffff_0000 != 0 {
                family = family.swap_bytes();
            }
            let name = match family {
                2 => "IPv4",
                6 => "NS",
                7 => "ISO",
                16 => "Appletalk",
                23 => "IPX",
                // BSD, FreeBSD and Darwin numbered AF_INET6 differently (24, 28, 30).
                24 | 28 | 30 => "IPv6",
                _ => "Unknown",
            };
            let _ = write!(line, "AF {name} ({family}), length {wire}: ");
        }
        LinkType::LinuxSll => {
            // struct sll_header: packet type, ARPHRD type, address length, 8 address bytes, protocol.
            let Some(header) = data.get(..16) else { return };
            let _ = write!(line, "{:>3} ", packet_type(u16::from_be_bytes([header[0], header[1]])));
            if u16::from_be_bytes([header[4], header[5]]) == 6 {
                mac(line, &header[6..12]);
                line.push(' ');
            }
            sll_protocol(line, u16::from_be_bytes([header[14], header[15]]), wire);
        }
        LinkType::LinuxSll2 => {
            // struct sll2_header: protocol, reserved, interface index, ARPHRD type, packet type, address length,
            // 8 address bytes.
            let Some(header) = data.get(..20) else { return };
            write_sll2_interface(line, data);
            let index = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
            let _ = write!(line, "ifindex {index} ");
            if header[11] == 6 {
                mac(line, &header[12..18]);
                line.push(' ');
            }
            sll_protocol(line, u16::from_be_bytes([header[0], header[1]]), wire);
        }
        #[allow(unreachable_patterns)] // Link types added later print their name until they get their own prefix.
        _ => {
            let _ = write!(line, "{}, length {wire}: ", link.link_type.name());
        }
    }
}

/// sll2_if_print's start, with or without -e: the interface's name and the packet's direction in columns
/// (`lo    In  `). tcpdump names the interface as the host it runs on numbers them (if_indextoname), `?` if
/// none; loopback is index 1 on every Linux host. Nothing for a frame too short for the header.
pub fn write_sll2_interface(line: &mut String, data: &[u8]) {
    let Some(header) = data.get(..20) else { return };
    let index = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let name = interface_name(index).unwrap_or_else(|| "?".into());
    let _ = write!(line, "{name:<5} {:<3} ", packet_type(u16::from(header[10])));
}

fn is_ip(record: &PacketRecord<'_>) -> bool {
    matches!(record.packet.net, crate::wire::packet::Net::Ipv4(_) | crate::wire::packet::Net::Ipv6(_))
}

/// print-ether.c under -e: `src > dst, ethertype NAME (0xNNNN), length N: ` and each VLAN tag's line. `wire` is
/// the length from the Ethernet header on (a PPI header before it is not counted).
fn ethernet(line: &mut String, link: &crate::wire::packet::Link, wire: u32) {
    // A frame too short for its Ethernet header has none to show (tcpdump prints only `[|ether]`).
    let Some(eth) = &link.ethernet else { return };
    mac(line, &eth.src);
    line.push_str(" > ");
    mac(line, &eth.dst);
    line.push_str(", ");
    ether_type(line, eth.outer_ether_type);
    let _ = write!(line, ", length {wire}: ");
    for tag in link.vlans.as_slice() {
        let _ = write!(line, "vlan {}, p {}, ", tag.id, tag.priority);
        ether_type(line, tag.inner_ether_type);
        line.push_str(", ");
    }
}

/// `sll_pkttype_values` (Linux's PACKET_HOST ... PACKET_OUTGOING).
fn packet_type(value: u16) -> &'static str {
    match value {
        0 => "In",
        1 => "B",
        2 => "M",
        3 => "P",
        4 => "Out",
        _ => "?",
    }
}

/// The cooked header's protocol: an EtherType, or below 1536 one of Linux's pseudo-types (if_ether.h).
fn sll_protocol(line: &mut String, protocol: u16, wire: u32) {
    match protocol {
        0x0001 => line.push_str("802.3"),
        0x0004 => line.push_str("802.2"),
        0..=1500 => {
            let _ = write!(line, "ethertype Unknown (0x{protocol:04x})");
        }
        _ => ether_type(line, protocol),
    }
    let _ = write!(line, ", length {wire}: ");
}

/// Interface indexes whose names are remembered, per printing thread. A capture names a handful; one that names
/// more (a crafted file can hold any index) is looked up each time past this, so memory stays bounded.
const REMEMBERED_INTERFACES: usize = 64;

thread_local! {
    static INTERFACE_NAMES: std::cell::RefCell<Vec<(u32, Option<String>)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// This host's name for interface `index`, as if_indextoname(3) gives it. Remembered, since glibc's
/// if_indextoname opens a socket and asks the kernel on every call, and `-e` prints one per SLL2 packet.
fn interface_name(index: u32) -> Option<String> {
    INTERFACE_NAMES.with(|names| {
        if let Some((_, name)) = names.borrow().iter().find(|(i, _)| *i == index) {
            return name.clone();
        }
        let name = look_up_interface_name(index);
        let mut names = names.borrow_mut();
        if names.len() < REMEMBERED_INTERFACES {
            names.push((index, name.clone()));
        }
        name
    })
}

fn look_up_interface_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf holds IF_NAMESIZE bytes, as if_indextoname requires; it writes a NUL-terminated name or fails.
    let name = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if name.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated string.
    let cstr = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(cstr.to_string_lossy().into_owned())
}
