//! Link headers other than Ethernet's, and the encapsulations Ethernet carries before IP: each family in its own
//! file, each a pure function from the frame's bytes to what follows ([`Next`]). `decode` chains them; none
//! panics on any input, and a header cut short is a [`DecodeError::Truncated`] naming it.

pub mod encap;
pub mod ieee80211;
pub mod lan;
pub mod logs;
pub mod ppp;
pub mod radiotap;
pub mod serial;

use super::DecodeError;
use super::linktype::LinkType;
use super::packet::Encaps;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;

/// What a link header or an encapsulation leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next<'a> {
    /// An Ethernet header starts here (PPI's Ethernet, 802.1ah's and FabricPath's inner frames).
    Ethernet(&'a [u8]),
    /// A protocol named by an EtherType, over these bytes.
    EtherType(u16, &'a [u8]),
    /// Something we do not decode (PPP's LCP, an 802.11 management frame, an MPLS payload that is not IP)
    /// starts here.
    Opaque(&'a [u8]),
}

/// Decodes the link header of the link types this module handles; `None` for the others (Ethernet, cooked,
/// loopback and raw IP stay in `decode`).
pub fn link_header<'a>(
    link_type: LinkType,
    frame: &'a [u8],
    encaps: &mut Encaps,
) -> Option<Result<Next<'a>, DecodeError>> {
    Some(match link_type {
        LinkType::Ppp => ppp::ppp(frame, encaps),
        LinkType::PppSerial => ppp::ppp_serial(frame, encaps),
        LinkType::CiscoHdlc => ppp::cisco_hdlc(frame),
        LinkType::Slip => serial::slip(frame),
        LinkType::FrameRelay => serial::frame_relay(frame, encaps),
        LinkType::Fddi => lan::fddi(frame),
        LinkType::Ieee80211 => ieee80211::frame(frame, ieee80211::Framing::default()),
        LinkType::Radiotap => radiotap::frame(frame),
        LinkType::Ppi => ieee80211::ppi(frame),
        LinkType::Pflog => logs::pflog(frame),
        LinkType::Nflog => logs::nflog(frame),
        LinkType::RawDlt12 | LinkType::RawDlt14 => Ok(by_version(frame)),
        _ => return None,
    })
}

/// Bare IP, told apart by the version nibble as tcpdump does for raw links; anything else is opaque.
pub fn by_version(bytes: &[u8]) -> Next<'_> {
    match bytes.first().map(|b| b >> 4) {
        Some(4) => Next::EtherType(ETHERTYPE_IPV4, bytes),
        Some(6) => Next::EtherType(ETHERTYPE_IPV6, bytes),
        _ => Next::Opaque(bytes),
    }
}

pub(crate) fn truncated(what: &'static str, got: usize, need: usize) -> DecodeError {
    DecodeError::Truncated { what, got, need }
}

/// The first `need` bytes of `bytes`, or the truncation error naming `what`.
pub(crate) fn header<'a>(bytes: &'a [u8], need: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
    bytes.get(..need).ok_or_else(|| truncated(what, bytes.len(), need))
}

pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

pub(crate) fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
pub(crate) mod test_support {
    /// Every prefix of `frame` shorter than `whole_header` must be refused as truncated, naming `what`, by `decode`.
    pub fn refuses_every_cut(
        frame: &[u8],
        whole_header: usize,
        what: &str,
        decode: impl for<'b> Fn(&'b [u8]) -> Result<super::Next<'b>, super::DecodeError>,
    ) {
        for cut in 0..whole_header {
            match decode(&frame[..cut]) {
                Err(super::DecodeError::Truncated { what: named, got, need }) => {
                    assert!(named.contains(what), "cut {cut}: named {named}, not {what}");
                    assert!(got < need, "cut {cut}: {got} of {need}");
                }
                other => panic!("cut {cut} of {what}: {other:?}"),
            }
        }
    }
}
