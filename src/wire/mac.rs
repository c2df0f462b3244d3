//! MAC addresses as text: `aa:bb:cc:dd:ee:ff`, as `/proc/net/arp` and ip(8) print them, or with `-` between the
//! octets.

/// The six octets of a MAC written as six two-digit hex octets separated by `:` or `-`; `None` otherwise.
pub fn parse(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut octets = text.split([':', '-']);
    for byte in &mut mac {
        let octet = octets.next()?;
        // from_str_radix would also take a sign ("+1").
        if octet.len() != 2 || !octet.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        *byte = u8::from_str_radix(octet, 16).ok()?;
    }
    octets.next().is_none().then_some(mac)
}

/// A group address (multicast or broadcast): the low bit of the first octet (IEEE 802, 8.2). It cannot be a
/// frame's source.
pub fn is_group(mac: &[u8; 6]) -> bool {
    mac[0] & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_two_digit_octets() {
        assert_eq!(parse("02:00:00:5b:f0:02"), Some([2, 0, 0, 0x5b, 0xf0, 2]));
        assert_eq!(parse("02-00-00-5B-F0-02"), Some([2, 0, 0, 0x5b, 0xf0, 2]));
        for bad in
            ["02:00:00:5b:f0", "02:00:00:5b:f0:02:03", "2:0:0:5b:f0:2", "zz:00:00:00:00:01", "", "+1:00:00:00:00:01"]
        {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert!(is_group(&[0x01, 0, 0x5e, 0, 0, 1]) && is_group(&[0xff; 6]) && !is_group(&[2, 0, 0, 0, 0, 1]));
    }
}
