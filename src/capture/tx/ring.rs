//! A TPACKET_V2 transmit ring (Documentation/networking/packet_mmap.rst). TPACKET_V3 adds nothing for sending
//! (its TX path is V2's), and V2's fixed-size frames suit a flood whose frames all have one length.
//!
//! The ring is an array of frames, each a `tpacket2_hdr` followed by the frame's bytes at
//! TPACKET_ALIGN(sizeof(tpacket2_hdr)) = 32. A frame belongs to us while its status is `TP_STATUS_AVAILABLE`. We
//! fill frames in ring order and mark them `TP_STATUS_SEND_REQUEST`; `send()` then walks the ring from its head,
//! transmitting marked frames until it meets one that is not (`tpacket_snd`). A frame in flight is
//! `TP_STATUS_SENDING`, and returns to `TP_STATUS_AVAILABLE` when the driver frees its skb (veth and loopback do
//! so at once). If transmitting a frame fails (ENOBUFS from a stopped device queue), the kernel puts it back to
//! `TP_STATUS_SEND_REQUEST` and stops there: the next `send()` retries it first, so nothing is lost or reordered.
//!
//! Each frame is preceded by a `virtio_net_hdr` (`PACKET_VNET_HDR`) whose `hdr_len` is the whole frame. Without
//! it `tpacket_snd` copies only the Ethernet header into the skb and attaches the rest as a fragment of the ring's
//! page; a veth into another namespace must then copy that fragment into a freshly allocated page
//! (`__dev_forward_skb2` → `skb_copy_ubufs`), which cost more than the copy it saved. With `hdr_len` covering the
//! frame, the kernel copies all of it into the skb's linear area, as `sendmmsg` does. Kernels that refuse the
//! option get the plain layout.
//!
//! We keep two counters: `head`, the oldest frame handed over and not yet seen to leave `TP_STATUS_SEND_REQUEST`
//! (where the kernel's head is), and `tail`, the next frame to fill. Frames between them are queued.
//!
//! All unsafe code for the mapping is here.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Flushed, Tx, TxError, is_transient, packet_socket, poll_writable, set};
use crate::capture::interfaces::NetworkInterface;
use crate::wire::vnet::VnetHeader;

/// Where a TX frame's data starts without PACKET_TX_HAS_OFF: TPACKET2_HDRLEN - sizeof(struct sockaddr_ll).
const DATA_OFFSET: usize = 32;
/// `tp_len` in `struct tpacket2_hdr`.
const LEN_OFFSET: usize = 4;
/// `struct virtio_net_hdr`: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
const VNET_HDR_LEN: usize = crate::wire::vnet::LEN;
const BLOCK_BYTES: usize = 1 << 16;

pub struct TxRing {
    fd: OwnedFd,
    interface: String,
    map: NonNull<u8>,
    map_len: usize,
    frame_size: usize,
    frames_per_block: usize,
    frames: usize,
    /// The longest frame a slot holds; the flood's frames are all this long.
    frame_len: usize,
    /// Where the frame's bytes start in each ring frame: after the virtio header, if there is one.
    data_offset: usize,
    head: u64,
    tail: u64,
    /// `send` without waiting for the frames to complete (the guard, which must not stall).
    dont_wait: bool,
}

// SAFETY: the mapping belongs to this value alone (no other copy of the pointer exists), so moving it to another
// thread moves sole access with it.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Opens a ring of at least `4 × batch` frames of `frame_len` bytes on `iface`.
    pub fn open(iface: &NetworkInterface, frame_len: usize, batch: usize) -> Result<TxRing, TxError> {
        Self::open_with(packet_socket(iface)?, iface, frame_len, 4 * batch.max(1))
    }

    /// A ring for a bridge (the guard): frames of any length up to `max_len`, at least `frames` of them in flight,
    /// handed over without waiting for them to complete. A frame the kernel finds malformed (longer than the
    /// interface's MTU) is skipped, not left blocking every frame behind it (PACKET_LOSS, packet(7)): without it
    /// `tpacket_snd` stops at that frame for good.
    pub fn open_bridge(iface: &NetworkInterface, max_len: usize, frames: usize) -> Result<TxRing, TxError> {
        let fd = packet_socket(iface)?;
        set(&fd, libc::SOL_PACKET, libc::PACKET_LOSS, &1i32).map_err(|source| TxError::Setup {
            interface: iface.name.clone(),
            what: "PACKET_LOSS",
            source,
        })?;
        let mut ring = Self::open_with(fd, iface, max_len, frames)?;
        ring.dont_wait = true;
        Ok(ring)
    }

    fn open_with(fd: OwnedFd, iface: &NetworkInterface, frame_len: usize, frames: usize) -> Result<TxRing, TxError> {
        let setup = |what: &'static str| {
            let interface = iface.name.clone();
            move |source: io::Error| TxError::Setup { interface, what, source }
        };
        set(&fd, libc::SOL_PACKET, libc::PACKET_VERSION, &(libc::tpacket_versions::TPACKET_V2 as libc::c_int))
            .map_err(setup("PACKET_VERSION"))?;
        let vnet = set(&fd, libc::SOL_PACKET, libc::PACKET_VNET_HDR, &1i32).is_ok();
        let data_offset = DATA_OFFSET + if vnet { VNET_HDR_LEN } else { 0 };
        let frame_size = (data_offset + frame_len).next_multiple_of(libc::TPACKET_ALIGNMENT).next_power_of_two();
        let frames_per_block = BLOCK_BYTES / frame_size;
        let blocks = frames.div_ceil(frames_per_block).max(1);
        let request = libc::tpacket_req {
            tp_block_size: BLOCK_BYTES as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: frame_size as u32,
            tp_frame_nr: (blocks * frames_per_block) as u32,
        };
        set(&fd, libc::SOL_PACKET, libc::PACKET_TX_RING, &request).map_err(setup("PACKET_TX_RING"))?;
        let map_len = blocks * BLOCK_BYTES;
        // SAFETY: maps the ring the kernel just allocated for this socket; the result is checked.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(setup("mapping the TX ring")(io::Error::last_os_error()));
        }
        let map =
            NonNull::new(map.cast::<u8>()).ok_or_else(|| setup("mapping the TX ring")(io::ErrorKind::Other.into()))?;
        Ok(TxRing {
            fd,
            interface: iface.name.clone(),
            map,
            map_len,
            frame_size,
            frames_per_block,
            frames: blocks * frames_per_block,
            frame_len,
            data_offset,
            head: 0,
            tail: 0,
            dont_wait: false,
        })
    }

    /// The start of frame `n` (counted since the ring opened) in the mapping.
    fn frame(&self, n: u64) -> *mut u8 {
        let index = (n % self.frames as u64) as usize;
        let offset = (index / self.frames_per_block) * BLOCK_BYTES + (index % self.frames_per_block) * self.frame_size;
        // SAFETY: `offset` + frame_size is within the mapping by construction.
        unsafe { self.map.as_ptr().add(offset) }
    }

    /// Queues a copy of `frame`; false if it is longer than a slot, or every slot is still with the kernel.
    pub fn push(&mut self, frame: &[u8]) -> bool {
        self.push_with(frame, VnetHeader::PLAIN)
    }

    /// Queues a copy of `frame` with its `virtio_net_hdr` (a GSO super-frame, or a partial checksum), which only a
    /// ring with the header carries ([`TxRing::has_vnet_header`]); false as [`TxRing::push`].
    pub fn push_with(&mut self, frame: &[u8], vnet: VnetHeader) -> bool {
        if frame.len() > self.frame_len || (!vnet.is_plain() && !self.has_vnet_header()) {
            return false;
        }
        let Some(slot) = self.slot() else { return false };
        slot[..frame.len()].copy_from_slice(frame);
        self.hand_over_with(frame.len(), vnet);
        true
    }

    /// Whether each frame goes with a `virtio_net_hdr` (the kernel took `PACKET_VNET_HDR`).
    pub fn has_vnet_header(&self) -> bool {
        self.data_offset > DATA_OFFSET
    }

    /// Takes back every frame not yet handed over, unsent (after a lasting send error).
    pub fn discard_queued(&mut self) {
        while self.head < self.tail {
            self.status(self.head).store(libc::TP_STATUS_AVAILABLE, Ordering::Release);
            self.head += 1;
        }
    }

    /// The longest frame a slot holds.
    pub fn max_frame_len(&self) -> usize {
        self.frame_len
    }

    /// Marks the frame at `tail`, whose first `len` bytes are written, for sending.
    fn hand_over(&mut self, len: usize) {
        self.hand_over_with(len, VnetHeader::PLAIN);
    }

    fn hand_over_with(&mut self, len: usize, vnet: VnetHeader) {
        let frame = self.frame(self.tail);
        if self.has_vnet_header() {
            // The virtio header's hdr_len: the whole frame, so the kernel copies all of it into the skb's linear
            // area (see the module's comment). tpacket_snd refuses an hdr_len longer than the frame, so it is
            // written for each frame. The other fields say whether the kernel must segment the frame (GSO) or
            // complete its checksum; a plain frame has them zero.
            let header = VnetHeader { hdr_len: len as u16, ..vnet }.to_bytes();
            // SAFETY: the virtio header's bytes, inside a frame we own.
            unsafe { std::ptr::copy_nonoverlapping(header.as_ptr(), frame.add(DATA_OFFSET), header.len()) };
        }
        let tp_len = self.data_offset - DATA_OFFSET + len;
        // SAFETY: tp_len is a u32 at offset 4 of a frame we own.
        unsafe { frame.add(LEN_OFFSET).cast::<u32>().write_volatile(tp_len as u32) };
        // Release: the kernel must see the frame's bytes and length before the status that hands it over.
        self.status(self.tail).store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.tail += 1;
    }

    /// The frame's `tp_status`, shared with the kernel.
    fn status(&self, n: u64) -> &AtomicU32 {
        // SAFETY: tp_status is the first, 4-byte aligned field of each frame (frames are 16-byte aligned in a
        // page-aligned mapping); the kernel and we access it only as a whole u32.
        unsafe { AtomicU32::from_ptr(self.frame(n).cast::<u32>()) }
    }
}

impl Tx for TxRing {
    fn slot(&mut self) -> Option<&mut [u8]> {
        if self.tail - self.head >= self.frames as u64
            || self.status(self.tail).load(Ordering::Acquire) != libc::TP_STATUS_AVAILABLE
        {
            return None;
        }
        // SAFETY: the frame is ours (TP_STATUS_AVAILABLE) and `data_offset + frame_len <= frame_size`; the borrow
        // of `self` keeps anyone else from asking for it meanwhile.
        Some(unsafe { std::slice::from_raw_parts_mut(self.frame(self.tail).add(self.data_offset), self.frame_len) })
    }

    fn commit(&mut self) {
        self.hand_over(self.frame_len);
    }

    fn flush(&mut self) -> Result<Flushed, TxError> {
        if self.head == self.tail {
            return Ok(Flushed::default());
        }
        // Blocking (no MSG_DONTWAIT): tpacket_snd then also waits for the frames to complete, bounded by the
        // socket's SO_SNDTIMEO. A bridge does not wait: a frame still completing just is not free yet (`slot`).
        let flags = if self.dont_wait { libc::MSG_DONTWAIT } else { 0 };
        // SAFETY: a send with no buffer: the kernel reads the frames from the ring.
        let rc = unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, flags) };
        let error = (rc < 0).then(io::Error::last_os_error);
        let mut sent = 0;
        while self.head < self.tail {
            match self.status(self.head).load(Ordering::Acquire) {
                libc::TP_STATUS_SEND_REQUEST => break,
                status if status & libc::TP_STATUS_WRONG_FORMAT != 0 => {
                    return Err(TxError::WrongFormat { interface: self.interface.clone(), len: self.frame_len });
                }
                _ => {
                    sent += 1;
                    self.head += 1;
                }
            }
        }
        match error {
            Some(err) if !is_transient(&err) => Err(TxError::Send { interface: self.interface.clone(), source: err }),
            retry => Ok(Flushed { sent, retry }),
        }
    }

    fn queued(&self) -> usize {
        (self.tail - self.head) as usize
    }

    fn wait_room(&mut self, timeout: Duration) {
        poll_writable(&self.fd, timeout);
    }

    fn method(&self) -> &'static str {
        "tx-ring"
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `open` mapped; no slice into it outlives `self`.
        unsafe { libc::munmap(self.map.as_ptr().cast(), self.map_len) };
    }
}
