//! Domain names (RFC 1035 §3.1, §4.1.4) as print-domain.c walks and prints them: labels, compression pointers
//! (only backwards), and RFC 2673 bit-string labels.

use std::fmt::Write as _;

use super::{MAX_NAME, Message, Step, Truncated, push_escaped};

impl Message<'_> {
    /// ns_nskip: the offset after the name at `at`, without printing it; `None` where tcpdump's gives up.
    pub(super) fn skip_name(&self, mut at: usize) -> Option<usize> {
        let mut label = *self.bytes.get(at)?;
        at += 1;
        while label != 0 {
            match label & 0xc0 {
                0xc0 => return Some(at + 1),
                0x40 => {
                    if label & 0x3f != 1 {
                        return None;
                    }
                    let bits = bit_label_bits(*self.bytes.get(at)?);
                    at += 1 + bits.div_ceil(8);
                }
                0x80 => return None,
                _ => at += usize::from(label),
            }
            label = *self.bytes.get(at)?;
            at += 1;
        }
        Some(at)
    }

    /// fqdn_print: the name at `at`, following compression pointers (RFC 1035 §4.1.4) only backwards, as BIND does
    /// and tcpdump requires. `Ok(None)` where tcpdump's returns NULL; otherwise where the name ends at `at`.
    pub(super) fn write_name(&self, line: &mut String, at: usize) -> Step<Option<usize>> {
        let bytes = self.bytes;
        let Some(mut len) = self.label_len(line, at) else { return Ok(None) };
        let Some(&first) = bytes.get(at) else { return Ok(None) };
        let mut max_offset = at;
        let mut label = first;
        let mut cursor = at + 1;
        // Where the name ends in place: after its labels, or after the first pointer met (set when met).
        let mut compressed = false;
        let mut resume = if label & 0xc0 == 0xc0 { 0 } else { cursor + len };
        if label == 0 {
            line.push('.');
            return Ok(Some(resume));
        }
        let mut name_chars: u32 = 0;
        while label != 0 && cursor < bytes.len() {
            match label & 0xc0 {
                0xc0 => {
                    if !compressed {
                        resume = cursor + 1;
                        compressed = true;
                    }
                    let Some(&low) = bytes.get(cursor) else { return Ok(None) };
                    let offset = usize::from((u16::from(label) << 8 | u16::from(low)) & 0x3fff);
                    if offset >= max_offset {
                        line.push_str("<BAD PTR>");
                        return Ok(None);
                    }
                    max_offset = offset;
                    let Some(&next) = bytes.get(offset) else { return Ok(None) };
                    label = next;
                    let Some(next_len) = self.label_len(line, offset) else { return Ok(None) };
                    len = next_len;
                    cursor = offset + 1;
                    continue;
                }
                0x40 => {
                    let kind = label & 0x3f;
                    if kind != 1 {
                        let _ = write!(line, "<ELT {kind}>");
                        return Ok(None);
                    }
                    write_bit_label(line, bytes, cursor)?;
                }
                0x80 => {
                    line.push_str("<BAD LABEL TYPE>");
                    return Ok(None);
                }
                _ => {
                    let shown = if name_chars + len as u32 <= MAX_NAME {
                        len
                    } else {
                        MAX_NAME.saturating_sub(name_chars) as usize
                    };
                    if shown > 0 && !push_escaped(line, bytes, cursor, shown)? {
                        return Ok(None);
                    }
                    name_chars += len as u32;
                }
            }
            cursor += len;
            if name_chars <= MAX_NAME {
                line.push('.');
            }
            name_chars += 1;
            let Some(&next) = bytes.get(cursor) else { return Ok(None) };
            label = next;
            let Some(next_len) = self.label_len(line, cursor) else { return Ok(None) };
            len = next_len;
            cursor += 1;
            if !compressed {
                resume += len + 1;
            }
        }
        if name_chars > MAX_NAME {
            line.push_str("<DOMAIN NAME TOO LONG>");
        }
        Ok(Some(resume))
    }

    /// labellen: how many bytes the label at `at` spans after its first (a pointer's: its first byte, as tcpdump
    /// counts it); `None`, with tcpdump's note for a bad type, where it gives up.
    fn label_len(&self, line: &mut String, at: usize) -> Option<usize> {
        let first = *self.bytes.get(at)?;
        match first & 0xc0 {
            0x40 => {
                let kind = first & 0x3f;
                if kind != 1 {
                    let _ = write!(line, "<ELT {kind}>");
                    return None;
                }
                let bits = bit_label_bits(*self.bytes.get(at + 1)?);
                Some(bits.div_ceil(8) + 1)
            }
            0x80 => {
                line.push_str("<BAD LABEL TYPE>");
                None
            }
            _ => Some(usize::from(first)),
        }
    }
}

/// An RFC 2673 bit-string label's length in bits (0 means 256).
fn bit_label_bits(count: u8) -> usize {
    if count == 0 { 256 } else { usize::from(count) }
}

/// blabel_print: an RFC 2673 bit-string label as `\[xHEX/BITS]`, read as tcpdump reads it.
fn write_bit_label(line: &mut String, bytes: &[u8], at: usize) -> Step<()> {
    let bits = bit_label_bits(*bytes.get(at).ok_or(Truncated)?);
    // tcpdump bounds the bytes by the bit count in nibbles.
    let limit = at + 1 + bits.div_ceil(4);
    line.push_str("\\[x");
    let mut cursor = at + 1;
    let mut left = bits;
    while cursor < limit && left > 7 {
        let _ = write!(line, "{:02x}", bytes.get(cursor).ok_or(Truncated)?);
        left -= 8;
        cursor += 1;
    }
    if left > 4 {
        let byte = *bytes.get(cursor).ok_or(Truncated)?;
        let _ = write!(line, "{:02x}", u32::from(byte) & (0xff << (8 - left)));
    } else if left > 0 {
        let byte = *bytes.get(cursor).ok_or(Truncated)?;
        let _ = write!(line, "{:1x}", (u32::from(byte) >> 4 & 0x0f) & (0x0f << (4 - left)));
    }
    let _ = write!(line, "/{bits}]");
    Ok(())
}
