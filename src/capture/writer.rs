//! pcap files out (`-w`): every frame keeps its original timestamp, wire length and link type.

use std::fs::File;
use std::io::{BufWriter, Write};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use super::error::{CaptureError, CaptureErrorKind};
use super::file::Precision;
use super::frame::Frame;
use crate::wire::LinkType;

/// Writes a classic pcap file. The link type and precision are fixed by the first frame, since pcap has one per
/// file; a frame of another link type is refused with an error rather than written wrongly.
pub struct PcapFileWriter<W: Write> {
    name: String,
    precision: Precision,
    sink: Option<W>,
    writer: Option<(PcapWriter<W>, LinkType)>,
}

/// A snap length that fits any record we read (pcap's own MAXIMUM_SNAPLEN).
const SNAPLEN: u32 = 262_144;

impl PcapFileWriter<BufWriter<File>> {
    pub fn create(path: &str, precision: Precision) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(|e| CaptureError::new(path, None, CaptureErrorKind::Open(e)))?;
        Ok(PcapFileWriter::new(path, BufWriter::with_capacity(1 << 16, file), precision))
    }
}

impl<W: Write> PcapFileWriter<W> {
    pub fn new(name: &str, sink: W, precision: Precision) -> Self {
        PcapFileWriter { name: name.to_string(), precision, sink: Some(sink), writer: None }
    }

    fn fail(&self, kind: CaptureErrorKind) -> CaptureError {
        CaptureError::new(&self.name, None, kind)
    }

    pub fn write(&mut self, frame: &Frame<'_>) -> Result<(), CaptureError> {
        if self.writer.is_none() {
            self.open(frame.link_type)?;
        }
        let Some((writer, link)) = self.writer.as_mut() else { unreachable!("writer opened above") };
        if *link != frame.link_type {
            let msg = format!(
                "cannot mix link type {} into a pcap of link type {}; filter to one interface first",
                frame.link_type, link
            );
            return Err(CaptureError::new(&self.name, None, CaptureErrorKind::Malformed(msg)));
        }
        let ts = std::time::Duration::new(frame.ts.secs(), frame.ts.subsec_nanos());
        let data = &frame.data[..frame.data.len().min(SNAPLEN as usize)];
        let packet = PcapPacket::new(ts, frame.orig_len.max(data.len() as u32), data);
        writer.write_packet(&packet).map(|_| ()).map_err(|e| CaptureError::new(&self.name, None, io_kind(e)))
    }

    fn open(&mut self, link_type: LinkType) -> Result<(), CaptureError> {
        let header = PcapHeader {
            version_major: 2,
            version_minor: 4,
            ts_correction: 0,
            ts_accuracy: 0,
            snaplen: SNAPLEN,
            datalink: DataLink::from(link_type.linktype_value()),
            ts_resolution: match self.precision {
                Precision::Micro => TsResolution::MicroSecond,
                Precision::Nano => TsResolution::NanoSecond,
            },
            // Always little-endian, so generated files are byte-identical on every host.
            endianness: Endianness::Little,
        };
        let sink = self.sink.take().ok_or_else(|| self.fail(CaptureErrorKind::Malformed("writer closed".into())))?;
        let writer = PcapWriter::with_header(sink, header).map_err(|e| self.fail(io_kind(e)))?;
        self.writer = Some((writer, link_type));
        Ok(())
    }

    /// Flushes and returns the sink. A writer that never saw a frame still writes a valid, empty pcap (as
    /// tcpdump does), with the Ethernet link type since no frame named another.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        if self.writer.is_none() {
            self.open(LinkType::Ethernet)?;
        }
        let Some((writer, _)) = self.writer else { unreachable!("writer opened above") };
        let mut sink = writer.into_writer();
        sink.flush().map_err(|e| CaptureError::new(&self.name, None, CaptureErrorKind::Write(e)))?;
        Ok(sink)
    }
}

fn io_kind(e: pcap_file::PcapError) -> CaptureErrorKind {
    match e {
        pcap_file::PcapError::IoError(io) => CaptureErrorKind::Write(io),
        other => CaptureErrorKind::Malformed(other.to_string()),
    }
}
