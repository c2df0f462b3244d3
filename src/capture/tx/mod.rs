//! Handing batches of frames to the kernel, for the flood and the guard. Three ways, behind one trait so a loop does
//! not care (which one the flood uses is `flood::tx`):
//!
//! - [`ring::TxRing`], the default: a `PACKET_TX_RING` (TPACKET_V2). Frames are written straight into memory
//!   shared with the kernel, marked `TP_STATUS_SEND_REQUEST`, and one `send()` transmits every marked frame
//!   (Documentation/networking/packet_mmap.rst, "Transmission process").
//! - [`mmsg::MmsgTx`]: `sendmmsg(2)` on a plain packet socket, one message per frame. Kept as the fallback for
//!   kernels or sandboxes that refuse the ring mapping, and for the comparison in `scripts/bench-flood.sh`, where
//!   the ring comes out ahead (about 500k against 400k SYN/s into a veth on a 2-vCPU machine).
//! - [`mmsg::MmsgTx::open_raw`]: `sendmmsg(2)` of the IP packets on a raw IPv4 socket, for IPv4 loopback targets
//!   when `route_localnet` is off, where frames injected on `lo` would be dropped as martians (see there).
//!
//! Both packet sockets set `PACKET_QDISC_BYPASS` (packet(7)): frames go to the driver's transmit routine directly, as
//! pktgen's do, without the qdisc's lock and enqueue/dequeue. A flood is not shaped by the host it comes from, and
//! a bridge does not shape what it forwards.
//!
//! Replay does not send through here but through [`crate::capture::inject`]: one frame at a time, of any length,
//! through the qdisc so that a capture on the interface sees what it sends, with a longer send timeout of its own.

pub mod mmsg;
pub mod ring;

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use crate::capture::interfaces::NetworkInterface;
use crate::capture::live::socket::{OpenError, PacketSocket};

/// How long one `send` may block (for room in the socket's send buffer, or for the ring's frames to complete)
/// before it returns EAGAIN, on every socket the flood and the guard send with (the guard's plain packet socket in
/// `cmd/guard/links.rs` too). Short, because both loops have other work waiting behind a send: a stalled device
/// then cannot hold the flood past Ctrl-C or `--duration`, nor stop the guard's bridge from reading its rings for
/// long (frames that could not go count as send errors).
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error(
        "sending on {interface} needs CAP_NET_RAW: run synscope with sudo, or grant it once with \
         `sudo setcap cap_net_raw+ep $(command -v synscope)`"
    )]
    Permission { interface: String },
    #[error("cannot send on {interface}: {what}: {source}")]
    Setup { interface: String, what: &'static str, source: io::Error },
    #[error("sending on {interface} failed: {source}{}", hint(source))]
    Send { interface: String, source: io::Error },
    #[error(
        "the kernel refused a {len}-byte SYN frame as malformed on {interface} (TP_STATUS_WRONG_FORMAT); its MTU \
         may be too small"
    )]
    WrongFormat { interface: String, len: usize },
}

fn hint(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::ENETDOWN) => " (the interface went down)",
        Some(libc::EMSGSIZE) => " (the frame is larger than the interface's MTU)",
        Some(libc::ENXIO) | Some(libc::ENODEV) => " (the interface is gone)",
        _ => "",
    }
}

/// Errors after which a later `send` may succeed: the frame stays queued and is sent again.
pub fn is_transient(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) | Some(libc::ETIMEDOUT) | Some(libc::ENOMEM)
    )
}

/// What one flush did.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Frames the kernel took.
    pub sent: u64,
    /// A transient error that stopped the flush early; the frames it left are still queued.
    pub retry: Option<io::Error>,
}

/// A queue of fixed-length frames in front of the kernel.
pub trait Tx {
    /// Room for the next frame (exactly the flood's frame length), or `None` while every slot waits for the kernel.
    fn slot(&mut self) -> Option<&mut [u8]>;
    /// Queues the frame just written into [`Tx::slot`].
    fn commit(&mut self);
    /// Hands the queued frames to the kernel.
    fn flush(&mut self) -> Result<Flushed, TxError>;
    /// Frames queued and not yet taken by the kernel.
    fn queued(&self) -> usize;
    /// Waits up to `timeout` for a slot to come free, after a flush that left none.
    fn wait_room(&mut self, timeout: Duration);
    /// `tx-ring` or `sendmmsg`, for the report.
    fn method(&self) -> &'static str;
}

/// A send-only packet socket bound to `iface`, bypassing the qdisc, with a bounded send timeout
/// ([`PacketSocket::sender`]); the transmit ring and sendmmsg drive its descriptor themselves.
pub(crate) fn packet_socket(iface: &NetworkInterface) -> Result<OwnedFd, TxError> {
    let socket = PacketSocket::sender(&iface.name, iface.index, SEND_TIMEOUT, true).map_err(|err| match err {
        OpenError::NoPrivilege(interface) => TxError::Permission { interface },
        OpenError::Os { interface, step, source } => TxError::Setup { interface, what: step, source },
    })?;
    Ok(socket.into_fd())
}

/// setsockopt(2) with a plain-old-data value.
pub(crate) fn set<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size given; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Waits up to `timeout` for `fd` to be writable (for a TX ring: a frame at the head to be free, `packet_poll`).
pub(crate) fn poll_writable(fd: &OwnedFd, timeout: Duration) {
    let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one pollfd that outlives the call; the result only tells us to look again.
    unsafe { libc::poll(&mut pfd, 1, millis) };
}
