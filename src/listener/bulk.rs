//! `synscope connect --bulk D`: one TCP connection to a discard service (RFC 863, `synscope listen --discard`),
//! sending as fast as the path takes for `D`, then closing its side and waiting for the server to close: only then
//! has every byte been read, and the clock stops. The rate is the bytes over that whole time.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Bytes per write.
const WRITE_BYTES: usize = 256 << 10;
/// A send or the final wait that makes no progress for this long ends the transfer as stalled.
const STALL: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Serialize)]
pub struct BulkReport {
    pub target: String,
    pub bytes: u64,
    pub seconds: f64,
    pub gbit_per_s: f64,
}

impl BulkReport {
    pub fn text(&self) -> String {
        format!(
            "bulk to {}: {} bytes in {:.3} s, {:.3} Gbit/s\n",
            self.target, self.bytes, self.seconds, self.gbit_per_s
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BulkError {
    #[error("cannot connect to {0}: {1}")]
    Connect(SocketAddr, io::Error),
    #[error("the transfer to {target} stalled after {bytes} bytes: {source}")]
    Stalled { target: SocketAddr, bytes: u64, source: io::Error },
    #[error("{0} sent data back: it is not a discard service (synscope listen --discard)")]
    NotDiscard(SocketAddr),
}

/// Sends for `duration`, then waits for the server to close.
pub fn run(target: SocketAddr, duration: Duration) -> Result<BulkReport, BulkError> {
    let mut stream = TcpStream::connect_timeout(&target, STALL).map_err(|e| BulkError::Connect(target, e))?;
    let stalled = |bytes: u64| move |source| BulkError::Stalled { target, bytes, source };
    stream.set_write_timeout(Some(STALL)).map_err(stalled(0))?;
    stream.set_read_timeout(Some(STALL)).map_err(stalled(0))?;
    // Lowercase letters: bytes anyone reading a capture of the transfer can tell apart from headers.
    let block: Vec<u8> = (0..WRITE_BYTES).map(|i| b'a' + (i % 26) as u8).collect();
    let started = Instant::now();
    let mut bytes = 0u64;
    while started.elapsed() < duration {
        match stream.write(&block) {
            Ok(n) => bytes += n as u64,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(stalled(bytes)(err)),
        }
    }
    stream.shutdown(Shutdown::Write).map_err(stalled(bytes))?;
    let mut rest = [0u8; 64];
    loop {
        match stream.read(&mut rest) {
            Ok(0) => break,
            Ok(_) => return Err(BulkError::NotDiscard(target)),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(stalled(bytes)(err)),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(BulkReport { target: target.to_string(), bytes, seconds, gbit_per_s: bytes as f64 * 8.0 / seconds / 1e9 })
}
