//! VLAN tags between an Ethernet header and the network layer: the one walk every reader of Ethernet frames uses
//! (the decoder, [`super::tcp_layout::TcpLayout`], [`super::checksum::fill_transport_checksum`] and the guard's
//! check for damaged frames), so they all look past the same tags and agree on where the IP header starts.

/// An Ethernet II header: destination and source MAC, EtherType (IEEE 802.3 clause 3).
pub const ETHERNET_HEADER_LEN: usize = 14;

/// One VLAN tag's length: its TCI and the EtherType it carries (the TPID is the EtherType before it).
pub const TAG_LEN: usize = 4;

/// Whether `ether_type` is a tag protocol identifier looked past: 0x8100 802.1Q, 0x88a8 802.1ad (the QinQ outer
/// tag) and 0x9100, the QinQ outer tag before 802.1ad (Linux's `ETH_P_QINQ1`; Wireshark and tcpdump read it as a
/// VLAN tag too).
pub fn is_tpid(ether_type: u16) -> bool {
    matches!(ether_type, 0x8100 | 0x88A8 | 0x9100)
}

/// One VLAN tag as it sits in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The EtherType that announced the tag ([`is_tpid`]).
    pub tpid: u16,
    /// Priority (3 bits), drop eligible (1 bit), VLAN ID (12 bits).
    pub tci: u16,
    /// The EtherType carried inside the tag: another TPID for a stacked tag.
    pub inner_ether_type: u16,
}

/// Where [`walk`] stopped short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagError {
    /// The frame is shorter than an Ethernet header.
    NoEthernetHeader { got: usize },
    /// The frame ends inside a tag announced by `tpid`: `got` of its [`TAG_LEN`] bytes are there.
    TruncatedTag { tpid: u16, got: usize },
}

/// Walks an Ethernet frame's VLAN tags, outermost first, calling `each` for every whole tag, and returns the
/// EtherType after the last one and the offset where the network layer starts. Bounded: each step consumes four
/// bytes of the frame, so a frame of `n` bytes has at most `(n - 14) / 4` tags; any stack depth is looked past.
/// Never panics.
pub fn walk(frame: &[u8], mut each: impl FnMut(Tag)) -> Result<(u16, usize), TagError> {
    if frame.len() < ETHERNET_HEADER_LEN {
        return Err(TagError::NoEthernetHeader { got: frame.len() });
    }
    // `at` is where the EtherType field ends: the start of a tag, or of the network layer.
    let mut at = ETHERNET_HEADER_LEN;
    let mut ether_type = be16(frame, at - 2);
    while is_tpid(ether_type) {
        let Some(tag) = frame.get(at..at + TAG_LEN) else {
            return Err(TagError::TruncatedTag { tpid: ether_type, got: frame.len() - at });
        };
        let inner = be16(tag, 2);
        each(Tag { tpid: ether_type, tci: be16(tag, 0), inner_ether_type: inner });
        ether_type = inner;
        at += TAG_LEN;
    }
    Ok((ether_type, at))
}

/// The EtherType after any VLAN tags, and the offset of the network layer (which may be the frame's end); `None`
/// when the frame ends before that EtherType ([`walk`] without the tags).
pub fn skip_tags(frame: &[u8]) -> Option<(u16, usize)> {
    walk(frame, |_| {}).ok()
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([bytes[at], bytes[at + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet header with the given TPID/TCI pairs, then `inner` and two bytes of payload.
    fn frame(tags: &[(u16, u16)], inner: u16) -> Vec<u8> {
        let mut out = vec![0xAA; 12];
        for &(tpid, tci) in tags {
            out.extend_from_slice(&tpid.to_be_bytes());
            out.extend_from_slice(&tci.to_be_bytes());
        }
        out.extend_from_slice(&inner.to_be_bytes());
        out.extend_from_slice(&[0x45, 0]);
        out
    }

    #[test]
    fn every_tpid_is_looked_past_at_any_depth() {
        for tpid in [0x8100, 0x88A8, 0x9100] {
            assert_eq!(skip_tags(&frame(&[(tpid, 5)], 0x0800)), Some((0x0800, 18)), "{tpid:04x}");
        }
        let stacked = frame(&[(0x9100, 0x2005), (0x8100, 6), (0x88A8, 7)], 0x86DD);
        let mut tags = Vec::new();
        assert_eq!(walk(&stacked, |tag| tags.push(tag)), Ok((0x86DD, 26)));
        assert_eq!(
            tags,
            [
                Tag { tpid: 0x9100, tci: 0x2005, inner_ether_type: 0x8100 },
                Tag { tpid: 0x8100, tci: 6, inner_ether_type: 0x88A8 },
                Tag { tpid: 0x88A8, tci: 7, inner_ether_type: 0x86DD },
            ]
        );
        assert_eq!(skip_tags(&frame(&[], 0x0800)), Some((0x0800, 14)));
        // 0x9200 and other EtherTypes are not tags.
        assert_eq!(skip_tags(&frame(&[], 0x9200)), Some((0x9200, 14)));
    }

    #[test]
    fn a_frame_cut_anywhere_is_refused_without_panicking() {
        let whole = frame(&[(0x88A8, 1), (0x9100, 2)], 0x0800);
        for cut in 0..whole.len() {
            let got = walk(&whole[..cut], |_| {});
            let want = match cut {
                0..14 => Err(TagError::NoEthernetHeader { got: cut }),
                14..18 => Err(TagError::TruncatedTag { tpid: 0x88A8, got: cut - 14 }),
                18..22 => Err(TagError::TruncatedTag { tpid: 0x9100, got: cut - 18 }),
                _ => Ok((0x0800, 22)),
            };
            assert_eq!(got, want, "cut at {cut}");
        }
        // A frame of nothing but tags ends inside one.
        let only_tags: Vec<u8> = [vec![0; 12], [0x81, 0x00].repeat(100)].concat();
        assert!(matches!(walk(&only_tags, |_| {}), Err(TagError::TruncatedTag { tpid: 0x8100, .. })));
    }
}
