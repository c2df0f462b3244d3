//! Printers. Every output mode implements [`Sink`]; the engine feeds each decoded packet that passed the filter.

pub mod app;
pub mod connlog;
pub mod connlog_thread;
pub mod fast;
pub mod icmp_text;
pub mod ipsec_text;
pub mod ipv6_ext_text;
pub mod json;
pub mod link_header;
pub mod link_prefix;
pub mod names;
pub mod pppoe;
pub mod printer_thread;
pub mod progress;
pub mod relative_seq;
pub mod summary;
pub mod text;
pub mod time_column;

use std::io;

use crate::capture::Frame;
use crate::track::TrackerEvent;
use crate::track::annotate::Annotation;
use crate::wire::Packet;

/// One packet as a printer sees it.
pub struct PacketRecord<'a> {
    /// 1-based number among the packets read, as tcpdump's `-#` and Wireshark's frame.number count them.
    pub number: u64,
    pub frame: &'a Frame<'a>,
    pub packet: &'a Packet<'a>,
    /// What the tracker says about this packet (empty when tracking is off).
    pub annotations: &'a [Annotation],
}

pub trait Sink {
    fn packet(&mut self, record: &PacketRecord<'_>) -> io::Result<()>;
    /// A tracker event that belongs to no packet: a half-open timeout, a flood starting or ending.
    fn event(&mut self, _event: &TrackerEvent) -> io::Result<()> {
        Ok(())
    }
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
