//! The Discard Protocol (RFC 863) over TCP, beside the echo listener: it reads whatever a client sends and throws it
//! away, so `synscope connect --bulk` can measure how fast bulk data crosses a path (a guard, a bridge) without the
//! echo protocol's 1 KB messages setting the pace. When the client closes its side, the server closes too: the client
//! then knows every byte it sent was read.

use std::io::{self, Read};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Stats;

/// Bytes per read: large, so the reader keeps up with a 10 Gbit/s sender.
const READ_BYTES: usize = 256 << 10;
/// Connections read at once; more are closed at once and counted as refused.
const MAX_CONNS: usize = 64;
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(30);

/// Serves until `stop` is set; returns after every connection's thread has finished. `listener` must have a read
/// timeout (as [`super::tcp_server::bind`] sets), so the stop flag is seen.
pub fn serve(listener: TcpListener, stop: &AtomicBool, stats: &Arc<Stats>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(err) => {
                Stats::bump(&stats.errors);
                eprintln!("synscope: discard: accept failed: {err}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        threads.retain(|t| !t.is_finished());
        if threads.len() >= MAX_CONNS {
            Stats::bump(&stats.refused);
            continue;
        }
        let conn_stats = Arc::clone(stats);
        match std::thread::Builder::new().name(format!("discard-{peer}")).spawn(move || discard(stream, &conn_stats)) {
            Ok(thread) => threads.push(thread),
            Err(_) => Stats::bump(&stats.refused),
        }
    }
    for thread in threads {
        let _ = thread.join();
    }
}

/// Reads to the end and closes.
fn discard(mut stream: TcpStream, stats: &Stats) {
    Stats::bump(&stats.accepted);
    let _ = stream.set_read_timeout(Some(IDLE));
    let mut buffer = vec![0u8; READ_BYTES];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                stats.discarded_bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
                    Stats::bump(&stats.idle_timeouts);
                } else {
                    Stats::bump(&stats.errors);
                }
                break;
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}
