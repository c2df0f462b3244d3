//! A TCP segment as the tracker and the printers see it (RFC 9293 §3.1).

use super::seq::SeqNumber;
use super::tcp_options::TcpOptions;
// The flags live in a leaf of their own, which `tcp_options` also uses (an MPTCP option reads by SYN and ACK);
// they are named here too, where every user of a segment already looks.
pub use super::tcp_flags::{FlagLetters, TcpFlags};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub urgent: u16,
    pub checksum: u16,
    /// Header length in bytes (data offset × 4).
    pub header_len: u8,
    /// The raw option bytes; parse them with `options()`.
    pub options_raw: &'a [u8],
    /// Payload length as the IP header announces it, even when the capture cut the frame short.
    pub payload_len: u32,
    /// The payload bytes actually captured.
    pub payload: &'a [u8],
}

impl<'a> TcpSegment<'a> {
    /// The sequence number as a [`SeqNumber`], for arithmetic modulo 2^32 (the field stays a plain `u32` for the
    /// printers, which show it as sent).
    pub fn seq_number(&self) -> SeqNumber {
        SeqNumber(self.seq)
    }

    /// The acknowledgement number as a [`SeqNumber`].
    pub fn ack_number(&self) -> SeqNumber {
        SeqNumber(self.ack)
    }

    pub fn options(&self) -> TcpOptions<'a> {
        TcpOptions::new(self.options_raw)
    }
}
