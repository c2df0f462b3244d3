//! IPv6 extension headers as `tcpdump -nn` (4.99, without `-v`) prints them: `ip6_print`'s walk over the chain
//! (print-ip6.c), each header in turn as `HBH `, `DSTOPT `, `RT6 (len=2, type=2, segleft=1, [0]2001:db8::9) `
//! (print-rt6.c), `frag (OFFSET|LEN) ` (print-frag6.c) or `mobility: BRR` (print-mobility.c), before the upper
//! layer. A later fragment, a mobility header, a routing header tcpdump cannot decode, or a chain that runs past
//! the captured bytes ends the line there.

use std::fmt::Write as _;
use std::net::Ipv6Addr;

use super::ipsec_text::{AH, ESP, write_ah, write_esp};

/// Where the walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainEnd {
    /// At the upper-layer protocol `protocol`: the caller prints it.
    Upper { protocol: u8 },
    /// tcpdump prints nothing more of the packet (a later fragment, a mobility header).
    Stop,
    /// tcpdump stopped on a header it could not read whole, and said so (`[|hbhopt]`, `[|rt6]`, ...): the
    /// notation tells of the damage, as the project's own note would.
    Truncated,
    /// tcpdump objected to the chain (`(invalid)`); what synscope's decoder found wrong, if anything, may be
    /// something else.
    Invalid,
}

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DESTINATION_OPTIONS: u8 = 60;
const MOBILITY_OLD: u8 = 62;
const MOBILITY: u8 = 135;

/// Writes the extension headers of the IPv6 packet whose captured bytes (from its fixed header on) are `ip`.
pub fn write_extensions(line: &mut String, ip: &[u8]) -> ChainEnd {
    let Some(&first) = ip.get(6) else { return ChainEnd::Stop };
    let payload_len = ip.get(4..6).map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    // Bytes past the payload length are not the packet's (tcpdump narrows its snapshot to them); a jumbogram's
    // length is in its hop-by-hop option, which this does not follow, so the captured bytes stand in.
    let ip = if payload_len == 0 { ip } else { &ip[..ip.len().min(40 + payload_len)] };
    let mut next = first;
    let mut at = 40;
    let mut previous: Option<u8> = None;
    let mut seen_hop_by_hop = false;
    // tcpdump goes on to the next header whether or not any of it was captured: a missing header ends in its
    // printer's truncation mark, a missing upper layer in the upper layer's.
    loop {
        let header = ip.get(at..).unwrap_or(&[]);
        let len = match next {
            // RFC 8200 §4.1: hop-by-hop options only directly after the IPv6 header.
            HOP_BY_HOP if seen_hop_by_hop => {
                line.push_str("[The Hop-by-Hop Options header was already found] (invalid)");
                return ChainEnd::Invalid;
            }
            HOP_BY_HOP if previous.is_some() => {
                line.push_str("[The Hop-by-Hop Options header don't follow the IPv6 header] (invalid)");
                return ChainEnd::Invalid;
            }
            HOP_BY_HOP | DESTINATION_OPTIONS => {
                let len = header.get(1).map_or(usize::MAX, |&l| (usize::from(l) + 1) * 8);
                if header.len() < len {
                    line.push_str(if next == HOP_BY_HOP { " [|hbhopt]" } else { " [|dstopt]" });
                    return ChainEnd::Truncated;
                }
                line.push_str(if next == HOP_BY_HOP { "HBH " } else { "DSTOPT " });
                len
            }
            ROUTING => match write_routing(line, header) {
                Some(len) => len,
                None if line.ends_with("(invalid)") => return ChainEnd::Invalid,
                None => return ChainEnd::Truncated,
            },
            FRAGMENT => {
                let Some(offset) = header.get(2..4).map(|b| u16::from_be_bytes([b[0], b[1]]) & 0xfff8) else {
                    line.push_str(" [|frag6]");
                    return ChainEnd::Truncated;
                };
                // tcpdump's length is what the payload length leaves after this header.
                let rest = (40 + payload_len).saturating_sub(at + 8);
                let _ = write!(line, "frag ({offset}|{rest})");
                // A later fragment carries no header to go on with.
                if offset != 0 {
                    return ChainEnd::Stop;
                }
                line.push(' ');
                if ip.len() <= at + 8 {
                    return ChainEnd::Stop;
                }
                8
            }
            // ip6_print hands AH and ESP to ip_demux_print, which prints them as after IPv4.
            AH => match write_ah(line, header) {
                Some((_, len)) => len,
                None => return ChainEnd::Truncated,
            },
            ESP => {
                let length = (40 + payload_len).saturating_sub(at);
                write_esp(line, header, length as u32);
                return if header.len() <= 8 { ChainEnd::Truncated } else { ChainEnd::Stop };
            }
            MOBILITY | MOBILITY_OLD => {
                write_mobility(line, header);
                return ChainEnd::Stop;
            }
            protocol => return ChainEnd::Upper { protocol },
        };
        seen_hop_by_hop |= next == HOP_BY_HOP;
        previous = Some(next);
        next = header[0];
        at += len;
    }
}

fn address(bytes: &[u8]) -> Option<Ipv6Addr> {
    let octets: [u8; 16] = bytes.get(..16)?.try_into().ok()?;
    Some(Ipv6Addr::from(octets))
}

/// A routing header (RFC 8200 §4.4): type 0 (RFC 2460, deprecated by RFC 5095), 2 (RFC 6275) or 4 (segment
/// routing, RFC 8754), as rt6_print words it, field by field until one was not captured (` [|rt6]`). Its length,
/// or `None` where tcpdump stops.
fn write_routing(line: &mut String, header: &[u8]) -> Option<usize> {
    let written = routing_text(line, header);
    if written.is_none() && !line.ends_with("(invalid)") {
        line.push_str(" [|rt6]");
    }
    written
}

fn routing_text(line: &mut String, header: &[u8]) -> Option<usize> {
    let u8_at = |at: usize| header.get(at).copied();
    line.push_str("RT6");
    let len = u8_at(1)?;
    let _ = write!(line, " (len={len}");
    let kind = u8_at(2)?;
    let _ = write!(line, ", type={kind}");
    if kind == 0 {
        line.push_str(" [Deprecated]");
    }
    let _ = write!(line, ", segleft={}", u8_at(3)?);
    match kind {
        0 | 2 => {
            let reserved = u32::from_be_bytes(header.get(4..8)?.try_into().ok()?);
            if reserved != 0 {
                let _ = write!(line, ", rsv=0x{reserved:x}");
            }
        }
        4 => {
            let _ = write!(line, ", last-entry={}", u8_at(4)?);
            let flags = u8_at(5)?;
            if flags != 0 {
                let _ = write!(line, ", flags=0x{flags:x}");
            }
            let tag = u16::from_be_bytes(header.get(6..8)?.try_into().ok()?);
            let _ = write!(line, ", tag={tag:x}");
        }
        _ => {
            line.push_str(" (unknown type) (invalid)");
            return None;
        }
    }
    if len % 2 == 1 {
        let _ = write!(line, " (invalid length {len}) (invalid)");
        return None;
    }
    for i in 0..usize::from(len / 2) {
        let addr = address(header.get(8 + i * 16..)?)?;
        let _ = write!(line, ", [{i}]{addr}");
    }
    line.push_str(") ");
    Some((usize::from(len) + 1) * 8)
}

/// A mobility header (RFC 6275 §6.1), as mobility_print words it without -v; tcpdump stops after it.
fn write_mobility(line: &mut String, header: &[u8]) {
    let (Some(&len), Some(&kind)) = (header.get(1), header.get(2)) else {
        line.push_str(" [|mobility]");
        return;
    };
    let header_len = (usize::from(len) + 1) * 8;
    // The shortest header each message type needs (tcpdump's ip6m_hdrlen).
    let minimum = match kind {
        0 => Some(8),
        1 | 2 => Some(16),
        3 | 4 | 7 => Some(24),
        5 | 6 => Some(12),
        _ => None,
    };
    if let Some(minimum) = minimum
        && header_len < minimum
    {
        let _ = write!(line, "(header length {header_len} is too small for type {kind}) [|mobility]");
        return;
    }
    let name = match kind {
        0 => "BRR",
        1 => "HoTI",
        2 => "CoTI",
        3 => "HoT",
        4 => "CoT",
        5 => "BU",
        6 => "BA",
        7 => "BE",
        _ => "",
    };
    if name.is_empty() {
        let _ = write!(line, "mobility: type-#{kind}");
    } else {
        let _ = write!(line, "mobility: {name}");
    }
    let u8_at = |at: usize| header.get(at).copied();
    let u16_at = |at: usize| header.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let written = match kind {
        0..=2 => Some(()),
        3 | 4 => u16_at(6).map(|nonce| {
            let _ = write!(line, " nonce id=0x{nonce:x}");
        }),
        // Binding update: sequence number, then the A/H/L/K flags and the lifetime (units of 4 s) after the
        // 8-byte header.
        5 => (|| {
            let _ = write!(line, " seq#={}", u16_at(6)?);
            let bits = u8_at(8)? >> 4;
            if bits != 0 {
                line.push(' ');
                for (bit, letter) in [(8, 'A'), (4, 'H'), (2, 'L'), (1, 'K')] {
                    if bits & bit != 0 {
                        line.push(letter);
                    }
                }
            }
            let _ = write!(line, " lifetime={}", u32::from(u16_at(10)?) << 2);
            Some(())
        })(),
        6 => (|| {
            let _ = write!(line, " status={}", u8_at(6)?);
            if u8_at(7)? & 0x80 != 0 {
                line.push_str(" K");
            }
            let _ = write!(line, " seq#={}", u16_at(8)?);
            let _ = write!(line, " lifetime={}", u32::from(u16_at(10)?) << 2);
            Some(())
        })(),
        7 => (|| {
            let _ = write!(line, " status={}", u8_at(6)?);
            let _ = write!(line, " homeaddr {}", address(header.get(8..)?)?);
            Some(())
        })(),
        _ => {
            let _ = write!(line, " len={len}");
            Some(())
        }
    };
    if written.is_none() {
        line.push_str(" [|mobility]");
    }
}
