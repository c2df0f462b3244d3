//! Printers. Every output mode implements [`Sink`]; the engine feeds each decoded packet that passed the filter.

pub mod json;
pub mod names;
pub mod progress;
pub mod relative_seq;
pub mod summary;
pub mod text;

use std::io;

use crate::capture::Frame;
use crate::wire::Packet;

/// One packet as a printer sees it.
pub struct PacketRecord<'a> {
    /// 1-based number among the packets read, as tcpdump's `-#` and Wireshark's frame.number count them.
    pub number: u64,
    pub frame: &'a Frame<'a>,
    pub packet: &'a Packet<'a>,
}

pub trait Sink {
    fn packet(&mut self, record: &PacketRecord<'_>) -> io::Result<()>;
    /// Flushes buffered output.
    fn finish(&mut self) -> io::Result<()>;
}

/// `-q`: print no packet lines.
pub struct QuietSink;

impl Sink for QuietSink {
    fn packet(&mut self, _record: &PacketRecord<'_>) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}
