//! ICMP and ICMPv6 messages as `tcpdump -nn` (4.99) prints them without `-v`: an error names what it says about the
//! datagram it quotes (`ICMP 192.0.2.9 udp port 53 unreachable`, `ICMP6, destination unreachable, unreachable port,
//! 2001:db8::9 udp port 53`), neighbour discovery names its target. The wording follows tcpdump's `icmp_print`
//! (print-icmp.c) and `icmp6_print` (print-icmp6.c); the field offsets are RFC 792, RFC 1191, RFC 1256, RFC 4443,
//! RFC 4861 and RFC 3810's.
//!
//! tcpdump reads every field it prints from the captured bytes and, when one is missing, prints ` [|icmp]` instead
//! of the ICMP text (it composes the IPv4 text before printing any of it), or ` [|icmp6]` after what it has
//! printed so far (ICMPv6 text is printed piece by piece). Both are modelled: a field read returns `None` past the
//! capture.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::packet::IcmpInfo;

/// The captured bytes of one ICMP message, with tcpdump's bounds-checked reads.
struct Message<'a>(&'a [u8]);

impl Message<'_> {
    fn u8(&self, at: usize) -> Option<u8> {
        self.0.get(at).copied()
    }

    fn u16(&self, at: usize) -> Option<u16> {
        Some(u16::from_be_bytes(self.0.get(at..at + 2)?.try_into().ok()?))
    }

    fn u32(&self, at: usize) -> Option<u32> {
        Some(u32::from_be_bytes(self.0.get(at..at + 4)?.try_into().ok()?))
    }

    fn ipv4(&self, at: usize) -> Option<Ipv4Addr> {
        Some(Ipv4Addr::from(self.u32(at)?))
    }

    fn ipv6(&self, at: usize) -> Option<Ipv6Addr> {
        let octets: [u8; 16] = self.0.get(at..at + 16)?.try_into().ok()?;
        Some(Ipv6Addr::from(octets))
    }
}

/// Appends the ICMP or ICMPv6 text for `icmp`, whose captured bytes (header first, at most the message's length)
/// are `bytes`.
pub fn write_icmp(line: &mut String, icmp: &IcmpInfo, bytes: &[u8]) {
    let message = Message(bytes);
    if icmp.v6 {
        if write_icmp6(line, icmp, &message).is_none() {
            line.push_str(" [|icmp6]");
        }
    } else {
        match icmp4_text(icmp, &message) {
            Some(text) => {
                let _ = write!(line, "ICMP {text}, length {}", icmp.len);
            }
            None => line.push_str(" [|icmp]"),
        }
    }
}

/// Where the quoted datagram starts in an ICMP error (RFC 792): after the 8-byte ICMP header.
const QUOTED: usize = 8;
/// The quoted IPv4 header's destination address.
const QUOTED_V4_DST: usize = QUOTED + 16;

/// tcpdump's `icmp_print` text between `ICMP ` and `, length`.
fn icmp4_text(icmp: &IcmpInfo, m: &Message<'_>) -> Option<String> {
    let code = icmp.code;
    let quoted_dst = || m.ipv4(QUOTED_V4_DST);
    Some(match icmp.icmp_type {
        0 | 8 => {
            let kind = if icmp.icmp_type == 8 { "request" } else { "reply" };
            format!("echo {kind}, id {}, seq {}", m.u16(4)?, m.u16(6)?)
        }
        3 => match code {
            0 => format!("net {} unreachable", quoted_dst()?),
            1 => format!("host {} unreachable", quoted_dst()?),
            2 => format!("{} protocol {} unreachable", quoted_dst()?, m.u8(QUOTED + 9)?),
            3 => {
                // The port is read behind the quoted header's own length, whatever that length says.
                m.u8(QUOTED + 9)?;
                let header_len = usize::from(m.u8(QUOTED)? & 0x0f) * 4;
                let dport = m.u16(QUOTED + header_len + 2)?;
                let protocol = m.u8(QUOTED + 9)?;
                let dst = quoted_dst()?;
                match protocol {
                    6 => format!("{dst} tcp port {dport} unreachable"),
                    17 => format!("{dst} udp port {dport} unreachable"),
                    _ => format!("{dst} protocol {protocol} port {dport} unreachable"),
                }
            }
            // RFC 1191: the next-hop MTU in the low half of the second word; 0 from a pre-RFC 1191 router.
            4 => match m.u16(6)? {
                0 => format!("{} unreachable - need to frag", quoted_dst()?),
                mtu => format!("{} unreachable - need to frag (mtu {mtu})", quoted_dst()?),
            },
            5 => format!("{} unreachable - source route failed", quoted_dst()?),
            6 => format!("net {} unreachable - unknown", quoted_dst()?),
            7 => format!("host {} unreachable - unknown", quoted_dst()?),
            8 => format!("{} unreachable - source host isolated", quoted_dst()?),
            9 => format!("net {} unreachable - admin prohibited", quoted_dst()?),
            10 => format!("host {} unreachable - admin prohibited", quoted_dst()?),
            11 => format!("net {} unreachable - tos prohibited", quoted_dst()?),
            12 => format!("host {} unreachable - tos prohibited", quoted_dst()?),
            13 => format!("host {} unreachable - admin prohibited filter", quoted_dst()?),
            14 => format!("host {} unreachable - host precedence violation", quoted_dst()?),
            15 => format!("host {} unreachable - precedence cutoff", quoted_dst()?),
            _ => format!("{} unreachable - #{code}", quoted_dst()?),
        },
        5 => {
            let (dst, gateway) = (quoted_dst()?, m.ipv4(4)?);
            match code {
                0 => format!("redirect {dst} to net {gateway}"),
                1 => format!("redirect {dst} to host {gateway}"),
                2 => format!("redirect-tos {dst} to net {gateway}"),
                3 => format!("redirect-tos {dst} to host {gateway}"),
                _ => format!("redirect-#{code} {dst} to {gateway}"),
            }
        }
        9 => router_advertisement(m)?,
        11 => {
            // tcpdump checks that the quoted destination was captured before naming the message.
            quoted_dst()?;
            match code {
                0 => "time exceeded in-transit".into(),
                1 => "ip reassembly time exceeded".into(),
                _ => format!("time exceeded-#{code}"),
            }
        }
        12 if code != 0 => format!("parameter problem - code {code}"),
        // RFC 792: the pointer to the octet in error is the first byte after the checksum.
        12 => format!("parameter problem - octet {}", m.u8(4)?),
        18 => format!("address mask is 0x{:08x}", m.u32(8)?),
        13 => format!("time stamp query id {} seq {}", m.u16(4)?, m.u16(6)?),
        14 => {
            m.u32(16)?;
            format!(
                "time stamp reply id {} seq {}: org {}, recv {}, xmit {}",
                m.u16(4)?,
                m.u16(6)?,
                milliseconds_of_day(m.u32(8)?),
                milliseconds_of_day(m.u32(12)?),
                milliseconds_of_day(m.u32(16)?)
            )
        }
        4 => "source quench".into(),
        10 => "router solicitation".into(),
        15 => "information request".into(),
        16 => "information reply".into(),
        17 => "address mask request".into(),
        other => format!("type-#{other}"),
    })
}

/// RFC 1256 router advertisement: lifetime as tcpdump shortens it, then each `{address preference}`.
fn router_advertisement(m: &Message<'_>) -> Option<String> {
    let mut text = String::from("router advertisement");
    m.u32(4)?;
    let lifetime = m.u16(6)?;
    let _ = match lifetime {
        0..60 => write!(text, " lifetime {lifetime}"),
        60..3600 => write!(text, " lifetime {}:{:02}", lifetime / 60, lifetime % 60),
        _ => write!(text, " lifetime {}:{:02}:{:02}", lifetime / 3600, (lifetime % 3600) / 60, lifetime % 60),
    };
    let count = m.u8(4)?;
    let _ = write!(text, " {count}:");
    let size = m.u8(5)?;
    if size != 2 {
        let _ = write!(text, " [size {size}]");
        return Some(text);
    }
    for entry in 0..usize::from(count) {
        let at = 8 + entry * 8;
        m.u32(at + 4)?;
        let _ = write!(text, " {{{} {}}}", m.ipv4(at)?, m.u32(at + 4)?);
    }
    Some(text)
}

/// RFC 792 timestamps count milliseconds since midnight UT; tcpdump prints them as a time of day.
fn milliseconds_of_day(ms: u32) -> String {
    let (secs, ms) = (ms / 1000, ms % 1000);
    let (mins, secs) = (secs / 60, secs % 60);
    format!("{:02}:{:02}:{:02}.{ms:03}", mins / 60, mins % 60, secs)
}

/// The quoted IPv6 header's addresses (RFC 4443 §3: the invoking packet follows the 8-byte header).
const QUOTED_V6_SRC: usize = QUOTED + 8;
const QUOTED_V6_DST: usize = QUOTED + 24;

/// tcpdump's `icmp6_print`, writing as it goes; `None` where tcpdump stops on a field that was not captured.
fn write_icmp6(line: &mut String, icmp: &IcmpInfo, m: &Message<'_>) -> Option<()> {
    let code = icmp.code;
    line.push_str("ICMP6, ");
    match icmp6_type_name(icmp.icmp_type) {
        Some(name) => line.push_str(name),
        None => {
            let _ = write!(line, "unknown icmp6 type ({})", icmp.icmp_type);
        }
    }
    match icmp.icmp_type {
        1 => {
            line.push_str(", ");
            match code {
                0 => line.push_str("unreachable route"),
                // tcpdump's table has the leading space.
                1 => line.push_str(" unreachable prohibited"),
                2 => line.push_str("beyond scope"),
                3 => line.push_str("unreachable address"),
                4 => line.push_str("unreachable port"),
                _ => {
                    let _ = write!(line, "unknown unreach code ({code})");
                }
            }
            match code {
                0 | 1 | 3 => {
                    let _ = write!(line, " {}", m.ipv6(QUOTED_V6_DST)?);
                }
                2 => {
                    let (dst, src) = (m.ipv6(QUOTED_V6_DST)?, m.ipv6(QUOTED_V6_SRC)?);
                    let _ = write!(line, " {dst}, source address {src}");
                }
                4 => {
                    let (protocol, port_at) = quoted_upper_layer(m)?;
                    let dport = m.u16(port_at + 2)?;
                    let dst = m.ipv6(QUOTED_V6_DST)?;
                    let name = if protocol == 6 { "tcp" } else { "udp" };
                    let _ = write!(line, ", {dst} {name} port {dport}");
                }
                // tcpdump dumps the message in hex on lines of their own here; the one-line form stops.
                _ => return Some(()),
            }
        }
        2 => {
            let _ = write!(line, ", mtu {}", m.u32(4)?);
        }
        3 => match code {
            0 => {
                let _ = write!(line, " for {}", m.ipv6(QUOTED_V6_DST)?);
            }
            1 => line.push_str(" (reassembly)"),
            _ => {
                let _ = write!(line, ", unknown code ({code})");
            }
        },
        4 => {
            m.ipv6(QUOTED_V6_DST)?;
            let what = match code {
                0 => "erroneous",
                1 => "next header",
                2 => "option",
                3 => "incomplete header chain",
                _ => {
                    let _ = write!(line, ", code-#{code}");
                    return length(line, icmp);
                }
            };
            let _ = write!(line, ", {what} - octet {}", m.u32(4)?);
        }
        128 | 129 => {
            let (id, seq) = (m.u16(4)?, m.u16(6)?);
            let _ = write!(line, ", id {id}, seq {seq}");
        }
        // RFC 2710 MLDv1 (24 bytes) or RFC 3810 MLDv2 query (28 bytes and more).
        130 if icmp.len == 24 => mld(line, m)?,
        130 if icmp.len >= 28 => {
            line.push_str(" v2");
            let group = m.ipv6(8)?;
            let _ = write!(line, " [gaddr {group}");
            let sources = m.u16(26)?;
            if sources > 0 {
                if icmp.len < 28 + u32::from(sources) * 16 {
                    line.push_str(" [invalid number of sources]");
                } else {
                    let _ = write!(line, ", {sources} source(s)");
                }
            }
            line.push(']');
        }
        130 => {
            let _ = write!(line, " unknown-version (len {}) ", icmp.len);
        }
        131 | 132 => mld(line, m)?,
        135 => {
            let _ = write!(line, ", who has {}", m.ipv6(8)?);
        }
        136 => {
            let _ = write!(line, ", tgt is {}", m.ipv6(8)?);
        }
        // RFC 4861 §4.5: the target (the better first hop) at 8, the destination at 24.
        137 => {
            let _ = write!(line, ", {}", m.ipv6(24)?);
            let _ = write!(line, " to {}", m.ipv6(8)?);
        }
        143 if icmp.len < 8 => {
            let _ = write!(line, " [invalid len {}]", icmp.len);
        }
        143 => {
            let _ = write!(line, ", {} group record(s)", m.u16(6)?);
        }
        144 | 146 => {
            let _ = write!(line, ", id 0x{:04x}", m.u16(4)?);
        }
        // Router solicitation and advertisement, router renumbering and node information (printed in full only
        // with -v by tcpdump), inverse discovery, and the rest.
        _ => {}
    }
    length(line, icmp)
}

fn length(line: &mut String, icmp: &IcmpInfo) -> Option<()> {
    let _ = write!(line, ", length {}", icmp.len);
    Some(())
}

/// RFC 2710 MLD: tcpdump prints the maximum response delay and the multicast address, when all 24 bytes are there.
fn mld(line: &mut String, m: &Message<'_>) -> Option<()> {
    if m.0.len() < 24 {
        return Some(());
    }
    let _ = write!(line, "max resp delay: {} ", m.u16(4)?);
    let _ = write!(line, "addr: {}", m.ipv6(8)?);
    Some(())
}

/// The quoted datagram's TCP or UDP header, behind its extension headers, as tcpdump's `get_upperlayer` walks them:
/// the protocol and the header's offset in the message. `None` (tcpdump's truncation) for any other protocol, a
/// non-first fragment, or a header not captured far enough.
fn quoted_upper_layer(m: &Message<'_>) -> Option<(u8, usize)> {
    let mut next = m.u8(QUOTED + 6)?;
    let mut at = QUOTED + 40;
    while at < m.0.len() {
        let len = match next {
            6 | 17 => {
                m.u16(at + 2)?;
                return Some((next, at));
            }
            // Hop-by-hop, routing, destination options (RFC 8200 §4.3, §4.4, §4.6): 8-octet units beyond the first.
            0 | 43 | 60 => (usize::from(m.u8(at + 1)?) + 1) * 8,
            // A fragment header (RFC 8200 §4.5): only the first fragment carries the upper-layer header.
            44 => {
                if m.u16(at + 2)? & 0xfff8 != 0 {
                    return None;
                }
                8
            }
            // AH (RFC 4302 §2.2): 4-octet units, minus 2.
            51 => (usize::from(m.u8(at + 1)?) + 2) * 4,
            _ => return None,
        };
        next = m.u8(at)?;
        at += len;
    }
    None
}

/// tcpdump's `icmp6_type_values`.
fn icmp6_type_name(icmp_type: u8) -> Option<&'static str> {
    Some(match icmp_type {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded in-transit",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        132 => "multicast listener done",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbor solicitation",
        136 => "neighbor advertisement",
        137 => "redirect",
        138 => "router renumbering",
        // tcpdump's table lists who-are-you (RFC 1788) before node information (RFC 4620), so its lookup finds it.
        139 => "who-are-you request",
        140 => "who-are-you reply",
        141 => "inverse neighbor solicitation",
        142 => "inverse neighbor advertisement",
        143 => "multicast listener report v2",
        144 => "ha discovery request",
        145 => "ha discovery reply",
        146 => "mobile router solicitation",
        147 => "mobile router advertisement",
        200 => "mtrace response",
        201 => "mtrace message",
        155 => "RPL",
        _ => return None,
    })
}
