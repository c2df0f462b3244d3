//! Replay's sender: whole Ethernet frames out of one interface, one at a time, through a send-only AF_PACKET socket
//! of our own ([`PacketSocket::sender`], which says why not pnet's transmitter).
//!
//! The flood and the guard send through [`crate::capture::tx`] instead, and the two differ on purpose. Replay's
//! frames are whatever the capture holds, any length, in order and paced, so they go one `send` each, and an error
//! costs that frame alone; they keep the qdisc, so that a capture on the interface sees them leave (`tx` bypasses
//! it, and batches fixed-length frames). And replay waits longer for room, [`REPLAY_SEND_TIMEOUT`] against
//! [`crate::capture::tx::SEND_TIMEOUT`]'s 200 ms: nothing else waits behind its sends, so it can give a slow queue a
//! second before counting a frame lost.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use crate::capture::interfaces::NetworkInterface;
use crate::capture::live::socket::{OpenError, PacketSocket};

/// How long one `send` may wait for room in the socket's send buffer before it fails with EAGAIN and is counted.
/// A stopped device queue then cannot stall a replay past Ctrl-C or `--duration`.
const REPLAY_SEND_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error(
        "cannot send on {interface}: sending raw frames needs CAP_NET_RAW (run with sudo, or grant it once with \
         `sudo setcap cap_net_raw+ep $(command -v synscope)`)"
    )]
    Permission { interface: String },
    #[error(
        "cannot send on {interface}: it has link type {hatype} (see ARPHRD_* in if_arp.h), not Ethernet or loopback"
    )]
    NotEthernet { interface: String, hatype: u16 },
    #[error("cannot send on {interface}: {what}: {source}")]
    Socket { interface: String, what: &'static str, source: io::Error },
}

/// A send-only packet socket bound to one interface.
#[derive(Debug)]
pub struct Injector {
    socket: PacketSocket,
}

impl Injector {
    /// Opens the socket. Needs CAP_NET_RAW in the user namespace that owns the network namespace (packet(7)).
    pub fn open(iface: &NetworkInterface) -> Result<Injector, InjectError> {
        let interface = iface.name.clone();
        let socket =
            PacketSocket::sender(&iface.name, iface.index, REPLAY_SEND_TIMEOUT, false).map_err(|err| match err {
                OpenError::NoPrivilege(interface) => InjectError::Permission { interface },
                OpenError::Os { interface, step, source } => InjectError::Socket { interface, what: step, source },
            })?;
        // Only Ethernet-framed devices take our frames as meant; a tun or IP tunnel would read the MAC addresses as
        // an IP header.
        let hatype = socket.bound_hardware_type().map_err(|source| InjectError::Socket {
            interface: interface.clone(),
            what: "reading the link type",
            source,
        })?;
        if !matches!(hatype, libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK) {
            return Err(InjectError::NotEthernet { interface, hatype });
        }
        Ok(Injector { socket })
    }

    /// Sends one frame. An error concerns this frame only (ENOBUFS from a full device queue, EMSGSIZE above the MTU,
    /// ENETDOWN, EAGAIN after [`REPLAY_SEND_TIMEOUT`]): the caller counts it and goes on.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: the pointer and length describe `frame`, which outlives the call.
            let sent = unsafe { libc::send(self.socket.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if sent >= 0 {
                // A packet socket sends a frame whole or not at all.
                return Ok(());
            }
            let err = io::Error::last_os_error();
            // With SO_SNDTIMEO set a signal interrupts the send even under SA_RESTART (signal(7)); try again, the
            // caller looks at its stop flag after this frame.
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}
