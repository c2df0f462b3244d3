//! `sendmmsg(2)` on a packet socket: one system call sends a batch, one message per frame. The frames sit in one
//! buffer allocated once; the message headers point into it and are built once too.
//!
//! The same batching serves a raw IPv4 socket ([`MmsgTx::open_raw`]) for IPv4 floods of loopback: frames
//! injected on `lo` below IP carry no route, so `ip_route_input_slow` drops those addressed to 127/8 as martians
//! unless `net.ipv4.conf.lo.route_localnet` is 1. Sent from a raw socket (`IPPROTO_RAW`, which implies
//! `IP_HDRINCL`: our header is kept, source included), they take the output route to `lo` and reach the
//! listener. The Ethernet header of each frame is then skipped.
//!
//! `sendmmsg` returns how many messages went; when one fails after others went, it returns the count and the
//! error is reported by the next call, which starts with the failed frame. So a transient error leaves the
//! unsent frames queued, in order, for the next flush.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::{Flushed, SEND_TIMEOUT, Tx, TxError, is_transient, packet_socket, poll_writable, set};
use crate::capture::interfaces::NetworkInterface;

const ETHERNET: usize = 14;

pub struct MmsgTx {
    fd: OwnedFd,
    interface: String,
    frame_len: usize,
    /// `capacity × frame_len` bytes; never reallocated, since `iovecs` point into it.
    frames: Box<[u8]>,
    /// Kept alive for the message headers, which point at them.
    _iovecs: Box<[libc::iovec]>,
    messages: Box<[libc::mmsghdr]>,
    /// `sendmmsg` or `raw-ip`.
    method: &'static str,
    /// Frames written; the first `start` of them are already sent.
    queued: usize,
    start: usize,
}

// SAFETY: the raw pointers in `_iovecs` and `messages` point into `frames` and `_iovecs`, which this value owns and
// which never move (boxed slices), so the whole moves between threads as one.
unsafe impl Send for MmsgTx {}

impl MmsgTx {
    /// Whole Ethernet frames on a packet socket bound to `iface`.
    pub fn open(iface: &NetworkInterface, frame_len: usize, batch: usize) -> Result<MmsgTx, TxError> {
        let fd = packet_socket(iface)?;
        Ok(MmsgTx::new(fd, iface.name.clone(), "sendmmsg", 0, frame_len, batch))
    }

    /// The IPv4 packets inside the frames, on a raw socket connected to `target` (a loopback address: the
    /// caller sees to it), which sends them on `interface`.
    pub fn open_raw(target: Ipv4Addr, interface: &str, frame_len: usize, batch: usize) -> Result<MmsgTx, TxError> {
        let fail = |what: &'static str, source: io::Error| {
            if matches!(source.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES)) {
                TxError::Permission { interface: interface.to_string() }
            } else {
                TxError::Setup { interface: interface.to_string(), what, source }
            }
        };
        // SAFETY: socket(2) takes no pointers; a non-negative result is a new descriptor that we alone own.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::IPPROTO_RAW) };
        if raw < 0 {
            return Err(fail("opening a raw IPv4 socket", io::Error::last_os_error()));
        }
        // SAFETY: `raw` is a valid descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let timeout = libc::timeval {
            tv_sec: SEND_TIMEOUT.as_secs() as libc::time_t,
            tv_usec: libc::suseconds_t::from(SEND_TIMEOUT.subsec_micros()),
        };
        set(&fd, libc::SOL_SOCKET, libc::SO_SNDTIMEO, &timeout).map_err(|e| fail("SO_SNDTIMEO", e))?;
        let address = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(target.octets()) },
            sin_zero: [0; 8],
        };
        // SAFETY: a sockaddr_in of the size given, which outlives the call.
        let rc = unsafe {
            libc::connect(
                fd.as_raw_fd(),
                (&raw const address).cast::<libc::sockaddr>(),
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(fail("connecting the raw socket to the target", io::Error::last_os_error()));
        }
        Ok(MmsgTx::new(fd, interface.to_string(), "raw-ip", ETHERNET, frame_len, batch))
    }

    /// Messages of `frame_len - skip` bytes, each starting `skip` bytes into its frame.
    fn new(
        fd: OwnedFd,
        interface: String,
        method: &'static str,
        skip: usize,
        frame_len: usize,
        batch: usize,
    ) -> MmsgTx {
        // The pointer arithmetic below relies on it; every caller sends whole frames of at least 54 bytes.
        assert!(skip < frame_len, "a frame of {frame_len} bytes has nothing after the {skip} skipped");
        let capacity = batch.max(1);
        let mut frames = vec![0u8; capacity * frame_len].into_boxed_slice();
        let mut iovecs: Box<[libc::iovec]> = (0..capacity)
            .map(|i| libc::iovec {
                // SAFETY: `i * frame_len + skip` is within `frames` (skip is below the frame length).
                iov_base: unsafe { frames.as_mut_ptr().add(i * frame_len + skip) }.cast(),
                iov_len: frame_len - skip,
            })
            .collect();
        let messages = iovecs
            .iter_mut()
            .map(|iov| {
                // SAFETY: msghdr is plain data; all zeroes is valid (no name: the socket is bound).
                let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
                header.msg_iov = iov;
                header.msg_iovlen = 1;
                libc::mmsghdr { msg_hdr: header, msg_len: 0 }
            })
            .collect();
        MmsgTx { fd, interface, frame_len, frames, _iovecs: iovecs, messages, method, queued: 0, start: 0 }
    }
}

impl Tx for MmsgTx {
    fn slot(&mut self) -> Option<&mut [u8]> {
        let at = self.queued * self.frame_len;
        self.frames.get_mut(at..at + self.frame_len)
    }

    fn commit(&mut self) {
        self.queued += 1;
    }

    fn flush(&mut self) -> Result<Flushed, TxError> {
        let mut sent = 0;
        let mut retry = None;
        while self.start < self.queued {
            let pending = &mut self.messages[self.start..self.queued];
            // SAFETY: every header points at a live iovec and frame of `self`; the kernel only reads them and
            // writes `msg_len`.
            let rc = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), pending.as_mut_ptr(), pending.len() as u32, 0) };
            if rc < 0 {
                let err = io::Error::last_os_error();
                if !is_transient(&err) {
                    return Err(TxError::Send { interface: self.interface.clone(), source: err });
                }
                retry = Some(err);
                break;
            }
            sent += rc as u64;
            self.start += rc as usize;
        }
        if self.start > 0 {
            // Keep what is left at the front, in order.
            self.frames.copy_within(self.start * self.frame_len..self.queued * self.frame_len, 0);
            self.queued -= self.start;
            self.start = 0;
        }
        Ok(Flushed { sent, retry })
    }

    fn queued(&self) -> usize {
        self.queued - self.start
    }

    fn wait_room(&mut self, timeout: Duration) {
        poll_writable(&self.fd, timeout);
    }

    fn method(&self) -> &'static str {
        self.method
    }
}
