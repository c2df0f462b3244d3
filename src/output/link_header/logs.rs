//! `-e` for the firewall log link types: OpenBSD pf's PFLOG (print-pflog.c) and Linux netfilter's NFLOG
//! (print-nflog.c), as a Linux build of tcpdump prints them (pflog's tables differ per OS: Linux has the common
//! entries only).

use std::fmt::Write as _;

/// pf_reasons as tcpdump builds it off the BSDs. Its source lists PFRES_NORM (4) for both `3(short)` and
/// `4(normalize)`, so 4 reads `3(short)` (the first match) and 3 is unknown: reproduced as it prints.
fn pf_reason(reason: u8) -> Option<&'static str> {
    Some(match reason {
        0 => "0(match)",
        1 => "1(bad-offset)",
        2 => "2(fragment)",
        4 => "3(short)",
        5 => "5(memory)",
        6 => "6(bad-timestamp)",
        7 => "7(congestion)",
        8 => "8(ip-option)",
        9 => "9(proto-cksum)",
        10 => "10(state-mismatch)",
        11 => "11(state-insert)",
        12 => "12(state-limit)",
        13 => "13(src-limit)",
        14 => "14(synproxy)",
        _ => return None,
    })
}

/// pf_actions, the entries common to every OS.
fn pf_action(action: u8) -> Option<&'static str> {
    Some(match action {
        0 => "pass",
        1 => "block",
        2 => "scrub",
        4 => "nat",
        5 => "nonat",
        6 => "binat",
        7 => "nobinat",
        8 => "rdr",
        9 => "nordr",
        10 => "synproxy-drop",
        _ => return None,
    })
}

/// pf_directions, without OpenBSD's `fwd`.
fn pf_direction(direction: u8) -> Option<&'static str> {
    Some(match direction {
        0 => "in/out",
        1 => "in",
        2 => "out",
        _ => return None,
    })
}

/// struct pfloghdr's size off the BSDs: the fields up to `dir` and 3 bytes of padding; tcpdump prints nothing of
/// a header captured shorter (ND_TCHECK_SIZE).
const PFLOG_STRUCT_LEN: usize = 64;

/// pflog_print: `rule N/` (or `rule N.RULESET.SUBRULE/` when the subrule is set), the reason, the action, the
/// direction and the interface. A header whose length byte is below 45 or that was cut short prints nothing.
pub fn pflog(line: &mut String, frame: &[u8]) {
    let Some(h) = frame.get(..PFLOG_STRUCT_LEN) else { return };
    if h[0] < 45 || frame.len() < usize::from(h[0]).next_multiple_of(4) {
        return;
    }
    let be32 = |at: usize| u32::from_be_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    let (rule, subrule) = (be32(36), be32(40));
    if subrule == u32::MAX {
        let _ = write!(line, "rule {rule}/");
    } else {
        let _ = write!(line, "rule {rule}.");
        print_name(line, &h[20..36]);
        let _ = write!(line, ".{subrule}/");
    }
    let unknown = |value: u8| format!("unkn({value})");
    let (reason, action, direction) = (h[3], h[2], h[60]);
    let _ = write!(
        line,
        "{}: {} {} on ",
        pf_reason(reason).map_or_else(|| unknown(reason), str::to_owned),
        pf_action(action).map_or_else(|| unknown(action), str::to_owned),
        pf_direction(direction).map_or_else(|| unknown(direction), str::to_owned),
    );
    print_name(line, &h[4..20]);
    line.push_str(": ");
}

/// nd_printjnp: a fixed-size name up to its first NUL, unprintable bytes as tcpdump's fn_print_char shows them
/// (`M-` for the high bit, `^` and the control character's letter).
fn print_name(line: &mut String, bytes: &[u8]) {
    for &byte in bytes.iter().take_while(|&&b| b != 0) {
        let mut c = byte;
        if c & 0x80 != 0 {
            line.push_str("M-");
            c &= 0x7f;
        }
        if c.is_ascii_graphic() || c == b' ' {
            line.push(char::from(c));
        } else {
            line.push('^');
            line.push(char::from(if c == 0x7f { b'?' } else { c + b'@' }));
        }
    }
}

/// nflog_hdr_print: version, resource ID (big-endian), the family by Linux's numbers and the frame's length.
/// A header too short, or of a version other than 0 (which tcpdump reports instead), prints nothing.
pub fn nflog(line: &mut String, frame: &[u8], wire: u32) {
    let Some(&[family, version, rid_hi, rid_lo]) = frame.get(..4) else { return };
    if version != 0 {
        return;
    }
    let name = match family {
        2 => "IPv4",
        10 => "IPv6",
        _ => "Unknown",
    };
    let rid = u16::from_be_bytes([rid_hi, rid_lo]);
    let _ = write!(line, "version {version}, resource ID {rid}, family {name} ({family}), length {wire}: ");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pflog_names_and_the_subrule_form() {
        let mut frame = vec![0u8; 64];
        frame[0] = 61;
        frame[2] = 1;
        frame[3] = 4;
        frame[4..8].copy_from_slice(b"em0\x01");
        frame[36..40].copy_from_slice(&7u32.to_be_bytes());
        frame[40..44].copy_from_slice(&u32::MAX.to_be_bytes());
        frame[60] = 2;
        let mut line = String::new();
        pflog(&mut line, &frame);
        assert_eq!(line, "rule 7/3(short): block out on em0^A: ");
        frame[3] = 3;
        frame[2] = 3;
        frame[60] = 9;
        frame[40..44].copy_from_slice(&1u32.to_be_bytes());
        frame[20..23].copy_from_slice(b"set");
        line.clear();
        pflog(&mut line, &frame);
        assert_eq!(line, "rule 7.set.1/unkn(3): unkn(3) unkn(9) on em0^A: ");
        line.clear();
        pflog(&mut line, &frame[..63]);
        frame[0] = 44;
        pflog(&mut line, &frame);
        nflog(&mut line, &[2, 1, 0, 0], 4);
        nflog(&mut line, &[2, 0, 0], 3);
        assert_eq!(line, "");
    }
}
