//! The staging both file writers share (`writer.rs` for pcap, `pcapng_writer.rs` for pcapng): whole records or
//! blocks collect in memory and reach the sink only whole, one `write` at a time, so a reader of the file, or the
//! file left behind when synscope is killed, always ends on a record boundary (a buffered writer could flush
//! between a record's header and its data and leave a truncated record behind).

use std::io::Write;

use super::error::{CaptureError, CaptureErrorKind};

/// Staged bytes that trigger a write to the sink.
const STAGE_BYTES: usize = 1 << 16;

pub struct Staged<W: Write> {
    /// The file's name, for errors.
    name: String,
    sink: W,
    /// Whole records not yet written to `sink`.
    bytes: Vec<u8>,
}

impl<W: Write> Staged<W> {
    pub fn new(name: &str, sink: W) -> Self {
        Staged { name: name.to_string(), sink, bytes: Vec::with_capacity(STAGE_BYTES) }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the next whole record goes; call [`Staged::record_done`] after it.
    pub fn bytes(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// A whole record was staged: writes the stage out once it has grown past its size.
    pub fn record_done(&mut self) -> Result<(), CaptureError> {
        if self.bytes.len() >= STAGE_BYTES {
            self.write_staged()?;
        }
        Ok(())
    }

    fn write_staged(&mut self) -> Result<(), CaptureError> {
        if !self.bytes.is_empty() {
            self.sink.write_all(&self.bytes).map_err(|e| self.write_error(e))?;
            self.bytes.clear();
        }
        Ok(())
    }

    fn write_error(&self, e: std::io::Error) -> CaptureError {
        CaptureError::new(&self.name, None, CaptureErrorKind::Write(e))
    }

    /// Writes everything staged to the sink now, and flushes it.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        self.write_staged()?;
        self.sink.flush().map_err(|e| self.write_error(e))
    }

    /// Flushes and returns the sink.
    pub fn finish(mut self) -> Result<W, CaptureError> {
        self.flush()?;
        Ok(self.sink)
    }
}
