//! The TCP echo server: the seed's `tcp_server.py` without its 1 s sleep, with bounded resources.
//!
//! - One thread per connection, as the seed does, but at most `max_conns` of them: a connection beyond the cap is
//!   accepted and closed at once (the client reads EOF without a greeting) and counted as refused. Accepting and
//!   closing, rather than leaving it in the backlog, keeps the kernel's accept queue short and tells the client now.
//! - Each connection has an idle timeout (`SO_RCVTIMEO`/`SO_SNDTIMEO`), so a silent or non-reading client cannot pin
//!   a thread forever.
//! - The accept loop wakes every [`POLL`] (Linux honours `SO_RCVTIMEO` on `accept`) to check the stop flag set by
//!   SIGINT/SIGTERM; on stop it shuts every open connection down and joins their threads, so each prints its closing
//!   line before the process exits.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{GREETING, Proto, RECV_BUFFER, Stats, bind_error_line, reply_for, say};

/// How often a blocked `accept` wakes to look at the stop flag.
pub const POLL: Duration = Duration::from_millis(100);

/// Stack of a connection thread: it holds one 1 KiB buffer, so the default 2 MiB would only waste address space when
/// `--max-conns` threads are open.
const CONN_STACK: usize = 128 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct TcpConfig {
    pub addr: SocketAddr,
    /// Passed to listen(2): the kernel's accept queue length (capped by `net.core.somaxconn`).
    pub backlog: i32,
    pub max_conns: usize,
    pub idle_timeout: Duration,
}

/// Creates the listening socket as the seed does (SO_REUSEADDR, bind, listen) but with our backlog. Errors are one
/// line that names the address and the way out.
pub fn bind(config: &TcpConfig) -> anyhow::Result<TcpListener> {
    let setup = || -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(config.addr), Type::STREAM, Some(Protocol::TCP))?;
        // Lets a restarted listener bind while old connections sit in TIME-WAIT; on Linux it never lets two
        // listeners share a port, so a busy port still fails with EADDRINUSE.
        socket.set_reuse_address(true)?;
        socket.bind(&config.addr.into())?;
        socket.listen(config.backlog)?;
        socket.set_read_timeout(Some(POLL))?;
        Ok(socket.into())
    };
    setup().map_err(|err| anyhow::anyhow!(bind_error_line(Proto::Tcp, config.addr, &err)))
}

/// The open connections: clones of their sockets (to shut them down on stop) under a cap.
#[derive(Default)]
struct Open {
    sockets: Mutex<HashMap<u64, TcpStream>>,
}

impl Open {
    fn len(&self) -> usize {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    fn insert(&self, id: u64, stream: TcpStream) {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner).insert(id, stream);
    }

    fn remove(&self, id: u64) {
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
    }

    fn shutdown_all(&self) {
        for stream in self.sockets.lock().unwrap_or_else(PoisonError::into_inner).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// Serves until `stop` is set. Returns after every connection thread has finished.
pub fn serve(listener: TcpListener, config: TcpConfig, stop: &AtomicBool, stats: &Arc<Stats>) {
    let open = Arc::new(Open::default());
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    let mut next_id = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(err) if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => {
                // ECONNABORTED, EMFILE and friends: the listener itself is fine; count, breathe, go on.
                Stats::bump(&stats.errors);
                eprintln!("synscope: accept failed: {err}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        threads.retain(|t| !t.is_finished());
        if open.len() >= config.max_conns {
            Stats::bump(&stats.refused);
            say(format_args!("Refused connection from {peer}: {} connections open (--max-conns).", config.max_conns));
            drop(stream);
            continue;
        }
        let Ok(clone) = stream.try_clone() else {
            Stats::bump(&stats.errors);
            continue;
        };
        let id = next_id;
        next_id += 1;
        open.insert(id, clone);
        let (conn_open, conn_stats) = (Arc::clone(&open), Arc::clone(stats));
        let spawned =
            std::thread::Builder::new().name(format!("conn-{peer}")).stack_size(CONN_STACK).spawn(move || {
                handle(stream, peer, config.idle_timeout, &conn_stats);
                conn_open.remove(id);
            });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(err) => {
                // Out of threads is a cap the system chose: refuse like --max-conns, never panic.
                open.remove(id);
                Stats::bump(&stats.refused);
                eprintln!("synscope: cannot start a thread for {peer}: {err}; connection refused");
            }
        }
    }
    open.shutdown_all();
    for thread in threads {
        let _ = thread.join();
    }
}

/// One connection: greet, answer each recv, close on `exit`, EOF, idle timeout or error.
fn handle(mut stream: TcpStream, peer: SocketAddr, idle: Duration, stats: &Stats) {
    Stats::bump(&stats.accepted);
    say(format_args!("Accept new connection from {peer}..."));
    // Accepted sockets inherit the listener's short SO_RCVTIMEO on Linux; replace it with the idle timeout.
    let ready = stream
        .set_read_timeout(Some(idle))
        .and_then(|_| stream.set_write_timeout(Some(idle)))
        .and_then(|_| stream.write_all(GREETING));
    if let Err(err) = ready {
        note_error(&err, stats);
    } else {
        let mut buf = [0u8; RECV_BUFFER];
        loop {
            // No framing: whatever one read returns is one message (see the module docs of `listener`).
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => {
                    note_error(&err, stats);
                    break;
                }
            };
            let Some(reply) = reply_for(&buf[..n]) else { break };
            if let Err(err) = stream.write_all(&reply) {
                note_error(&err, stats);
                break;
            }
            Stats::bump(&stats.tcp_answered);
        }
    }
    drop(stream);
    say(format_args!("Connection from {peer} closed."));
}

fn note_error(err: &io::Error, stats: &Stats) {
    if matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) {
        Stats::bump(&stats.idle_timeouts);
    } else {
        Stats::bump(&stats.errors);
    }
}
