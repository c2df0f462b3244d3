//! The edges that touch packets: capture files in, pcap and pcapng files out, and the source thread that feeds the engine.

pub mod error;
pub mod file;
pub mod frame;
pub mod inject;
pub mod interfaces;
pub mod live;
pub mod output_file;
pub mod pacing;
pub mod pcapng;
pub mod pcapng_writer;
pub mod read_buffer;
pub mod source;
mod staged;
pub mod tx;
pub mod writer;

pub use error::CaptureError;
pub use file::{CaptureReader, Precision};
pub use frame::{Frame, FrameBatch, RawStamp};
