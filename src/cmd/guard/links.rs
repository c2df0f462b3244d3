//! The guard's sockets: three receive rings and two senders.
//!
//! The outside interface, where a flood arrives, has two rings, split by a BPF filter in the kernel
//! ([`crate::capture::live::syn_filter`]): one for pure SYNs, one for everything else. The bridge loop drains the
//! second before each burst of the first, so when SYNs come faster than the guard answers them, the only frames
//! the kernel drops for want of room are SYNs: never the ACK that completes a cookie handshake, nor the data of a
//! connection already proxied. The inside interface, towards the listener, has one ring.
//!
//! With `--threads N` each thread has its own three rings, and each ring joins a fanout group per kind (outside
//! SYNs, outside rest, inside): the kernel hands a frame to one member of each group by a symmetric hash of its
//! flow, and since every group has the same members in the same order, both directions of a connection on both
//! interfaces reach the same thread, which alone holds that connection's state. (A member's index is its place in
//! the group's join order, af_packet.c `__fanout_link`; the threads join one after the other.)

use crate::capture::interfaces;
use crate::capture::live::frame_ring::FrameRing;
use crate::capture::live::socket::{LinkMode, OpenError, PacketSocket};
use crate::capture::live::syn_filter::{self, SynSplit};
use crate::capture::tx::ring::TxRing;
use crate::capture::tx::{SEND_TIMEOUT, Tx, TxError};
use crate::wire::LinkType;
use crate::wire::gso;
use crate::wire::tcp_frame::TcpFrame;
use crate::wire::vnet::VnetHeader;

/// Ring for all but the SYNs, per side: 8192 slots. Under a SYN flood it holds little.
const RING_BYTES: usize = 32 << 20;
/// Ring for the outside's SYNs: 8192 slots, about 15 ms of a 550k SYN/s flood. A guard that keeps up on average
/// still falls behind for a few milliseconds at a time (a kernel thread takes its CPU, the flood arrives in batches);
/// with 2048 slots those bursts overflowed the ring and cost 0.5% of SYNs at the lab's top speed, legitimate ones
/// among them, and with 8192 none. A flood the guard cannot keep up with fills it either way, and a legitimate SYN
/// then waits behind at most 15 ms of the flood's.
const SYN_RING_BYTES: usize = 32 << 20;
/// Frames handed to the kernel per send.
const SEND_BATCH: usize = 256;
/// A transmit ring slot holds a frame of up to this many bytes (a 4 KiB slot less its headers): any Ethernet frame
/// of a standard MTU, with VLAN tags.
const TX_SLOT_BYTES: usize = 4096 - 64;
/// Slots per transmit ring: four batches.
const TX_SLOTS: usize = 4 * SEND_BATCH;

pub struct Rings {
    /// The outside interface's frames other than pure SYNs.
    pub outside: FrameRing,
    /// The outside interface's pure SYNs.
    pub outside_syns: FrameRing,
    pub inside: FrameRing,
}

/// Frames each ring's kernel side dropped because the ring was full (PACKET_STATISTICS `tp_drops`), and frames
/// too long for a slot that the kernel could not also queue whole (`too_long`).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct RingDrops {
    pub outside: u64,
    pub outside_syns: u64,
    pub inside: u64,
    pub too_long: u64,
}

impl RingDrops {
    pub fn total(&self) -> u64 {
        self.outside + self.outside_syns + self.inside + self.too_long
    }

    pub fn add(&mut self, other: &RingDrops) {
        self.outside += other.outside;
        self.outside_syns += other.outside_syns;
        self.inside += other.inside;
        self.too_long += other.too_long;
    }
}

/// The fanout groups the threads' rings join, one per kind of ring; the first thread's rings make them.
#[derive(Clone, Copy, Debug, Default)]
pub struct FanoutGroups {
    outside: Option<u16>,
    outside_syns: Option<u16>,
    inside: Option<u16>,
}

impl Rings {
    /// Opens one thread's rings, taking no frame yet ([`Rings::start`]); `fanout` is `None` when one thread serves
    /// everything.
    pub fn open(outside: &str, inside: &str, mut fanout: Option<&mut FanoutGroups>) -> anyhow::Result<Rings> {
        Ok(Rings {
            outside: open_ring(outside, RING_BYTES, fanout.as_deref_mut().map(|g| &mut g.outside))?,
            outside_syns: open_ring(outside, SYN_RING_BYTES, fanout.as_deref_mut().map(|g| &mut g.outside_syns))?,
            inside: open_ring(inside, RING_BYTES, fanout.map(|g| &mut g.inside))?,
        })
    }

    /// Starts taking frames: each ring gets its real filter (pure SYNs, all but them, or everything). Call it once
    /// every thread's rings are open, so each fanout group has all its members first.
    pub fn start(&self) -> anyhow::Result<()> {
        self.outside.socket().attach_filter(&syn_filter::program(SynSplit::AllButPureSyns))?;
        self.outside_syns.socket().attach_filter(&syn_filter::program(SynSplit::PureSyns))?;
        self.inside.socket().attach_filter(&syn_filter::constant(true))?;
        Ok(())
    }

    /// Adds the drops since the last call to `total` (the kernel resets its counters when read).
    pub fn add_drops(&mut self, total: &mut RingDrops) {
        let drops = |ring: &FrameRing| ring.socket().take_stats().map(|s| s.drops).unwrap_or(0);
        total.outside += drops(&self.outside);
        total.outside_syns += drops(&self.outside_syns);
        total.inside += drops(&self.inside);
        for ring in [&mut self.outside, &mut self.outside_syns, &mut self.inside] {
            total.too_long += ring.take_truncated();
        }
    }

    /// Sleeps until a ring has a frame, or `timeout_ms` passes.
    pub fn wait(&self, timeout_ms: i32) {
        use std::os::fd::AsRawFd;
        let mut fds = [&self.outside, &self.outside_syns, &self.inside].map(|r| libc::pollfd {
            fd: r.socket().as_raw_fd(),
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        });
        // SAFETY: three valid pollfds; EINTR is fine (the loop checks its stop flag).
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    }
}

/// A TPACKET_V2 ring: each frame is ours as soon as it is in, and a flood costs no system call per frame. It takes
/// no frame until [`Rings::start`]: a fanout group hashes over the members it has, so a frame taken before every
/// thread had joined could put a connection on one thread and its later frames on another.
fn open_ring(name: &str, bytes: usize, group: Option<&mut Option<u16>>) -> anyhow::Result<FrameRing> {
    let interface = interfaces::find(name)?;
    let receiver = PacketSocket::open(name, interface.index, LinkMode::Raw(LinkType::Ethernet)).map_err(privilege)?;
    receiver.attach_filter(&syn_filter::constant(false))?;
    receiver.set_promiscuous()?;
    let ring = FrameRing::for_bridge(receiver, bytes).map_err(|err| {
        anyhow::anyhow!(
            "{err}: the guard reads GSO super-frames and their checksum state through PACKET_VNET_HDR (Linux 4.x \
             and later); without it, frames above 4 KB could not be forwarded"
        )
    })?;
    if let Some(group) = group {
        *group = Some(ring.socket().join_fanout(*group)?);
    }
    Ok(ring)
}

/// Each side sends through a transmit ring (`PACKET_TX_RING`, as the flood does): frames are copied into memory
/// shared with the kernel and one send(2) hands over a batch, with none of sendmmsg's per-message copying of
/// headers and iovecs. Frames too long for a ring slot (GSO super-frames, jumbo frames), and kernels that refuse the
/// ring, go by sendmmsg(2) instead; the ring is flushed first, so a side's frames keep their order.
///
/// A frame goes with the `virtio_net_hdr` it came with ([`crate::wire::vnet`]): a super-frame is cut into segments
/// by the kernel on egress, or by the NIC, and a partial checksum is completed there. Where the kernel refuses the
/// header on a socket, the sender does that work itself: it segments super-frames ([`crate::wire::gso`]) and fills
/// in partial checksums.
pub struct Sender {
    ring: Option<TxRing>,
    socket: PacketSocket,
    /// The sendmmsg socket takes a `virtio_net_hdr` before each frame.
    vnet: bool,
    /// Frames waiting for sendmmsg, in reused buffers, each after its virtio header when `vnet`.
    queue: Vec<Vec<u8>>,
    queued: usize,
    /// Segments of a super-frame cut here, in reused buffers.
    segments: Vec<Vec<u8>>,
    pub send_errors: u64,
    pub data_path: DataPath,
}

/// How the sender passed on frames the kernel had not finished: GSO super-frames and partial checksums.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct DataPath {
    /// GSO super-frames sent on with their header, for the kernel or the NIC to segment.
    pub super_frames: u64,
    /// Their bytes.
    pub super_frame_bytes: u64,
    /// Super-frames segmented here, for want of the header on the socket, and the segments they made.
    pub segmented_here: u64,
    pub segments: u64,
    /// Frames sent on with a partial checksum, for the kernel or the NIC to complete.
    pub partial_checksums: u64,
    /// Frames that could be sent no way (a GSO type other than TCP without the header): counted, not sent.
    pub unsendable: u64,
}

impl DataPath {
    pub fn add(&mut self, other: &DataPath) {
        self.super_frames += other.super_frames;
        self.super_frame_bytes += other.super_frame_bytes;
        self.segmented_here += other.segmented_here;
        self.segments += other.segments;
        self.partial_checksums += other.partial_checksums;
        self.unsendable += other.unsendable;
    }
}

impl Sender {
    pub fn open(name: &str) -> anyhow::Result<Sender> {
        let interface = interfaces::find(name)?;
        let ring = match TxRing::open_bridge(&interface, TX_SLOT_BYTES, TX_SLOTS) {
            Ok(ring) => Some(ring),
            Err(TxError::Setup { .. }) => None,
            Err(err) => return Err(err.into()),
        };
        let socket = PacketSocket::sender(name, interface.index, SEND_TIMEOUT, true).map_err(privilege)?;
        let vnet = socket.set_option(libc::PACKET_VNET_HDR, &1i32, "PACKET_VNET_HDR").is_ok();
        Ok(Sender {
            ring,
            socket,
            vnet,
            queue: Vec::new(),
            queued: 0,
            segments: Vec::new(),
            send_errors: 0,
            data_path: DataPath::default(),
        })
    }

    /// Queues a whole frame whose checksums are complete.
    pub fn push(&mut self, frame: &[u8]) {
        self.push_with(frame, VnetHeader::PLAIN);
    }

    /// Queues a frame as the kernel handed it over: a GSO super-frame, or one with a partial checksum, goes with
    /// its `virtio_net_hdr`, or is finished here when the sockets cannot carry the header.
    pub fn push_with(&mut self, frame: &[u8], vnet: VnetHeader) {
        if vnet.is_plain() {
            if !self.push_ring(frame, VnetHeader::PLAIN) {
                self.push_queue(frame, VnetHeader::PLAIN);
            }
            return;
        }
        let ring_takes_it = self.ring.as_ref().is_some_and(TxRing::has_vnet_header);
        if ring_takes_it || self.vnet {
            if vnet.is_gso() {
                self.data_path.super_frames += 1;
                self.data_path.super_frame_bytes += frame.len() as u64;
            }
            if vnet.checksum_partial() {
                self.data_path.partial_checksums += 1;
            }
            if !(ring_takes_it && self.push_ring(frame, vnet)) {
                if self.vnet {
                    self.push_queue(frame, vnet);
                } else {
                    self.unfinished_without_header(frame, vnet);
                }
            }
            return;
        }
        self.unfinished_without_header(frame, vnet);
    }

    /// A super-frame or a partial checksum with no socket to carry the header: finish the frame here.
    fn unfinished_without_header(&mut self, frame: &[u8], vnet: VnetHeader) {
        if vnet.is_gso() {
            let mut segments = std::mem::take(&mut self.segments);
            segments.clear();
            match gso::segment(frame, &vnet, &mut segments) {
                Ok(count) => {
                    self.data_path.segmented_here += 1;
                    self.data_path.segments += count as u64;
                    for segment in &segments {
                        self.push(segment);
                    }
                }
                Err(_) => self.data_path.unsendable += 1,
            }
            self.segments = segments;
            return;
        }
        let mut copy = frame.to_vec();
        if crate::wire::checksum::fill_transport_checksum(&mut copy) {
            self.push(&copy);
        } else {
            self.data_path.unsendable += 1;
        }
    }

    /// Into the transmit ring, if there is one and the frame fits a slot; false if it must go by sendmmsg.
    fn push_ring(&mut self, frame: &[u8], vnet: VnetHeader) -> bool {
        let Some(ring) = self.ring.as_mut().filter(|ring| frame.len() <= ring.max_frame_len()) else {
            return false;
        };
        if !ring.push_with(frame, vnet) {
            // Every slot is with the kernel: hand them over, and try once more.
            self.flush();
            let ring = self.ring.as_mut().expect("the ring is still there");
            if !ring.push_with(frame, vnet) {
                self.send_errors += 1;
                return true;
            }
        }
        if self.ring.as_ref().is_some_and(|ring| ring.queued() >= SEND_BATCH) {
            self.flush();
        }
        true
    }

    /// Onto the sendmmsg queue, after the ring's frames (flushed first, to keep the order). A frame too long for
    /// a ring slot (a super-frame, usually) goes at once, straight from where it lies: copying 64 KB into the queue
    /// first cost 6% of the guard's time at 11 Gbit/s.
    fn push_queue(&mut self, frame: &[u8], vnet: VnetHeader) {
        self.flush_ring();
        if self.ring.is_some() {
            self.flush();
            let header = self.vnet.then(|| header_with_len(frame, vnet).to_bytes());
            let parts: [&[u8]; 2] = [header.as_ref().map_or(&[][..], |h| &h[..]), frame];
            if self.socket.send_parts(&parts).is_err() {
                self.send_errors += 1;
            }
            return;
        }
        if self.queued == self.queue.len() {
            self.queue.push(Vec::with_capacity(frame.len().max(128) + crate::wire::vnet::LEN));
        }
        let slot = &mut self.queue[self.queued];
        slot.clear();
        if self.vnet {
            let header = header_with_len(frame, vnet);
            slot.extend_from_slice(&header.to_bytes());
        }
        slot.extend_from_slice(frame);
        self.queued += 1;
        if self.queued >= SEND_BATCH {
            self.flush();
        }
    }

    pub fn flush(&mut self) {
        self.flush_ring();
        if self.queued == 0 {
            return;
        }
        let frames: Vec<&[u8]> = self.queue[..self.queued].iter().map(Vec::as_slice).collect();
        let sent = self.socket.send_many(&frames);
        self.send_errors += (self.queued - sent) as u64;
        self.queued = 0;
    }

    /// Hands the ring's frames over. A transient refusal (ENOBUFS) leaves them queued for the next flush; a
    /// lasting one (the interface went away) counts them as errors and empties the ring.
    fn flush_ring(&mut self) {
        let Some(ring) = self.ring.as_mut() else { return };
        if ring.queued() == 0 {
            return;
        }
        if ring.flush().is_err() {
            self.send_errors += ring.queued() as u64;
            ring.discard_queued();
        }
    }
}

/// The virtio header to send `frame` with. hdr_len: the headers, which the kernel puts in the skb's linear part
/// (packet_snd); the payload of a super-frame goes into pages. It must not exceed the frame.
fn header_with_len(frame: &[u8], vnet: VnetHeader) -> VnetHeader {
    let headers = TcpFrame::new_checked(frame).map_or(frame.len().min(128), |segment| segment.headers_len());
    VnetHeader { hdr_len: headers.min(frame.len()) as u16, ..vnet }
}

/// The guard needs CAP_NET_ADMIN as well as CAP_NET_RAW (promiscuous mode); say so.
fn privilege(err: OpenError) -> anyhow::Error {
    match err {
        OpenError::NoPrivilege(interface) => anyhow::anyhow!(
            "guarding on {interface} needs CAP_NET_RAW and CAP_NET_ADMIN: run synscope with sudo, or grant them \
             once with `sudo setcap cap_net_raw,cap_net_admin+ep $(command -v synscope)`"
        ),
        other => other.into(),
    }
}
