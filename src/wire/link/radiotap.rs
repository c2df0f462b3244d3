//! The radiotap header (https://www.radiotap.org, LINKTYPE_IEEE802_11_RADIOTAP) before an 802.11 frame: its
//! length says where the frame starts, its Flags field whether the MAC header is padded. [`fields`] walks the
//! fields of the first presence word for a printer, in the order and with the alignment radiotap defines.

use super::ieee80211::{self, Framing};
use super::{Next, header, le16, le32};
use crate::wire::DecodeError;

/// Version, pad, length (little-endian) and the first presence word.
const FIXED_LEN: usize = 8;
/// Presence bit 31: another presence word follows.
const EXT: u32 = 1 << 31;
/// Flags field bits.
pub const F_CFP: u8 = 0x01;
pub const F_SHORT_PREAMBLE: u8 = 0x02;
pub const F_WEP: u8 = 0x04;
pub const F_FRAGMENTED: u8 = 0x08;
pub const F_DATA_PAD: u8 = 0x20;
pub const F_BAD_FCS: u8 = 0x40;
/// Presence bits a printer needs to know of: MCS makes the channel 11n in tcpdump's eyes.
pub const BIT_XCHANNEL: u32 = 18;
pub const BIT_MCS: u32 = 19;

/// One radiotap field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Tsft(u64),
    Flags(u8),
    /// In 500 kb/s units.
    Rate(u8),
    Channel {
        freq: u16,
        flags: u16,
    },
    Fhss {
        hop_set: u8,
        hop_pattern: u8,
    },
    DbmSignal(i8),
    DbmNoise(i8),
    LockQuality(u16),
    TxAttenuation(u16),
    DbTxAttenuation(u16),
    DbmTxPower(i8),
    Antenna(u8),
    DbSignal(u8),
    DbNoise(u8),
    RxFlags(u16),
    XChannel {
        flags: u32,
        freq: u16,
    },
    /// 802.11n: which of the flags are known, the flags (bandwidth, guard interval, format, FEC, STBC), MCS index.
    Mcs {
        known: u8,
        flags: u8,
        index: u8,
    },
    /// A-MPDU status (reference number, flags, delimiter CRC): nothing a line shows.
    AmpduStatus,
    /// 802.11ac: known bits, flags, bandwidth, each user's MCS and NSS nibbles, each user's coding bit.
    Vht {
        known: u16,
        flags: u8,
        bandwidth: u8,
        mcs_nss: [u8; 4],
        coding: u8,
    },
    /// A field this walk does not read (or cannot step over): the walk ends with it.
    Unread {
        bit: u32,
    },
}

/// Each field's alignment and size, by presence bit (radiotap.org's defined fields, 0 to 22).
fn layout(bit: u32) -> Option<(usize, usize)> {
    Some(match bit {
        0 => (8, 8),
        1 | 2 | 5 | 6 | 10 | 11 | 12 | 13 | 16 | 17 => (1, 1),
        3 => (2, 4),
        4 => (1, 2),
        7 | 8 | 9 | 14 | 15 => (2, 2),
        18 => (4, 8),
        19 => (1, 3),
        20 => (4, 8),
        21 => (2, 12),
        22 => (8, 12),
        _ => return None,
    })
}

/// The header's length, first presence word, and where its fields start (after every presence word).
fn fixed(frame: &[u8]) -> Result<(usize, u32, usize), DecodeError> {
    let h = header(frame, FIXED_LEN, "radiotap header")?;
    let len = usize::from(le16(h, 2));
    let present = le32(h, 4);
    let mut fields_at = FIXED_LEN;
    let mut word = present;
    while word & EXT != 0 {
        let next = frame
            .get(fields_at..fields_at + 4)
            .ok_or_else(|| super::truncated("radiotap presence words", frame.len(), fields_at + 4))?;
        word = le32(next, 0);
        fields_at += 4;
    }
    if len < fields_at {
        return Err(DecodeError::Invalid(format!("radiotap length {len} is shorter than its presence words")));
    }
    header(frame, len, "radiotap header")?;
    Ok((len, present, fields_at))
}

/// The fields of the first presence word, within the header, in bit order; a field past the header's end or one
/// we cannot step over ends the walk as [`Field::Unread`]. Nothing for a header that does not parse.
pub fn fields(frame: &[u8]) -> Fields<'_> {
    match fixed(frame) {
        Ok((len, present, at)) => Fields { header: &frame[..len], present: present & 0x1fff_ffff, at, done: false },
        Err(_) => Fields { header: &[], present: 0, at: 0, done: true },
    }
}

/// The first presence word as it stands (0 when the header does not parse).
pub fn present(frame: &[u8]) -> u32 {
    fixed(frame).map(|(_, present, _)| present).unwrap_or(0)
}

pub struct Fields<'a> {
    header: &'a [u8],
    /// Bits not yet walked (29, 30 and 31 are namespace and extension bits, not fields).
    present: u32,
    at: usize,
    done: bool,
}

impl Iterator for Fields<'_> {
    type Item = Field;

    fn next(&mut self) -> Option<Field> {
        if self.done || self.present == 0 {
            return None;
        }
        let bit = self.present.trailing_zeros();
        self.present &= self.present - 1;
        let Some((align, size)) = layout(bit) else {
            self.done = true;
            return Some(Field::Unread { bit });
        };
        let at = self.at.next_multiple_of(align);
        let Some(b) = self.header.get(at..at + size) else {
            self.done = true;
            return Some(Field::Unread { bit });
        };
        self.at = at + size;
        Some(match bit {
            0 => Field::Tsft(u64::from_le_bytes(b.try_into().unwrap_or_default())),
            1 => Field::Flags(b[0]),
            2 => Field::Rate(b[0]),
            3 => Field::Channel { freq: le16(b, 0), flags: le16(b, 2) },
            4 => Field::Fhss { hop_set: b[0], hop_pattern: b[1] },
            5 => Field::DbmSignal(b[0] as i8),
            6 => Field::DbmNoise(b[0] as i8),
            7 => Field::LockQuality(le16(b, 0)),
            8 => Field::TxAttenuation(le16(b, 0)),
            9 => Field::DbTxAttenuation(le16(b, 0)),
            10 => Field::DbmTxPower(b[0] as i8),
            11 => Field::Antenna(b[0]),
            12 => Field::DbSignal(b[0]),
            13 => Field::DbNoise(b[0]),
            14 => Field::RxFlags(le16(b, 0)),
            18 => Field::XChannel { flags: le32(b, 0), freq: le16(b, 4) },
            19 => Field::Mcs { known: b[0], flags: b[1], index: b[2] },
            20 => Field::AmpduStatus,
            21 => Field::Vht {
                known: le16(b, 0),
                flags: b[2],
                bandwidth: b[3],
                mcs_nss: [b[4], b[5], b[6], b[7]],
                coding: b[8],
            },
            _ => {
                // Stepped over but not read (TX flags, retries, timestamp): a printer that does not show it must
                // stop here, so the walk ends.
                self.done = true;
                Field::Unread { bit }
            }
        })
    }
}

/// LINKTYPE_IEEE802_11_RADIOTAP: the 802.11 frame after the header, padded as its Flags field says.
pub fn frame(frame: &[u8]) -> Result<Next<'_>, DecodeError> {
    let (len, _, _) = fixed(frame)?;
    let flags = fields(frame).find_map(|f| match f {
        Field::Flags(flags) => Some(flags),
        _ => None,
    });
    let framing = Framing { data_pad: flags.is_some_and(|f| f & F_DATA_PAD != 0) };
    ieee80211::frame(&frame[len..], framing)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::refuses_every_cut;
    use super::*;

    /// TSFT, Flags, Rate, Channel, dBm signal: alignment puts Channel at 18 and the signal at 22.
    fn header_with(flags: u8) -> Vec<u8> {
        let present: u32 = 0b10_1111;
        let mut h = vec![0, 0, 23, 0];
        h.extend_from_slice(&present.to_le_bytes());
        h.extend_from_slice(&7u64.to_le_bytes());
        h.extend_from_slice(&[flags, 12]);
        h.extend_from_slice(&2437u16.to_le_bytes());
        h.extend_from_slice(&0x00a0u16.to_le_bytes());
        h.push(-40i8 as u8);
        h
    }

    #[test]
    fn fields_are_read_in_bit_order_with_their_alignment() {
        let h = header_with(0x10);
        let got: Vec<Field> = fields(&h).collect();
        assert_eq!(
            got,
            [
                Field::Tsft(7),
                Field::Flags(0x10),
                Field::Rate(12),
                Field::Channel { freq: 2437, flags: 0xa0 },
                Field::DbmSignal(-40)
            ]
        );
        // A field the walk cannot step over ends it.
        let mut unknown = vec![0, 0, 9, 0];
        unknown.extend_from_slice(&((1u32 << 2) | (1 << 25)).to_le_bytes());
        unknown.push(2);
        assert_eq!(fields(&unknown).collect::<Vec<_>>(), [Field::Rate(2), Field::Unread { bit: 25 }]);
    }

    #[test]
    fn the_frame_starts_after_the_header_and_its_padding() {
        let data = |pad: usize| {
            let mut f = vec![0x88, 0x02];
            f.resize(26 + pad, 0);
            f.extend_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd, 0x60]);
            f
        };
        let plain = [header_with(0), data(0)].concat();
        assert_eq!(super::frame(&plain), Ok(Next::EtherType(0x86dd, &[0x60][..])));
        let padded = [header_with(F_DATA_PAD), data(2)].concat();
        assert_eq!(super::frame(&padded), Ok(Next::EtherType(0x86dd, &[0x60][..])));
        refuses_every_cut(&plain, 23, "radiotap", super::frame);
        // A length shorter than the presence words is refused, not read.
        let mut short = header_with(0);
        short[2] = 6;
        assert!(matches!(super::frame(&short), Err(DecodeError::Invalid(_))));
        // Extended presence words are stepped over.
        let mut ext = vec![0, 0, 13, 0];
        ext.extend_from_slice(&(EXT | 1 << 2).to_le_bytes());
        ext.extend_from_slice(&[0, 0, 0, 0, 4]);
        assert_eq!(fields(&ext).collect::<Vec<_>>(), [Field::Rate(4)]);
    }
}
