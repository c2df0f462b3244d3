//! Resource records as print-domain.c's `ns_rprint` shows them without `-v`: the class when not IN, the type,
//! and the data of the types it decodes.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::edns::write_edns_value;
use super::names::{edns_option_name, push_class, push_type};
use super::{CLASS_IN, MDNS_CLASS_FLAG, Message, Step, TYPE_OPT, Truncated, push_escaped};
use crate::output::fast::push_ipv4;

impl Message<'_> {
    /// ns_rprint without -v: ` TYPE data`. Returns where the record ends (or the end of the captured bytes, where
    /// tcpdump gives up on a record whose fixed part is not there).
    pub(super) fn write_record(&self, line: &mut String, at: usize) -> Step<usize> {
        let end = self.bytes.len();
        let Some(fixed) = self.skip_name(at) else { return Ok(end) };
        let Some(fixed_bytes) = self.bytes.get(fixed..fixed + 10) else { return Ok(end) };
        let word = |i: usize| u16::from_be_bytes([fixed_bytes[i], fixed_bytes[i + 1]]);
        let (kind, raw_class, opt_flags, rdlen) = (word(0), word(2), word(6), word(8));
        let class = if self.mdns { raw_class & !MDNS_CLASS_FLAG } else { raw_class };
        if class != CLASS_IN && kind != TYPE_OPT {
            line.push(' ');
            push_class(line, class);
        }
        if self.mdns && raw_class & MDNS_CLASS_FLAG != 0 {
            line.push_str(" (Cache flush)");
        }
        let data = fixed + 10;
        let record_end = data + usize::from(rdlen);
        line.push(' ');
        push_type(line, kind);
        if record_end > end {
            return Err(Truncated);
        }
        match self.write_record_data(line, kind, class, opt_flags, data, record_end)? {
            Some(()) => Ok(record_end),
            None => Err(Truncated),
        }
    }

    /// The data of the record types tcpdump prints without -v. `Ok(None)` where tcpdump's printer returns NULL.
    fn write_record_data(
        &self,
        line: &mut String,
        kind: u16,
        class: u16,
        opt_flags: u16,
        data: usize,
        record_end: usize,
    ) -> Step<Option<()>> {
        let bytes = self.bytes;
        Ok(match kind {
            // A: four bytes, whatever the record's length says.
            1 => bytes.get(data..data + 4).map(|a| {
                line.push(' ');
                push_ipv4(line, Ipv4Addr::new(a[0], a[1], a[2], a[3]));
            }),
            // NS, CNAME, PTR, DNAME: a name.
            2 | 5 | 12 | 39 => {
                line.push(' ');
                self.write_name(line, data)?.map(|_| ())
            }
            // MX: the exchange, then the preference.
            15 => match bytes.get(data..data + 2) {
                None => {
                    line.push(' ');
                    None
                }
                Some(preference) => {
                    line.push(' ');
                    let preference = u16::from_be_bytes([preference[0], preference[1]]);
                    self.write_name(line, data + 2)?.map(|_| {
                        let _ = write!(line, " {preference}");
                    })
                }
            },
            // TXT: each character-string in quotes.
            16 => {
                let mut at = data;
                while at < record_end {
                    line.push_str(" \"");
                    let Some(&count) = bytes.get(at) else { return Ok(None) };
                    let start = at + 1;
                    if !push_escaped(line, bytes, start, usize::from(count))? {
                        return Ok(None);
                    }
                    line.push('"');
                    at = start + usize::from(count);
                }
                Some(())
            }
            // SRV: target:port priority weight.
            33 => match bytes.get(data..data + 6) {
                None => {
                    line.push(' ');
                    None
                }
                Some(fixed) => {
                    line.push(' ');
                    let word = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
                    let (priority, weight, port) = (word(0), word(2), word(4));
                    self.write_name(line, data + 6)?.map(|_| {
                        let _ = write!(line, ":{port} {priority} {weight}");
                    })
                }
            },
            28 => bytes.get(data..data + 16).map(|a| {
                let octets: [u8; 16] = a.try_into().expect("sixteen bytes");
                let _ = write!(line, " {}", Ipv6Addr::from(octets));
            }),
            38 => self.write_a6(line, data)?,
            // URI (RFC 7553): priority, weight, target.
            256 => {
                let len = record_end - data;
                match bytes.get(data..data + len.max(4)) {
                    Some(fixed) if bytes.len() >= data + len => {
                        let word = |i: usize| u16::from_be_bytes([fixed[i], fixed[i + 1]]);
                        let _ = write!(line, " {} {} ", word(0), word(2));
                        // A length under 4 wraps in tcpdump's unsigned arithmetic: it prints to the end of the
                        // capture and gives up.
                        let text_len = len.checked_sub(4).unwrap_or(usize::MAX);
                        if push_escaped(line, bytes, data + 4, text_len)? { Some(()) } else { None }
                    }
                    _ => None,
                }
            }
            TYPE_OPT => {
                let _ = write!(line, " UDPsize={class}");
                if opt_flags & 0x8000 != 0 {
                    line.push_str(" DO");
                }
                if data < record_end {
                    line.push_str(" [");
                    let mut at = data;
                    while at < record_end {
                        let Some(next) = self.write_edns_option(line, at)? else { return Ok(None) };
                        at = next;
                        if at < record_end {
                            line.push(',');
                        }
                    }
                    line.push(']');
                }
                Some(())
            }
            // UNSPECA: one long string.
            104 => {
                let len = record_end - data;
                if bytes.len() < record_end || !push_escaped(line, bytes, data, len)? { None } else { Some(()) }
            }
            // SOA and TSIG show their fields only under -v; the others only their type.
            _ => Some(()),
        })
    }

    /// A6 (RFC 2874): prefix length, the address's suffix, then the prefix's name.
    fn write_a6(&self, line: &mut String, data: usize) -> Step<Option<()>> {
        let Some(&prefix_bits) = self.bytes.get(data) else { return Ok(None) };
        let prefix_bytes = usize::from(prefix_bits & !7) / 8;
        if prefix_bits > 128 {
            let _ = write!(line, " {prefix_bits}(bad plen)");
            return Ok(Some(()));
        }
        let suffix_len = 16 - prefix_bytes;
        if prefix_bits < 128 {
            let suffix = self.bytes.get(data + 1..data + 1 + suffix_len).ok_or(Truncated)?;
            let mut octets = [0u8; 16];
            octets[prefix_bytes..].copy_from_slice(suffix);
            let _ = write!(line, " {prefix_bits} {}", Ipv6Addr::from(octets));
        }
        if prefix_bits > 0 {
            line.push(' ');
            return Ok(self.write_name(line, data + 1 + suffix_len)?.map(|_| ()));
        }
        Ok(Some(()))
    }

    /// eopt_print: an EDNS option (RFC 6891 §6.1.2) by name and, for those tcpdump decodes, its data.
    fn write_edns_option(&self, line: &mut String, at: usize) -> Step<Option<usize>> {
        let Some(code) = self.u16_at(at) else { return Ok(None) };
        match edns_option_name(code) {
            Some(name) => line.push_str(name),
            None => {
                let _ = write!(line, "Opt{code}");
            }
        }
        let Some(len) = self.u16_at(at + 2) else { return Ok(None) };
        let data = at + 4;
        let len = usize::from(len);
        let Some(value) = self.bytes.get(data..data + len) else { return Ok(None) };
        if len > 0 {
            line.push(' ');
            write_edns_value(line, code, value);
        }
        Ok(Some(data + len))
    }
}
