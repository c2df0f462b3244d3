//! LAN headers that carry 802.2 LLC rather than an EtherType: FDDI (LINKTYPE_FDDI), and the LLC/SNAP header
//! itself, which 802.11 data frames and Frame Relay's SNAP NLPID carry too.

use super::{Next, be16, header};
use crate::wire::DecodeError;

/// FDDI's frame control byte and two 6-byte addresses (ANSI X3.139).
const FDDI_HEADER_LEN: usize = 13;

/// LINKTYPE_FDDI: an LLC frame (frame control `0b0101_xxxx`, tcpdump's FDDI_FCF_LLC test on bits 4-5) carries
/// LLC; MAC and SMT frames carry nothing we decode.
pub fn fddi(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let h = header(frame, FDDI_HEADER_LEN, "FDDI header")?;
    let body = &frame[FDDI_HEADER_LEN..];
    if h[0] & 0x30 != 0x10 {
        return Ok(Next::Opaque(body));
    }
    llc(body)
}

/// An 802.2 LLC header: SNAP (DSAP and SSAP 0xaa, UI control) leads on by [`snap`]; other SAPs (spanning tree,
/// NetBIOS, IPX...) are not decoded.
pub fn llc(bytes: &[u8]) -> Result<Next<'_>, DecodeError> {
    let h = header(bytes, 3, "LLC header")?;
    if h != [0xaa, 0xaa, 0x03] {
        return Ok(Next::Opaque(bytes));
    }
    snap(&bytes[3..])
}

/// A SNAP header (IEEE 802-2014 §10.3): an OUI and a protocol ID, which is an EtherType under OUI 00-00-00
/// (RFC 1042) and 00-00-F8 (802.1H bridge tunnel); other OUIs' protocols are their own.
pub fn snap(bytes: &[u8]) -> Result<Next<'_>, DecodeError> {
    let h = header(bytes, 5, "SNAP header")?;
    let payload = &bytes[5..];
    Ok(match h[..3] {
        [0, 0, 0] | [0, 0, 0xf8] => Next::EtherType(be16(h, 3), payload),
        _ => Next::Opaque(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::refuses_every_cut;
    use super::*;

    #[test]
    fn fddi_llc_snap_leads_to_the_ether_type() {
        let mut frame = vec![0x50];
        frame.extend_from_slice(&[2; 12]);
        frame.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, 0x45]);
        assert_eq!(fddi(&frame), Ok(Next::EtherType(0x0800, &[0x45][..])));
        refuses_every_cut(&frame, 13, "FDDI header", fddi);
        refuses_every_cut(&frame[13..], 3, "LLC header", llc);
        refuses_every_cut(&frame[16..], 5, "SNAP header", snap);
        // A SMT frame (frame control 0x41) and a non-SNAP LLC are not decoded.
        frame[0] = 0x41;
        assert_eq!(fddi(&frame), Ok(Next::Opaque(&frame[13..])));
        assert_eq!(llc(&[0x42, 0x42, 0x03, 0]), Ok(Next::Opaque(&[0x42, 0x42, 0x03, 0][..])));
        assert_eq!(snap(&[0, 0x0b, 0x85, 0, 1, 9]), Ok(Next::Opaque(&[9][..])));
    }
}
