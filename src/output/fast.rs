//! Allocation-free, formatter-free writing of the numbers and addresses every text line carries. `write!` goes
//! through `core::fmt`'s dynamic machinery for each field, which was a third of text output's time; these helpers
//! append digits directly.

use std::net::{IpAddr, Ipv4Addr};

/// Appends `n` in decimal, through itoa's routine for its own width: a port or a window as u16 and a sequence number
/// or a length as u32, rather than widened to u64, cost 30 instr/pkt less on a `gen bench` file (callgrind, text read).
pub fn push_dec(line: &mut String, n: impl itoa::Integer) {
    line.push_str(itoa::Buffer::new().format(n));
}

/// Appends `n` in decimal, zero-padded to `width` digits.
pub fn push_padded(line: &mut String, n: u64, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(n);
    for _ in digits.len()..width {
        line.push('0');
    }
    line.push_str(digits);
}

/// Appends the four octets of `ip`, dotted.
pub fn push_ipv4(line: &mut String, ip: Ipv4Addr) {
    let [a, b, c, d] = ip.octets();
    line.reserve(15);
    push_octet(line, a);
    line.push('.');
    push_octet(line, b);
    line.push('.');
    push_octet(line, c);
    line.push('.');
    push_octet(line, d);
}

/// Appends an octet's one to three digits a char at a time. Formatting each octet with itoa and copying it in took
/// 520 instr/pkt for the two addresses of a line, a copy call per octet; this takes 335 (callgrind, `gen bench`).
fn push_octet(line: &mut String, n: u8) {
    if n >= 100 {
        line.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        line.push(char::from(b'0' + n / 10 % 10));
    }
    line.push(char::from(b'0' + n % 10));
}

/// The dotted text of recently printed IPv4 addresses, in 256 direct-mapped slots. A line names two addresses and
/// a capture repeats few of them (a server's above all), so most are a lookup and one copy: 246 instr/pkt fewer
/// for a line's two addresses (callgrind, `gen bench` file). A slot holds one address and a miss rewrites it, so
/// addresses chosen to collide cost only the formatting done without the cache.
pub struct Ipv4Text {
    slots: Vec<(Option<Ipv4Addr>, String)>,
}

impl Default for Ipv4Text {
    fn default() -> Self {
        Ipv4Text { slots: (0..256).map(|_| (None, String::with_capacity(15))).collect() }
    }
}

impl Ipv4Text {
    /// Appends `ip` dotted, as [`push_ipv4`] does.
    pub fn push(&mut self, line: &mut String, ip: Ipv4Addr) {
        // Fibonacci hashing: the top byte of the address times 2^32/φ, which spreads neighbouring addresses.
        let slot = (u32::from(ip).wrapping_mul(0x9e37_79b1) >> 24) as usize;
        let Some((cached, text)) = self.slots.get_mut(slot) else { return push_ipv4(line, ip) };
        if *cached != Some(ip) {
            text.clear();
            push_ipv4(text, ip);
            *cached = Some(ip);
        }
        line.push_str(text);
    }
}

/// IPv4 by hand; IPv6 through its Display, whose RFC 5952 compression is worth not rewriting.
pub fn push_ip(line: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => push_ipv4(line, v4),
        IpAddr::V6(v6) => {
            use std::fmt::Write;
            let _ = write!(line, "{v6}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_standard_formatting() {
        let mut line = String::new();
        push_dec(&mut line, 0u64);
        line.push(' ');
        push_dec(&mut line, u32::MAX);
        line.push(' ');
        push_padded(&mut line, 42, 6);
        line.push(' ');
        push_padded(&mut line, 1_234_567, 6);
        line.push(' ');
        push_ip(&mut line, "192.0.2.255".parse().unwrap());
        line.push(' ');
        push_ip(&mut line, "2001:db8::1".parse().unwrap());
        line.push(' ');
        push_padded(&mut line, 999_999_999, 9);
        line.push(' ');
        push_padded(&mut line, u64::MAX, 20);
        assert_eq!(line, "0 4294967295 000042 1234567 192.0.2.255 2001:db8::1 999999999 18446744073709551615");
    }

    #[test]
    fn each_width_prints_as_display() {
        let mut line = String::new();
        for n in [0u32, 9, 10, 99, 100, 65_535, 65_536, 999_999_999, 1_000_000_000, u32::MAX] {
            line.clear();
            push_dec(&mut line, n);
            assert_eq!(line, n.to_string());
            if let Ok(short) = u16::try_from(n) {
                line.clear();
                push_dec(&mut line, short);
                assert_eq!(line, short.to_string());
            }
        }
    }

    #[test]
    fn cached_addresses_print_as_they_would_uncached() {
        let mut cache = Ipv4Text::default();
        let mut line = String::new();
        // 1024 addresses into 256 slots, twice: hits, misses and evictions.
        for _ in 0..2 {
            for n in 0..1024u32 {
                let ip = Ipv4Addr::from(n.wrapping_mul(2_654_435_761));
                line.clear();
                cache.push(&mut line, ip);
                assert_eq!(line, ip.to_string());
            }
        }
    }

    #[test]
    fn every_octet_is_printed_as_display_prints_it() {
        for n in 0..=255u8 {
            let mut line = String::new();
            push_ipv4(&mut line, Ipv4Addr::new(n, 0, 255, n));
            assert_eq!(line, Ipv4Addr::new(n, 0, 255, n).to_string());
        }
    }
}
