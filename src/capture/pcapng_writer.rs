//! pcapng files out (`-w OUT.pcapng`), written by hand after draft-ietf-opsawg-pcapng ("the draft"): one section
//! header block, one interface description block per link type met, and an enhanced packet block per frame. What
//! pcap cannot carry and this can: each packet's annotations as an `opt_comment` (draft §4.3, option code 1, UTF-8),
//! which Wireshark shows in the packet list and tshark as `frame.comment`; and frames of several link types in one
//! file (`sniff -i lo -i eth0`).
//!
//! As the pcap writer does, blocks are staged in memory and reach the file only whole ([`super::staged`]), so the
//! file always ends on a block boundary.

use std::fs::File;
use std::io::Write;

use super::error::{CaptureError, CaptureErrorKind};
use super::file::Precision;
use super::frame::Frame;
use super::pcapng::{INTERFACE_DESCRIPTION, SECTION_HEADER};
use super::staged::Staged;
use crate::wire::LinkType;

/// Enhanced packet block (draft §4.3).
const ENHANCED_PACKET: u32 = 0x0000_0006;
/// The byte-order magic (draft §4.1), written little-endian like everything in the file.
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const OPT_ENDOFOPT: u16 = 0;
/// `opt_comment` (draft §3.5): valid in every block.
const OPT_COMMENT: u16 = 1;
/// `shb_userappl` (draft §4.1): the application that wrote the section.
const SHB_USERAPPL: u16 = 4;
/// `if_tsresol` (draft §4.2): 6 for microseconds (the default), 9 for nanoseconds.
const IF_TSRESOL: u16 = 9;
/// A snap length that fits any record we read (pcap's MAXIMUM_SNAPLEN, as the pcap writer uses).
const SNAPLEN: u32 = 262_144;
/// An option value is at most 65535 bytes; a longer comment is cut at a character boundary below that.
const MAX_OPTION: usize = u16::MAX as usize;

pub struct PcapngFileWriter<W: Write> {
    precision: Precision,
    /// Whole blocks on their way to the sink.
    out: Staged<W>,
    started: bool,
    /// The link type of each interface description written, by interface id.
    interfaces: Vec<LinkType>,
}

impl PcapngFileWriter<File> {
    pub fn create(path: &str, precision: Precision) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(|e| CaptureError::new(path, None, CaptureErrorKind::Open(e)))?;
        Ok(PcapngFileWriter::new(path, file, precision))
    }
}

impl<W: Write> PcapngFileWriter<W> {
    pub fn new(name: &str, sink: W, precision: Precision) -> Self {
        PcapngFileWriter { precision, out: Staged::new(name, sink), started: false, interfaces: Vec::new() }
    }

    /// Writes `frame` with `comment` as its `opt_comment`, when there is one.
    pub fn write(&mut self, frame: &Frame<'_>, comment: Option<&str>) -> Result<(), CaptureError> {
        let interface = self.interface(frame.link_type);
        let data = &frame.data[..frame.data.len().min(SNAPLEN as usize)];
        let units = match self.precision {
            Precision::Micro => frame.ts.as_nanos() / 1_000,
            Precision::Nano => frame.ts.as_nanos(),
        };
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        push_u32(&mut body, interface);
        push_u32(&mut body, (units >> 32) as u32);
        push_u32(&mut body, units as u32);
        push_u32(&mut body, data.len() as u32);
        push_u32(&mut body, frame.orig_len.max(data.len() as u32));
        body.extend_from_slice(data);
        pad(&mut body);
        if let Some(comment) = comment.filter(|c| !c.is_empty()) {
            push_option(&mut body, OPT_COMMENT, truncate_utf8(comment, MAX_OPTION).as_bytes());
            push_option(&mut body, OPT_ENDOFOPT, &[]);
        }
        self.stage_block(ENHANCED_PACKET, &body);
        self.out.record_done()
    }

    /// Stages the section header and an interface description for `link_type`: a live capture calls this up
    /// front so that the file is a valid (empty) pcapng from the start.
    pub fn start(&mut self, link_type: LinkType) -> Result<(), CaptureError> {
        self.interface(link_type);
        Ok(())
    }

    /// The interface id for `link_type`, describing a new interface the first time a link type is met.
    fn interface(&mut self, link_type: LinkType) -> u32 {
        self.section();
        if let Some(id) = self.interfaces.iter().position(|&l| l == link_type) {
            return id as u32;
        }
        let mut body = Vec::with_capacity(20);
        push_u16(&mut body, link_type.linktype_value() as u16);
        push_u16(&mut body, 0);
        push_u32(&mut body, SNAPLEN);
        let resolution = match self.precision {
            Precision::Micro => 6,
            Precision::Nano => 9,
        };
        push_option(&mut body, IF_TSRESOL, &[resolution]);
        push_option(&mut body, OPT_ENDOFOPT, &[]);
        self.stage_block(INTERFACE_DESCRIPTION, &body);
        self.interfaces.push(link_type);
        (self.interfaces.len() - 1) as u32
    }

    fn section(&mut self) {
        if self.started {
            return;
        }
        let mut body = Vec::with_capacity(40);
        push_u32(&mut body, BYTE_ORDER_MAGIC);
        push_u16(&mut body, 1);
        push_u16(&mut body, 0);
        // Section length -1: not given (draft §4.1), since the file is written as it goes.
        body.extend_from_slice(&(-1i64).to_le_bytes());
        push_option(&mut body, SHB_USERAPPL, concat!("synscope ", env!("CARGO_PKG_VERSION")).as_bytes());
        push_option(&mut body, OPT_ENDOFOPT, &[]);
        self.stage_block(SECTION_HEADER, &body);
        self.started = true;
    }

    /// Block type, total length, body (already padded to 32 bits), total length again (draft §3.1).
    fn stage_block(&mut self, kind: u32, body: &[u8]) {
        let total = (12 + body.len()) as u32;
        let staged = self.out.bytes();
        push_u32(staged, kind);
        push_u32(staged, total);
        staged.extend_from_slice(body);
        push_u32(staged, total);
    }

    /// Writes every staged block to the sink now.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.out.flush()
    }

    /// Flushes and returns the sink. A writer that never saw a frame still writes a valid pcapng: a section and an
    /// Ethernet interface, as the pcap writer's empty file is Ethernet.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        if self.interfaces.is_empty() {
            self.start(LinkType::Ethernet)?;
        }
        self.out.finish()
    }
}

fn push_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn push_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Zero bytes up to the next 32-bit boundary (draft §3.1, §3.5).
fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Code, length, value, padding (draft §3.5).
fn push_option(out: &mut Vec<u8>, code: u16, value: &[u8]) {
    push_u16(out, code);
    push_u16(out, value.len() as u16);
    out.extend_from_slice(value);
    pad(out);
}

fn truncate_utf8(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;

    fn frame(data: &[u8], link_type: LinkType) -> Frame<'_> {
        Frame {
            raw_stamp: None,
            ts: Timestamp::from_secs_nanos(1_700_000_000, 123_456_789),
            link_type,
            orig_len: 60,
            data,
        }
    }

    /// Splits a file into (type, body) blocks, checking each trailing length.
    fn blocks(file: &[u8]) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        let mut at = 0;
        while at < file.len() {
            let word = |i: usize| u32::from_le_bytes(file[i..i + 4].try_into().unwrap());
            let (kind, len) = (word(at), word(at + 4) as usize);
            assert_eq!(len % 4, 0, "block length {len} is a multiple of 4");
            assert_eq!(word(at + len - 4) as usize, len, "trailing length repeats the leading one");
            out.push((kind, file[at + 8..at + len - 4].to_vec()));
            at += len;
        }
        assert_eq!(at, file.len());
        out
    }

    #[test]
    fn comments_go_into_the_enhanced_packet_block_only_when_given() {
        let mut writer = PcapngFileWriter::new("test", Vec::new(), Precision::Nano);
        writer.write(&frame(&[1, 2, 3, 4, 5], LinkType::Ethernet), Some("handshake ✓")).unwrap();
        writer.write(&frame(&[6; 8], LinkType::Ethernet), None).unwrap();
        let file = writer.finish().unwrap();
        let blocks = blocks(&file);
        let kinds: Vec<u32> = blocks.iter().map(|b| b.0).collect();
        assert_eq!(kinds, [SECTION_HEADER, INTERFACE_DESCRIPTION, ENHANCED_PACKET, ENHANCED_PACKET]);
        let first = &blocks[2].1;
        // 20 bytes of fields, 5 of data padded to 8, then the comment option.
        assert_eq!(&first[28..30], &OPT_COMMENT.to_le_bytes());
        let len = u16::from_le_bytes([first[30], first[31]]) as usize;
        assert_eq!(std::str::from_utf8(&first[32..32 + len]).unwrap(), "handshake ✓");
        // Nanosecond units: 1_700_000_000.123456789 s.
        let ts = (u64::from(u32::from_le_bytes(first[4..8].try_into().unwrap())) << 32)
            | u64::from(u32::from_le_bytes(first[8..12].try_into().unwrap()));
        assert_eq!(ts, 1_700_000_000_123_456_789);
        assert_eq!(blocks[3].1.len(), 20 + 8, "no options without a comment");
    }

    #[test]
    fn each_link_type_gets_its_own_interface() {
        let mut writer = PcapngFileWriter::new("test", Vec::new(), Precision::Micro);
        writer.write(&frame(&[0; 4], LinkType::Ethernet), None).unwrap();
        writer.write(&frame(&[0x45; 4], LinkType::RawIp), None).unwrap();
        writer.write(&frame(&[0; 4], LinkType::Ethernet), None).unwrap();
        let blocks = blocks(&writer.finish().unwrap());
        let interface_of = |b: &(u32, Vec<u8>)| u32::from_le_bytes(b.1[0..4].try_into().unwrap());
        let kinds: Vec<u32> = blocks.iter().map(|b| b.0).collect();
        assert_eq!(
            kinds,
            [
                SECTION_HEADER,
                INTERFACE_DESCRIPTION,
                ENHANCED_PACKET,
                INTERFACE_DESCRIPTION,
                ENHANCED_PACKET,
                ENHANCED_PACKET
            ]
        );
        assert_eq!([interface_of(&blocks[2]), interface_of(&blocks[4]), interface_of(&blocks[5])], [0, 1, 0]);
    }

    #[test]
    fn an_unused_writer_leaves_a_valid_empty_file() {
        let file = PcapngFileWriter::new("test", Vec::new(), Precision::Micro).finish().unwrap();
        let kinds: Vec<u32> = blocks(&file).iter().map(|b| b.0).collect();
        assert_eq!(kinds, [SECTION_HEADER, INTERFACE_DESCRIPTION]);
    }

    #[test]
    fn long_comments_are_cut_at_a_character_boundary() {
        let text = "é".repeat(40_000);
        let cut = truncate_utf8(&text, MAX_OPTION);
        assert!(cut.len() <= MAX_OPTION && cut.len() >= MAX_OPTION - 1);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
