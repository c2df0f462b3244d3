//! pcapng blocks, read here rather than by the `pcap-file` crate (draft-ietf-opsawg-pcapng, "the draft" below).
//!
//! The crate refuses an options list that does not end in `opt_endofopt`, which the draft allows to be left out
//! ("the last option MAY be opt_endofopt" in practice: libpcap and Wireshark both stop at the end of the block), so
//! files written by several tools were unreadable. The reader needs little of a block: the section's byte order,
//! each interface's link type, time resolution and offset, and the packet blocks (read in `file.rs`). Options are
//! walked leniently, as libpcap does: an option running past the block ends the walk, and the block is still used.

/// A section header block's type; also the first four bytes of every pcapng file.
pub const SECTION_HEADER: u32 = 0x0a0d_0d0a;
pub const INTERFACE_DESCRIPTION: u32 = 0x0000_0001;

/// `if_tsresol` (draft §4.2): one byte, the resolution of this interface's timestamps.
const IF_TSRESOL: u16 = 9;
/// `if_tsoffset` (draft §4.2): a signed 64-bit number of seconds added to every timestamp.
const IF_TSOFFSET: u16 = 14;
const OPT_ENDOFOPT: u16 = 0;

/// One block: its type and its body (between the length field and the trailing copy of the length).
#[derive(Debug)]
pub struct Block<'a> {
    pub kind: u32,
    pub body: &'a [u8],
}

/// Splits a whole block (its length already checked against the bytes at hand) into type and body, checking that
/// the trailing length repeats the leading one, as the draft requires (§3.1).
pub fn block(bytes: &[u8], big: bool) -> Result<Block<'_>, String> {
    let word = |at: usize| read_u32(bytes, at, big);
    let (Some(kind), Some(len)) = (word(0), word(4)) else {
        return Err("block shorter than its header".into());
    };
    let len = len as usize;
    if len < 12 || len > bytes.len() {
        return Err(format!("block length {len} does not fit its {} bytes", bytes.len()));
    }
    if word(len - 4) != Some(len as u32) {
        return Err(format!("block's trailing length differs from its leading length {len}"));
    }
    Ok(Block { kind, body: &bytes[8..len - 4] })
}

/// A section header's byte order, from its byte-order magic (draft §4.1), and a check of its major version: a
/// version other than 1 is a format this reader does not know (libpcap refuses it too).
pub fn section_byte_order(body: &[u8]) -> Result<bool, String> {
    let big = match body.get(..4) {
        Some([0x1a, 0x2b, 0x3c, 0x4d]) => true,
        Some([0x4d, 0x3c, 0x2b, 0x1a]) => false,
        _ => return Err("section header without a byte-order magic".into()),
    };
    let major = read_u16(body, 4, big).ok_or("section header shorter than its version")?;
    if major != 1 {
        return Err(format!("section header of pcapng version {major}; only version 1 exists"));
    }
    Ok(big)
}

/// What the reader keeps of an interface description block (draft §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceDescription {
    pub link_type: u16,
    /// `if_tsresol`, 6 (microseconds) when absent.
    pub tsresol: u8,
    /// `if_tsoffset` in seconds, 0 when absent. Signed in the draft; a negative offset (a clock before 1970) is
    /// taken as 0, since timestamps here count from the epoch.
    pub tsoffset_secs: u64,
}

pub fn interface_description(body: &[u8], big: bool) -> Result<InterfaceDescription, String> {
    let link_type = read_u16(body, 0, big).ok_or("interface description shorter than its link type")?;
    if body.len() < 8 {
        return Err("interface description shorter than its snap length".into());
    }
    let mut description = InterfaceDescription { link_type, tsresol: 6, tsoffset_secs: 0 };
    for (code, value) in options(&body[8..], big) {
        match (code, value.len()) {
            (IF_TSRESOL, 1..) => description.tsresol = value[0],
            (IF_TSOFFSET, 8..) => {
                let raw: [u8; 8] = value[..8].try_into().unwrap_or_default();
                let offset = if big { i64::from_be_bytes(raw) } else { i64::from_le_bytes(raw) };
                description.tsoffset_secs = offset.max(0) as u64;
            }
            _ => {}
        }
    }
    Ok(description)
}

/// The options of a block, as (code, value) pairs: each is a 16-bit code, a 16-bit length and the value padded to
/// 32 bits (draft §3.5). The walk stops at `opt_endofopt`, at the end of the bytes, or at an option whose length
/// runs past them.
pub fn options(bytes: &[u8], big: bool) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let code = read_u16(bytes, at, big)?;
        let len = usize::from(read_u16(bytes, at + 2, big)?);
        if code == OPT_ENDOFOPT {
            return None;
        }
        let value = bytes.get(at + 4..at + 4 + len)?;
        at += 4 + len.next_multiple_of(4);
        Some((code, value))
    })
}

fn read_u16(bytes: &[u8], at: usize, big: bool) -> Option<u16> {
    let raw: [u8; 2] = bytes.get(at..at + 2)?.try_into().ok()?;
    Some(if big { u16::from_be_bytes(raw) } else { u16::from_le_bytes(raw) })
}

fn read_u32(bytes: &[u8], at: usize, big: bool) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(if big { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn option(code: u16, value: &[u8]) -> Vec<u8> {
        let mut bytes = [code.to_le_bytes(), (value.len() as u16).to_le_bytes()].concat();
        bytes.extend_from_slice(value);
        bytes.resize(bytes.len().next_multiple_of(4), 0);
        bytes
    }

    fn idb(options: &[u8]) -> Vec<u8> {
        let mut body = [1u16.to_le_bytes().to_vec(), vec![0, 0], 65535u32.to_le_bytes().to_vec()].concat();
        body.extend_from_slice(options);
        body
    }

    #[test]
    fn options_are_read_with_or_without_an_end_marker() {
        let with_end = [option(IF_TSRESOL, &[9]), option(OPT_ENDOFOPT, &[])].concat();
        let without = option(IF_TSRESOL, &[9]);
        for options in [with_end, without] {
            assert_eq!(interface_description(&idb(&options), false).unwrap().tsresol, 9);
        }
    }

    #[test]
    fn an_option_running_past_the_block_ends_the_walk_and_keeps_what_came_before() {
        let mut options = [option(1, b"a comment"), option(IF_TSRESOL, &[3])].concat();
        options.extend_from_slice(&[14, 0, 200, 0, 1, 2]);
        let description = interface_description(&idb(&options), false).unwrap();
        assert_eq!((description.link_type, description.tsresol, description.tsoffset_secs), (1, 3, 0));
    }

    #[test]
    fn tsoffset_is_read_and_a_negative_one_is_taken_as_zero() {
        let positive = option(IF_TSOFFSET, &1_000i64.to_le_bytes());
        assert_eq!(interface_description(&idb(&positive), false).unwrap().tsoffset_secs, 1_000);
        let negative = option(IF_TSOFFSET, &(-5i64).to_le_bytes());
        assert_eq!(interface_description(&idb(&negative), false).unwrap().tsoffset_secs, 0);
    }

    #[test]
    fn blocks_check_both_lengths_and_sections_their_magic_and_version() {
        let mut bytes = [6u32.to_le_bytes(), 16u32.to_le_bytes(), 7u32.to_le_bytes(), 16u32.to_le_bytes()].concat();
        let parsed = block(&bytes, false).unwrap();
        assert_eq!((parsed.kind, parsed.body), (6, 7u32.to_le_bytes().as_slice()));
        bytes[12] = 20;
        assert!(block(&bytes, false).unwrap_err().contains("trailing length"));
        assert!(!section_byte_order(&[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0]).unwrap());
        assert!(section_byte_order(&[0x1a, 0x2b, 0x3c, 0x4d, 0, 1, 0, 0]).unwrap());
        assert!(section_byte_order(&[0x4d, 0x3c, 0x2b, 0x1a, 2, 0, 0, 0]).unwrap_err().contains("version 2"));
        assert!(section_byte_order(&[1, 2, 3, 4]).unwrap_err().contains("byte-order magic"));
    }
}
