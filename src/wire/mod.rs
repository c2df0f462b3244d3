//! Decoding and crafting of frames. Pure: no I/O, no clock (see the crate docs).

pub mod checksum;
pub mod craft;
pub mod decode;
pub mod flow;
pub mod gso;
pub mod ipv6_ext;
pub mod link;
pub mod linktype;
pub mod mac;
pub mod packet;
pub mod segment;
pub mod seq;
pub mod tcp_flags;
pub mod tcp_frame;
mod tcp_layout;
pub mod tcp_options;
pub mod vlan;
pub mod vnet;

pub use decode::decode;
pub use linktype::LinkType;
pub use packet::Packet;
pub use segment::{TcpFlags, TcpSegment};

/// Why a frame could not be decoded completely. The layers before the damage stay decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The frame ended inside a header.
    #[error("truncated {what}: {got} of {need} bytes")]
    Truncated { what: &'static str, got: usize, need: usize },
    /// A header field holds an impossible value.
    #[error("{0}")]
    Invalid(String),
}
