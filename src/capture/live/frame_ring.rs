//! A TPACKET_V2 receive ring (Documentation/networking/packet_mmap.rst): one fixed-size slot per frame, each handed
//! over on its own as soon as the kernel has filled it. The guard forwards traffic, so it needs each frame at once;
//! TPACKET_V3 (`ring.rs`) hands over whole blocks, and a block waits for its timer (a jiffy or more) when traffic is
//! light, which would add milliseconds to every handshake through the guard. Under a flood the slots fill faster
//! than the guard drains them, and it still takes many frames per wake-up with no system call per frame.
//!
//! The ring is a bridge's ([`FrameRing::for_bridge`]): it also asks for a `virtio_net_hdr` before each frame
//! (`PACKET_VNET_HDR`), which says whether the frame is a GSO super-frame and whether its checksum is partial
//! ([`crate::wire::vnet`]), and for whole copies of frames too long for a slot (`PACKET_COPY_THRESH`): such a
//! frame's slot holds its first bytes and `TP_STATUS_COPY`, and the whole frame waits on the socket's receive queue,
//! in order, for a `recvmsg` (af_packet.c `tpacket_rcv`). Super-frames of 64 KB, and jumbo frames, then cost one
//! system call each; every frame of a standard MTU still costs none.

use std::sync::atomic::{AtomicU32, Ordering, fence};

use super::mapping::{RingMap, link_fields};
use super::socket::{OpenError, PacketSocket};
use crate::time::Timestamp;
use crate::wire::vnet::{self, VnetHeader};

/// Bytes per slot: the header, the `sockaddr_ll`, and a full Ethernet frame with VLAN tags, with room to spare.
pub const SLOT_BYTES: usize = 1 << 12;
/// Slots per kernel block (blocks are what the kernel allocates; frames never straddle them).
const SLOTS_PER_BLOCK: usize = 16;

// Offsets in `struct tpacket2_hdr`.
const STATUS: usize = 0;
const LEN: usize = 4;
const SNAPLEN: usize = 8;
const MAC: usize = 12;
const SEC: usize = 16;
const NSEC: usize = 20;
const VLAN_TCI: usize = 24;
const VLAN_TPID: usize = 26;
/// TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) = 32: where the `sockaddr_ll` starts.
const SOCKADDR: usize = 32;
/// TPACKET2_HDRLEN: the header and the `sockaddr_ll` (20 bytes); a frame's data (and its virtio header) follow.
const HEADERS: usize = SOCKADDR + 20;
const TP_STATUS_COPY: u32 = 1 << 1;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
/// The longest frame read whole from the receive queue: a 64 KB GSO super-frame (`gso_max_size`, 65536 by
/// default; IP's 16-bit lengths cap it without BIG TCP) with its link header and VLAN tags.
const LONGEST_FRAME: usize = 65_536 + 64;
/// Room on the receive queue for whole copies of long frames waiting to be read: about 200 super-frames.
const COPY_QUEUE_BYTES: usize = 32 << 20;

/// A frame in its slot, writable: the guard rewrites frames where the kernel put them and forwards them from there,
/// so a frame is copied once (into the transmit ring), not twice.
pub struct SlotFrame<'a> {
    pub ts: Timestamp,
    pub data: &'a mut [u8],
    /// `sll_pkttype`: PACKET_HOST, PACKET_OUTGOING, ...
    pub packet_type: u8,
    /// A VLAN tag the NIC or driver took out of the frame (TP_STATUS_VLAN_VALID), with its TPID.
    pub vlan: Option<(u16, u16)>,
    /// The sender left the TCP/UDP checksum to hardware (TP_STATUS_CSUMNOTREADY): a local sender on a virtual
    /// link. Forwarded as it is, the frame would be dropped by its receiver.
    pub checksum_pending: bool,
    /// The frame's `virtio_net_hdr`.
    pub vnet: VnetHeader,
}

pub struct FrameRing {
    map: RingMap,
    next: usize,
    /// Where a frame too long for its slot is read whole.
    long_frame: Vec<u8>,
    /// Frames the kernel cut short to fit a slot and could not also queue whole (the receive queue was full):
    /// lost to the bridge, and counted.
    truncated: u64,
}

impl FrameRing {
    /// A ring for a bridge, which must forward every frame whole and as the kernel handed it over: each frame with
    /// its `virtio_net_hdr`, and frames too long for a slot read whole from the receive queue. Switches the socket
    /// to TPACKET_V2, sets up about `bytes` of slots, maps them, and binds the socket. `Err` if the kernel refuses
    /// an option (kernels before 4.x, or a sandbox).
    pub fn for_bridge(socket: PacketSocket, bytes: usize) -> Result<FrameRing, OpenError> {
        // Both must be set before the ring exists (packet_setsockopt answers EBUSY after).
        socket.set_option(libc::PACKET_VNET_HDR, &1i32, "PACKET_VNET_HDR")?;
        socket.set_option(libc::PACKET_COPY_THRESH, &1i32, "PACKET_COPY_THRESH")?;
        socket.set_receive_buffer(COPY_QUEUE_BYTES);
        let version = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        socket.set_option(libc::PACKET_VERSION, &version, "TPACKET_V2")?;
        let block = SLOT_BYTES * SLOTS_PER_BLOCK;
        let blocks = (bytes / block).max(1);
        let request = libc::tpacket_req {
            tp_block_size: block as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: SLOT_BYTES as u32,
            tp_frame_nr: (blocks * SLOTS_PER_BLOCK) as u32,
        };
        socket.set_option(libc::PACKET_RX_RING, &request, "receive ring")?;
        let ring = FrameRing {
            map: RingMap::new(socket, SLOT_BYTES, blocks * SLOTS_PER_BLOCK)?,
            next: 0,
            long_frame: vec![0; vnet::LEN + LONGEST_FRAME],
            truncated: 0,
        };
        ring.map.socket().bind()?;
        Ok(ring)
    }

    pub fn socket(&self) -> &PacketSocket {
        self.map.socket()
    }

    fn status(&self, index: usize) -> &AtomicU32 {
        self.map.status(index, STATUS)
    }

    /// Frames lost because they were too long for a slot and the receive queue had no room for a whole copy;
    /// counted since the last call.
    pub fn take_truncated(&mut self) -> u64 {
        std::mem::take(&mut self.truncated)
    }

    /// Calls `each` for up to `max` frames that are ready, in order, giving each slot back after it; returns how
    /// many there were.
    pub fn drain(&mut self, max: usize, mut each: impl FnMut(SlotFrame<'_>)) -> usize {
        let mut done = 0;
        while done < max {
            let status = self.status(self.next).load(Ordering::Acquire);
            if status & libc::TP_STATUS_USER == 0 {
                break;
            }
            fence(Ordering::Acquire);
            // SAFETY: the slot is ours until its status is reset (the kernel neither reads nor writes it meanwhile),
            // and the frame borrowed from it ends with `each`; every length read is checked against the slot.
            if let Some((mut frame, whole_len)) = unsafe { frame_at(self.map.unit(self.next), status) } {
                if whole_len > frame.data.len() {
                    // Too long for the slot: whole on the receive queue if the kernel had room (TP_STATUS_COPY).
                    let whole = (status & TP_STATUS_COPY != 0)
                        .then(|| read_whole(self.map.socket(), &mut self.long_frame, whole_len, frame.data))
                        .flatten();
                    match whole {
                        Some(data) => {
                            frame.data = data;
                            each(frame);
                        }
                        None => self.truncated += 1,
                    }
                } else {
                    each(frame);
                }
            }
            self.status(self.next).store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.next = (self.next + 1) % self.map.units();
            done += 1;
        }
        done
    }
}

/// The whole of a frame too long for its slot, from the socket's receive queue, where the kernel queued it in
/// ring order; its `virtio_net_hdr` is skipped (the slot's is the same). `None` if what came is not that frame:
/// its length, and the first bytes the slot holds, must match.
fn read_whole<'b>(socket: &PacketSocket, buffer: &'b mut [u8], whole_len: usize, start: &[u8]) -> Option<&'b mut [u8]> {
    let received = socket.recv(buffer).ok().flatten()?;
    if received.len != vnet::LEN + whole_len || received.len > buffer.len() {
        return None;
    }
    let whole = &mut buffer[vnet::LEN..received.len];
    whole.starts_with(start).then_some(whole)
}

/// The frame as its slot describes it, and the frame's whole length: `data` is only its start when that is more.
///
/// # Safety
/// `slot` must point at a slot of the ring that the kernel has handed over, and nothing else may touch the slot
/// while the returned frame lives.
unsafe fn frame_at<'a>(slot: *mut u8, status: u32) -> Option<(SlotFrame<'a>, usize)> {
    // SAFETY: guaranteed by the caller for the header; data bounds are checked before the slice is made.
    unsafe {
        let read_u32 = |at: usize| std::ptr::read_unaligned(slot.add(at) as *const u32);
        let read_u16 = |at: usize| std::ptr::read_unaligned(slot.add(at) as *const u16);
        let mac = usize::from(read_u16(MAC));
        let snaplen = read_u32(SNAPLEN) as usize;
        // The data, and the virtio header before it, must lie after the slot's headers and inside the slot.
        if mac < HEADERS + vnet::LEN || mac.checked_add(snaplen).is_none_or(|end| end > SLOT_BYTES) {
            return None;
        }
        let mut vnet_bytes = [0u8; vnet::LEN];
        std::ptr::copy_nonoverlapping(slot.add(mac - vnet::LEN), vnet_bytes.as_mut_ptr(), vnet::LEN);
        let (packet_type, _, _, _) = link_fields(slot.add(SOCKADDR));
        let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
            let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 { read_u16(VLAN_TPID) } else { 0x8100 };
            (read_u16(VLAN_TCI), tpid)
        });
        let whole_len = (read_u32(LEN) as usize).max(snaplen);
        let frame = SlotFrame {
            ts: Timestamp::from_nanos(u64::from(read_u32(SEC)) * 1_000_000_000 + u64::from(read_u32(NSEC))),
            data: std::slice::from_raw_parts_mut(slot.add(mac), snaplen),
            packet_type,
            vlan,
            checksum_pending: status & TP_STATUS_CSUMNOTREADY != 0,
            vnet: VnetHeader::parse(&vnet_bytes),
        };
        Some((frame, whole_len))
    }
}
