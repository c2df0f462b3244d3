//! `-e` for the serial-line link types: PPP (print-ppp.c), Cisco HDLC (print-chdlc.c), SLIP (print-sl.c) and
//! Frame Relay (print-fr.c).

use std::fmt::Write as _;

use super::ether_type;
use crate::wire::link::ppp::protocol_name;

/// ppptype2str's names for the protocols beside IP's that a capture commonly holds (the control protocols).
fn ppp_protocol_name(protocol: u16) -> Option<&'static str> {
    if let Some(name) = protocol_name(protocol) {
        return Some(name);
    }
    Some(match protocol {
        0x002b => "IPX",
        0x0031 => "BPDU",
        0x8021 => "IPCP",
        0x8057 => "IP6CP",
        0x80fd => "CCP",
        0xc021 => "LCP",
        0xc023 => "PAP",
        0xc025 => "LQM",
        0xc223 => "CHAP",
        _ => return None,
    })
}

/// ppp_print under -e: `NAME (0xNNNN), length N: ` where N is `length` (what the wire holds from the PPP header
/// on); an unknown protocol gets `unknown (0x...), length N` and no colon, as tcpdump stops there. (pppd's
/// direction pseudo-addresses, which tcpdump shows as `In  `/`Out `, are not PPP the decoder reads: not shown.)
pub fn ppp(line: &mut String, protocol: u16, length: u32) {
    match ppp_protocol_name(protocol) {
        Some(name) => {
            let _ = write!(line, "{name} (0x{protocol:04x}), length {length}: ");
        }
        None => {
            let _ = write!(line, "unknown (0x{protocol:04x}), length {length}");
        }
    }
}

/// ppp_hdlc_if_print under -e: the address and control bytes and the frame's length, `ff 03 44 `; Cisco's
/// addresses go to Cisco HDLC's printer instead. Fewer than 4 bytes print nothing (tcpdump: `[|ppp_hdlc]`).
pub fn ppp_hdlc(line: &mut String, frame: &[u8], wire: u32) {
    match frame {
        [0x0f | 0x8f, ..] => cisco_hdlc(line, frame, wire),
        [address, control, _, _, ..] => {
            let _ = write!(line, "{address:02x} {control:02x} {wire} ");
        }
        _ => {}
    }
}

/// chdlc_print under -e: `unicast`/`bcast` (else the address in hex), the EtherType and the frame's length.
pub fn cisco_hdlc(line: &mut String, frame: &[u8], wire: u32) {
    let Some(&[address, _, hi, lo]) = frame.get(..4) else { return };
    match address {
        0x0f => line.push_str("unicast"),
        0x8f => line.push_str("bcast"),
        _ => {
            let _ = write!(line, "0x{address:02x}");
        }
    }
    line.push_str(", ");
    ether_type(line, u16::from_be_bytes([hi, lo]));
    let _ = write!(line, ", length {wire}: ");
}

/// print-sl.c's sliplink_print: the direction (`I`, `O`), then by the compressed-header byte's type nibble `ip N`
/// (the frame's length), `utcp N` (the connection number, from the saved header's protocol field), `ctcp ...` for
/// a compressed TCP header, or `slip-N!` for anything else. `frame` starts at the 16-byte pseudo-header.
pub fn slip(line: &mut String, frame: &[u8], wire: u32) {
    let Some(header) = frame.get(..16) else { return };
    let direction = header[0];
    match direction {
        0 => line.push_str("I "),
        1 => line.push_str("O "),
        _ => {
            let _ = write!(line, "Invalid direction {direction} ");
        }
    }
    // What follows the pseudo-header, as sliplink_print's `length` counts it.
    let length = wire.saturating_sub(16);
    let chdr = header[1];
    SLIP_STATE.with(|state| {
        let mut state = state.borrow_mut();
        match chdr & 0xf0 {
            0x40 => {
                let _ = write!(line, "ip {wire}: ");
            }
            0x70 => {
                // The saved IP header's protocol field (offset 9 in it, at 1 + 9 in the pseudo-header) holds the
                // connection number.
                let conn = header[10];
                state.last_conn = conn;
                let _ = write!(line, "utcp {conn}: ");
                if let Some(data) = tcp_data_length(&frame[16..], length)
                    && direction <= 1
                {
                    state.last_len[usize::from(direction)][usize::from(conn)] = data;
                }
            }
            _ if direction > 1 => {}
            _ if chdr & 0x80 != 0 => compressed_tcp(line, &mut state, frame, length, usize::from(direction)),
            _ => {
                let _ = write!(line, "slip-{chdr}!: ");
            }
        }
    });
}

/// Van Jacobson compression's state as tcpdump keeps it across packets (print-sl.c's `lastconn` and `lastlen`):
/// the connection a compressed header without its own number refers to, and each direction's and connection's
/// last TCP data length, which the `*SA+`/`*S+` shorthands print.
struct SlipState {
    last_conn: u8,
    last_len: [[u32; 256]; 2],
}

thread_local! {
    static SLIP_STATE: std::cell::RefCell<SlipState> =
        const { std::cell::RefCell::new(SlipState { last_conn: 0, last_len: [[0; 256]; 2] }) };
}

/// The TCP data length of the (uncompressed) IP packet `ip`: `length` less the IP and TCP headers, wrapping as
/// tcpdump's unsigned arithmetic does. `None` when either header was not captured.
fn tcp_data_length(ip: &[u8], length: u32) -> Option<u32> {
    let ip_words = u32::from(ip.get(..20)?[0] & 0x0f);
    let tcp = ip.get(ip_words as usize * 4..)?.get(..20)?;
    let words = ip_words + u32::from(tcp[12] >> 4);
    Some(length.wrapping_sub(words << 2))
}

/// RFC 1144's change mask bits (slcompress.h).
const NEW_C: u8 = 0x40;
const NEW_I: u8 = 0x20;
const NEW_S: u8 = 0x08;
const NEW_A: u8 = 0x04;
const NEW_W: u8 = 0x02;
const NEW_U: u8 = 0x01;
const SPECIALS_MASK: u8 = NEW_S | NEW_A | NEW_W | NEW_U;
const SPECIAL_I: u8 = NEW_S | NEW_W | NEW_U;
const SPECIAL_D: u8 = SPECIALS_MASK;

/// print-sl.c's compressed_sl_print: `ctcp CONN` (or `*`), the deltas the change mask announces, then the data
/// length and the compressed header's size; it remembers the length for the connection. Stops quietly where a
/// delta or the packet's headers were not captured (tcpdump: `[|slip]`).
fn compressed_tcp(line: &mut String, state: &mut SlipState, frame: &[u8], length: u32, direction: usize) {
    let chdr = &frame[1..];
    let flags = chdr[0];
    let mut at = 1;
    if flags & NEW_C != 0 {
        state.last_conn = chdr[1];
        at += 1;
        let _ = write!(line, "ctcp {}", state.last_conn);
    } else {
        line.push_str("ctcp *");
    }
    // The TCP checksum.
    at += 2;
    // A delta: one byte, or a zero byte then two (RFC 1144 §3.2.2). `None` past the captured bytes. tcpdump
    // 4.99's print_sl_change and print_sl_winchange step past the two-byte form only: after a one-byte delta the
    // next is read from the same byte, and the header's size comes out short. Reproduced, as it prints so.
    let delta = |at: &mut usize| -> Option<u16> {
        let first = *chdr.get(*at)?;
        if first != 0 {
            return Some(u16::from(first));
        }
        let &[hi, lo] = chdr.get(*at + 1..*at + 3)? else { return None };
        *at += 3;
        Some(u16::from_be_bytes([hi, lo]))
    };
    let conn = usize::from(state.last_conn);
    let done = (|| -> Option<()> {
        match flags & SPECIALS_MASK {
            SPECIAL_I => {
                let _ = write!(line, " *SA+{}", state.last_len[direction][conn]);
            }
            SPECIAL_D => {
                let _ = write!(line, " *S+{}", state.last_len[direction][conn]);
            }
            _ => {
                if flags & NEW_U != 0 {
                    let _ = write!(line, " U={}", delta(&mut at)?);
                }
                if flags & NEW_W != 0 {
                    // The window delta is signed when it takes two bytes.
                    let window = delta(&mut at)? as i16;
                    let sign = if window >= 0 { "+" } else { "" };
                    let _ = write!(line, " W{sign}{window}");
                }
                if flags & NEW_A != 0 {
                    let _ = write!(line, " A+{}", delta(&mut at)?);
                }
                if flags & NEW_S != 0 {
                    let _ = write!(line, " S+{}", delta(&mut at)?);
                }
            }
        }
        if flags & NEW_I != 0 {
            let _ = write!(line, " I+{}", delta(&mut at)?);
        }
        let data = tcp_data_length(frame.get(16..)?, length)?;
        state.last_len[direction][conn] = data;
        let _ = write!(line, " {data} ({at}): ");
        Some(())
    })();
    let _ = done;
}

/// The Q.922 address as print-fr.c's parse_q922_header reads it: length, DLCI and flags (C/R, FECN, BECN, DE and
/// the DL-CORE bit of a 3- or 4-byte address, at tcpdump's bit positions). `None` for an address tcpdump calls
/// invalid or truncated.
fn q922(frame: &[u8]) -> Option<(usize, u32, u32)> {
    let (&b0, &b1) = (frame.first()?, frame.get(1)?);
    if b0 & 0x01 != 0 {
        return None;
    }
    let mut dlci = (u32::from(b0 & 0xfc) << 2) | u32::from(b1 >> 4);
    let mut flags = (u32::from(b0 & 0x02) << 24) | (u32::from(b1 & 0x0e) << 16);
    if b1 & 0x01 != 0 {
        return Some((2, dlci, flags));
    }
    let mut len = 3;
    let mut last = *frame.get(2)?;
    if last & 0x01 == 0 {
        dlci = (dlci << 7) | u32::from(last >> 1);
        len = 4;
        last = *frame.get(3)?;
        if last & 0x01 == 0 {
            return None;
        }
    }
    flags |= u32::from(last & 0x02);
    dlci = (dlci << 6) | u32::from(last >> 2);
    Some((len, dlci, flags))
}

/// fr_header_flag_values, in tcpdump's order, joined as bittok2str joins them.
fn write_fr_flags(line: &mut String, flags: u32) {
    const NAMES: [(u32, &str); 5] =
        [(0x0200_0000, "C!"), (0x0002_0000, "DE"), (0x0004_0000, "BECN"), (0x0008_0000, "FECN"), (0x02, "sdlcore")];
    let mut first = true;
    for (bit, name) in NAMES {
        if flags & bit != 0 {
            if !first {
                line.push_str(", ");
            }
            line.push_str(name);
            first = false;
        }
    }
    if first {
        line.push_str("none");
    }
}

/// nlpid_values.
fn nlpid_name(nlpid: u8) -> &'static str {
    match nlpid {
        0x00 => "NULL",
        0x08 => "Q.933",
        0x09 => "LMI",
        0x80 => "SNAP",
        0x81 => "CLNP",
        0x82 => "ES-IS",
        0x83 => "IS-IS",
        0x84 => "CONS",
        0x85 => "IDRP",
        0xc1 => "ISIS_SPB",
        0xb1 => "FRF.15",
        0xcc => "IPv4",
        0xcf => "PPP",
        0x8a => "X25 ES-IS",
        0x8e => "IPv6",
        _ => "unknown",
    }
}

/// print-fr.c's fr_print under -e: the pad notes (which print without -e too, and come first), then fr_hdr_print's
/// `Q.922, hdr-len N, DLCI N, Flags [...], NLPID NAME (0xNN), length N: ` (or `cisco-ethertype` for Cisco's
/// encapsulation), then a SNAP header's line. `wire` is the frame's length on the wire. Returns the header's length
/// (where a PPP frame behind NLPID PPP starts), or `None` when nothing could be printed.
pub fn frame_relay(line: &mut String, frame: &[u8], wire: u32) -> Option<usize> {
    let (addr_len, dlci, flags) = q922(frame)?;
    let control = *frame.get(addr_len)?;
    let header = |line: &mut String| {
        let _ = write!(line, "Q.922, hdr-len {addr_len}, DLCI {dlci}, Flags [");
        write_fr_flags(line, flags);
        line.push_str("], ");
    };
    if control != 0x03 && dlci != 0 {
        // Cisco: an EtherType right after the address.
        let &[hi, lo] = frame.get(addr_len..addr_len + 2)? else { return None };
        let protocol = u16::from_be_bytes([hi, lo]);
        header(line);
        let name = super::super::names::ether_type_name(protocol).unwrap_or("unknown");
        let _ = write!(line, "cisco-ethertype {name} (0x{protocol:04x}), length {wire}: ");
        return Some(addr_len + 2);
    }
    let padded = *frame.get(addr_len + 1)? == 0;
    if padded && addr_len != 3 {
        line.push_str("Pad! ");
    } else if !padded && addr_len == 3 {
        line.push_str("No pad! ");
    }
    let header_len = addr_len + if padded { 3 } else { 2 };
    let nlpid = *frame.get(header_len - 1)?;
    header(line);
    let _ = write!(line, "NLPID {} (0x{nlpid:02x}), length {wire}: ", nlpid_name(nlpid));
    if nlpid == 0x80 {
        super::lan::snap(line, &frame[header_len..], wire.saturating_sub(header_len as u32));
    }
    Some(header_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q922_addresses_of_each_length() {
        assert_eq!(q922(&[0x18, 0x41]), Some((2, 100, 0)));
        assert_eq!(q922(&[0x18, 0x40, 0x01]), Some((3, 6400, 0)));
        assert_eq!(q922(&[0x1a, 0x4f]), Some((2, 100, 0x020e_0000)));
        assert_eq!(q922(&[0x19, 0x41]), None);
        assert_eq!(q922(&[0x18, 0x40, 0x00, 0x00]), None);
        assert_eq!(q922(&[0x18]), None);
        let mut line = String::new();
        write_fr_flags(&mut line, 0x020e_0002);
        assert_eq!(line, "C!, DE, BECN, FECN, sdlcore");
    }

    #[test]
    fn short_headers_print_nothing() {
        let mut line = String::new();
        ppp_hdlc(&mut line, &[0xff, 0x03, 0x00], 3);
        cisco_hdlc(&mut line, &[0x0f, 0x00, 0x08], 3);
        slip(&mut line, &[0; 15], 15);
        assert_eq!(frame_relay(&mut line, &[0x18, 0x41], 2), None);
        assert_eq!(line, "");
    }

    #[test]
    fn slip_directions_and_kinds() {
        let text = |direction: u8, chdr: u8| {
            let mut frame = [0u8; 16];
            frame[0] = direction;
            frame[1] = chdr;
            frame[10] = 7;
            let mut line = String::new();
            slip(&mut line, &frame, 56);
            line
        };
        assert_eq!(text(0, 0x45), "I ip 56: ");
        assert_eq!(text(1, 0x70), "O utcp 7: ");
        assert_eq!(text(0, 0), "I slip-0!: ");
        // Compressed: connection 3, TCP checksum, a window delta of -2 (two bytes) and a sequence delta of 5; the
        // packet is 40 bytes of IP and TCP header and 10 of data.
        let mut frame = [0u8; 16];
        frame[..8].copy_from_slice(&[1, 0xca, 3, 0, 0, 0, 0xff, 0xfe]);
        frame[8] = 5;
        let mut ip = [0u8; 40];
        ip[0] = 0x45;
        ip[32] = 0x50;
        let frame = [frame.as_slice(), &ip].concat();
        let mut line = String::new();
        slip(&mut line, &frame, 66);
        assert_eq!(line, "O ctcp 3 W-2 S+5 10 (7): ");
        assert_eq!(text(5, 0), "Invalid direction 5 ");
    }
}
