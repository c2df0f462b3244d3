//! PPP (RFC 1661) as LINKTYPE_PPP and inside PPPoE, PPP in HDLC-like framing (RFC 1662, LINKTYPE_PPP_HDLC), and
//! Cisco HDLC (LINKTYPE_C_HDLC), which LINKTYPE_PPP_HDLC captures also carry, told apart by the address byte.

use super::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, Next, be16, header, truncated};
use crate::wire::DecodeError;
use crate::wire::packet::{Encap, Encaps};

/// RFC 1662 §3.1: the all-stations address and the Unnumbered Information control byte.
const PPP_ADDRESS: u8 = 0xff;
const PPP_CONTROL: u8 = 0x03;
/// Cisco HDLC's unicast and broadcast addresses.
const CHDLC_UNICAST: u8 = 0x0f;
const CHDLC_BROADCAST: u8 = 0x8f;

/// PPP protocol numbers (IANA "PPP DLL Protocol Numbers") as the EtherType of the same protocol, for the ones we
/// decode: IPv4, IPv6 and MPLS (RFC 3032 §4.3).
pub fn protocol_ether_type(protocol: u16) -> Option<u16> {
    match protocol {
        0x0021 => Some(ETHERTYPE_IPV4),
        0x0057 => Some(ETHERTYPE_IPV6),
        0x0281 => Some(0x8847),
        0x0283 => Some(0x8848),
        _ => None,
    }
}

/// tcpdump's name for a PPP protocol, as LINKTYPE_PPP_HDLC lines start with it ("IP: ").
pub fn protocol_name(protocol: u16) -> Option<&'static str> {
    Some(match protocol {
        0x0021 => "IP",
        0x0057 => "IP6",
        0x0281 => "MPLS",
        0x0283 => "MPLS mcast",
        _ => return None,
    })
}

/// A PPP frame as tcpdump's ppp_print reads it: the address and control bytes if present, then the protocol,
/// one byte when odd (protocol-field compression, RFC 1661 §6.5), else two.
pub fn ppp<'a>(frame: &'a [u8], encaps: &mut Encaps) -> Result<Next<'a>, DecodeError> {
    let rest = match frame {
        [PPP_ADDRESS, PPP_CONTROL, rest @ ..] => rest,
        _ => frame,
    };
    let (protocol, payload) = match rest {
        [first, payload @ ..] if first % 2 == 1 => (u16::from(*first), payload),
        [hi, lo, payload @ ..] => (u16::from_be_bytes([*hi, *lo]), payload),
        _ => return Err(truncated("PPP header", frame.len(), frame.len() - rest.len() + 2)),
    };
    Ok(protocol_payload(protocol, payload, encaps))
}

fn protocol_payload<'a>(protocol: u16, payload: &'a [u8], encaps: &mut Encaps) -> Next<'a> {
    encaps.push(Encap::Ppp { protocol });
    match protocol_ether_type(protocol) {
        Some(ether_type) => Next::EtherType(ether_type, payload),
        None => Next::Opaque(payload),
    }
}

/// LINKTYPE_PPP_HDLC: four bytes, address, control and a two-byte protocol (no compression: RFC 1662 framing);
/// Cisco HDLC when the address is Cisco's; any other address is not PPP we can read.
pub fn ppp_serial<'a>(frame: &'a [u8], encaps: &mut Encaps) -> Result<Next<'a>, DecodeError> {
    let h = header(frame, 4, "PPP-HDLC header")?;
    match h[0] {
        PPP_ADDRESS => Ok(protocol_payload(be16(h, 2), &frame[4..], encaps)),
        CHDLC_UNICAST | CHDLC_BROADCAST => cisco_hdlc(frame),
        _ => Ok(Next::Opaque(&frame[4..])),
    }
}

/// Cisco HDLC: address, control, then an EtherType (https://www.tcpdump.org/linktypes/LINKTYPE_C_HDLC.html).
pub fn cisco_hdlc(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let h = header(frame, 4, "Cisco HDLC header")?;
    Ok(Next::EtherType(be16(h, 2), &frame[4..]))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::refuses_every_cut;
    use super::*;

    #[test]
    fn ppp_reads_the_protocol_with_or_without_address_and_compression() {
        let ip = [0x45u8, 0];
        for (frame, protocol) in [
            ([&[0xff, 0x03, 0x00, 0x21][..], &ip].concat(), 0x21),
            ([&[0x00, 0x21][..], &ip].concat(), 0x21),
            ([&[0x21][..], &ip].concat(), 0x21),
            ([&[0xff, 0x03, 0x00, 0x57][..], &ip].concat(), 0x57),
        ] {
            let mut encaps = Encaps::default();
            let want = if protocol == 0x21 { ETHERTYPE_IPV4 } else { ETHERTYPE_IPV6 };
            assert_eq!(ppp(&frame, &mut encaps), Ok(Next::EtherType(want, &ip[..])), "{frame:02x?}");
            assert_eq!(encaps.as_slice(), [Encap::Ppp { protocol }]);
        }
        // LCP is PPP's own: nothing we decode.
        let lcp = [0xff, 0x03, 0xc0, 0x21, 1, 1, 0, 4];
        assert_eq!(ppp(&lcp, &mut Encaps::default()), Ok(Next::Opaque(&lcp[4..])));
        refuses_every_cut(&[0x00, 0x21], 2, "PPP header", |b| ppp(b, &mut Encaps::default()));
        // After the address and control bytes, the protocol must follow (a lone 0xff is a compressed protocol).
        for cut in [&[0xff, 0x03][..], &[0xff, 0x03, 0x00]] {
            assert!(matches!(ppp(cut, &mut Encaps::default()), Err(DecodeError::Truncated { .. })), "{cut:02x?}");
        }
    }

    #[test]
    fn ppp_hdlc_reads_ppp_or_cisco_hdlc_by_the_address() {
        let mut encaps = Encaps::default();
        assert_eq!(ppp_serial(&[0xff, 0x03, 0x00, 0x21, 0x45], &mut encaps), Ok(Next::EtherType(0x0800, &[0x45][..])));
        assert_eq!(encaps.as_slice(), [Encap::Ppp { protocol: 0x21 }]);
        let mut encaps = Encaps::default();
        assert_eq!(ppp_serial(&[0x8f, 0x00, 0x86, 0xdd, 0x60], &mut encaps), Ok(Next::EtherType(0x86dd, &[0x60][..])));
        assert!(encaps.as_slice().is_empty());
        assert_eq!(ppp_serial(&[0x11, 0x22, 0x00, 0x21, 0x45], &mut encaps), Ok(Next::Opaque(&[0x45][..])));
        refuses_every_cut(&[0xff, 0x03, 0x00, 0x21], 4, "PPP-HDLC header", |b| ppp_serial(b, &mut Encaps::default()));
        refuses_every_cut(&[0x0f, 0x00, 0x08, 0x00], 4, "Cisco HDLC header", cisco_hdlc);
    }
}
