//! Serial-line link types that carry IP: BSD SLIP (LINKTYPE_SLIP) and Frame Relay (LINKTYPE_FRELAY).

use super::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, Next, by_version, header, lan, truncated};
use crate::wire::DecodeError;
use crate::wire::packet::{Encap, Encaps};

/// BSD SLIP's pseudo-header: a direction byte and 15 bytes of compressed-header state (libpcap's SLIP_HDRLEN).
const SLIP_HEADER_LEN: usize = 16;

/// LINKTYPE_SLIP: the 16-byte pseudo-header, then IPv4 or IPv6 by the version nibble (tcpdump's sl_if_print).
pub fn slip(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    header(frame, SLIP_HEADER_LEN, "SLIP header")?;
    Ok(by_version(&frame[SLIP_HEADER_LEN..]))
}

/// RFC 2427 §2.3's Unnumbered Information control byte, and the NLPIDs (ISO/IEC TR 9577) we decode.
const FR_UI: u8 = 0x03;
const NLPID_IPV4: u8 = 0xcc;
const NLPID_IPV6: u8 = 0x8e;
const NLPID_SNAP: u8 = 0x80;
const NLPID_PPP: u8 = 0xcf;

/// A Q.922 address (ITU-T Q.922 §3.3): 2 to 4 bytes, each ending in its EA bit, the last with EA set. Returns its
/// length and whether its DLCI is non-zero (all tcpdump needs of it: DLCI 0 is the signalling channel).
fn q922_address(frame: &[u8]) -> Result<(usize, bool), DecodeError> {
    let h = header(frame, 2, "Frame Relay address")?;
    if h[0] & 0x01 != 0 {
        return Err(DecodeError::Invalid("Frame Relay address: the first byte has its EA bit set".into()));
    }
    let mut dlci = (u32::from(h[0] & 0xfc) << 2) | u32::from(h[1] >> 4);
    let mut len = 2;
    while frame[len - 1] & 0x01 == 0 {
        if len == 4 {
            return Err(DecodeError::Invalid("Frame Relay address: no EA bit in four bytes".into()));
        }
        let byte = *frame.get(len).ok_or_else(|| truncated("Frame Relay address", frame.len(), len + 1))?;
        // The DLCI's further bits, in the 3- and 4-byte forms (the last byte may hold DL-CORE control instead:
        // either way only zero matters here).
        dlci = (dlci << 7) | u32::from(byte >> 1);
        len += 1;
    }
    Ok((len, dlci != 0))
}

/// LINKTYPE_FRELAY as tcpdump's fr_print reads it: the Q.922 address, then either Cisco's encapsulation (an
/// EtherType right after the address, recognised by a control byte that is not UI on a DLCI other than 0) or RFC
/// 2427's UI byte, an optional pad byte and an NLPID: IPv4, IPv6, SNAP (RFC 2427 §5.1) or PPP (RFC 1973).
pub fn frame_relay<'a>(frame: &'a [u8], encaps: &mut Encaps) -> Result<Next<'a>, DecodeError> {
    let (addr_len, dlci_nonzero) = q922_address(frame)?;
    let control = *frame.get(addr_len).ok_or_else(|| truncated("Frame Relay header", frame.len(), addr_len + 1))?;
    if control != FR_UI && dlci_nonzero {
        let h = header(frame, addr_len + 2, "Frame Relay header")?;
        return Ok(Next::EtherType(super::be16(h, addr_len), &frame[addr_len + 2..]));
    }
    let pad = *frame.get(addr_len + 1).ok_or_else(|| truncated("Frame Relay header", frame.len(), addr_len + 2))?;
    let header_len = addr_len + if pad == 0 { 3 } else { 2 };
    let h = header(frame, header_len, "Frame Relay header")?;
    encaps.push(Encap::FrameRelay { address_len: addr_len as u8, padded: pad == 0 });
    let payload = &frame[header_len..];
    Ok(match h[header_len - 1] {
        NLPID_IPV4 => Next::EtherType(ETHERTYPE_IPV4, payload),
        NLPID_IPV6 => Next::EtherType(ETHERTYPE_IPV6, payload),
        NLPID_SNAP => lan::snap(payload)?,
        NLPID_PPP => super::ppp::ppp(payload, encaps)?,
        _ => Next::Opaque(payload),
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::refuses_every_cut;
    use super::*;

    #[test]
    fn slip_skips_its_pseudo_header() {
        let frame = [[0u8; 16].as_slice(), &[0x45, 0]].concat();
        assert_eq!(slip(&frame), Ok(Next::EtherType(ETHERTYPE_IPV4, &[0x45, 0][..])));
        refuses_every_cut(&frame, 16, "SLIP header", slip);
    }

    #[test]
    fn frame_relay_reads_nlpid_snap_and_cisco_encapsulations() {
        fn fr(b: &[u8]) -> Result<Next<'_>, DecodeError> {
            frame_relay(b, &mut Encaps::default())
        }
        // DLCI 100 (0x18 0x41), UI, NLPID.
        assert_eq!(fr(&[0x18, 0x41, 0x03, 0xcc, 0x45]), Ok(Next::EtherType(ETHERTYPE_IPV4, &[0x45][..])));
        let mut encaps = Encaps::default();
        frame_relay(&[0x18, 0x41, 0x03, 0x00, 0xcc, 0x45], &mut encaps).unwrap();
        assert_eq!(encaps.as_slice(), [Encap::FrameRelay { address_len: 2, padded: true }]);
        assert_eq!(fr(&[0x18, 0x41, 0x03, 0x00, 0x8e, 0x60]), Ok(Next::EtherType(ETHERTYPE_IPV6, &[0x60][..])));
        let snap = [0x18, 0x41, 0x03, 0x00, 0x80, 0, 0, 0, 0x86, 0xdd, 0x60];
        assert_eq!(fr(&snap), Ok(Next::EtherType(ETHERTYPE_IPV6, &[0x60][..])));
        // Cisco: an EtherType after the address.
        assert_eq!(fr(&[0x18, 0x41, 0x08, 0x00, 0x45]), Ok(Next::EtherType(ETHERTYPE_IPV4, &[0x45][..])));
        // A three-byte address.
        assert_eq!(fr(&[0x18, 0x40, 0x01, 0x03, 0x00, 0xcc, 0x45]), Ok(Next::EtherType(0x0800, &[0x45][..])));
        assert!(matches!(fr(&[0x19, 0x41, 0x03, 0xcc]), Err(DecodeError::Invalid(_))));
        assert!(matches!(fr(&[0x18, 0x40, 0x00, 0x00, 0x00]), Err(DecodeError::Invalid(_))));
        refuses_every_cut(&[0x18, 0x41, 0x03, 0xcc], 4, "Frame Relay", fr);
    }
}
