//! A bounds-checked walk over IPv6 extension headers (RFC 8200 §4).
//!
//! Why our own walker: etherparse 0.21.0's `Ipv6ExtensionSliceIter` trusts that the slice it walks was fully
//! validated. After its lax parser stops on an extension error (a hop-by-hop header that is not first, a header cut
//! short), the validated slice ends *before* the header the iterator will try next, and the iterator reads it with
//! `from_slice_unchecked` past the end of the slice: an out-of-bounds read on attacker bytes. This walker reads only
//! the bytes it is given, checks every length before using it, and stops at the first header that does not fit.

/// RFC 8200 §4.1 / IANA "IPv6 Extension Header Types" numbers the decoder lists.
pub const HOP_BY_HOP: u8 = 0;
pub const ROUTING: u8 = 43;
pub const FRAGMENT: u8 = 44;
pub const AUTHENTICATION: u8 = 51;
pub const DESTINATION_OPTIONS: u8 = 60;

/// One extension header found by [`ExtensionWalk`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionHeader {
    /// Its own protocol number (what the previous header's Next Header named).
    pub protocol: u8,
    /// For a fragment header (RFC 8200 §4.5): identification, offset in bytes, and the M flag.
    pub fragment: Option<FragmentFields>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentFields {
    pub id: u32,
    pub offset: u16,
    pub more_fragments: bool,
}

/// Iterates over the extension headers at the start of `bytes`, the first named by `first`.
#[derive(Clone, Debug)]
pub struct ExtensionWalk<'a> {
    next: u8,
    rest: &'a [u8],
}

impl<'a> ExtensionWalk<'a> {
    pub fn new(first: u8, bytes: &'a [u8]) -> Self {
        ExtensionWalk { next: first, rest: bytes }
    }
}

/// How many bytes the extension header of this protocol occupies, read from its own length field; `None` for a
/// protocol that is not an extension header this walker knows, or a header too short to hold its length field.
fn header_len(protocol: u8, bytes: &[u8]) -> Option<usize> {
    let len_field = usize::from(*bytes.get(1)?);
    match protocol {
        // Hdr Ext Len counts 8-octet units beyond the first 8 (RFC 8200 §4.3, §4.4, §4.6).
        HOP_BY_HOP | ROUTING | DESTINATION_OPTIONS => Some((len_field + 1) * 8),
        // The fragment header is always 8 octets (RFC 8200 §4.5); its second byte is reserved.
        FRAGMENT => Some(8),
        // The AH Payload Len counts 4-octet units, minus 2 (RFC 4302 §2.2).
        AUTHENTICATION => Some((len_field + 2) * 4),
        _ => None,
    }
}

impl Iterator for ExtensionWalk<'_> {
    type Item = ExtensionHeader;

    fn next(&mut self) -> Option<ExtensionHeader> {
        let protocol = self.next;
        let len = header_len(protocol, self.rest)?;
        let header = self.rest.get(..len)?;
        let fragment = (protocol == FRAGMENT).then(|| {
            let offset_and_flags = u16::from_be_bytes([header[2], header[3]]);
            FragmentFields {
                id: u32::from_be_bytes([header[4], header[5], header[6], header[7]]),
                // The offset is in 8-octet units in the top 13 bits; the M flag is the lowest bit.
                offset: (offset_and_flags >> 3).wrapping_mul(8),
                more_fragments: offset_and_flags & 1 == 1,
            }
        });
        self.next = header[0];
        self.rest = &self.rest[len..];
        Some(ExtensionHeader { protocol, fragment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(first: u8, bytes: &[u8]) -> Vec<u8> {
        ExtensionWalk::new(first, bytes).map(|h| h.protocol).collect()
    }

    #[test]
    fn stops_at_the_end_of_the_bytes_even_when_the_last_header_names_another() {
        // Destination options naming hop-by-hop next (not allowed after the first, RFC 8200 §4.1), and nothing
        // after it: the walk lists the one header it holds, and never looks past the slice.
        let dest_opts = [HOP_BY_HOP, 0, 1, 4, 0, 0, 0, 0];
        assert_eq!(walk(DESTINATION_OPTIONS, &dest_opts), vec![DESTINATION_OPTIONS]);
    }

    #[test]
    fn a_header_longer_than_what_remains_ends_the_walk() {
        // Routing header claiming 16 bytes (len 1) with 8 present.
        assert_eq!(walk(ROUTING, &[6, 1, 0, 0, 0, 0, 0, 0]), Vec::<u8>::new());
        // One byte: not even the length field.
        assert_eq!(walk(HOP_BY_HOP, &[6]), Vec::<u8>::new());
        assert_eq!(walk(HOP_BY_HOP, &[]), Vec::<u8>::new());
    }

    #[test]
    fn walks_a_chain_and_reads_the_fragment_header() {
        let mut bytes = vec![ROUTING, 0, 0, 0, 0, 0, 0, 0]; // hop-by-hop, 8 bytes
        bytes.extend_from_slice(&[FRAGMENT, 0, 0, 0, 0, 0, 0, 0]); // routing, 8 bytes
        // Fragment: next TCP, offset 185 units (1480 bytes), M set, id 0xdeadbeef.
        let offset_flags: u16 = (185 << 3) | 1;
        bytes.extend_from_slice(&[AUTHENTICATION, 0]);
        bytes.extend_from_slice(&offset_flags.to_be_bytes());
        bytes.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        // AH: payload len 4 → (4 + 2) * 4 = 24 bytes, next header TCP.
        let mut ah = vec![6, 4];
        ah.resize(24, 0);
        bytes.extend_from_slice(&ah);
        bytes.extend_from_slice(b"tcp header follows");
        let headers: Vec<ExtensionHeader> = ExtensionWalk::new(HOP_BY_HOP, &bytes).collect();
        let protocols: Vec<u8> = headers.iter().map(|h| h.protocol).collect();
        assert_eq!(protocols, vec![HOP_BY_HOP, ROUTING, FRAGMENT, AUTHENTICATION]);
        assert_eq!(headers[2].fragment, Some(FragmentFields { id: 0xdead_beef, offset: 1480, more_fragments: true }));
    }

    #[test]
    fn a_non_extension_protocol_yields_nothing() {
        assert_eq!(walk(6, &[0; 40]), Vec::<u8>::new());
        assert_eq!(walk(59, &[0; 40]), Vec::<u8>::new()); // No Next Header
    }
}
