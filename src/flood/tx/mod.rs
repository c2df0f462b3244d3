//! Handing batches of frames to the kernel. Three ways, behind one trait so the loop does not care:
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
//! pktgen's do, without the qdisc's lock and enqueue/dequeue. A flood is not shaped by the host it comes from.

pub mod mmsg;
pub mod ring;

use std::io;
use std::mem;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use crate::capture::interfaces::NetworkInterface;
use crate::capture::live::socket::{OpenError, PacketSocket};

/// How long one `send` may block (for room in the socket's send buffer, or for the ring's frames to complete)
/// before it returns EAGAIN: a stalled device then cannot hold the flood past Ctrl-C or `--duration`.
pub(crate) const SEND_TIMEOUT: libc::timeval = libc::timeval { tv_sec: 0, tv_usec: 200_000 };

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error(
        "flooding on {interface} needs CAP_NET_RAW: run synscope with sudo, or grant it once with \
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

/// Which sender to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Method {
    /// The ring, except raw IP for IPv4 loopback targets while the kernel would drop injected frames to them.
    #[default]
    Auto,
    /// PACKET_TX_RING, falling back to sendmmsg if the kernel refuses the ring.
    Ring,
    /// sendmmsg(2) on a packet socket.
    Mmsg,
    /// sendmmsg(2) on a raw IPv4 socket; IPv4 loopback targets only.
    Raw,
}

/// Opens the sender for frames to `target` on `iface`. The caller has checked that [`Method::Raw`] is asked only
/// for an IPv4 loopback target.
pub fn open(
    method: Method,
    iface: &NetworkInterface,
    target: IpAddr,
    frame_len: usize,
    batch: usize,
) -> Result<Box<dyn Tx + Send>, TxError> {
    let loopback4 = match target {
        IpAddr::V4(ip) if ip.is_loopback() && iface.is_loopback() => Some(ip),
        _ => None,
    };
    let method = match (method, loopback4) {
        (Method::Auto, Some(_)) if !super::route::route_localnet(&iface.name) => Method::Raw,
        (Method::Auto, _) => Method::Ring,
        (other, _) => other,
    };
    match (method, loopback4) {
        (Method::Raw, Some(ip)) => Ok(Box::new(mmsg::MmsgTx::open_raw(ip, &iface.name, frame_len, batch)?)),
        (Method::Mmsg | Method::Raw, _) => Ok(Box::new(mmsg::MmsgTx::open(iface, frame_len, batch)?)),
        (Method::Ring | Method::Auto, _) => match ring::TxRing::open(iface, frame_len, batch) {
            Ok(ring) => Ok(Box::new(ring)),
            Err(TxError::Setup { .. }) => Ok(Box::new(mmsg::MmsgTx::open(iface, frame_len, batch)?)),
            Err(err) => Err(err),
        },
    }
}

/// A send-only packet socket bound to `iface`, bypassing the qdisc, with a bounded send timeout
/// ([`PacketSocket::sender`]); the transmit ring and sendmmsg drive its descriptor themselves.
pub(crate) fn packet_socket(iface: &NetworkInterface) -> Result<OwnedFd, TxError> {
    let timeout = Duration::new(SEND_TIMEOUT.tv_sec as u64, SEND_TIMEOUT.tv_usec as u32 * 1000);
    let socket = PacketSocket::sender(&iface.name, iface.index, timeout, true).map_err(|err| match err {
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
