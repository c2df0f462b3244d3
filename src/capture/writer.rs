//! pcap files out (`-w`): every frame keeps its original timestamp, wire length and link type.
//!
//! Records are staged in memory and reach the file only whole ([`super::staged`]), so the file always ends on a
//! record boundary: a valid pcap.

use std::fs::File;
use std::io::Write;

use byteorder_slice::LittleEndian;
use pcap_file::pcap::{PcapHeader, PcapPacket};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::error::{CaptureError, CaptureErrorKind};
use super::file::Precision;
use super::frame::Frame;
use super::staged::Staged;
use crate::wire::LinkType;

/// Writes a classic pcap file. The link type is fixed by the first frame (or given up front), since pcap has one
/// per file; a frame of another link type is refused with an error rather than written wrongly.
pub struct PcapFileWriter<W: Write> {
    precision: Precision,
    /// Whole records (and the file header) on their way to the sink.
    out: Staged<W>,
    /// The file's link type, once its header is staged.
    link: Option<LinkType>,
}

/// A snap length that fits any record we read (pcap's own MAXIMUM_SNAPLEN).
const SNAPLEN: u32 = 262_144;

impl PcapFileWriter<File> {
    pub fn create(path: &str, precision: Precision) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(|e| CaptureError::new(path, None, CaptureErrorKind::Open(e)))?;
        Ok(PcapFileWriter::new(path, file, precision))
    }
}

impl<W: Write> PcapFileWriter<W> {
    pub fn new(name: &str, sink: W, precision: Precision) -> Self {
        PcapFileWriter { precision, out: Staged::new(name, sink), link: None }
    }

    fn ts_resolution(&self) -> TsResolution {
        match self.precision {
            Precision::Micro => TsResolution::MicroSecond,
            Precision::Nano => TsResolution::NanoSecond,
        }
    }

    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), CaptureError> {
        let link = match self.link {
            Some(link) => link,
            None => {
                self.start(frame.link_type)?;
                frame.link_type
            }
        };
        if link != frame.link_type {
            let msg = format!(
                "cannot mix link type {} into a pcap of link type {}; filter to one interface first",
                frame.link_type, link
            );
            return Err(CaptureError::new(self.out.name(), None, CaptureErrorKind::Malformed(msg)));
        }
        let ts = std::time::Duration::new(frame.ts.secs(), frame.ts.subsec_nanos());
        let data = &frame.data[..frame.data.len().min(SNAPLEN as usize)];
        let packet = PcapPacket::new(ts, frame.orig_len.max(data.len() as u32), data);
        let resolution = self.ts_resolution();
        packet
            .write_to::<_, LittleEndian>(self.out.bytes(), resolution, SNAPLEN)
            .map_err(|e| CaptureError::new(self.out.name(), None, io_kind(e)))?;
        self.out.record_done()
    }

    /// Stages the file header for `link_type`. Called by the first frame, or up front by a live capture so that
    /// the file is a valid (empty) pcap from the start.
    pub fn start(&mut self, link_type: LinkType) -> Result<(), CaptureError> {
        if self.link.is_some() {
            return Ok(());
        }
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::from(link_type.linktype_value()),
            ts_resolution: self.ts_resolution(),
            // Always little-endian, so generated files are byte-identical on every host.
            endianness: Endianness::Little,
        };
        header.write_to(self.out.bytes()).map_err(|e| CaptureError::new(self.out.name(), None, io_kind(e)))?;
        self.link = Some(link_type);
        Ok(())
    }

    /// Writes every staged record to the sink now (a live capture calls this after each batch).
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.out.flush()
    }

    /// Flushes and returns the sink. A writer that never saw a frame still writes a valid, empty pcap (as
    /// tcpdump does), with the Ethernet link type since no frame named another.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        self.start(LinkType::Ethernet)?;
        self.out.finish()
    }
}

fn io_kind(e: pcap_file::PcapError) -> CaptureErrorKind {
    match e {
        pcap_file::PcapError::IoError(io) => CaptureErrorKind::Write(io),
        other => CaptureErrorKind::Malformed(other.to_string()),
    }
}
