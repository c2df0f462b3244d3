//! Sending whole Ethernet frames out of one interface, through an AF_PACKET socket of our own (packet(7)).
//!
//! pnet's transmitter would do the sending, but its channel also opens a receiver: the socket is bound with
//! ETH_P_ALL and, by default, puts the interface in promiscuous mode, so the kernel queues a copy of every frame on
//! the interface for a reader that never comes (on `lo`, our own frames too, once more as they loop back in). Its
//! send also reports a POLLERR as "Unexpected poll event", losing the errno. A send-only socket is a few calls:
//!
//! - `SOCK_RAW`: the frame is handed to the driver as is, link-layer header included;
//! - protocol 0: "no packets are received" (packet(7)), and the kernel reads the EtherType from the frame itself;
//! - `bind` to the interface index, so a plain `send` needs no address.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::capture::interfaces::NetworkInterface;

/// How long one `send` may wait for room in the socket's send buffer before it fails with EAGAIN and is counted.
/// A stopped device queue then cannot stall a replay past Ctrl-C or `--duration`.
const SEND_TIMEOUT: libc::timeval = libc::timeval { tv_sec: 1, tv_usec: 0 };

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
    fd: OwnedFd,
}

impl Injector {
    /// Opens the socket. Needs CAP_NET_RAW in the user namespace that owns the network namespace (packet(7)).
    pub fn open(iface: &NetworkInterface) -> Result<Injector, InjectError> {
        let interface = iface.name.clone();
        let fail = |what: &'static str, source: io::Error| {
            if source.kind() == io::ErrorKind::PermissionDenied {
                InjectError::Permission { interface: interface.clone() }
            } else {
                InjectError::Socket { interface: interface.clone(), what, source }
            }
        };
        // SAFETY: socket(2) takes no pointers; a non-negative result is a new descriptor that we alone own.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(fail("opening a packet socket", io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a valid descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };

        let ifindex = i32::try_from(iface.index).map_err(|_| {
            fail("binding", io::Error::new(io::ErrorKind::InvalidInput, "interface index out of range"))
        })?;
        // SAFETY: sockaddr_ll is plain data; all zeroes is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as libc::sa_family_t;
        addr.sll_ifindex = ifindex;
        let addr_len = mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        // SAFETY: `addr` is a properly initialised sockaddr_ll of `addr_len` bytes that outlives the call.
        let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast::<libc::sockaddr>(), addr_len) };
        if rc < 0 {
            return Err(fail("binding to the interface", io::Error::last_os_error()));
        }

        // getsockname on a bound packet socket reports the device's ARPHRD type in sll_hatype (af_packet.c,
        // packet_getname). Only Ethernet-framed devices take our frames as meant; a tun or IP tunnel would read the
        // MAC addresses as an IP header.
        let mut bound: libc::sockaddr_ll = addr;
        let mut bound_len = addr_len;
        // SAFETY: `bound` has room for `bound_len` bytes and both outlive the call.
        let rc =
            unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut bound).cast::<libc::sockaddr>(), &raw mut bound_len) };
        if rc < 0 {
            return Err(fail("reading the link type", io::Error::last_os_error()));
        }
        if !matches!(bound.sll_hatype, libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK) {
            return Err(InjectError::NotEthernet { interface, hatype: bound.sll_hatype });
        }

        let timeout = SEND_TIMEOUT;
        // SAFETY: SO_SNDTIMEO takes a timeval of the given size, which outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDTIMEO,
                (&raw const timeout).cast::<libc::c_void>(),
                mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(fail("setting the send timeout", io::Error::last_os_error()));
        }
        Ok(Injector { fd })
    }

    /// Sends one frame. An error concerns this frame only (ENOBUFS from a full device queue, EMSGSIZE above the MTU,
    /// ENETDOWN, EAGAIN after [`SEND_TIMEOUT`]): the caller counts it and goes on.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: the pointer and length describe `frame`, which outlives the call.
            let sent = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
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
