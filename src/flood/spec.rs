//! What a flood sends, as the flags spell it: the spoofed source range (`--spoof CIDR`), the source ports
//! (`--src-ports A-B`) and the SYN options (`--syn-options mss,sack,ts,wscale`). Pure parsers; each error is one
//! line that says what was expected, for clap to print as a usage error.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::wire::segment::TcpFlags;

/// The default spoofed range: 198.18.0.0/15, which RFC 2544 (appendix C.2.2) and RFC 6890 set aside for
/// benchmarking network devices, so a flood's sources never pose as real hosts.
pub const DEFAULT_SPOOF_V4: &str = "198.18.0.0/15";
/// IPv6's benchmarking prefix (RFC 5180, RFC 6890).
pub const DEFAULT_SPOOF_V6: &str = "2001:2::/48";

/// An address range in CIDR notation; a bare address is a /32 (or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address, host bits cleared.
    base: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// One address: what `--source ADDR` means.
    pub fn host(ip: IpAddr) -> Cidr {
        Cidr { base: ip, prefix: if ip.is_ipv4() { 32 } else { 128 } }
    }

    pub fn base(&self) -> IpAddr {
        self.base
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    pub fn is_ipv4(&self) -> bool {
        self.base.is_ipv4()
    }

    /// The bits a random source may set, right-aligned, as an integer of the family's width.
    pub fn host_mask(&self) -> u128 {
        let width = if self.is_ipv4() { 32 } else { 128 };
        let host_bits = width - u32::from(self.prefix);
        if host_bits == 128 { u128::MAX } else { (1u128 << host_bits) - 1 }
    }

    /// The network address as an integer (IPv4 in the low 32 bits).
    pub fn base_bits(&self) -> u128 {
        match self.base {
            IpAddr::V4(ip) => u128::from(u32::from(ip)),
            IpAddr::V6(ip) => u128::from(ip),
        }
    }

    /// The address whose host bits are the low bits of `random`.
    pub fn pick(&self, random: u128) -> IpAddr {
        let bits = self.base_bits() | (random & self.host_mask());
        match self.base {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(bits as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(bits)),
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = match (self.base, ip) {
            (IpAddr::V4(_), IpAddr::V4(ip)) => u128::from(u32::from(ip)),
            (IpAddr::V6(_), IpAddr::V6(ip)) => u128::from(ip),
            _ => return false,
        };
        bits & !self.host_mask() == self.base_bits()
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Cidr, String> {
        let bad = || format!("'{text}' is not an address range; write it as ADDRESS/PREFIX, such as 198.18.0.0/15");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let ip: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= width)
                .ok_or_else(|| format!("'{text}': the prefix length must be a number from 0 to {width}"))?,
        };
        // Host bits are cleared rather than refused: 10.1.2.3/8 means 10.0.0.0/8, as `ip route` reads it.
        let mask = Cidr { base: ip, prefix }.host_mask();
        let base = match ip {
            IpAddr::V4(ip) => IpAddr::V4(Ipv4Addr::from(u32::from(ip) & !(mask as u32))),
            IpAddr::V6(ip) => IpAddr::V6(Ipv6Addr::from(u128::from(ip) & !mask)),
        };
        Ok(Cidr { base, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// An inclusive range of source ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(text: &str) -> Result<PortRange, String> {
        let port = |p: &str| {
            p.trim().parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| {
                format!(
                    "'{text}' is not a port range; write it as LOW-HIGH with ports from 1 to 65535, such as 1024-65535"
                )
            })
        };
        let (low, high) = match text.split_once('-') {
            Some((low, high)) => (port(low)?, port(high)?),
            None => {
                let one = port(text)?;
                (one, one)
            }
        };
        if low > high {
            return Err(format!("'{text}': the first port must not be above the second (try {high}-{low})"));
        }
        Ok(PortRange { low, high })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high { write!(f, "{}", self.low) } else { write!(f, "{}-{}", self.low, self.high) }
    }
}

/// Which options a SYN carries. Linux sends all four; hping3 sends none (its TCP header is the bare 20 bytes
/// unless `--tcp-mss` or `--tcp-timestamp` is given); our default is MSS alone, the one option every real stack
/// sends and the one SYN cookies must encode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SynOptions {
    pub mss: bool,
    pub sack: bool,
    pub ts: bool,
    pub wscale: bool,
}

/// The MSS advertised: Ethernet's 1500-byte MTU less 40 bytes of IPv4 and TCP headers, as Linux computes it.
pub const MSS: u16 = 1460;
/// The window scale advertised: Linux's with the default `tcp_rmem` maximum of 6 MiB.
pub const WSCALE: u8 = 7;

impl SynOptions {
    /// The option bytes in Linux's order and layout (`tcp_options_write`): MSS; then the timestamps, preceded by
    /// SACK-permitted when both are on (sharing one 32-bit word) or by two NOPs; then NOP NOP SACK-permitted when
    /// there are no timestamps; then NOP and the window scale. Also returns where TSval sits, if anywhere.
    pub fn layout(&self) -> (Vec<u8>, Option<usize>) {
        let mut bytes = Vec::with_capacity(20);
        let mut ts_at = None;
        if self.mss {
            bytes.extend_from_slice(&[2, 4]);
            bytes.extend_from_slice(&MSS.to_be_bytes());
        }
        if self.ts {
            bytes.extend_from_slice(if self.sack { &[4, 2, 8, 10] } else { &[1, 1, 8, 10] });
            ts_at = Some(bytes.len());
            bytes.extend_from_slice(&[0; 8]);
        } else if self.sack {
            bytes.extend_from_slice(&[1, 1, 4, 2]);
        }
        if self.wscale {
            bytes.extend_from_slice(&[1, 3, 3, WSCALE]);
        }
        (bytes, ts_at)
    }
}

impl FromStr for SynOptions {
    type Err = String;

    fn from_str(text: &str) -> Result<SynOptions, String> {
        let mut options = SynOptions::default();
        for name in text.split(',').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "mss" => options.mss = true,
                "sack" => options.sack = true,
                "ts" | "timestamp" | "timestamps" => options.ts = true,
                "wscale" | "ws" => options.wscale = true,
                "none" | "" => {}
                other => {
                    return Err(format!(
                        "unknown SYN option '{other}'; choose from mss, sack, ts, wscale (comma-separated), or none"
                    ));
                }
            }
        }
        Ok(options)
    }
}

impl fmt::Display for SynOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [(self.mss, "mss"), (self.sack, "sack"), (self.ts, "ts"), (self.wscale, "wscale")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        if names.is_empty() { f.write_str("none") } else { f.write_str(&names.join(",")) }
    }
}

/// The TCP flags every frame of a flood carries, written as hping3 spells them on its command line: `S` SYN
/// (`-S`), `A` ACK (`-A`), `R` RST (`-R`), `F` FIN (`-F`), `P` PSH (`-P`), `U` URG (`-U`), in any order: `SA`
/// is a SYN-ACK. With ACK set each frame gets a random acknowledgment number, which against a SYN-cookie defence
/// is a random cookie (RFC 4987 §3.6: an ACK flood guessing cookies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagSet(pub TcpFlags);

impl Default for FlagSet {
    fn default() -> FlagSet {
        FlagSet(TcpFlags(TcpFlags::SYN))
    }
}

impl FlagSet {
    /// What one frame is called in the reports: `SYN` for the default flood, the flags' letters otherwise.
    pub fn noun(&self) -> String {
        if self.0 == TcpFlags(TcpFlags::SYN) { "SYN".into() } else { self.to_string() }
    }
}

const FLAG_LETTERS: [(char, u16); 6] = [
    ('S', TcpFlags::SYN),
    ('A', TcpFlags::ACK),
    ('R', TcpFlags::RST),
    ('F', TcpFlags::FIN),
    ('P', TcpFlags::PSH),
    ('U', TcpFlags::URG),
];

impl FromStr for FlagSet {
    type Err = String;

    fn from_str(text: &str) -> Result<FlagSet, String> {
        let mut bits = 0;
        for letter in text.trim().chars() {
            let Some(&(_, bit)) = FLAG_LETTERS.iter().find(|(l, _)| *l == letter.to_ascii_uppercase()) else {
                return Err(format!(
                    "'{text}': unknown TCP flag '{letter}'; write the flags as letters, as hping3 does: S A R F P U (e.g. SA)"
                ));
            };
            bits |= bit;
        }
        if bits == 0 {
            return Err("--flags needs at least one of S A R F P U".into());
        }
        Ok(FlagSet(TcpFlags(bits)))
    }
}

impl fmt::Display for FlagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (letter, bit) in FLAG_LETTERS {
            if self.0.has(bit) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// TCP option bytes given as hex (`--tcp-options-hex 02040000`), sent as they are: the way to send what no
/// well-behaved stack would, such as MSS 0 (`02040000`), a window scale of 255 (`010303ff`), or an option whose
/// length runs past the header (`02ff`). Padded with zeros (End of Option List, RFC 9293 §3.2) to the 32-bit
/// boundary the data offset needs; at most 40 bytes, the room a TCP header has for options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawOptions(pub Vec<u8>);

impl FromStr for RawOptions {
    type Err = String;

    fn from_str(text: &str) -> Result<RawOptions, String> {
        let digits: String = text.chars().filter(|c| !c.is_ascii_whitespace() && *c != ':').collect();
        let bad = || format!("'{text}' is not TCP option bytes in hex, such as 020405b4 (MSS 1460)");
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return Err(bad());
        }
        let mut bytes = Vec::with_capacity(digits.len() / 2);
        for pair in digits.as_bytes().chunks(2) {
            let pair = std::str::from_utf8(pair).map_err(|_| bad())?;
            bytes.push(u8::from_str_radix(pair, 16).map_err(|_| bad())?);
        }
        if bytes.len() > 40 {
            return Err(format!("'{text}' is {} bytes of options; a TCP header has room for 40", bytes.len()));
        }
        bytes.resize(bytes.len().next_multiple_of(4), 0);
        Ok(RawOptions(bytes))
    }
}

impl fmt::Display for RawOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hex:")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// Everything about one frame of a flood that is the same for all of them: its flags, its options, how much
/// payload it carries, and whether it is an IPv4 fragment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    pub flags: FlagSet,
    /// Linux-layout options, unless `raw` is given.
    pub options: SynOptions,
    pub raw: Option<RawOptions>,
    /// Payload bytes (zeros) after the TCP header.
    pub data: u16,
    /// Each frame is the first fragment (offset 0, More Fragments set, RFC 791 §3.2) of a datagram whose rest
    /// never comes: it fills the receiver's reassembly queue until `ipfrag_time` (30 s on Linux) frees it.
    pub fragment: bool,
}

impl Shape {
    /// The option bytes and where TSval sits in them (raw options have no TSval to stamp). The Linux-layout options
    /// are a SYN's (MSS, window scale and SACK-permitted mean something only there, RFC 9293 §3.7.1, RFC 7323 §2.2,
    /// RFC 2018 §2), so a frame without SYN carries none unless raw bytes are given, as hping3's `-A` sends none.
    pub fn option_bytes(&self) -> (Vec<u8>, Option<usize>) {
        match &self.raw {
            Some(raw) => (raw.0.clone(), None),
            None if !self.flags.0.syn() => (Vec::new(), None),
            None => self.options.layout(),
        }
    }

    /// The options as the reports name them.
    pub fn options_text(&self) -> String {
        match &self.raw {
            Some(raw) => raw.to_string(),
            None if !self.flags.0.syn() => "none".into(),
            None => self.options.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::craft::linux_syn_options;

    mod ranges {
        use super::*;

        #[test]
        fn read_as_ip_route_reads_them() {
            let cidr: Cidr = "10.1.2.3/8".parse().unwrap();
            assert_eq!(cidr.to_string(), "10.0.0.0/8");
            assert_eq!(cidr.host_mask(), 0x00ff_ffff);
            assert!(cidr.contains("10.255.0.1".parse().unwrap()));
            assert!(!cidr.contains("11.0.0.1".parse().unwrap()));
            assert!(!cidr.contains("::1".parse().unwrap()));
            assert_eq!("192.0.2.7".parse::<Cidr>().unwrap(), Cidr::host("192.0.2.7".parse().unwrap()));
            assert_eq!("2001:db8::5/32".parse::<Cidr>().unwrap().to_string(), "2001:db8::/32");
        }

        #[test]
        fn picks_stay_inside() {
            let cidr: Cidr = DEFAULT_SPOOF_V4.parse().unwrap();
            for random in [0, 1, u128::MAX, 0x1234_5678_9abc] {
                assert!(cidr.contains(cidr.pick(random)), "{}", cidr.pick(random));
            }
            let all: Cidr = "0.0.0.0/0".parse().unwrap();
            assert_eq!(all.pick(u128::MAX), "255.255.255.255".parse::<IpAddr>().unwrap());
            let v6: Cidr = "::/0".parse().unwrap();
            assert_eq!(v6.host_mask(), u128::MAX);
            let one: Cidr = "192.0.2.9/32".parse().unwrap();
            assert_eq!(one.pick(u128::MAX), "192.0.2.9".parse::<IpAddr>().unwrap());
        }

        #[test]
        fn refuse_what_is_not_one_in_one_line() {
            for bad in ["10.0.0.0/33", "banana", "10.0.0.0/", "::/129", "10.0.0/8"] {
                let err = bad.parse::<Cidr>().unwrap_err();
                assert!(err.contains(bad) && !err.contains('\n'), "{err}");
            }
        }
    }

    mod ports {
        use super::*;

        #[test]
        fn a_range_or_one_port() {
            assert_eq!("1024-65535".parse::<PortRange>(), Ok(PortRange { low: 1024, high: 65535 }));
            assert_eq!("80".parse::<PortRange>(), Ok(PortRange { low: 80, high: 80 }));
            assert_eq!(PortRange { low: 80, high: 80 }.to_string(), "80");
        }

        #[test]
        fn refuse_reversed_zero_and_junk() {
            assert!("2000-1000".parse::<PortRange>().unwrap_err().contains("try 1000-2000"));
            assert!("0-10".parse::<PortRange>().is_err());
            assert!("1-70000".parse::<PortRange>().is_err());
            assert!("a-b".parse::<PortRange>().is_err());
        }
    }

    mod syn_options {
        use super::*;

        fn layout(text: &str) -> Vec<u8> {
            text.parse::<SynOptions>().unwrap().layout().0
        }

        #[test]
        fn all_four_are_what_linux_sends() {
            let (mut bytes, ts_at) = "mss,sack,ts,wscale".parse::<SynOptions>().unwrap().layout();
            bytes[8..12].copy_from_slice(&5u32.to_be_bytes());
            assert_eq!(ts_at, Some(8));
            assert_eq!(bytes, linux_syn_options(MSS, 5, 0, WSCALE));
        }

        #[test]
        fn subsets_keep_linux_layout_and_word_alignment() {
            assert_eq!(layout("mss"), [2, 4, 0x05, 0xb4]);
            assert_eq!(layout("none"), [0u8; 0]);
            assert_eq!(layout("mss,sack"), [2, 4, 0x05, 0xb4, 1, 1, 4, 2]);
            assert_eq!(layout("ts")[..4], [1, 1, 8, 10]);
            assert_eq!(layout("wscale,mss"), [2, 4, 0x05, 0xb4, 1, 3, 3, WSCALE]);
            for text in ["mss", "sack", "ts", "wscale", "sack,ts", "mss,sack,wscale", "ts,wscale"] {
                assert!(layout(text).len().is_multiple_of(4), "{text}");
            }
        }

        #[test]
        fn names_round_trip_and_unknown_ones_are_refused() {
            let options: SynOptions = "wscale,ts,mss".parse().unwrap();
            assert_eq!(options.to_string(), "mss,ts,wscale");
            assert_eq!(SynOptions::default().to_string(), "none");
            assert!("mss,nop".parse::<SynOptions>().unwrap_err().contains("'nop'"));
        }
    }

    mod shapes {
        use super::*;

        #[test]
        fn flags_read_as_hping3_letters() {
            assert_eq!("S".parse::<FlagSet>().unwrap(), FlagSet::default());
            assert_eq!("sa".parse::<FlagSet>().unwrap().0, TcpFlags(TcpFlags::SYN | TcpFlags::ACK));
            assert_eq!("FA".parse::<FlagSet>().unwrap().to_string(), "AF");
            assert_eq!(FlagSet::default().noun(), "SYN");
            assert_eq!("R".parse::<FlagSet>().unwrap().noun(), "R");
            assert!("SX".parse::<FlagSet>().unwrap_err().contains("'X'"));
            assert!("".parse::<FlagSet>().is_err());
        }

        #[test]
        fn raw_options_pad_to_a_word_and_refuse_what_does_not_fit() {
            assert_eq!("02ff".parse::<RawOptions>().unwrap().0, [2, 0xff, 0, 0]);
            assert_eq!("01:03:03:ff".parse::<RawOptions>().unwrap().0, [1, 3, 3, 0xff]);
            assert_eq!("01:03:03:ff".parse::<RawOptions>().unwrap().to_string(), "hex:010303ff");
            assert!("0g".parse::<RawOptions>().unwrap_err().contains("not TCP option bytes"));
            assert!("123".parse::<RawOptions>().is_err());
            assert!("00".repeat(41).parse::<RawOptions>().unwrap_err().contains("room for 40"));
        }

        #[test]
        fn linux_options_go_only_on_syns() {
            let syn = Shape { options: "mss,ts".parse().unwrap(), ..Shape::default() };
            assert_eq!(syn.option_bytes().0.len(), 16);
            let ack = Shape { flags: "A".parse().unwrap(), ..syn.clone() };
            assert_eq!((ack.option_bytes(), ack.options_text()), ((Vec::new(), None), "none".to_string()));
            let raw_ack = Shape { raw: Some("02040000".parse().unwrap()), ..ack };
            assert_eq!(raw_ack.option_bytes().0, [2, 4, 0, 0], "raw bytes go on any frame");
        }
    }
}
