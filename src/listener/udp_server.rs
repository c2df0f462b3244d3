//! The UDP echo server: the seed's `udp_server.py`. One socket, one thread: every datagram is answered in place, so
//! no state grows with the number of clients.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};

use socket2::{Domain, Protocol, Socket, Type};

use super::tcp_server::POLL;
use super::{Proto, RECV_BUFFER, Stats, bind_error_line, hello, say};

/// Binds like the seed: no SO_REUSEADDR. On Linux that option lets two UDP sockets share a port, which would hide a
/// busy port instead of reporting it.
pub fn bind(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    let setup = || -> io::Result<UdpSocket> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.bind(&addr.into())?;
        socket.set_read_timeout(Some(POLL))?;
        Ok(socket.into())
    };
    setup().map_err(|err| anyhow::anyhow!(bind_error_line(Proto::Udp, addr, &err)))
}

/// Answers datagrams until `stop` is set (checked every [`POLL`]).
pub fn serve(socket: UdpSocket, stop: &AtomicBool, stats: &Stats) {
    // Datagrams longer than the buffer are truncated, as the seed's recvfrom(1024) truncates them.
    let mut buf = [0u8; RECV_BUFFER];
    while !stop.load(Ordering::Relaxed) {
        let (n, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(err)
                if matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(_) => {
                // An ICMP error queued by an earlier reply (e.g. port unreachable): the socket itself is fine.
                Stats::bump(&stats.errors);
                continue;
            }
        };
        say(format_args!("Received from {peer}."));
        match socket.send_to(&hello(&buf[..n]), peer) {
            Ok(_) => Stats::bump(&stats.udp_answered),
            Err(_) => Stats::bump(&stats.errors),
        }
    }
}
