//! IPsec headers as `tcpdump -nn` 4.99 prints them without `-v`: the authentication header (RFC 4302) as
//! `AH(spi=0x00001234,seq=0x9,icv=0x...): ` before what it protects (print-ah.c), and ESP (RFC 4303) as
//! `ESP(spi=0x00001234,seq=0x7), length N`, after which nothing can be read without the keys (print-esp.c).

use std::fmt::Write as _;

pub const ESP: u8 = 50;
pub const AH: u8 = 51;

/// ah_print: writes the header at the start of `ah` (the captured bytes from it on) and returns the protocol after
/// it and the header's length, or `None` when the capture ended inside it (` [|ah]`, and tcpdump prints no more).
pub fn write_ah(line: &mut String, ah: &[u8]) -> Option<(u8, usize)> {
    let text = ah_text(line, ah);
    if text.is_none() {
        line.push_str(" [|ah]");
    }
    text
}

fn ah_text(line: &mut String, ah: &[u8]) -> Option<(u8, usize)> {
    let word = |at: usize| ah.get(at..at + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    // ip_demux_print reads the next header before ah_print starts.
    let next = *ah.first()?;
    line.push_str("AH");
    // RFC 4302 §2.2: the length is in 32-bit words, minus 2.
    let len = (usize::from(*ah.get(1)?) + 2) * 4;
    line.push('(');
    let reserved = u16::from_be_bytes([*ah.get(2)?, *ah.get(3)?]);
    if reserved != 0 {
        let _ = write!(line, "reserved=0x{reserved:x}[MustBeZero],");
    }
    let _ = write!(line, "spi=0x{:08x},", word(4)?);
    let _ = write!(line, "seq=0x{:x},", word(8)?);
    line.push_str("icv=0x");
    // The integrity check value fills the rest of the header (tcpdump reads it byte by byte, so a header shorter
    // than its fixed part shows none).
    for at in 12..len {
        let _ = write!(line, "{:02x}", ah.get(at)?);
    }
    line.push_str("): ");
    Some((next, len))
}

/// esp_print: the SPI and sequence number, and the length left in the packet from the ESP header on. tcpdump
/// wants more than the eight bytes of those two fields captured, and prints ` [|esp]` otherwise.
pub fn write_esp(line: &mut String, esp: &[u8], length: u32) {
    if esp.len() <= 8 {
        line.push_str(" [|esp]");
        return;
    }
    let spi = u32::from_be_bytes([esp[0], esp[1], esp[2], esp[3]]);
    let seq = u32::from_be_bytes([esp[4], esp[5], esp[6], esp[7]]);
    let _ = write!(line, "ESP(spi=0x{spi:08x},seq=0x{seq:x}), length {length}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ah(bytes: &[u8]) -> (String, Option<(u8, usize)>) {
        let mut line = String::new();
        let result = write_ah(&mut line, bytes);
        (line, result)
    }

    #[test]
    fn an_authentication_header_shows_its_fields_and_icv() {
        let header = [6, 4, 0, 0, 0, 0, 0x56, 0x78, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        assert_eq!(ah(&header), ("AH(spi=0x00005678,seq=0x9,icv=0x0102030405060708090a0b0c): ".into(), Some((6, 24))));
        let reserved = [17, 1, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(ah(&reserved).0, "AH(reserved=0x5[MustBeZero],spi=0x00000001,seq=0x2,icv=0x): ");
    }

    #[test]
    fn a_cut_header_ends_the_line() {
        let header = [6, 4, 0, 0, 0, 0, 0x56, 0x78, 0, 0];
        assert_eq!(ah(&header), ("AH(spi=0x00005678, [|ah]".into(), None));
        assert_eq!(ah(&[6]), ("AH [|ah]".into(), None));
        assert_eq!(ah(&[]), (" [|ah]".into(), None));
    }

    #[test]
    fn esp_shows_spi_sequence_and_length() {
        let mut line = String::new();
        write_esp(&mut line, &[0, 0, 0x12, 0x34, 0, 0, 0, 7, 0xaa], 32);
        assert_eq!(line, "ESP(spi=0x00001234,seq=0x7), length 32");
        line.clear();
        write_esp(&mut line, &[0, 0, 0x12, 0x34, 0, 0, 0, 7], 32);
        assert_eq!(line, " [|esp]");
    }
}
