//! Capture files in: pcap (microsecond and nanosecond, either byte order) and pcapng (any number of sections and
//! interfaces), told apart by their magic number, never by the file name. The classic pcap header is parsed by the
//! `pcap-file` crate; pcapng blocks by [`super::pcapng`] (the crate refuses options lists without an end marker,
//! which libpcap and Wireshark accept). Framing, limits and offsets are checked here so every error can name where
//! the damage is.

use std::fs::File;
use std::io::{self, Read};

use pcap_file::pcap::PcapHeader;
use pcap_file::{Endianness, TsResolution};

use super::error::{CaptureError, CaptureErrorKind, Location, RecordUnit};
use super::frame::{Frame, PlacedFrame, RawStamp};
use super::pcapng;
use super::read_buffer::ReadBuffer;
use crate::time::Timestamp;
use crate::wire::LinkType;

const PCAP_MICRO: u32 = 0xa1b2_c3d4;
const PCAP_NANO: u32 = 0xa1b2_3c4d;
const PCAPNG_SHB: u32 = pcapng::SECTION_HEADER;

/// libpcap's MAXIMUM_SNAPLEN: no writer produces a larger pcap record.
const MAX_PCAP_RECORD: u32 = 262_144;
/// The largest snap length from a pcap header that we let raise the record cap.
const MAX_PCAP_SNAPLEN_HONOURED: u32 = 16 << 20;
/// Interfaces per pcapng section; beyond it the file is treated as corrupt.
const MAX_INTERFACES: usize = 1 << 16;
/// A generous cap on one pcapng block; real blocks are a packet plus options.
const MAX_PCAPNG_BLOCK: u32 = 16 << 20;

/// The timestamp precision a file records, so a writer can keep it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Micro,
    Nano,
}

/// Reads frames from one capture file.
pub struct CaptureReader<R> {
    name: String,
    buf: ReadBuffer<R>,
    format: Format,
    /// Bytes of the record returned last, released at the next call (the frame borrowed them).
    pending: usize,
    /// Where the bytes of the frame returned last start in the read buffer ([`Self::next_placed`]).
    placed_at: usize,
    records: u64,
}

enum Format {
    Pcap {
        header: PcapHeader,
        records: PcapRecords,
    },
    /// `big`: the current section's byte order.
    PcapNg {
        big: bool,
        interfaces: Vec<Interface>,
        last_ts: Timestamp,
    },
}

/// What every record of a classic pcap file is read with, worked out once from its header rather than per record.
#[derive(Clone, Copy, Debug)]
struct PcapRecords {
    big_endian: bool,
    nano: bool,
    /// The record length cap: [`MAX_PCAP_RECORD`], raised by the header's snap length up to
    /// [`MAX_PCAP_SNAPLEN_HONOURED`].
    limit: u32,
    link: Result<LinkType, u32>,
}

impl PcapRecords {
    fn new(header: &PcapHeader, link: Result<LinkType, u32>) -> Self {
        PcapRecords {
            big_endian: header.endianness == Endianness::Big,
            nano: header.ts_resolution == TsResolution::NanoSecond,
            // A header's snap length may raise the cap (some writers use larger ones), but only up to a bound: the
            // cap must not come from the file alone, or one hostile header would make us allocate gigabytes.
            limit: MAX_PCAP_RECORD.max(header.snaplen.min(MAX_PCAP_SNAPLEN_HONOURED)),
            link,
        }
    }

    /// A record header's four words. Read little-endian and swapped together when the file is big-endian: one
    /// test of the byte order instead of one per word (measured: `CaptureReader::next_frame` 123 -> 111 instructions
    /// per packet, callgrind).
    fn words(&self, header: &[u8; PCAP_RECORD_HEADER]) -> [u32; 4] {
        let le = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        let words = [le(0), le(4), le(8), le(12)];
        if self.big_endian { words.map(u32::swap_bytes) } else { words }
    }
}

/// A classic pcap record header: ts_sec, ts_usec (or ts_nsec), incl_len, orig_len.
const PCAP_RECORD_HEADER: usize = 16;

#[derive(Clone, Copy, Debug)]
struct Interface {
    link: Result<LinkType, u32>,
    /// if_tsresol: the low 7 bits are the exponent; the high bit selects base 2 instead of 10 (RFC-to-be
    /// draft-ietf-opsawg-pcapng §4.2).
    tsresol: u8,
    tsoffset_secs: u64,
}

impl CaptureReader<Box<dyn Read + Send>> {
    /// Opens a file by path, or standard input for `-`.
    pub fn open(path: &str) -> Result<Self, CaptureError> {
        let reader: Box<dyn Read + Send> = if path == "-" {
            Box::new(io::stdin())
        } else {
            let file = File::open(path).map_err(|e| CaptureError::new(path, None, CaptureErrorKind::Open(e)))?;
            Box::new(file)
        };
        let name = if path == "-" { "<stdin>" } else { path };
        CaptureReader::new(name, reader)
    }
}

impl<R: Read> CaptureReader<R> {
    pub fn new(name: &str, reader: R) -> Result<Self, CaptureError> {
        let mut buf = ReadBuffer::new(reader);
        let err = |loc, kind| CaptureError::new(name, loc, kind);
        let at_start = Some(Location { record: 0, unit: RecordUnit::Record, offset: 0 });
        let full = buf.fill(4).map_err(|e| err(None, CaptureErrorKind::Read(e)))?;
        if !full {
            return Err(err(None, CaptureErrorKind::Empty));
        }
        let magic_le = u32::from_le_bytes(buf.data()[..4].try_into().unwrap_or_default());
        let format = match magic_le {
            m if m == PCAP_MICRO || m == PCAP_NANO || m.swap_bytes() == PCAP_MICRO || m.swap_bytes() == PCAP_NANO => {
                if !buf.fill(24).map_err(|e| err(None, CaptureErrorKind::Read(e)))? {
                    let available = buf.data().len() as u64;
                    return Err(err(at_start, CaptureErrorKind::Truncated { needed: 24, available }));
                }
                let (_, header) = PcapHeader::from_slice(buf.data())
                    .map_err(|e| err(at_start, CaptureErrorKind::Malformed(format!("pcap header: {e}"))))?;
                buf.consume(24);
                // The field is "LinkType and additional information": the link type is its low 16 bits; above
                // them sit reserved bits and the FCS-length flag and value (draft-ietf-opsawg-pcap §4), which
                // libpcap masks off (LT_LINKTYPE) and so do we, e.g. 0x30000001 is Ethernet.
                let dlt = u32::from(header.datalink) & 0xffff;
                let records = PcapRecords::new(&header, LinkType::from_linktype(dlt).ok_or(dlt));
                Format::Pcap { header, records }
            }
            PCAPNG_SHB => {
                let at_shb = Some(Location { record: 1, unit: RecordUnit::Block, offset: 0 });
                let len = peek_block_len(&mut buf, None).map_err(|kind| err(at_shb, kind))?;
                let big = section_big_endian(&buf.data()[..len]).map_err(|kind| err(at_shb, kind))?;
                buf.consume(len);
                Format::PcapNg { big, interfaces: Vec::new(), last_ts: Timestamp::default() }
            }
            other => return Err(err(at_start, CaptureErrorKind::UnknownMagic(other.swap_bytes()))),
        };
        let records = u64::from(matches!(format, Format::PcapNg { .. }));
        Ok(CaptureReader { name: name.to_string(), buf, format, pending: 0, placed_at: 0, records })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes of the file consumed so far.
    pub fn offset(&self) -> u64 {
        self.buf.offset() + self.pending as u64
    }

    pub fn precision(&self) -> Precision {
        match &self.format {
            Format::Pcap { header, .. } if header.ts_resolution == TsResolution::NanoSecond => Precision::Nano,
            Format::Pcap { .. } => Precision::Micro,
            Format::PcapNg { interfaces, .. } => {
                if interfaces.iter().any(|i| ts_unit_is_finer_than_micro(i.tsresol)) {
                    Precision::Nano
                } else {
                    Precision::Micro
                }
            }
        }
    }

    /// The next frame, `Ok(None)` at a clean end of file.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        self.buf.consume(std::mem::take(&mut self.pending));
        match self.format {
            Format::Pcap { .. } => self.next_pcap(),
            Format::PcapNg { .. } => self.next_pcapng(),
        }
    }

    /// [`Self::next_frame`] for a caller that hands the read buffer on rather than copying frames out of it: where
    /// the frame lies in the buffer that [`Self::take_retired`] or, at the end, [`Self::take_buffer`] gives.
    pub fn next_placed(&mut self) -> Result<Option<PlacedFrame>, CaptureError> {
        let Some(frame) = self.next_frame()? else { return Ok(None) };
        let (ts, raw_stamp, link_type, orig_len, len) =
            (frame.ts, frame.raw_stamp, frame.link_type, frame.orig_len, frame.data.len());
        let start = self.placed_at;
        Ok(Some(PlacedFrame { ts, raw_stamp, link_type, orig_len, start, end: start + len }))
    }

    /// The read buffer the frames placed so far lie in, when reading moved on to a fresh one since the last call
    /// (the frame placed last is in the fresh one).
    #[inline]
    pub fn take_retired(&mut self) -> Option<Vec<u8>> {
        self.buf.take_retired()
    }

    /// The current read buffer, for the frames placed in it; for the end of the file or a stop, as the reader
    /// keeps no bytes after it.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.buf.take_buffer()
    }

    /// A buffer to read into next (one whose frames have been handled), instead of allocating one.
    pub fn give_spare(&mut self, buffer: Vec<u8>) {
        self.buf.give_spare(buffer);
    }

    fn error(&self, unit: RecordUnit, kind: CaptureErrorKind) -> CaptureError {
        let location = Location { record: self.records, unit, offset: self.buf.offset() };
        CaptureError::new(&self.name, Some(location), kind)
    }

    /// Makes `n` bytes available, or says how the file ended.
    #[inline]
    fn need(&mut self, n: usize, unit: RecordUnit) -> Result<bool, CaptureError> {
        if self.buf.data().len() >= n {
            return Ok(true);
        }
        self.need_more(n, unit)
    }

    /// [`Self::need`] when the buffer is short: reads more, or describes the end of the file.
    #[cold]
    fn need_more(&mut self, n: usize, unit: RecordUnit) -> Result<bool, CaptureError> {
        match self.buf.fill(n) {
            Ok(true) => Ok(true),
            Ok(false) if self.buf.data().is_empty() => Ok(false),
            Ok(false) => {
                let available = self.buf.data().len() as u64;
                Err(self.error(unit, CaptureErrorKind::Truncated { needed: n as u64, available }))
            }
            Err(e) => Err(self.error(unit, CaptureErrorKind::Read(e))),
        }
    }

    fn next_pcap(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        let Format::Pcap { records: format, .. } = &self.format else { unreachable!("pcap state") };
        let format = *format;
        self.records += 1;
        if !self.need(PCAP_RECORD_HEADER, RecordUnit::Record)? {
            return Ok(None);
        }
        // One bounds check for the whole header, then fixed offsets into an array.
        let mut header = [0u8; PCAP_RECORD_HEADER];
        header.copy_from_slice(&self.buf.data()[..PCAP_RECORD_HEADER]);
        let [ts_sec, ts_frac, incl_len, orig_len] = format.words(&header);
        if incl_len > format.limit {
            let kind = CaptureErrorKind::ImpossibleLength {
                what: "record length",
                len: u64::from(incl_len),
                limit: u64::from(format.limit),
            };
            return Err(self.error(RecordUnit::Record, kind));
        }
        let link =
            format.link.map_err(|dlt| self.error(RecordUnit::Record, CaptureErrorKind::UnsupportedLinkType(dlt)))?;
        let total = PCAP_RECORD_HEADER + incl_len as usize;
        self.need(total, RecordUnit::Record)?;
        // A fraction of a second or more is carried into the seconds rather than rejected: the packet is still
        // worth showing. The fields are kept as they are for the printer, which shows them as tcpdump does.
        let nanos = if format.nano { u64::from(ts_frac) } else { u64::from(ts_frac) * 1_000 };
        let ts = Timestamp::from_nanos(u64::from(ts_sec) * 1_000_000_000 + nanos);
        let raw_stamp =
            (nanos >= 1_000_000_000).then_some(RawStamp { secs: ts_sec, fraction: ts_frac, nanos: format.nano });
        self.pending = total;
        self.placed_at = self.buf.position() + PCAP_RECORD_HEADER;
        let data = &self.buf.data()[PCAP_RECORD_HEADER..total];
        Ok(Some(Frame { raw_stamp, ts, link_type: link, orig_len: orig_len.max(incl_len), data }))
    }

    fn next_pcapng(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        loop {
            self.records += 1;
            if !self.need(8, RecordUnit::Block)? {
                return Ok(None);
            }
            let Format::PcapNg { big: section_big, .. } = &self.format else { unreachable!("pcapng state") };
            let endianness = if *section_big { Endianness::Big } else { Endianness::Little };
            let len = peek_block_len(&mut self.buf, Some(endianness)).map_err(|k| self.error(RecordUnit::Block, k))?;
            let location = Location { record: self.records, unit: RecordUnit::Block, offset: self.buf.offset() };
            let name = &self.name;
            let fail = |kind| CaptureError::new(name, Some(location), kind);
            let Format::PcapNg { big: section_big, interfaces, last_ts } = &mut self.format else {
                unreachable!("pcapng state")
            };
            let bytes = &self.buf.data()[..len];
            // A new section announces its own byte order, which its own length was read in (peek_block_len).
            if bytes.get(..4) == Some(&PCAPNG_SHB.to_le_bytes()) {
                *section_big = section_big_endian(bytes).map_err(fail)?;
            }
            let big = *section_big;
            let block =
                pcapng::block(bytes, big).map_err(|e| fail(CaptureErrorKind::Malformed(format!("block: {e}"))))?;
            let body: &[u8] = block.body;
            let word = |at: usize| -> Option<u32> {
                let b: [u8; 4] = body.get(at..at + 4)?.try_into().ok()?;
                Some(if big { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) })
            };
            let packet = match block.kind {
                // Section header: a new section starts with no interfaces.
                pcapng::SECTION_HEADER => {
                    interfaces.clear();
                    None
                }
                // Interface description: the parser has just appended it; take only that one, so many interface
                // blocks cost linear time, and cap how many a section may define.
                pcapng::INTERFACE_DESCRIPTION => {
                    if interfaces.len() >= MAX_INTERFACES {
                        let kind = CaptureErrorKind::ImpossibleLength {
                            what: "interface count",
                            len: interfaces.len() as u64 + 1,
                            limit: MAX_INTERFACES as u64,
                        };
                        return Err(fail(kind));
                    }
                    let description =
                        pcapng::interface_description(body, big).map_err(|e| fail(CaptureErrorKind::Malformed(e)))?;
                    interfaces.push(interface_from(description));
                    None
                }
                // Enhanced packet block (§4.3).
                0x0000_0006 => {
                    let parsed = (|| {
                        let (iface, hi, lo, caplen, origlen) = (word(0)?, word(4)?, word(8)?, word(12)?, word(16)?);
                        let data = body.get(20..20usize.checked_add(caplen as usize)?)?;
                        Some((iface, (u64::from(hi) << 32) | u64::from(lo), origlen, data))
                    })();
                    Some(parsed.ok_or("enhanced packet block shorter than its captured length"))
                }
                // Obsolete packet block (§4.5 of the draft's appendix): 16-bit interface id, then as above.
                0x0000_0002 => {
                    let parsed = (|| {
                        let iface = if big {
                            u32::from(body.get(0..2)?[0]) << 8 | u32::from(body[1])
                        } else {
                            u32::from(body.get(0..2)?[1]) << 8 | u32::from(body[0])
                        };
                        let (hi, lo, caplen, origlen) = (word(4)?, word(8)?, word(12)?, word(16)?);
                        let data = body.get(20..20usize.checked_add(caplen as usize)?)?;
                        Some((iface, (u64::from(hi) << 32) | u64::from(lo), origlen, data))
                    })();
                    Some(parsed.ok_or("packet block shorter than its captured length"))
                }
                // Simple packet block (§4.4): interface 0, no timestamp; we reuse the previous packet's time.
                0x0000_0003 => {
                    let parsed = (|| {
                        let origlen = word(0)?;
                        let data = body.get(4..)?;
                        let data = &data[..data.len().min(origlen as usize)];
                        Some((0, u64::MAX, origlen, data))
                    })();
                    Some(parsed.ok_or("simple packet block without a length"))
                }
                _ => None,
            };
            let Some(packet) = packet else {
                self.buf.consume(len);
                continue;
            };
            let (iface_id, raw_ts, origlen, data) = match packet {
                Ok(p) => p,
                Err(msg) => return Err(fail(CaptureErrorKind::Malformed(msg.to_string()))),
            };
            let Some(iface) = interfaces.get(iface_id as usize).copied() else {
                return Err(fail(CaptureErrorKind::UndefinedInterface(iface_id)));
            };
            let link = match iface.link {
                Ok(link) => link,
                Err(dlt) => return Err(fail(CaptureErrorKind::UnsupportedLinkType(dlt))),
            };
            let ts = if raw_ts == u64::MAX {
                *last_ts
            } else {
                Timestamp::from_nanos(
                    ts_units_to_nanos(raw_ts, iface.tsresol)
                        .saturating_add(iface.tsoffset_secs.saturating_mul(1_000_000_000)),
                )
            };
            *last_ts = ts;
            // `data` borrows the block, which borrows the buffer; recompute the slice after releasing `block`.
            let data_start = data.as_ptr() as usize - self.buf.data().as_ptr() as usize;
            let data_len = data.len();
            self.pending = len;
            self.placed_at = self.buf.position() + data_start;
            let data = &self.buf.data()[data_start..data_start + data_len];
            return Ok(Some(Frame {
                raw_stamp: None,
                ts,
                link_type: link,
                orig_len: origlen.max(data_len as u32),
                data,
            }));
        }
    }
}

/// Reads a pcapng block's total length and makes the whole block available. Section header blocks announce their
/// own byte order (the byte-order magic at offset 8), so for them the section's current order does not apply.
fn peek_block_len<R: Read>(buf: &mut ReadBuffer<R>, endianness: Option<Endianness>) -> Result<usize, CaptureErrorKind> {
    let fill = |buf: &mut ReadBuffer<R>, n: usize| -> Result<(), CaptureErrorKind> {
        match buf.fill(n) {
            Ok(true) => Ok(()),
            Ok(false) => Err(CaptureErrorKind::Truncated { needed: n as u64, available: buf.data().len() as u64 }),
            Err(e) => Err(CaptureErrorKind::Read(e)),
        }
    };
    fill(buf, 8)?;
    let d = buf.data();
    let block_type = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
    let big = if block_type == PCAPNG_SHB {
        fill(buf, 12)?;
        let d = buf.data();
        match [d[8], d[9], d[10], d[11]] {
            [0x1a, 0x2b, 0x3c, 0x4d] => true,
            [0x4d, 0x3c, 0x2b, 0x1a] => false,
            _ => return Err(CaptureErrorKind::Malformed("section header without a byte-order magic".into())),
        }
    } else {
        endianness == Some(Endianness::Big)
    };
    let d = buf.data();
    let raw = [d[4], d[5], d[6], d[7]];
    let len = if big { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) };
    if len < 12 || len % 4 != 0 || len > MAX_PCAPNG_BLOCK {
        return Err(CaptureErrorKind::ImpossibleLength {
            what: "block length",
            len: u64::from(len),
            limit: u64::from(MAX_PCAPNG_BLOCK),
        });
    }
    fill(buf, len as usize)?;
    Ok(len as usize)
}

fn interface_from(description: pcapng::InterfaceDescription) -> Interface {
    let dlt = u32::from(description.link_type);
    Interface {
        link: LinkType::from_linktype(dlt).ok_or(dlt),
        tsresol: description.tsresol,
        tsoffset_secs: description.tsoffset_secs,
    }
}

/// A whole section header block's byte order (and a check of its version and framing).
fn section_big_endian(bytes: &[u8]) -> Result<bool, CaptureErrorKind> {
    let malformed = |e: String| CaptureErrorKind::Malformed(format!("section header: {e}"));
    let big = pcapng::section_byte_order(bytes.get(8..).unwrap_or_default()).map_err(malformed)?;
    pcapng::block(bytes, big).map_err(malformed)?;
    Ok(big)
}

fn ts_unit_is_finer_than_micro(tsresol: u8) -> bool {
    let exp = u32::from(tsresol & 0x7f);
    if tsresol & 0x80 == 0 { exp > 6 } else { exp > 19 }
}

/// Converts a pcapng timestamp in interface units to nanoseconds.
fn ts_units_to_nanos(raw: u64, tsresol: u8) -> u64 {
    let exp = u32::from(tsresol & 0x7f);
    let nanos: u128 = if tsresol & 0x80 == 0 {
        if exp <= 9 { u128::from(raw) * 10u128.pow(9 - exp) } else { u128::from(raw) / 10u128.saturating_pow(exp - 9) }
    } else {
        (u128::from(raw) * 1_000_000_000) >> exp.min(127)
    };
    nanos.min(u128::from(u64::MAX)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic pcap (little-endian, microseconds) of one Ethernet frame, with `link_field` as its link-type field.
    fn one_frame_pcap(link_field: u32) -> Vec<u8> {
        let frame =
            [[0x02u8; 6], [0x04; 6]].concat().into_iter().chain([0x08, 0x00]).chain([0x45; 20]).collect::<Vec<_>>();
        let mut file = Vec::new();
        file.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        file.extend_from_slice(&2u16.to_le_bytes());
        file.extend_from_slice(&4u16.to_le_bytes());
        for word in [0u32, 0, 65535, link_field, 1, 0, frame.len() as u32, frame.len() as u32] {
            file.extend_from_slice(&word.to_le_bytes());
        }
        file.extend_from_slice(&frame);
        file
    }

    #[test]
    fn the_link_type_field_is_read_as_its_low_16_bits_as_libpcap_does() {
        for field in [1u32, 0x3000_0001, 0x0400_0001, 0xffff_0001] {
            let bytes = one_frame_pcap(field);
            let mut reader = CaptureReader::new("t.pcap", bytes.as_slice()).expect("header accepted");
            let frame = reader.next_frame().expect("record").expect("one frame");
            assert_eq!(frame.link_type, LinkType::Ethernet, "field {field:#x}");
        }
        let unknown = one_frame_pcap(0x3000_00ff);
        let mut reader = CaptureReader::new("t.pcap", unknown.as_slice()).expect("header accepted");
        let err = reader.next_frame().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("unsupported link type 255"), "the masked value is the one named: {err}");
    }

    /// A pcapng block, little-endian.
    fn block(kind: u32, body: &[u8]) -> Vec<u8> {
        let len = (12 + body.len()) as u32;
        [kind.to_le_bytes().as_slice(), &len.to_le_bytes(), body, &len.to_le_bytes()].concat()
    }

    #[test]
    fn pcapng_options_without_an_end_marker_are_read_as_libpcap_reads_them() {
        // A comment in the section header and if_tsresol 9 (nanoseconds) in the interface, neither list closed by
        // opt_endofopt; then one packet at 1.5 s.
        let shb = [&[0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0][..], &[0xff; 8], &[1, 0, 3, 0, b'h', b'i', b'!', 0]].concat();
        let idb = [&[1u8, 0, 0, 0][..], &65535u32.to_le_bytes(), &[9, 0, 1, 0, 9, 0, 0, 0]].concat();
        let frame = [0x02u8; 34];
        let ts = 1_500_000_000u64;
        let epb = [
            &0u32.to_le_bytes()[..],
            &((ts >> 32) as u32).to_le_bytes(),
            &(ts as u32).to_le_bytes(),
            &34u32.to_le_bytes(),
            &34u32.to_le_bytes(),
            &frame,
            &[0, 0],
        ]
        .concat();
        let file = [block(0x0a0d_0d0a, &shb), block(1, &idb), block(6, &epb)].concat();
        let mut reader = CaptureReader::new("t.pcapng", file.as_slice()).expect("section header accepted");
        let frame = reader.next_frame().expect("blocks read").expect("one packet");
        assert_eq!((frame.ts, frame.link_type, frame.data.len()), (Timestamp::from_nanos(ts), LinkType::Ethernet, 34));
        assert!(reader.next_frame().expect("clean end").is_none());
        assert_eq!(reader.precision(), Precision::Nano);
    }

    #[test]
    fn pcapng_resolutions_convert_to_nanoseconds() {
        assert_eq!(ts_units_to_nanos(1_500_000, 6), 1_500_000_000);
        assert_eq!(ts_units_to_nanos(7, 9), 7);
        assert_eq!(ts_units_to_nanos(3_000, 12), 3);
        // 2^-10 s units: 1024 of them are one second.
        assert_eq!(ts_units_to_nanos(1024, 0x80 | 10), 1_000_000_000);
    }
}
