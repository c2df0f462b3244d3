//! `-e` for the LAN link types that carry 802.2 LLC: FDDI (print-fddi.c), 802.11 (print-802_11.c) with its radio
//! headers, radiotap and PPI (print-ppi.c), and the LLC/SNAP header both lead to (print-llc.c).

use std::fmt::Write as _;

use super::mac;

/// print-fddi.c's fddi_hdr_print: the frame control kind, `src > dst`, the length on the wire; then, for an
/// asynchronous LLC frame (the only kind fddi_print hands to llc_print), the LLC header. `frame` starts at the
/// FDDI header; `wire` is its length on the wire. A header too short prints nothing (tcpdump: `[|fddi]`).
pub fn fddi(line: &mut String, frame: &[u8], wire: u32) {
    // Frame control, destination, source (ANSI X3.139); Linux's tcpdump does not bit-swap the addresses.
    let Some(header) = frame.get(..13) else { return };
    let fc = header[0];
    fddi_frame_control(line, fc);
    mac(line, &header[7..13]);
    line.push_str(" > ");
    mac(line, &header[1..7]);
    let _ = write!(line, ", length {wire}: ");
    if fc & 0xf0 == 0x50 {
        llc(line, &frame[13..], wire.saturating_sub(13));
    }
}

/// print_fddi_fc: the named frame control values, else the class (the high nibble) and its control bits.
fn fddi_frame_control(line: &mut String, fc: u8) {
    let named = match fc {
        0x40 => "void",
        0x80 => "nrt",
        0xc0 => "rt",
        0x41 => "info",
        0x4f => "nsa",
        0xc2 => "beacon",
        0xc3 => "claim",
        _ => "",
    };
    if !named.is_empty() {
        let _ = write!(line, "{named} ");
        return;
    }
    let class = match fc & 0xf0 {
        0xc0 => "mac",
        0x40 => "smt",
        0x50 => "async",
        0xd0 => "sync",
        0x60 => "imp_async",
        0xe0 => "imp_sync",
        _ => {
            let _ = write!(line, "{fc:02x} ");
            return;
        }
    };
    let _ = write!(line, "{class}{:x} ", fc & 0x0f);
}

/// llc_values: the SAPs tcpdump names.
fn sap_name(sap: u8) -> &'static str {
    match sap {
        0x00 => "Null",
        0xff => "Global",
        0x02 => "802.1B I",
        0x03 => "802.1B G",
        0x04 => "SNA",
        0x06 => "IP",
        0x0e => "ProWay NM",
        0x42 => "STP",
        0x4e => "RS511",
        0x7e => "ISO8208",
        0x8e => "ProWay",
        0xaa => "SNAP",
        0xe0 => "IPX",
        0xf0 => "NetBeui",
        0xfe => "OSI",
        _ => "Unknown",
    }
}

/// llc_print under -e: `LLC, dsap ... , ssap ..., ctrl 0x..: `, then a SNAP header's own line when the LLC is
/// SNAP with a UI control. `bytes` start at the LLC header; `wire` is what the wire holds from there. IPX's
/// raw 802.3 form (DSAP and SSAP 0xff) and the SAPs tcpdump decodes further are left as they are (nothing after the
/// LLC line); a header too short prints nothing (tcpdump: `[|llc]`).
pub fn llc(line: &mut String, bytes: &[u8], wire: u32) {
    let Some(&[dsap_field, ssap_field, control]) = bytes.get(..3) else { return };
    // U frames have a one-byte control field, I and S frames a two-byte little-endian one.
    let unnumbered = control & 0x03 == 0x03;
    let control_len = if unnumbered { 1 } else { 2 };
    let Some(control_bytes) = bytes.get(2..2 + control_len) else { return };
    let (dsap, ssap) = (dsap_field & !1, ssap_field & !1);
    let group = if dsap_field & 1 != 0 { "Group" } else { "Individual" };
    let response = if ssap_field & 1 != 0 { "Response" } else { "Command" };
    let _ = write!(
        line,
        "LLC, dsap {} (0x{dsap:02x}) {group}, ssap {} (0x{ssap:02x}) {response}, ",
        sap_name(dsap),
        sap_name(ssap)
    );
    if unnumbered {
        let _ = write!(line, "ctrl 0x{control:02x}: ");
    } else {
        let _ = write!(line, "ctrl 0x{:04x}: ", u16::from_le_bytes([control_bytes[0], control_bytes[1]]));
    }
    if dsap == 0xaa && ssap == 0xaa && control == 0x03 {
        snap(line, &bytes[3..], wire.saturating_sub(3));
    }
}

/// snap_print under -e: the OUI and the protocol, named as an EtherType under the OUIs that carry one (RFC 1042's
/// 00-00-00, Cisco's bridged 00-00-F8, Apple's 08-00-07), and the length after the SNAP header.
pub fn snap(line: &mut String, bytes: &[u8], wire: u32) {
    let Some(h) = bytes.get(..5) else { return };
    if wire < 5 {
        return;
    }
    let oui = u32::from_be_bytes([0, h[0], h[1], h[2]]);
    let protocol = u16::from_be_bytes([h[3], h[4]]);
    let oui_name = match oui {
        0x000000 => "Ethernet",
        0x00000c => "Cisco",
        0x00005e => "IANA",
        0x0000f8 => "Cisco bridged",
        0x0080c2 => "Ethernet bridged",
        0x080007 => "Appletalk",
        _ => "Unknown",
    };
    let kind = if oui == 0 { "ethertype" } else { "pid" };
    let protocol_name = match oui {
        0x000000 | 0x0000f8 | 0x080007 => super::super::names::ether_type_name(protocol).unwrap_or("Unknown"),
        _ => "Unknown",
    };
    let _ =
        write!(line, "oui {oui_name} (0x{oui:06x}), {kind} {protocol_name} (0x{protocol:04x}), length {}: ", wire - 5);
}

/// Frame control type 0 is management, 2 data (IEEE 802.11-2020 §9.2.4.1.3).
const TYPE_MANAGEMENT: u8 = 0;
const TYPE_DATA: u8 = 2;

/// print-802_11.c's ieee802_11_print under -e: the data header's CF/QoS note and addresses named by the To/From
/// DS bits (data_header_print), or a management frame's three (mgmt_header_print); then a data frame's LLC header.
/// `frame` starts at the 802.11 header; `wire` is its length on the wire less any FCS; `data_pad` is radiotap's
/// padding of the header to 4 bytes. Control frames and a header too short print nothing.
pub fn ieee80211(line: &mut String, frame: &[u8], wire: u32, data_pad: bool) {
    let Some(&[fc0, fc1]) = frame.get(..2) else { return };
    let (frame_type, subtype) = ((fc0 >> 2) & 0x03, fc0 >> 4);
    let (to_ds, from_ds) = (fc1 & 0x01 != 0, fc1 & 0x02 != 0);
    match frame_type {
        TYPE_MANAGEMENT => {
            let Some(h) = frame.get(..24) else { return };
            line.push_str("BSSID:");
            mac(line, &h[16..22]);
            line.push_str(" DA:");
            mac(line, &h[4..10]);
            line.push_str(" SA:");
            mac(line, &h[10..16]);
            line.push(' ');
        }
        TYPE_DATA => {
            // extract_header_length: 24 bytes, 30 with the fourth address, 2 more for QoS.
            let qos = subtype & 0x08 != 0;
            let mut header_len: usize = if to_ds && from_ds { 30 } else { 24 };
            if qos {
                header_len += 2;
            }
            if data_pad {
                header_len = header_len.next_multiple_of(4);
            }
            let Some(h) = frame.get(..header_len) else { return };
            let (cf_ack, cf_poll) = (subtype & 0x01 != 0, subtype & 0x02 != 0);
            if cf_ack || cf_poll || qos {
                line.push_str("CF ");
                line.push_str(match (cf_ack, cf_poll) {
                    (true, true) => "Ack/Poll",
                    (true, false) => "Ack",
                    (false, true) => "Poll",
                    (false, false) => "",
                });
                if qos {
                    line.push_str("+QoS");
                }
                line.push(' ');
            }
            let names: &[(&str, usize)] = match (to_ds, from_ds) {
                (false, false) => &[("DA", 4), ("SA", 10), ("BSSID", 16)],
                (false, true) => &[("DA", 4), ("BSSID", 10), ("SA", 16)],
                (true, false) => &[("BSSID", 4), ("SA", 10), ("DA", 16)],
                (true, true) => &[("RA", 4), ("TA", 10), ("DA", 16), ("SA", 24)],
            };
            for (name, at) in names {
                let _ = write!(line, "{name}:");
                mac(line, &h[*at..*at + 6]);
                line.push(' ');
            }
            // A null-data subtype has no body; a protected one is ciphertext (tcpdump prints `Data` and WEP).
            if subtype & 0x04 == 0 && fc1 & 0x40 == 0 {
                llc(line, &frame[header_len..], wire.saturating_sub(header_len as u32));
            }
        }
        _ => {}
    }
}

/// Radiotap's flags (radiotap.org's Flags field): the frame ends in a 4-byte FCS; the header is padded.
const RADIOTAP_F_FCS: u8 = 0x10;

/// The 802.11 part after radiotap's fields (which [`super::super::link_prefix`] writes with or without -e):
/// ieee802_11_radio_print hands the frame to ieee802_11_print with the FCS and padding its Flags field says.
pub fn radiotap_inner(line: &mut String, frame: &[u8], wire: u32) {
    let Some(h) = frame.get(..4) else { return };
    let len = usize::from(u16::from_le_bytes([h[2], h[3]]));
    let Some(inner) = frame.get(len..) else { return };
    let flags = crate::wire::link::radiotap::fields(frame).find_map(|f| match f {
        crate::wire::link::radiotap::Field::Flags(flags) => Some(flags),
        _ => None,
    });
    let flags = flags.unwrap_or(0);
    let fcs = if flags & RADIOTAP_F_FCS != 0 { 4 } else { 0 };
    let wire = wire.saturating_sub(len as u32).saturating_sub(fcs);
    ieee80211(line, inner, wire, flags & crate::wire::link::radiotap::F_DATA_PAD != 0);
}

/// libpcap's pcap_datalink_val_to_name (its dlt_choices names) for the link types a PPI header is likely to name,
/// and those synscope reads; `UNKNOWN` for the rest, as libpcap says for a value it has no name for.
fn dlt_name(dlt: u32) -> &'static str {
    match dlt {
        0 => "NULL",
        1 => "EN10MB",
        6 => "IEEE802",
        8 => "SLIP",
        9 => "PPP",
        10 => "FDDI",
        12 => "RAW",
        50 => "PPP_SERIAL",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        108 => "LOOP",
        113 => "LINUX_SLL",
        117 => "PFLOG",
        119 => "PRISM_HEADER",
        127 => "IEEE802_11_RADIO",
        163 => "IEEE802_11_RADIO_AVS",
        192 => "PPI",
        228 => "IPV4",
        229 => "IPV6",
        239 => "NFLOG",
        276 => "LINUX_SLL2",
        _ => "UNKNOWN",
    }
}

/// print-ppi.c's ppi_header_print, `V.n DLT NAME (n) len n, length n: `, then the inner frame's own -e part for
/// the link types decoded inside PPI (802.11, and Ethernet through `ethernet`, which is given the inner length).
/// A header too short, or whose length field is out of range, prints nothing (tcpdump: `[|ppi]`).
pub fn ppi(line: &mut String, frame: &[u8], wire: u32, ethernet: impl FnOnce(&mut String, u32)) {
    let Some(h) = frame.get(..8) else { return };
    let len = u16::from_le_bytes([h[2], h[3]]);
    let dlt = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if !(8..=65532).contains(&len) || frame.len() < usize::from(len) {
        return;
    }
    let _ = write!(line, "V.{} DLT {} ({dlt}) len {len}, length {wire}: ", h[0], dlt_name(dlt));
    let inner_wire = wire.saturating_sub(u32::from(len));
    match dlt {
        105 => ieee80211(line, &frame[usize::from(len)..], inner_wire, false),
        1 => ethernet(line, inner_wire),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fddi_frame_control_kinds() {
        let text = |fc| {
            let mut line = String::new();
            fddi_frame_control(&mut line, fc);
            line
        };
        assert_eq!(text(0x50), "async0 ");
        assert_eq!(text(0x57), "async7 ");
        assert_eq!(text(0x41), "info ");
        assert_eq!(text(0x42), "smt2 ");
        assert_eq!(text(0xc5), "mac5 ");
        assert_eq!(text(0xd1), "sync1 ");
        assert_eq!(text(0x10), "10 ");
    }

    #[test]
    fn short_headers_print_nothing() {
        let mut line = String::new();
        fddi(&mut line, &[0x50; 12], 12);
        llc(&mut line, &[0xaa, 0xaa], 2);
        llc(&mut line, &[0xaa, 0xaa, 0x00], 3);
        snap(&mut line, &[0, 0, 0, 8], 4);
        ieee80211(&mut line, &[0x08, 0x01, 0, 0], 4, false);
        ppi(&mut line, &[0, 0, 8, 0, 105, 0, 0], 7, |_, _| {});
        radiotap_inner(&mut line, &[0, 0, 200, 0], 4);
        assert_eq!(line, "");
    }

    #[test]
    fn llc_i_frames_show_a_two_byte_control() {
        let mut line = String::new();
        llc(&mut line, &[0x42, 0x43, 0x02, 0x01], 4);
        assert_eq!(line, "LLC, dsap STP (0x42) Individual, ssap STP (0x42) Response, ctrl 0x0102: ");
    }
}
