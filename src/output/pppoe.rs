//! PPPoE discovery packets (EtherType 0x8863, RFC 2516 §5) as tcpdump's pppoe_print shows them: the code's name,
//! the session if not 0, then every tag up to End-Of-List, its value quoted when mostly printable, else in hex.

use std::fmt::Write;

/// print-pppoe.c copies at most 79 bytes of a tag's value into the quoted form (MAXTAGPRINT is 80).
const MAX_TAG_PRINT: usize = 79;

fn code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x09 => "PADI",
        0x07 => "PADO",
        0x19 => "PADR",
        0x65 => "PADS",
        0xa7 => "PADT",
        0x00 => "",
        _ => return None,
    })
}

/// RFC 2516 Appendix A, and RFC 4638's PPP-Max-Payload.
fn tag_name(tag: u16) -> Option<&'static str> {
    Some(match tag {
        0x0000 => "EOL",
        0x0101 => "Service-Name",
        0x0102 => "AC-Name",
        0x0103 => "Host-Uniq",
        0x0104 => "AC-Cookie",
        0x0105 => "Vendor-Specific",
        0x0110 => "Relay-Session-ID",
        0x0120 => "PPP-Max-Payload",
        0x0201 => "Service-Name-Error",
        0x0202 => "AC-System-Error",
        0x0203 => "Generic-Error",
        _ => return None,
    })
}

/// Writes a discovery packet: `bytes` from the PPPoE header on (what was captured), `on_wire` its length on the
/// wire. A packet cut short ends with tcpdump's ` [|pppoe]`.
pub fn write_discovery(line: &mut String, bytes: &[u8], on_wire: usize) {
    let Some(header) = bytes.get(..6) else {
        if on_wire < 6 {
            let _ = write!(line, " (length {on_wire} < 6) (invalid)");
        } else {
            line.push_str(" [|pppoe]");
        }
        return;
    };
    let (version, kind, code) = (header[0] >> 4, header[0] & 0x0f, header[1]);
    let session = u16::from_be_bytes([header[2], header[3]]);
    let mut len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    if version != 1 {
        let _ = write!(line, " [ver {version}]");
    }
    if kind != 1 {
        let _ = write!(line, " [type {kind}]");
    }
    match code_name(code) {
        Some(name) => {
            let _ = write!(line, "PPPoE {name}");
        }
        None => {
            let _ = write!(line, "PPPoE PAD-{code:x}");
        }
    }
    if code == 0x09 && len > 1484 - 6 {
        let _ = write!(line, " [len {len}!]");
    }
    let available = on_wire.saturating_sub(6);
    if len > available {
        let _ = write!(line, " [len {len} > {available}!]");
        len = available;
    }
    if session != 0 {
        let _ = write!(line, " [ses 0x{session:x}]");
    }
    let payload = &bytes[6..];
    let mut at = 0;
    let mut tag = 0xffff;
    while tag != 0 && at < len {
        let Some(head) = payload.get(at..at + 4) else {
            line.push_str(" [|pppoe]");
            return;
        };
        tag = u16::from_be_bytes([head[0], head[1]]);
        let tag_len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        at += 4;
        let name = |line: &mut String| match tag_name(tag) {
            Some(name) => line.push_str(name),
            None => {
                let _ = write!(line, "TAG-0x{tag:x}");
            }
        };
        // tcpdump checks the whole value is there before printing any of the tag.
        let Some(value) = payload.get(at..at + tag_len) else {
            line.push_str(" [|pppoe]");
            return;
        };
        line.push_str(" [");
        name(line);
        if tag_len > 0 {
            let shown = &value[..value.len().min(MAX_TAG_PRINT)];
            let printable = shown.iter().filter(|b| (0x20..=0x7e).contains(*b)).count();
            if printable > shown.len() - printable {
                line.push_str(" \"");
                line.extend(shown.iter().map(|&b| if (0x20..=0x7e).contains(&b) { b as char } else { '.' }));
                line.push('"');
            } else {
                line.push_str(" 0x");
                for b in value {
                    let _ = write!(line, "{b:02X}");
                }
            }
        }
        line.push(']');
        at += tag_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discovery(code: u8, session: u16, tags: &[u8]) -> Vec<u8> {
        let mut out = vec![0x11, code];
        out.extend_from_slice(&session.to_be_bytes());
        out.extend_from_slice(&(tags.len() as u16).to_be_bytes());
        out.extend_from_slice(tags);
        out
    }

    fn text(bytes: &[u8], on_wire: usize) -> String {
        let mut line = String::new();
        write_discovery(&mut line, bytes, on_wire);
        line
    }

    #[test]
    fn tags_are_named_and_quoted_or_hex() {
        let tags = [&[0x01, 0x01, 0, 0][..], &[0x01, 0x02, 0, 3], b"isp", &[0x01, 0x03, 0, 2, 0xde, 0xad]].concat();
        let padi = discovery(0x09, 0, &tags);
        assert_eq!(text(&padi, padi.len()), r#"PPPoE PADI [Service-Name] [AC-Name "isp"] [Host-Uniq 0xDEAD]"#);
        // End-Of-List stops the walk; unknown codes and tags by number; a session shown when not 0.
        let padt = discovery(0x42, 7, &[0, 0, 0, 0, 0x01, 0x01, 0, 0]);
        assert_eq!(text(&padt, padt.len()), "PPPoE PAD-42 [ses 0x7] [EOL]");
        let odd = discovery(0x07, 0, &[0x09, 0x99, 0, 0]);
        assert_eq!(text(&odd, odd.len()), "PPPoE PADO [TAG-0x999]");
    }

    #[test]
    fn cut_and_overlong_packets_say_so() {
        let padi = discovery(0x09, 0, &[0x01, 0x02, 0, 3, b'i', b's', b'p']);
        assert_eq!(text(&padi[..9], padi.len()), "PPPoE PADI [|pppoe]");
        assert_eq!(text(&padi[..12], padi.len()), "PPPoE PADI [|pppoe]");
        assert_eq!(text(&padi[..4], padi.len()), " [|pppoe]");
        assert_eq!(text(&padi[..4], 4), " (length 4 < 6) (invalid)");
        // A length beyond the wire is noted and clipped.
        assert_eq!(text(&padi[..10], 10), "PPPoE PADI [len 7 > 4!] [|pppoe]");
        let empty = discovery(0x09, 0, &[0x01, 0x01, 0, 0]);
        assert_eq!(text(&empty[..6], 6), "PPPoE PADI [len 4 > 0!]");
    }
}
