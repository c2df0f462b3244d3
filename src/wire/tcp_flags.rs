//! TCP control bits (RFC 9293 §3.1, NS/AE from RFC 3540 and RFC 9768) and their tcpdump letters.

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
