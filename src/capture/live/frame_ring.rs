//! A TPACKET_V2 receive ring (Documentation/networking/packet_mmap.rst): one fixed-size slot per frame, each handed
//! over on its own as soon as the kernel has filled it. The guard forwards traffic, so it needs each frame at once;
//! TPACKET_V3 (`ring.rs`) hands over whole blocks, and a block waits for its timer (a jiffy or more) when traffic is
//! light, which would add milliseconds to every handshake through the guard. Under a flood the slots fill faster
//! than the guard drains them, and it still takes many frames per wake-up with no system call per frame.

use std::sync::atomic::{AtomicU32, Ordering, fence};

use super::mapping::{RingMap, link_fields};
use super::socket::{OpenError, PacketSocket};
use crate::time::Timestamp;

/// Bytes per slot: the header, the `sockaddr_ll`, and a full Ethernet frame with VLAN tags, with room to spare.
pub const SLOT_BYTES: usize = 1 << 12;
/// Slots per kernel block (blocks are what the kernel allocates; frames never straddle them).
const SLOTS_PER_BLOCK: usize = 16;

// Offsets in `struct tpacket2_hdr`.
const STATUS: usize = 0;
const SNAPLEN: usize = 8;
const MAC: usize = 12;
const SEC: usize = 16;
const NSEC: usize = 20;
const VLAN_TCI: usize = 24;
const VLAN_TPID: usize = 26;
/// TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) = 32: where the `sockaddr_ll` starts.
const SOCKADDR: usize = 32;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;

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
}

pub struct FrameRing {
    map: RingMap,
    next: usize,
}

impl FrameRing {
    /// Switches the socket to TPACKET_V2, sets up about `bytes` of slots, maps them, and binds the socket.
    pub fn new(socket: PacketSocket, bytes: usize) -> Result<FrameRing, OpenError> {
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
        let ring = FrameRing { map: RingMap::new(socket, SLOT_BYTES, blocks * SLOTS_PER_BLOCK)?, next: 0 };
        ring.map.socket().bind()?;
        Ok(ring)
    }

    pub fn socket(&self) -> &PacketSocket {
        self.map.socket()
    }

    fn status(&self, index: usize) -> &AtomicU32 {
        self.map.status(index, STATUS)
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
            if let Some(frame) = unsafe { frame_at(self.map.unit(self.next), status) } {
                each(frame);
            }
            self.status(self.next).store(libc::TP_STATUS_KERNEL, Ordering::Release);
            self.next = (self.next + 1) % self.map.units();
            done += 1;
        }
        done
    }
}

/// # Safety
/// `slot` must point at a slot of the ring that the kernel has handed over, and nothing else may touch the slot
/// while the returned frame lives.
unsafe fn frame_at<'a>(slot: *mut u8, status: u32) -> Option<SlotFrame<'a>> {
    // SAFETY: guaranteed by the caller for the header; data bounds are checked before the slice is made.
    unsafe {
        let read_u32 = |at: usize| std::ptr::read_unaligned(slot.add(at) as *const u32);
        let read_u16 = |at: usize| std::ptr::read_unaligned(slot.add(at) as *const u16);
        let mac = usize::from(read_u16(MAC));
        let snaplen = read_u32(SNAPLEN) as usize;
        if mac < SOCKADDR || mac + snaplen > SLOT_BYTES {
            return None;
        }
        let (packet_type, _, _, _) = link_fields(slot.add(SOCKADDR));
        let vlan = (status & libc::TP_STATUS_VLAN_VALID != 0).then(|| {
            let tpid = if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 { read_u16(VLAN_TPID) } else { 0x8100 };
            (read_u16(VLAN_TCI), tpid)
        });
        Some(SlotFrame {
            ts: Timestamp::from_nanos(u64::from(read_u32(SEC)) * 1_000_000_000 + u64::from(read_u32(NSEC))),
            data: std::slice::from_raw_parts_mut(slot.add(mac), snaplen),
            packet_type,
            vlan,
            checksum_pending: status & TP_STATUS_CSUMNOTREADY != 0,
        })
    }
}
