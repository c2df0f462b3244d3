//! Encapsulations Ethernet carries before IP, each named by the EtherType before it: PPPoE sessions (RFC 2516),
//! MPLS label stacks (RFC 3032), 802.1ah provider backbone bridging, VN-Tag and Cisco FabricPath (the last two
//! and PBB carry an Ethernet header or an EtherType on), and VLAN tags after any of them.

use super::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, Next, be16, header, ppp};
use crate::wire::DecodeError;
use crate::wire::packet::{Encap, Link, VlanTag};
use crate::wire::vlan;

pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
pub const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
pub const ETHERTYPE_PBB: u16 = 0x88e7;
pub const ETHERTYPE_VN_TAG: u16 = 0x8926;
/// Cisco's "DCE" EtherType, which Wireshark's FabricPath dissector is registered on.
pub const ETHERTYPE_FABRICPATH: u16 = 0x8903;

/// Steps past the encapsulation `ether_type` names, recording it in `link`; `None` when it names none (IP, ARP,
/// and every other protocol are the network layer's).
#[inline]
pub fn step<'a>(ether_type: u16, payload: &'a [u8], link: &mut Link) -> Option<Result<Next<'a>, DecodeError>> {
    // IP, what nearly every frame carries, is answered without a call (28 instructions per packet, callgrind).
    if ether_type == ETHERTYPE_IPV4 || ether_type == ETHERTYPE_IPV6 {
        return None;
    }
    encapsulation(ether_type, payload, link)
}

/// [`step`] for the EtherTypes other than IP's.
fn encapsulation<'a>(ether_type: u16, payload: &'a [u8], link: &mut Link) -> Option<Result<Next<'a>, DecodeError>> {
    Some(match ether_type {
        ETHERTYPE_PPPOE_SESSION => pppoe_session(payload, link),
        ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST => mpls(payload, link),
        ETHERTYPE_PBB => pbb(payload, link),
        ETHERTYPE_VN_TAG => vn_tag(payload, link),
        ETHERTYPE_FABRICPATH => fabric_path(payload, link),
        tpid if vlan::is_tpid(tpid) => vlan_tag(payload, link),
        _ => return None,
    })
}

/// RFC 2516 §4: version and type (1 and 1), code (0 for session data), session ID, and the payload's length,
/// which bounds the PPP frame (Ethernet padding may follow it). Session data is PPP without address and control
/// bytes; other codes carry discovery tags.
fn pppoe_session<'a>(bytes: &'a [u8], link: &mut Link) -> Result<Next<'a>, DecodeError> {
    let h = header(bytes, 6, "PPPoE header")?;
    let code = h[1];
    let captured_after = u16::try_from(bytes.len() - 6).unwrap_or(u16::MAX);
    let (version_type, session, length) = (h[0], be16(h, 2), be16(h, 4));
    link.encaps.push(Encap::PppoeSession { version_type, code, session, length, captured_after });
    let len = usize::from(length);
    let payload = &bytes[6..(6 + len).min(bytes.len())];
    if code != 0 {
        return Ok(Next::Opaque(payload));
    }
    ppp::ppp(payload, &mut link.encaps)
}

/// RFC 3032 §2.1: 4-byte entries, label (20 bits), traffic class (3), bottom of stack (1), TTL (8), until the
/// bottom one. The payload's protocol is not written anywhere: like tcpdump, the IPv4 and IPv6 explicit-null
/// labels (0 and 2, and 3, implicit null) say it, otherwise the first byte's version nibble does (0x45-0x4f IPv4,
/// 0x60-0x6f IPv6); anything else is not decoded.
fn mpls<'a>(bytes: &'a [u8], link: &mut Link) -> Result<Next<'a>, DecodeError> {
    let mut at = 0;
    let last_label = loop {
        let entry = bytes.get(at..at + 4).ok_or_else(|| super::truncated("MPLS label", bytes.len() - at, 4))?;
        let word = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let bottom = word & 0x100 != 0;
        let label = word >> 12;
        link.encaps.push(Encap::Mpls { label, tc: ((word >> 9) & 0x7) as u8, bottom, ttl: word as u8 });
        at += 4;
        if bottom {
            break label;
        }
    };
    let payload = &bytes[at..];
    Ok(match (last_label, payload.first()) {
        (0 | 3, _) => Next::EtherType(ETHERTYPE_IPV4, payload),
        (2, _) => Next::EtherType(ETHERTYPE_IPV6, payload),
        (_, Some(0x45..=0x4f)) => Next::EtherType(ETHERTYPE_IPV4, payload),
        (_, Some(0x60..=0x6f)) => Next::EtherType(ETHERTYPE_IPV6, payload),
        _ => Next::Opaque(payload),
    })
}

/// IEEE 802.1ah §9.7: the I-tag's priority, drop eligibility, use-customer-address and reserved bits, then a
/// 24-bit service instance ID; the customer's Ethernet header follows.
fn pbb<'a>(bytes: &'a [u8], link: &mut Link) -> Result<Next<'a>, DecodeError> {
    let h = header(bytes, 4, "802.1ah I-tag")?;
    link.encaps.push(Encap::Pbb { isid: u32::from_be_bytes([0, h[1], h[2], h[3]]) });
    Ok(Next::Ethernet(&bytes[4..]))
}

/// VN-Tag (the 802.1Qbh proposal Cisco ships): direction and pointer bits, a 14-bit destination virtual
/// interface, looped and reserved bits, a 2-bit version and a 12-bit source virtual interface; then an EtherType.
fn vn_tag<'a>(bytes: &'a [u8], link: &mut Link) -> Result<Next<'a>, DecodeError> {
    let h = header(bytes, 6, "VN-Tag")?;
    link.encaps.push(Encap::VnTag { dst_vif: be16(h, 0) & 0x3fff, src_vif: be16(h, 2) & 0x0fff });
    Ok(Next::EtherType(be16(h, 4), &bytes[6..]))
}

/// Cisco FabricPath: after the outer addresses and this EtherType, a 10-bit forwarding tag and a 6-bit TTL, then
/// the original Ethernet frame.
fn fabric_path<'a>(bytes: &'a [u8], link: &mut Link) -> Result<Next<'a>, DecodeError> {
    let h = header(bytes, 2, "FabricPath tag")?;
    let word = be16(h, 0);
    link.encaps.push(Encap::FabricPath { ftag: word >> 6, ttl: (word & 0x3f) as u8 });
    Ok(Next::Ethernet(&bytes[2..]))
}

/// A VLAN tag after an encapsulation (the ones right after an Ethernet header are `vlan::walk`'s).
fn vlan_tag<'a>(bytes: &'a [u8], link: &mut Link) -> Result<Next<'a>, DecodeError> {
    let h = header(bytes, vlan::TAG_LEN, "VLAN tag")?;
    let tci = be16(h, 0);
    let inner = be16(h, 2);
    link.vlans.push(VlanTag { id: tci & 0x0fff, priority: (tci >> 13) as u8, inner_ether_type: inner });
    Ok(Next::EtherType(inner, &bytes[vlan::TAG_LEN..]))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::refuses_every_cut;
    use super::*;
    use crate::wire::LinkType;
    use crate::wire::packet::Vlans;

    fn link() -> Link {
        Link {
            link_type: LinkType::Ethernet,
            ethernet: None,
            vlans: Vlans::default(),
            encaps: Default::default(),
            ether_type: None,
            header_len: 0,
        }
    }

    fn run(ether_type: u16, bytes: &[u8]) -> (Result<Next<'_>, DecodeError>, Link) {
        let mut link = link();
        let next = step(ether_type, bytes, &mut link).expect("an encapsulation");
        (next, link)
    }

    #[test]
    fn mpls_reads_the_stack_and_guesses_the_payload() {
        let stack = [0x00, 0x06, 0x40, 0x40, 0x00, 0x0c, 0x81, 0x3f];
        let bytes = [&stack[..], &[0x45, 0]].concat();
        let (next, link) = run(0x8847, &bytes);
        assert_eq!(next, Ok(Next::EtherType(ETHERTYPE_IPV4, &[0x45, 0][..])));
        assert_eq!(
            link.encaps.as_slice(),
            [
                Encap::Mpls { label: 100, tc: 0, bottom: false, ttl: 64 },
                Encap::Mpls { label: 200, tc: 0, bottom: true, ttl: 63 }
            ]
        );
        // Explicit null labels say the protocol whatever follows; other labels fall back on the first byte.
        assert_eq!(run(0x8847, &[0, 0, 0x21, 64, 0x99]).0, Ok(Next::EtherType(ETHERTYPE_IPV6, &[0x99][..])));
        assert_eq!(run(0x8848, &[0, 0, 0x01, 64, 0x99]).0, Ok(Next::EtherType(ETHERTYPE_IPV4, &[0x99][..])));
        assert_eq!(run(0x8847, &[0, 0x10, 0x01, 64, 0x99]).0, Ok(Next::Opaque(&[0x99][..])));
        refuses_every_cut(&stack, 8, "MPLS label", |b| run(0x8847, b).0);
    }

    #[test]
    fn pppoe_session_data_is_ppp_bounded_by_its_length() {
        let frame = [0x11, 0x00, 0x00, 0x2a, 0x00, 0x03, 0x00, 0x21, 0x45, 0xee, 0xee];
        let (next, link) = run(0x8864, &frame);
        assert_eq!(next, Ok(Next::EtherType(ETHERTYPE_IPV4, &[0x45][..])));
        assert_eq!(
            link.encaps.as_slice(),
            [
                Encap::PppoeSession { version_type: 0x11, code: 0, session: 42, length: 3, captured_after: 5 },
                Encap::Ppp { protocol: 0x21 }
            ]
        );
        refuses_every_cut(&frame, 6, "PPPoE header", |b| run(0x8864, b).0);
    }

    #[test]
    fn pbb_vn_tag_and_fabricpath_lead_on() {
        let (next, link) = run(0x88e7, &[0x00, 0x01, 0x23, 0x45, 0xaa]);
        assert_eq!(
            (next, link.encaps.as_slice()),
            (Ok(Next::Ethernet(&[0xaa][..])), &[Encap::Pbb { isid: 0x12345 }][..])
        );
        let (next, link) = run(0x8926, &[0x80, 0x05, 0x00, 0x07, 0x81, 0x00, 0xaa]);
        assert_eq!(next, Ok(Next::EtherType(0x8100, &[0xaa][..])));
        assert_eq!(link.encaps.as_slice(), [Encap::VnTag { dst_vif: 5, src_vif: 7 }]);
        let (next, link) = run(0x8903, &[0x00, 0x7f, 0xaa]);
        assert_eq!(next, Ok(Next::Ethernet(&[0xaa][..])));
        assert_eq!(link.encaps.as_slice(), [Encap::FabricPath { ftag: 1, ttl: 0x3f }]);
        let (next, link) = run(0x8100, &[0x20, 0x07, 0x08, 0x00, 0x45]);
        assert_eq!(next, Ok(Next::EtherType(0x0800, &[0x45][..])));
        assert_eq!(link.vlans.as_slice(), [VlanTag { id: 7, priority: 1, inner_ether_type: 0x0800 }]);
        refuses_every_cut(&[0; 4], 4, "I-tag", |b| run(0x88e7, b).0);
        refuses_every_cut(&[0; 6], 6, "VN-Tag", |b| run(0x8926, b).0);
        refuses_every_cut(&[0; 2], 2, "FabricPath", |b| run(0x8903, b).0);
        assert!(step(0x0800, &[], &mut link.clone()).is_none());
    }
}
