//! TCP option parsing (RFC 9293 §3.2, RFC 7323 window scale and timestamps, RFC 2018 SACK). We parse options
//! ourselves rather than through etherparse so that unknown kinds are shown as kind/length instead of ending the
//! list, and a malformed option is reported without losing the ones before it.

use std::fmt;

/// One TCP option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpOption<'a> {
    EndOfList,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    /// Up to four SACK blocks (left edge, right edge).
    Sack(SackBlocks),
    Timestamp {
        val: u32,
        ecr: u32,
    },
    Unknown {
        kind: u8,
        data: &'a [u8],
    },
    /// An option whose length byte is impossible or runs past the header; parsing stops here.
    Malformed {
        kind: u8,
        reason: &'static str,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(u32, u32); 4],
    len: u8,
}

impl SackBlocks {
    pub fn as_slice(&self) -> &[(u32, u32)] {
        &self.blocks[..self.len as usize]
    }
}

/// Iterator over the options of one TCP header.
#[derive(Clone, Debug)]
pub struct TcpOptions<'a> {
    rest: &'a [u8],
    done: bool,
}

impl<'a> TcpOptions<'a> {
    pub fn new(raw: &'a [u8]) -> Self {
        TcpOptions { rest: raw, done: false }
    }

    /// The MSS option's value, if present.
    pub fn mss(self) -> Option<u16> {
        self.into_iter().find_map(|o| match o {
            TcpOption::Mss(m) => Some(m),
            _ => None,
        })
    }

    /// The options a handshake negotiates, in one pass.
    pub fn handshake(self) -> HandshakeOptions {
        let mut found = HandshakeOptions::default();
        for option in self {
            match option {
                TcpOption::Mss(m) => found.mss = Some(m),
                TcpOption::WindowScale(shift) => found.wscale = Some(shift.min(MAX_WINDOW_SCALE)),
                TcpOption::SackPermitted => found.sack_permitted = true,
                TcpOption::Timestamp { val, ecr } => found.timestamps = Some((val, ecr)),
                _ => {}
            }
        }
        found
    }
}

/// RFC 7323 §2.3: a window-scale shift above 14 is used as 14 (Linux `TCP_MAX_WSCALE`). A shift of 15 or more
/// would also overflow a 32-bit window, and a Rust shift by 32 or more (see issue 17).
pub const MAX_WINDOW_SCALE: u8 = 14;

/// MSS (RFC 9293 §3.7.1), window scale (RFC 7323 §2.2), SACK-permitted (RFC 2018 §2) and timestamps (RFC 7323
/// §3) as one segment carries them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HandshakeOptions {
    pub mss: Option<u16>,
    /// The shift in effect: the option's value, at most [`MAX_WINDOW_SCALE`]. (`TcpOption::WindowScale` keeps the
    /// value as sent, for display.)
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// TSval and TSecr.
    pub timestamps: Option<(u32, u32)>,
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = TcpOption<'a>;

    fn next(&mut self) -> Option<TcpOption<'a>> {
        if self.done || self.rest.is_empty() {
            return None;
        }
        let kind = self.rest[0];
        match kind {
            0 => {
                // End of option list: what follows is padding (RFC 9293 §3.2).
                self.done = true;
                return Some(TcpOption::EndOfList);
            }
            1 => {
                self.rest = &self.rest[1..];
                return Some(TcpOption::Nop);
            }
            _ => {}
        }
        let malformed = |reason| TcpOption::Malformed { kind, reason };
        if self.rest.len() < 2 {
            self.done = true;
            return Some(malformed("no length byte"));
        }
        let len = self.rest[1] as usize;
        if len < 2 {
            self.done = true;
            return Some(malformed("length below 2"));
        }
        if len > self.rest.len() {
            self.done = true;
            return Some(malformed("runs past the header"));
        }
        let body = &self.rest[2..len];
        self.rest = &self.rest[len..];
        let option = match (kind, body.len()) {
            (2, 2) => TcpOption::Mss(be16(body)),
            (3, 1) => TcpOption::WindowScale(body[0]),
            (4, 0) => TcpOption::SackPermitted,
            (5, n) if n % 8 == 0 && n > 0 && n <= 32 => {
                let mut sack = SackBlocks::default();
                for chunk in body.chunks_exact(8) {
                    sack.blocks[sack.len as usize] = (be32(&chunk[..4]), be32(&chunk[4..]));
                    sack.len += 1;
                }
                TcpOption::Sack(sack)
            }
            (8, 8) => TcpOption::Timestamp { val: be32(&body[..4]), ecr: be32(&body[4..]) },
            (2..=5 | 8, _) => {
                self.done = true;
                malformed("wrong length for its kind")
            }
            _ => TcpOption::Unknown { kind, data: body },
        };
        Some(option)
    }
}

impl fmt::Display for TcpOption<'_> {
    /// tcpdump's spelling of each option.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcpOption::EndOfList => f.write_str("eol"),
            TcpOption::Nop => f.write_str("nop"),
            TcpOption::Mss(m) => write!(f, "mss {m}"),
            TcpOption::WindowScale(s) => write!(f, "wscale {s}"),
            TcpOption::SackPermitted => f.write_str("sackOK"),
            TcpOption::Sack(blocks) => {
                write!(f, "sack {}", blocks.as_slice().len())?;
                for (left, right) in blocks.as_slice() {
                    write!(f, " {{{left}:{right}}}")?;
                }
                Ok(())
            }
            TcpOption::Timestamp { val, ecr } => write!(f, "TS val {val} ecr {ecr}"),
            TcpOption::Unknown { kind, data } => write!(f, "opt-{kind} len {}", data.len() + 2),
            TcpOption::Malformed { kind, reason } => write!(f, "bad opt-{kind}: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(raw: &[u8]) -> Vec<String> {
        TcpOptions::new(raw).map(|o| o.to_string()).collect()
    }

    #[test]
    fn a_window_scale_above_14_is_shown_as_sent_and_used_as_14() {
        for shift in [14u8, 15, 40, 255] {
            let raw = [1, 3, 3, shift];
            assert_eq!(render(&raw), ["nop".to_string(), format!("wscale {shift}")]);
            assert_eq!(TcpOptions::new(&raw).handshake().wscale, Some(14), "RFC 7323 §2.3");
        }
        assert_eq!(TcpOptions::new(&[1, 3, 3, 9]).handshake().wscale, Some(9));
    }

    #[test]
    fn linux_syn_options_in_tcpdump_spelling() {
        let raw = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7];
        assert_eq!(render(&raw), ["mss 1460", "sackOK", "TS val 1 ecr 0", "nop", "wscale 7"]);
    }

    #[test]
    fn sack_blocks_are_listed() {
        let raw = [1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200];
        assert_eq!(render(&raw), ["nop", "nop", "sack 1 {100:200}"]);
    }

    #[test]
    fn unknown_kind_is_shown_and_parsing_goes_on() {
        let raw = [30, 4, 0xaa, 0xbb, 1, 3, 3, 2];
        assert_eq!(render(&raw), ["opt-30 len 4", "nop", "wscale 2"]);
    }

    #[test]
    fn bad_lengths_stop_with_a_reason() {
        assert_eq!(render(&[2, 9, 0, 0]), ["bad opt-2: runs past the header"]);
        assert_eq!(render(&[1, 2, 1]), ["nop", "bad opt-2: length below 2"]);
        assert_eq!(render(&[2, 3, 0]), ["bad opt-2: wrong length for its kind"]);
        assert_eq!(render(&[1, 7]), ["nop", "bad opt-7: no length byte"]);
    }

    #[test]
    fn end_of_list_ends_the_options() {
        assert_eq!(render(&[1, 0, 2, 4, 5, 180]), ["nop", "eol"]);
    }
}
