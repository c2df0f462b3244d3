//! The companion echo listener and its clients: the seed tutorial's TCP/UDP protocol (`../shared/seed/`), which real
//! peers we did not write speak, so every byte here must match theirs.
//!
//! - TCP: on accept the server sends `Welcome!`; it answers each message `M` with `Hello, M!`; it closes on `exit` or
//!   EOF.
//! - UDP: each datagram `M` is answered with `Hello, M!` (no greeting, no `exit`).
//!
//! The protocol has **no framing**: like the seed server, one `recv` of up to [`RECV_BUFFER`] bytes is one message.
//! It works because each side waits for the other's answer before sending again; two messages sent back to back could
//! arrive as one. Clients here therefore never pipeline.
//!
//! Layout: the pure protocol and its small helpers live here and are unit-tested in-module; sockets and threads live
//! in [`tcp_server`], [`udp_server`], [`client`] and [`prober`].

pub mod bulk;
pub mod client;
pub mod discard;
pub mod prober;
pub mod tcp_server;
pub mod udp_server;

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};

/// What the TCP server sends as soon as it accepts a connection.
pub const GREETING: &[u8] = b"Welcome!";

/// The message after which the TCP server closes (compared exactly, as the seed's `data.decode() == 'exit'` does).
pub const EXIT: &[u8] = b"exit";

/// The seed's `recv(1024)`: one read of at most this many bytes is one message.
pub const RECV_BUFFER: usize = 1024;

/// What the seed's TCP client sends.
pub const DEFAULT_TCP_MESSAGES: [&str; 3] = ["Lambda", "Bond", "alpha"];

/// What the seed's UDP client sends.
pub const DEFAULT_UDP_MESSAGES: [&str; 3] = ["Michael", "Tracy", "Sarah"];

/// The answer to one message: `Hello, M!`. Bytes are echoed as they came; the seed decodes UTF-8 first, which gives
/// the same bytes for every valid message (and kills its connection thread on invalid ones, which we do not copy).
pub fn hello(message: &[u8]) -> Vec<u8> {
    let mut reply = Vec::with_capacity(message.len() + 8);
    reply.extend_from_slice(b"Hello, ");
    reply.extend_from_slice(message);
    reply.push(b'!');
    reply
}

/// The TCP server's answer to what one `recv` returned: `None` means close the connection (EOF is an empty read, or
/// the client said `exit`).
pub fn reply_for(message: &[u8]) -> Option<Vec<u8>> {
    if message.is_empty() || message == EXIT { None } else { Some(hello(message)) }
}

/// Which flag chose the address that failed to bind, so the error can say how to pick another.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    fn flag(self) -> &'static str {
        match self {
            Proto::Tcp => "--tcp",
            Proto::Udp => "--udp",
        }
    }
}

/// One line that says why `addr` could not be bound and what to do about it (DESIGN.md: one line, no backtrace).
pub fn bind_error_line(proto: Proto, addr: SocketAddr, err: &io::Error) -> String {
    let flag = proto.flag();
    let why = match err.kind() {
        io::ErrorKind::AddrInUse => {
            format!("address already in use (another process holds the port; pick another with {flag})")
        }
        io::ErrorKind::PermissionDenied => format!(
            "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE: use sudo, \
             setcap cap_net_bind_service+ep, or a port of 1024 or more with {flag})"
        ),
        io::ErrorKind::AddrNotAvailable => {
            format!("address not available (no local interface has this address; try 127.0.0.1 or 0.0.0.0 with {flag})")
        }
        _ => err.to_string(),
    };
    format!("cannot listen on {addr}: {why}")
}

/// Counters a listener reports when it stops. Everything that exceeds a cap is counted (DESIGN.md principle 3).
#[derive(Debug, Default)]
pub struct Stats {
    /// TCP connections accepted and served.
    pub accepted: AtomicU64,
    /// TCP connections accepted and closed at once because `--max-conns` were already open (or no thread could start).
    pub refused: AtomicU64,
    /// TCP connections closed because the client stayed silent for `--idle-timeout`.
    pub idle_timeouts: AtomicU64,
    /// TCP messages answered with `Hello, M!`.
    pub tcp_answered: AtomicU64,
    /// UDP datagrams answered.
    pub udp_answered: AtomicU64,
    /// Connections or datagrams that ended on a socket error (reset, send failure).
    pub errors: AtomicU64,
    /// Bytes read and thrown away by the discard service (`--discard`, RFC 863).
    pub discarded_bytes: AtomicU64,
}

impl Stats {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let (tcp, udp) = (get(&self.tcp_answered), get(&self.udp_answered));
        write!(
            f,
            "{} connections accepted, {} messages answered (tcp {tcp}, udp {udp}), {} refused (max-conns), \
             {} idle timeouts, {} socket errors",
            get(&self.accepted),
            tcp + udp,
            get(&self.refused),
            get(&self.idle_timeouts),
            get(&self.errors),
        )?;
        let discarded = get(&self.discarded_bytes);
        if discarded > 0 {
            write!(f, ", {discarded} bytes discarded")?;
        }
        Ok(())
    }
}

/// Prints one line to stdout and flushes it, as the seed's `print(..., flush=True)`. A closed stdout is ignored: the
/// listener keeps serving when its log reader goes away.
pub fn say(line: fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    let _ = out.write_fmt(line).and_then(|_| out.write_all(b"\n")).and_then(|_| out.flush());
}

/// Converts a packet-time span from the CLI into the std type sockets take.
pub fn std_duration(d: crate::time::Duration) -> std::time::Duration {
    std::time::Duration::from_nanos(d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tests for the TCP exchange.

    #[test]
    fn each_message_is_answered_with_hello() {
        assert_eq!(reply_for(b"Lambda").as_deref(), Some(&b"Hello, Lambda!"[..]));
        assert_eq!(reply_for(b"alpha").as_deref(), Some(&b"Hello, alpha!"[..]));
    }

    #[test]
    fn exit_and_eof_close_the_connection() {
        assert_eq!(reply_for(b"exit"), None);
        assert_eq!(reply_for(b""), None);
    }

    #[test]
    fn exit_is_matched_exactly_as_the_seed_does() {
        // The seed compares the whole recv to 'exit': a trailing newline (nc) is a message like any other.
        assert_eq!(reply_for(b"exit\n").as_deref(), Some(&b"Hello, exit\n!"[..]));
        assert_eq!(reply_for(b"EXIT").as_deref(), Some(&b"Hello, EXIT!"[..]));
    }

    #[test]
    fn non_utf8_bytes_are_echoed_not_rejected() {
        assert_eq!(hello(&[0xff, 0x00]), b"Hello, \xff\x00!".to_vec());
    }

    #[test]
    fn greeting_is_the_seeds() {
        assert_eq!(GREETING, b"Welcome!");
    }

    // Tests for bind errors.

    #[test]
    fn a_busy_port_says_who_and_how_to_move() {
        let addr: SocketAddr = "127.0.0.1:9999".parse().unwrap();
        let line = bind_error_line(Proto::Tcp, addr, &io::Error::from(io::ErrorKind::AddrInUse));
        assert_eq!(
            line,
            "cannot listen on 127.0.0.1:9999: address already in use (another process holds the port; pick another \
             with --tcp)"
        );
        let line = bind_error_line(Proto::Udp, addr, &io::Error::from(io::ErrorKind::AddrInUse));
        assert!(line.ends_with("with --udp)"), "{line}");
    }

    #[test]
    fn a_privileged_port_names_the_capability() {
        let addr: SocketAddr = "0.0.0.0:80".parse().unwrap();
        let line = bind_error_line(Proto::Tcp, addr, &io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(line.contains("CAP_NET_BIND_SERVICE") && !line.contains('\n'), "{line}");
    }

    #[test]
    fn stats_line_sums_tcp_and_udp() {
        let stats = Stats::default();
        Stats::bump(&stats.accepted);
        Stats::bump(&stats.tcp_answered);
        Stats::bump(&stats.udp_answered);
        let line = stats.to_string();
        assert!(line.starts_with("1 connections accepted, 2 messages answered (tcp 1, udp 1), 0 refused"), "{line}");
    }
}
