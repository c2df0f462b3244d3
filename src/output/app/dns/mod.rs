//! DNS messages (RFC 1035 §4) as tcpdump 4.99 prints them without `-v` (print-domain.c): a query's id, flags and
//! question (`57122+ A? example.com. (29)`), a response's id, flags, section counts and answers
//! (`57122 2/0/1 CNAME www.example.com., A 192.0.2.1 (77)`), then the message length.
//!
//! tcpdump reads with two kinds of bound, and so does this. A check that fails (`ND_TTEST`) makes a step give up
//! quietly, as its C does; a read past the captured bytes (`GET_*`) is tcpdump's truncation, ` [|domain]`, which
//! ends the line: here [`Truncated`]. Offsets are from the start of the message, as compression pointers are.

use std::fmt::Write as _;

mod edns;
mod name;
mod names;
mod record;

use names::{OPCODES, RCODES, push_class, push_type};

use super::Payload;
use super::text_proto::truncated;
use crate::output::fast::push_dec;

/// Which printer called: DNS over TCP has a two-byte length before the message (RFC 1035 §4.2.2); multicast DNS
/// (RFC 6762 §5.4, §10.2) uses the class's top bit as the QU and cache-flush flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    MulticastUdp,
    Tcp,
}

/// A read past the captured bytes: tcpdump prints ` [|domain]` and nothing more of the packet.
struct Truncated;

type Step<T> = Result<T, Truncated>;

const HEADER_LEN: u32 = 12;
/// RFC 1035 §3.1's limit on a name's length, past which tcpdump stops printing its labels.
const MAX_NAME: u32 = 255;
const TYPE_OPT: u16 = 41;
const CLASS_IN: u16 = 1;
const MDNS_CLASS_FLAG: u16 = 0x8000;
const OPCODE_IQUERY: u16 = 1;

/// Writes what tcpdump prints of a DNS payload. Over TCP the text starts with the space tcpdump puts after the
/// segment's length; over UDP it replaces `UDP, length N`.
pub fn write(line: &mut String, payload: Payload<'_>, transport: Transport) {
    let mut bytes = payload.bytes;
    let mut len = payload.len;
    if transport == Transport::Tcp {
        if len < 2 {
            let _ = write!(line, " [DNS over TCP: length {len} < 2] (invalid)");
            return;
        }
        len -= 2;
        let Some(prefix) = bytes.get(..2) else { return truncated(line, "domain") };
        let prefix = u16::from_be_bytes([prefix[0], prefix[1]]);
        if u32::from(prefix) != len {
            let _ = write!(line, " [prefix length({prefix}) != length({len})] (invalid)");
            return;
        }
        bytes = &bytes[2..];
        line.push(' ');
    }
    if len < HEADER_LEN {
        let _ = write!(line, "domain [length {len} < {HEADER_LEN}] (invalid)");
        return;
    }
    let message = Message { bytes, mdns: transport == Transport::MulticastUdp };
    if message.write(line, len).is_err() {
        truncated(line, "domain");
    }
}

struct Message<'a> {
    /// The captured bytes of the message, from its header on.
    bytes: &'a [u8],
    mdns: bool,
}

impl Message<'_> {
    fn write(&self, line: &mut String, len: u32) -> Step<()> {
        let header = self.bytes.get(..HEADER_LEN as usize).ok_or(Truncated)?;
        let word = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
        let (id, flags) = (word(0), word(2));
        let counts = Counts { questions: word(4), answers: word(6), authority: word(8), additional: word(10) };
        let opcode = usize::from((flags >> 11) & 0xf);
        push_dec(line, id);
        line.push_str(OPCODES[opcode]);
        if flags & 0x8000 != 0 {
            self.write_response(line, flags, &counts)?;
        } else {
            self.write_query(line, flags, &counts)?;
        }
        let _ = write!(line, " ({len})");
        Ok(())
    }

    fn write_response(&self, line: &mut String, flags: u16, counts: &Counts) -> Step<()> {
        let rcode = self.extended_rcode(flags, counts);
        match RCODES.get(usize::from(rcode)) {
            Some(text) => line.push_str(text),
            None => {
                let _ = write!(line, " Resp{}", rcode & 0xfff);
            }
        }
        for (bit, mark, when_set) in
            [(0x0400, "*", true), (0x0080, "-", false), (0x0200, "|", true), (0x0020, "$", true)]
        {
            if (flags & bit != 0) == when_set {
                line.push_str(mark);
            }
        }
        if counts.questions != 1 {
            let _ = write!(line, " [{}q]", counts.questions);
        }
        // The questions are skipped, each after a comma but the first (tcpdump prints the commas even when, without
        // -vv, it prints no question).
        let mut at = HEADER_LEN as usize;
        for i in 0..counts.questions {
            if i != 0 {
                line.push(',');
            }
            at = self.skip_name(at).ok_or(Truncated)? + 4;
        }
        let _ = write!(line, " {}/{}/{}", counts.answers, counts.authority, counts.additional);
        let mut left = counts.answers;
        let mut first = true;
        while left > 0 && (first || at < self.bytes.len()) {
            if !first {
                line.push(',');
            }
            first = false;
            at = self.write_record(line, at)?;
            left -= 1;
        }
        if left > 0 { Err(Truncated) } else { Ok(()) }
    }

    fn write_query(&self, line: &mut String, flags: u16, counts: &Counts) -> Step<()> {
        if flags & 0x0100 != 0 {
            line.push('+');
        }
        if flags & 0x0010 != 0 {
            line.push('%');
        }
        // Bits a query should not have set (AA, TC, RA, Z, AD and the response code): tcpdump shows the word.
        if flags & 0x6cf != 0 {
            let _ = write!(line, " [b2&3=0x{flags:x}]");
        }
        let opcode = (flags >> 11) & 0xf;
        if opcode == OPCODE_IQUERY {
            if counts.questions != 0 {
                let _ = write!(line, " [{}q]", counts.questions);
            }
            if counts.answers != 1 {
                let _ = write!(line, " [{}a]", counts.answers);
            }
        } else {
            if counts.answers != 0 {
                let _ = write!(line, " [{}a]", counts.answers);
            }
            if counts.questions != 1 {
                let _ = write!(line, " [{}q]", counts.questions);
            }
        }
        if counts.authority != 0 {
            let _ = write!(line, " [{}n]", counts.authority);
        }
        if counts.additional != 0 {
            let _ = write!(line, " [{}au]", counts.additional);
        }
        let mut at = HEADER_LEN as usize;
        let mut left = counts.questions;
        let mut first = true;
        while left > 0 && (first || at < self.bytes.len()) {
            first = false;
            at = self.write_question(line, at).ok_or(Truncated)??;
            left -= 1;
        }
        if left > 0 { Err(Truncated) } else { Ok(()) }
    }

    /// The response code with EDNS's upper eight bits (RFC 6891 §6.1.3) from an OPT record, found as tcpdump finds
    /// it: by walking the sections while the captured bytes last, giving up quietly where they end.
    fn extended_rcode(&self, flags: u16, counts: &Counts) -> u16 {
        let rcode = flags & 0xf;
        let end = self.bytes.len();
        let mut at = HEADER_LEN as usize;
        for _ in 0..counts.questions {
            let Some(next) = self.skip_name(at) else { return rcode };
            at = next + 4;
            if at >= end {
                return rcode;
            }
        }
        for _ in 0..u32::from(counts.answers) + u32::from(counts.authority) {
            let Some(next) = self.skip_name(at) else { return rcode };
            at = next + 8;
            let Some(rdlen) = self.u16_at(at) else { return rcode };
            at += 2 + usize::from(rdlen);
            if at >= end {
                return rcode;
            }
        }
        for _ in 0..counts.additional {
            let Some(next) = self.skip_name(at) else { return rcode };
            let Some(kind) = self.u16_at(next) else { return rcode };
            at = next + 4;
            let Some(&extended) = self.bytes.get(at) else { return rcode };
            if kind == TYPE_OPT {
                return rcode | (u16::from(extended) << 4);
            }
            at += 4;
            let Some(rdlen) = self.u16_at(at) else { return rcode };
            at += 2 + usize::from(rdlen);
            if at >= end {
                return rcode;
            }
        }
        rcode
    }

    /// ns_qprint: ` A? name.` (the class when not IN; multicast DNS's QU/QM). `None` where tcpdump's returns NULL,
    /// the next offset otherwise.
    fn write_question(&self, line: &mut String, at: usize) -> Option<Step<usize>> {
        let fixed = self.skip_name(at)?;
        let fixed_bytes = self.bytes.get(fixed..fixed + 4)?;
        let kind = u16::from_be_bytes([fixed_bytes[0], fixed_bytes[1]]);
        let raw_class = u16::from_be_bytes([fixed_bytes[2], fixed_bytes[3]]);
        line.push(' ');
        push_type(line, kind);
        let class = if self.mdns { raw_class & !MDNS_CLASS_FLAG } else { raw_class };
        if class != CLASS_IN {
            line.push(' ');
            push_class(line, class);
        }
        if self.mdns {
            line.push_str(if raw_class & MDNS_CLASS_FLAG != 0 { " (QU)" } else { " (QM)" });
        }
        line.push_str("? ");
        self.write_name(line, at).map(|end| end.map(|end| end + 4)).transpose()
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let b = self.bytes.get(at..at + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
}

struct Counts {
    questions: u16,
    answers: u16,
    authority: u16,
    additional: u16,
}

/// nd_printn: `count` bytes from `at`, each through [`push_char`], stopping at the end of the captured bytes;
/// `Ok(false)` when it stopped short, as tcpdump's returns 1.
fn push_escaped(line: &mut String, bytes: &[u8], at: usize, count: usize) -> Step<bool> {
    let available = bytes.len().saturating_sub(at);
    let shown = count.min(available);
    for &byte in bytes.get(at..at + shown).unwrap_or_default() {
        push_char(line, byte);
    }
    Ok(shown == count)
}

/// fn_print_char: printable ASCII as it is; a byte with the top bit set as `M-` and its low seven bits; a control
/// character as `^` and the letter it is the control of (DEL as `^?`).
fn push_char(line: &mut String, byte: u8) {
    let mut c = byte;
    if !c.is_ascii() {
        c &= 0x7f;
        line.push_str("M-");
    }
    if !(0x20..0x7f).contains(&c) {
        c ^= 0x40;
        line.push('^');
    }
    line.push(char::from(c));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn udp(message: &[u8]) -> String {
        let mut line = String::new();
        write(&mut line, Payload::new(message, message.len() as u32), Transport::Udp);
        line
    }

    /// A message with `flags`, the counts and `body`.
    fn message(id: u16, flags: u16, counts: [u16; 4], body: &[u8]) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m.extend_from_slice(body);
        m
    }

    const EXAMPLE_COM: &[u8] = b"\x07example\x03com\x00";

    fn question(kind: u16) -> Vec<u8> {
        [EXAMPLE_COM, &kind.to_be_bytes(), &[0, 1]].concat()
    }

    #[test]
    fn a_query_shows_its_question() {
        let m = message(0x1234, 0x0100, [1, 0, 0, 0], &question(1));
        assert_eq!(udp(&m), format!("4660+ A? example.com. ({})", m.len()));
        let m = message(7, 0x0000, [1, 0, 0, 1], &question(28));
        assert_eq!(udp(&m), format!("7 [1au] AAAA? example.com. ({})", m.len()));
    }

    #[test]
    fn a_response_shows_its_answers_with_compressed_names() {
        let mut body = question(1);
        // CNAME www -> pointer to example.com at offset 12; A 192.0.2.1.
        body.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'w', b'w', b'w', 0xc0, 12]);
        body.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        let m = message(9, 0x8180, [1, 2, 0, 0], &body);
        assert_eq!(udp(&m), format!("9 2/0/0 CNAME www.example.com., A 192.0.2.1 ({})", m.len()));
    }

    #[test]
    fn flags_and_codes_are_marked_as_tcpdump_marks_them() {
        // Authoritative, no recursion available, truncated, NXDomain.
        let m = message(1, 0x8603, [1, 0, 0, 0], &question(1));
        assert_eq!(udp(&m), format!("1 NXDomain*-| 0/0/0 ({})", m.len()));
    }

    #[test]
    fn a_forward_pointer_is_bad() {
        let mut body = question(1);
        body.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 60]);
        let m = message(2, 0x8180, [1, 1, 0, 0], &body);
        assert_eq!(udp(&m), "2 1/0/0 CNAME <BAD PTR> [|domain]");
    }

    #[test]
    fn short_and_cut_messages() {
        assert_eq!(udp(&[0, 1, 0, 0]), "domain [length 4 < 12] (invalid)");
        let m = message(3, 0x0100, [1, 0, 0, 0], &question(1));
        let mut line = String::new();
        write(&mut line, Payload::new(&m[..20], m.len() as u32), Transport::Udp);
        assert_eq!(line, "3+ [|domain]");
    }

    #[test]
    fn over_tcp_the_length_prefix_is_checked() {
        let m = message(4, 0x0100, [1, 0, 0, 0], &question(1));
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&m);
        let mut line = String::new();
        write(&mut line, Payload::new(&framed, framed.len() as u32), Transport::Tcp);
        assert_eq!(line, format!(" 4+ A? example.com. ({})", m.len()));
        line.clear();
        write(&mut line, Payload::new(&[0], 1), Transport::Tcp);
        assert_eq!(line, " [DNS over TCP: length 1 < 2] (invalid)");
        line.clear();
        write(&mut line, Payload::new(&[0, 9, 1, 2], 4), Transport::Tcp);
        assert_eq!(line, " [prefix length(9) != length(2)] (invalid)");
    }

    #[test]
    fn odd_bytes_in_labels_are_escaped() {
        let body = [b"\x03a\x01\xff\x00".as_slice(), &[0, 16, 0, 1]].concat();
        let m = message(5, 0x0100, [1, 0, 0, 0], &body);
        assert_eq!(udp(&m), format!("5+ TXT? a^AM-^?. ({})", m.len()));
    }
}
