//! What both receive rings share (Documentation/networking/packet_mmap.rst): the memory the kernel fills, mapped
//! once and cut into equal units (TPACKET_V3 blocks, TPACKET_V2 slots), each starting with a status word that says
//! whether the kernel or we own it, and the `sockaddr_ll` each frame comes with. The unsafe code of the mapping lives
//! here; each ring keeps only the reading of its own header format.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicU32;

use super::socket::{OpenError, PacketSocket};

pub(super) struct RingMap {
    socket: PacketSocket,
    base: *mut u8,
    unit: usize,
    units: usize,
}

// SAFETY: the mapping is owned by this RingMap alone; the ring that holds it touches it only through &mut self.
unsafe impl Send for RingMap {}

impl RingMap {
    /// Maps the receive ring the kernel has just allocated for `socket`: `units` units of `unit` bytes.
    pub fn new(socket: PacketSocket, unit: usize, units: usize) -> Result<RingMap, OpenError> {
        // SAFETY: maps memory the kernel owns for this socket, shared, with the length it allocated.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                unit * units,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                socket.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(socket.error("mmap of the receive ring", io::Error::last_os_error()));
        }
        Ok(RingMap { socket, base: base.cast(), unit, units })
    }

    pub fn socket(&self) -> &PacketSocket {
        &self.socket
    }

    pub fn units(&self) -> usize {
        self.units
    }

    /// The start of unit `index` (< units).
    pub fn unit(&self, index: usize) -> *mut u8 {
        debug_assert!(index < self.units);
        // SAFETY: index < units, so the offset stays inside the mapping.
        unsafe { self.base.add(index * self.unit) }
    }

    /// The status word at the start of unit `index`, plus `offset`. The kernel and we both touch it, hence the
    /// atomic.
    pub fn status(&self, index: usize, offset: usize) -> &AtomicU32 {
        // SAFETY: units are page- or 4 KiB-aligned, the word is 4-aligned inside the unit, and it lives as long as
        // the mapping, which outlives the borrow of self.
        unsafe { &*(self.unit(index).add(offset) as *const AtomicU32) }
    }
}

impl Drop for RingMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no frame borrowed from it outlives the ring's drain.
        unsafe { libc::munmap(self.base.cast(), self.unit * self.units) };
    }
}

/// The fields of a frame's `sockaddr_ll`: packet type, EtherType (host order), ARPHRD_ type, link-layer address
/// (up to 8 bytes). Offsets per include/uapi/linux/if_packet.h: protocol at 2, hatype at 8, pkttype at 10, halen at
/// 11, addr at 12.
///
/// # Safety
/// `sockaddr` must point at a `sockaddr_ll` inside a unit we own, readable for 20 bytes, for as long as `'a`.
pub(super) unsafe fn link_fields<'a>(sockaddr: *const u8) -> (u8, u16, u16, &'a [u8]) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let address_len = usize::from(*sockaddr.add(11)).min(8);
        (
            *sockaddr.add(10),
            u16::from_be(std::ptr::read_unaligned(sockaddr.add(2) as *const u16)),
            std::ptr::read_unaligned(sockaddr.add(8) as *const u16),
            std::slice::from_raw_parts(sockaddr.add(12), address_len),
        )
    }
}
