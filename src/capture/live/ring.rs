//! A TPACKET_V3 receive ring (Documentation/networking/packet_mmap.rst): the kernel fills fixed-size blocks of
//! variable-size frames in memory it shares with us, and hands a block over by setting `TP_STATUS_USER` in its
//! header. One poll(2) wakes us for a whole block instead of one recvmsg(2) per frame, which is what lets a single
//! capture thread keep up with a flood. Blocks are retired to us when full, or after `retire` even when not, so a
//! quiet interface still shows its frames promptly.
//!
//! All unsafe code for the ring is here: the mapping, and the reads of headers the kernel wrote.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use super::mapping::{RingMap, link_fields};
use super::socket::{OpenError, PacketSocket};
use crate::time::Timestamp;

/// Bytes per block: large enough that a flood fills blocks rather than the block count, small enough that the
/// kernel finds the pages (it falls back to vmalloc for large orders).
pub const BLOCK_BYTES: usize = 1 << 18;
/// Required by the kernel for the frame accounting of TPACKET_V3, though frames are packed at any size.
const FRAME_BYTES: usize = 1 << 11;

// Offsets in `struct tpacket_block_desc` (version, offset_to_priv, then `tpacket_hdr_v1`).
const BLOCK_STATUS: usize = 8;
const BLOCK_NUM_PKTS: usize = 12;
const BLOCK_FIRST_PKT: usize = 16;
// Offsets in `struct tpacket3_hdr`.
const PKT_NEXT_OFFSET: usize = 0;
const PKT_SEC: usize = 4;
const PKT_NSEC: usize = 8;
const PKT_SNAPLEN: usize = 12;
const PKT_LEN: usize = 16;
const PKT_STATUS: usize = 20;
const PKT_MAC: usize = 24;
const PKT_VLAN_TCI: usize = 32;
const PKT_VLAN_TPID: usize = 36;
/// The `sockaddr_ll` follows the header at TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) = 48; its `sll_pkttype`
/// is at offset 10 and `sll_hatype` at 8, `sll_protocol` at 2, `sll_halen` at 11 and `sll_addr` at 12.
const PKT_SOCKADDR: usize = 48;

/// include/uapi/linux/if_packet.h.
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;

/// One frame as the kernel delivered it, borrowed from the ring.
#[derive(Clone, Copy, Debug)]
pub struct RingFrame<'a> {
    pub ts: Timestamp,
    /// Length on the wire.
    pub len: u32,
    pub data: &'a [u8],
    /// `sll_pkttype`: PACKET_HOST, PACKET_OUTGOING, ...
    pub packet_type: u8,
    /// `sll_protocol` (EtherType), host order.
    pub protocol: u16,
    /// `sll_hatype`: the ARPHRD_ type.
    pub hardware_type: u16,
    /// The link-layer source address (up to 8 bytes).
    pub address: &'a [u8],
    /// A VLAN tag the NIC or driver took out of the frame (TP_STATUS_VLAN_VALID), with its TPID.
    pub vlan: Option<(u16, u16)>,
    /// The sender left the TCP/UDP checksum to hardware (TP_STATUS_CSUMNOTREADY): a local sender on a virtual
    /// link. Forwarded as it is, the frame would be dropped by its receiver.
    pub checksum_pending: bool,
}

pub struct Ring {
    map: RingMap,
    next: usize,
}

impl Ring {
    /// Switches the socket to TPACKET_V3, sets up a ring of about `bytes`, maps it, and binds the socket.
    pub fn new(socket: PacketSocket, bytes: usize, retire_ms: u32) -> Result<Ring, OpenError> {
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        socket.set_option(libc::PACKET_VERSION, &version, "TPACKET_V3")?;
        let blocks = (bytes / BLOCK_BYTES).max(2);
        let request = libc::tpacket_req3 {
            tp_block_size: BLOCK_BYTES as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: FRAME_BYTES as u32,
            tp_frame_nr: (BLOCK_BYTES / FRAME_BYTES * blocks) as u32,
            tp_retire_blk_tov: retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        socket.set_option(libc::PACKET_RX_RING, &request, "receive ring (try a smaller -B)")?;
        let ring = Ring { map: RingMap::new(socket, BLOCK_BYTES, blocks)?, next: 0 };
        ring.map.socket().bind()?;
        Ok(ring)
    }

    pub fn socket(&self) -> &PacketSocket {
        self.map.socket()
    }

    fn status(&self, index: usize) -> &AtomicU32 {
        self.map.status(index, BLOCK_STATUS)
    }

    /// Whether the next block belongs to us.
    pub fn ready(&self) -> bool {
        self.status(self.next).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0
    }

    /// Waits up to `timeout_ms` for the kernel to hand over a block. EINTR (a signal arrived) counts as a
    /// timeout: the caller checks its stop flag either way.
    pub fn wait(&self, timeout_ms: i32) -> io::Result<()> {
        let mut pollfd =
            libc::pollfd { fd: self.map.socket().as_raw_fd(), events: libc::POLLIN | libc::POLLERR, revents: 0 };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        Ok(())
    }

    /// Calls `each` for every frame of the next block, then gives the block back to the kernel. Returns false
    /// when the block was not ready.
    pub fn drain_block(&mut self, mut each: impl FnMut(RingFrame<'_>)) -> bool {
        if !self.ready() {
            return false;
        }
        fence(Ordering::Acquire);
        let block = self.map.unit(self.next);
        // SAFETY: the block is ours until we reset its status; the kernel wrote `num_pkts` frames chained by
        // `tp_next_offset` inside it, and every offset read is checked against the block size before use.
        unsafe {
            let count = read_u32(block, BLOCK_NUM_PKTS);
            let mut offset = read_u32(block, BLOCK_FIRST_PKT) as usize;
            for _ in 0..count {
                if offset + PKT_SOCKADDR + 20 > BLOCK_BYTES {
                    break;
                }
                if let Some(frame) = frame_at(block, offset) {
                    each(frame);
                }
                let next = read_u32(block, offset + PKT_NEXT_OFFSET) as usize;
                if next == 0 {
                    break;
                }
                offset += next;
            }
        }
        self.status(self.next).store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.next = (self.next + 1) % self.map.units();
        true
    }
}

/// # Safety
/// `block + offset` must point at a `tpacket3_hdr` inside a block we own, with room for its `sockaddr_ll`.
unsafe fn frame_at<'a>(block: *const u8, offset: usize) -> Option<RingFrame<'a>> {
    // SAFETY: guaranteed by the caller for the header and sockaddr; data bounds are checked below.
    unsafe {
        let mac = read_u16(block, offset + PKT_MAC) as usize;
        let snaplen = read_u32(block, offset + PKT_SNAPLEN) as usize;
        if offset + mac + snaplen > BLOCK_BYTES {
            return None;
        }
        let status = read_u32(block, offset + PKT_STATUS);
        let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
            let tci = read_u32(block, offset + PKT_VLAN_TCI) as u16;
            let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 {
                read_u16(block, offset + PKT_VLAN_TPID)
            } else {
                0x8100
            };
            (tci, tpid)
        });
        let (packet_type, protocol, hardware_type, address) = link_fields(block.add(offset + PKT_SOCKADDR));
        Some(RingFrame {
            ts: Timestamp::from_nanos(
                u64::from(read_u32(block, offset + PKT_SEC)) * 1_000_000_000
                    + u64::from(read_u32(block, offset + PKT_NSEC)),
            ),
            len: read_u32(block, offset + PKT_LEN),
            data: std::slice::from_raw_parts(block.add(offset + mac), snaplen),
            packet_type,
            protocol,
            hardware_type,
            address,
            vlan,
            checksum_pending: status & TP_STATUS_CSUMNOTREADY != 0,
        })
    }
}

/// # Safety
/// `base + offset .. + 4` must be readable.
unsafe fn read_u32(base: *const u8, offset: usize) -> u32 {
    // SAFETY: guaranteed by the caller.
    unsafe { std::ptr::read_unaligned(base.add(offset) as *const u32) }
}

/// # Safety
/// `base + offset .. + 2` must be readable.
unsafe fn read_u16(base: *const u8, offset: usize) -> u16 {
    // SAFETY: guaranteed by the caller.
    unsafe { std::ptr::read_unaligned(base.add(offset) as *const u16) }
}
