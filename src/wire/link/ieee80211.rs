//! 802.11 frames (LINKTYPE_IEEE802_11), and PPI (LINKTYPE_PPI), the per-packet header some captures put before
//! them. Only data frames carry IP: an 802.2 LLC/SNAP header after the MAC header says which protocol.

use super::{Next, header, lan, le16, le32};
use crate::wire::DecodeError;

/// How the frame sits in the capture, as a radio header says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Framing {
    /// Padding after the MAC header up to a multiple of 4 bytes (radiotap's DATAPAD flag, Atheros drivers).
    pub data_pad: bool,
}

/// Frame type 2 is data (IEEE 802.11-2020 §9.2.4.1.3).
const TYPE_DATA: u8 = 2;
/// Frame control flags, the second byte.
const TO_DS: u8 = 0x01;
const FROM_DS: u8 = 0x02;
const PROTECTED: u8 = 0x40;
const ORDER: u8 = 0x80;

/// The MAC header of a data frame: 24 bytes, 6 more for the fourth address when both DS bits are set, 2 for a
/// QoS subtype's QoS Control, and 4 for the HT Control a QoS frame with the Order bit carries (§9.2.4.1.10; tcpdump
/// 4.99 does not add these 4).
fn data_header_len(fc: [u8; 2], framing: Framing) -> usize {
    let subtype = fc[0] >> 4;
    let qos = subtype & 0x08 != 0;
    let mut len: usize = 24;
    if fc[1] & (TO_DS | FROM_DS) == TO_DS | FROM_DS {
        len += 6;
    }
    if qos {
        len += 2;
        if fc[1] & ORDER != 0 {
            len += 4;
        }
    }
    if framing.data_pad { len.next_multiple_of(4) } else { len }
}

/// An 802.11 frame: a data frame's LLC payload, when it is neither protected (its body is ciphertext) nor a
/// null-data subtype (no body); everything else (management, control, those data frames) is opaque.
pub fn frame(frame: &[u8], framing: Framing) -> Result<Next<'_>, DecodeError> {
    let h = header(frame, 2, "802.11 frame control")?;
    let fc = [h[0], h[1]];
    let frame_type = (fc[0] >> 2) & 0x03;
    let subtype = fc[0] >> 4;
    if frame_type != TYPE_DATA {
        return Ok(Next::Opaque(frame));
    }
    let len = data_header_len(fc, framing);
    header(frame, len, "802.11 header")?;
    let body = &frame[len..];
    if subtype & 0x04 != 0 || fc[1] & PROTECTED != 0 {
        return Ok(Next::Opaque(body));
    }
    lan::llc(body)
}

/// PPI's fixed header: version, flags, length (little-endian, the whole PPI header with its fields), and the
/// link type of what follows (the PPI specification, CACE Technologies 2007).
const PPI_HEADER_LEN: usize = 8;

/// LINKTYPE_PPI: the header's length skipped, then the link type it names; 802.11 and Ethernet are decoded.
pub fn ppi(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let h = header(frame, PPI_HEADER_LEN, "PPI header")?;
    let len = usize::from(le16(h, 2));
    if len < PPI_HEADER_LEN {
        return Err(DecodeError::Invalid(format!("PPI header length {len} is below its fixed 8 bytes")));
    }
    header(frame, len, "PPI header")?;
    let inner = &frame[len..];
    Ok(match le32(h, 4) {
        105 => self::frame(inner, Framing::default())?,
        1 => Next::Ethernet(inner),
        _ => Next::Opaque(inner),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::refuses_every_cut;
    use super::*;

    /// A data frame with the given frame control, then LLC/SNAP for IPv4 and one byte.
    fn data(fc: [u8; 2], header_len: usize) -> Vec<u8> {
        let mut frame = vec![fc[0], fc[1]];
        frame.resize(header_len, 0x11);
        frame.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]);
        frame
    }

    #[test]
    fn data_frames_lead_to_the_snap_ether_type_past_every_header_variant() {
        for (fc, len) in [
            ([0x08, 0x01], 24), // data, to DS
            ([0x08, 0x03], 30), // four addresses
            ([0x88, 0x02], 26), // QoS data
            ([0x88, 0x03], 32), // QoS data, four addresses
            ([0x88, 0x81], 30), // QoS data with HT Control
        ] {
            let frame = data(fc, len);
            assert_eq!(super::frame(&frame, Framing::default()), Ok(Next::EtherType(0x0800, &[0x45][..])), "{fc:02x?}");
            refuses_every_cut(&frame, len + 8, "", |b| super::frame(b, Framing::default()));
        }
        // Atheros padding rounds a QoS header of 26 up to 28.
        let padded = data([0x88, 0x02], 28);
        assert_eq!(super::frame(&padded, Framing { data_pad: true }), Ok(Next::EtherType(0x0800, &[0x45][..])));
    }

    #[test]
    fn protected_null_and_management_frames_are_opaque() {
        let protected = data([0x08, 0x41], 24);
        assert_eq!(frame(&protected, Framing::default()), Ok(Next::Opaque(&protected[24..])));
        let null = data([0x48, 0x01], 24);
        assert_eq!(frame(&null, Framing::default()), Ok(Next::Opaque(&null[24..])));
        let beacon = [0x80, 0x00, 0, 0];
        assert_eq!(frame(&beacon, Framing::default()), Ok(Next::Opaque(&beacon[..])));
    }

    #[test]
    fn ppi_skips_its_fields_and_follows_the_named_link_type() {
        let mut frame = vec![0, 0, 12, 0, 105, 0, 0, 0, 9, 9, 9, 9];
        frame.extend_from_slice(&data([0x08, 0x02], 24));
        assert_eq!(ppi(&frame), Ok(Next::EtherType(0x0800, &[0x45][..])));
        refuses_every_cut(&frame, 12, "PPI header", ppi);
        frame[4] = 1;
        assert_eq!(ppi(&frame), Ok(Next::Ethernet(&frame[12..])));
        frame[2] = 7;
        assert!(matches!(ppi(&frame), Err(DecodeError::Invalid(_))));
    }
}
