//! The `-w` file: classic pcap, or pcapng when the name ends in `.pcapng`. pcapng keeps each packet's annotations
//! as its comment; pcap has no place for them (a record is a header and the bytes, nothing more).

use std::fs::File;

use super::error::CaptureError;
use super::file::Precision;
use super::frame::Frame;
use super::pcapng_writer::PcapngFileWriter;
use super::writer::PcapFileWriter;
use crate::track::annotate::Annotation;
use crate::wire::LinkType;

pub enum OutputFile {
    Pcap(PcapFileWriter<File>),
    Pcapng(PcapngFileWriter<File>),
}

impl OutputFile {
    /// Opens `path` for writing, as pcapng when its name ends in `.pcapng` (any case), else as pcap.
    pub fn create(path: &str, precision: Precision) -> Result<Self, CaptureError> {
        Ok(if is_pcapng_name(path) {
            OutputFile::Pcapng(PcapngFileWriter::create(path, precision)?)
        } else {
            OutputFile::Pcap(PcapFileWriter::create(path, precision)?)
        })
    }

    /// Writes `frame`; in pcapng, with `annotations` (as the text output prints them, space-separated) as its
    /// comment when there are any.
    pub fn write(&mut self, frame: &Frame<'_>, annotations: &[Annotation]) -> Result<(), CaptureError> {
        match self {
            OutputFile::Pcap(writer) => writer.write(frame),
            OutputFile::Pcapng(writer) if annotations.is_empty() => writer.write(frame, None),
            OutputFile::Pcapng(writer) => {
                let comment = annotations.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
                writer.write(frame, Some(&comment))
            }
        }
    }

    /// Puts the file's header (pcap) or section and first interface (pcapng) in place before any frame.
    pub fn start(&mut self, link_type: LinkType) -> Result<(), CaptureError> {
        match self {
            OutputFile::Pcap(writer) => writer.start(link_type),
            OutputFile::Pcapng(writer) => writer.start(link_type),
        }
    }

    pub fn flush(&mut self) -> Result<(), CaptureError> {
        match self {
            OutputFile::Pcap(writer) => writer.flush(),
            OutputFile::Pcapng(writer) => writer.flush(),
        }
    }

    pub fn finish(self) -> Result<(), CaptureError> {
        match self {
            OutputFile::Pcap(writer) => writer.finish().map(drop),
            OutputFile::Pcapng(writer) => writer.finish().map(drop),
        }
    }
}

fn is_pcapng_name(path: &str) -> bool {
    path.rsplit_once('.').is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("pcapng"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_chooses_the_format() {
        assert!(is_pcapng_name("out.pcapng"));
        assert!(is_pcapng_name("/tmp/x/OUT.PCAPNG"));
        assert!(!is_pcapng_name("out.pcap"));
        assert!(!is_pcapng_name("pcapng"));
        assert!(!is_pcapng_name("out.pcapng.gz"));
    }
}
