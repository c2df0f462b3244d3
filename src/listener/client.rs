//! The seed's clients (`tcp_client.py`, `udp_client.py`) as building blocks: `synscope connect` prints what they
//! return, and the prober runs many of them. Every failure is classified ([`Cause`]) so the prober can count it and
//! `connect` can print one line for it.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::{EXIT, RECV_BUFFER};

/// Why a session failed, in the buckets the prober reports.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Cause {
    /// RST in answer to the SYN (nothing listens), or ICMP port unreachable for UDP.
    Refused,
    /// Connect or a reply took longer than allowed.
    Timeout,
    /// The peer reset or aborted an established connection.
    Reset,
    /// The peer answered, but not as the seed's protocol says (wrong bytes, or closed early).
    ProtocolMismatch,
    /// Anything else (no route, address family, ...).
    Other,
}

impl Cause {
    pub const ALL: [Cause; 5] = [Cause::Refused, Cause::Timeout, Cause::Reset, Cause::ProtocolMismatch, Cause::Other];

    pub fn name(self) -> &'static str {
        match self {
            Cause::Refused => "refused",
            Cause::Timeout => "timeout",
            Cause::Reset => "reset",
            Cause::ProtocolMismatch => "protocol mismatch",
            Cause::Other => "other",
        }
    }

    /// Buckets a socket error. Linux reports an expired SO_RCVTIMEO as EAGAIN (`WouldBlock`).
    pub fn of(err: &io::Error) -> Cause {
        match err.kind() {
            io::ErrorKind::ConnectionRefused => Cause::Refused,
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Cause::Timeout,
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::BrokenPipe => {
                Cause::Reset
            }
            io::ErrorKind::UnexpectedEof => Cause::ProtocolMismatch,
            _ => Cause::Other,
        }
    }
}

/// A failed step of a session: its cause and a one-line explanation.
#[derive(Debug)]
pub struct SessionError {
    pub cause: Cause,
    pub message: String,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SessionError {}

impl SessionError {
    pub fn mismatch(message: String) -> Self {
        SessionError { cause: Cause::ProtocolMismatch, message }
    }
}

/// How long each step may take: `per_step` for each connect/recv/send, and never past `deadline` when one is set
/// (the prober bounds a whole session; `connect` bounds each step).
#[derive(Copy, Clone, Debug)]
pub struct Budget {
    pub per_step: Duration,
    pub deadline: Option<Instant>,
}

impl Budget {
    pub fn per_step(per_step: Duration) -> Self {
        Budget { per_step, deadline: None }
    }

    pub fn session(total: Duration) -> Self {
        Budget { per_step: total, deadline: Some(Instant::now() + total) }
    }

    /// Time left for the next step; `None` when the deadline has passed.
    fn next(&self) -> Option<Duration> {
        let left = match self.deadline {
            Some(deadline) => deadline.saturating_duration_since(Instant::now()).min(self.per_step),
            None => self.per_step,
        };
        // Zero means "block forever" to set_read_timeout and is refused by connect_timeout.
        (!left.is_zero()).then_some(left)
    }

    fn expired(&self, what: &str) -> SessionError {
        SessionError { cause: Cause::Timeout, message: format!("{what}: timed out") }
    }
}

/// A TCP session in the seed's protocol, one step at a time.
pub struct TcpClient {
    stream: TcpStream,
    peer: SocketAddr,
    budget: Budget,
}

impl TcpClient {
    /// Connects; the returned duration is the connect latency (SYN to established, as the client sees it).
    pub fn connect(peer: SocketAddr, budget: Budget) -> Result<(Self, Duration), SessionError> {
        let what = format!("cannot connect to {peer}");
        let timeout = budget.next().ok_or_else(|| budget.expired(&what))?;
        let started = Instant::now();
        let stream = TcpStream::connect_timeout(&peer, timeout).map_err(|err| {
            let cause = Cause::of(&err);
            let message = match cause {
                Cause::Refused => format!("{what}: connection refused (nothing listens there; start synscope listen)"),
                Cause::Timeout => format!("{what}: timed out after {timeout:?}"),
                _ => format!("{what}: {err}"),
            };
            SessionError { cause, message }
        })?;
        let latency = started.elapsed();
        // The seed's protocol is request/response with tiny messages: Nagle would only add delay.
        let _ = stream.set_nodelay(true);
        Ok((TcpClient { stream, peer, budget }, latency))
    }

    /// One recv of up to 1024 bytes, as the seed's client does. An orderly close before the answer is a mismatch:
    /// the seed's server never closes while a message is pending.
    pub fn recv(&mut self, waiting_for: &str) -> Result<Vec<u8>, SessionError> {
        let what = format!("no {waiting_for} from {}", self.peer);
        let timeout = self.budget.next().ok_or_else(|| self.budget.expired(&what))?;
        self.stream.set_read_timeout(Some(timeout)).map_err(|err| self.failed(&what, &err))?;
        let mut buf = [0u8; RECV_BUFFER];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(SessionError::mismatch(format!("{what}: the peer closed the connection"))),
                Ok(n) => return Ok(buf[..n].to_vec()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) if Cause::of(&err) == Cause::Timeout => {
                    return Err(SessionError { cause: Cause::Timeout, message: format!("{what} within {timeout:?}") });
                }
                Err(err) => return Err(self.failed(&what, &err)),
            }
        }
    }

    pub fn send(&mut self, message: &[u8]) -> Result<(), SessionError> {
        let what = format!("cannot send to {}", self.peer);
        let timeout = self.budget.next().ok_or_else(|| self.budget.expired(&what))?;
        self.stream
            .set_write_timeout(Some(timeout))
            .and_then(|_| self.stream.write_all(message))
            .map_err(|err| self.failed(&what, &err))
    }

    /// Sends one message and returns the one recv that answers it.
    pub fn exchange(&mut self, message: &[u8]) -> Result<Vec<u8>, SessionError> {
        self.send(message)?;
        self.recv(&format!("reply to '{}'", String::from_utf8_lossy(message)))
    }

    /// Says `exit` and closes, as the seed's client ends.
    pub fn finish(mut self) -> Result<(), SessionError> {
        self.send(EXIT)?;
        let _ = self.stream.shutdown(Shutdown::Write);
        Ok(())
    }

    fn failed(&self, what: &str, err: &io::Error) -> SessionError {
        SessionError { cause: Cause::of(err), message: format!("{what}: {err}") }
    }
}

/// The seed's UDP client: one datagram out, one back, each reply awaited for `timeout` (the seed's `settimeout(2)`).
pub struct UdpClient {
    socket: UdpSocket,
    peer: SocketAddr,
    timeout: Duration,
}

impl UdpClient {
    /// A socket connected to `peer`: only its datagrams are received, and an ICMP port unreachable surfaces as
    /// "connection refused" instead of a silent 2 s wait.
    pub fn new(peer: SocketAddr, timeout: Duration) -> Result<Self, SessionError> {
        let local: SocketAddr = if peer.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let setup = || -> io::Result<UdpSocket> {
            let socket = UdpSocket::bind(local)?;
            socket.connect(peer)?;
            socket.set_read_timeout(Some(timeout.max(Duration::from_millis(1))))?;
            Ok(socket)
        };
        let socket = setup().map_err(|err| SessionError {
            cause: Cause::of(&err),
            message: format!("cannot reach udp {peer}: {err}"),
        })?;
        Ok(UdpClient { socket, peer, timeout })
    }

    pub fn exchange(&mut self, message: &[u8]) -> Result<Vec<u8>, SessionError> {
        let peer = self.peer;
        let label = String::from_utf8_lossy(message).into_owned();
        let fail = |err: io::Error| {
            let cause = Cause::of(&err);
            let message = match cause {
                Cause::Refused => format!("udp {peer}: connection refused (port unreachable: nothing listens there)"),
                Cause::Timeout => format!("no reply from udp {peer} to '{label}' within {:?}", self.timeout),
                _ => format!("udp {peer}: {err}"),
            };
            SessionError { cause, message }
        };
        self.socket.send(message).map_err(fail)?;
        let mut buf = [0u8; RECV_BUFFER];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => return Ok(buf[..n].to_vec()),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(fail(err)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_errors_fall_in_the_probers_buckets() {
        let of = |kind| Cause::of(&io::Error::from(kind));
        assert_eq!(of(io::ErrorKind::ConnectionRefused), Cause::Refused);
        assert_eq!(of(io::ErrorKind::WouldBlock), Cause::Timeout);
        assert_eq!(of(io::ErrorKind::TimedOut), Cause::Timeout);
        assert_eq!(of(io::ErrorKind::ConnectionReset), Cause::Reset);
        assert_eq!(of(io::ErrorKind::BrokenPipe), Cause::Reset);
        assert_eq!(of(io::ErrorKind::UnexpectedEof), Cause::ProtocolMismatch);
        assert_eq!(of(io::ErrorKind::AddrNotAvailable), Cause::Other);
    }

    #[test]
    fn a_spent_session_budget_gives_no_more_time() {
        let budget = Budget { per_step: Duration::from_secs(1), deadline: Some(Instant::now()) };
        assert_eq!(budget.next(), None);
        let fresh = Budget::session(Duration::from_secs(5));
        assert!(fresh.next().is_some_and(|d| d <= Duration::from_secs(5)));
        assert_eq!(Budget::per_step(Duration::from_secs(2)).next(), Some(Duration::from_secs(2)));
    }
}
