//! A TCP segment as the tracker and the printers see it (RFC 9293 §3.1).

use super::tcp_options::TcpOptions;

/// TCP control bits, including NS/AE (RFC 3540, RFC 9768 reuse) as bit 8.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u16);

impl TcpFlags {
    pub const FIN: u16 = 0x001;
    pub const SYN: u16 = 0x002;
    pub const RST: u16 = 0x004;
    pub const PSH: u16 = 0x008;
    pub const ACK: u16 = 0x010;
    pub const URG: u16 = 0x020;
    pub const ECE: u16 = 0x040;
    pub const CWR: u16 = 0x080;
    pub const NS: u16 = 0x100;

    pub fn has(self, bit: u16) -> bool {
        self.0 & bit != 0
    }

    pub fn syn(self) -> bool {
        self.has(Self::SYN)
    }
    pub fn ack(self) -> bool {
        self.has(Self::ACK)
    }
    pub fn fin(self) -> bool {
        self.has(Self::FIN)
    }
    pub fn rst(self) -> bool {
        self.has(Self::RST)
    }

    /// tcpdump's flag letters in its order (F S R P . U E W, then our N for NS/AE), or "none".
    pub fn tcpdump_letters(self) -> FlagLetters {
        const LETTERS: [(u16, u8); 9] = [
            (TcpFlags::FIN, b'F'),
            (TcpFlags::SYN, b'S'),
            (TcpFlags::RST, b'R'),
            (TcpFlags::PSH, b'P'),
            (TcpFlags::ACK, b'.'),
            (TcpFlags::URG, b'U'),
            (TcpFlags::ECE, b'E'),
            (TcpFlags::CWR, b'W'),
            (TcpFlags::NS, b'N'),
        ];
        let mut out = FlagLetters { buf: [0; 9], len: 0 };
        for (bit, letter) in LETTERS {
            if self.has(bit) {
                out.buf[out.len] = letter;
                out.len += 1;
            }
        }
        out
    }
}

/// The flag letters of one segment, without allocating.
pub struct FlagLetters {
    buf: [u8; 9],
    len: usize,
}

impl FlagLetters {
    pub fn as_str(&self) -> &str {
        if self.len == 0 {
            "none"
        } else {
            // Only ASCII letters are ever stored.
            std::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub checksum: u16,
    /// Header length in bytes (data offset × 4).
    pub header_len: u8,
    /// The raw option bytes; parse them with `options()`.
    pub options_raw: &'a [u8],
    /// Payload length as the IP header announces it, even when the capture cut the frame short.
    pub payload_len: u32,
    /// The payload bytes actually captured.
    pub payload: &'a [u8],
}

impl<'a> TcpSegment<'a> {
    pub fn options(&self) -> TcpOptions<'a> {
        TcpOptions::new(self.options_raw)
    }
}
