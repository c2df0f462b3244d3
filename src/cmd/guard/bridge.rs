//! One guard thread's loop: drain the rings, hand each frame to the pure [`Guard`] with its kernel timestamp, send
//! what comes back in batches, fire timers, and once a second post its figures for the printer (`report.rs`).
//!
//! Order matters under a flood: the rings other than the outside's SYNs are drained before each burst of SYNs, so
//! the traffic of connections the guard has admitted never waits behind more than one burst of the flood.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use super::links::{DataPath, RingDrops, Rings, Sender};
use crate::capture::live::frame_ring::{FrameRing, SlotFrame};
use crate::defense::guard::{Checksum, Guard, GuardStats, Interface, Outbox, Verdict};
use crate::time::Timestamp;
use crate::wire::vnet::VnetHeader;
use crate::xdp::{HeldTuples, ProgramSettings};

/// Frames taken from one ring before looking at the others.
const BURST: usize = 512;
/// `sll_pkttype` of frames this host sent: the guard's own sends, seen again by the ring of that interface.
pub(crate) const PACKET_OUTGOING: u8 = 4;

/// Senders by side: outside first.
pub type Senders = [Sender; 2];

/// What the loop leaves behind: the guard's counters, the kernel's ring drops, the frames it could not send, and
/// how it passed on super-frames and partial checksums.
pub struct Served {
    pub stats: GuardStats,
    pub ring_drops: RingDrops,
    pub send_errors: u64,
    pub data_path: DataPath,
}

/// A thread's figures as of its last post.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub stats: serde_json::Value,
    pub ring_drops: u64,
    pub send_errors: u64,
}

/// Where the threads post their snapshots, one slot each.
pub type Board = Arc<Mutex<Vec<Snapshot>>>;

/// Runs one thread's bridge until `stop` or `deadline`.
pub fn serve(
    guard: &mut Guard,
    rings: &mut Rings,
    senders: &mut Senders,
    stop: &AtomicBool,
    deadline: Option<Instant>,
    (board, slot): (&Board, usize),
    xdp: Option<XdpLinks<'_>>,
) -> Served {
    let held = xdp.map(|links| links.held);
    let settings = xdp.map(|links| links.settings);
    let mut work = Work { outbox: Outbox::default(), frame: Vec::with_capacity(1 << 16), held, settings };
    let mut next_post = Instant::now();
    let mut ring_drops = RingDrops::default();
    while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        let mut busy = 0;
        busy += work.pump(guard, senders, &mut rings.outside, Interface::Outside);
        busy += work.pump(guard, senders, &mut rings.inside, Interface::Inside);
        busy += work.pump(guard, senders, &mut rings.outside_syns, Interface::Outside);
        guard.handle_timeout(now(), &mut work.outbox);
        mirror_proxy(work.held, guard);
        work.send_outbox(senders);
        for sender in senders.iter_mut() {
            sender.flush();
        }
        if Instant::now() >= next_post {
            next_post += StdDuration::from_secs(1);
            rings.add_drops(&mut ring_drops);
            post(guard, &ring_drops, senders, board, slot);
        }
        if busy == 0 {
            rings.wait(10);
        }
    }
    rings.add_drops(&mut ring_drops);
    post(guard, &ring_drops, senders, board, slot);
    let send_errors = senders.iter().map(|s| s.send_errors).sum();
    let mut data_path = DataPath::default();
    for sender in senders.iter() {
        data_path.add(&sender.data_path);
    }
    Served { stats: guard.stats(), ring_drops, send_errors, data_path }
}

fn post(guard: &Guard, ring_drops: &RingDrops, senders: &Senders, board: &Board, slot: usize) {
    let snapshot = Snapshot {
        stats: serde_json::to_value(guard.stats()).unwrap_or_default(),
        ring_drops: ring_drops.total(),
        send_errors: senders.iter().map(|s| s.send_errors).sum(),
    };
    if let Ok(mut board) = board.lock()
        && let Some(place) = board.get_mut(slot)
    {
        *place = snapshot;
    }
}

/// What a guard thread shares with the XDP program in front of its rings.
#[derive(Clone, Copy)]
pub struct XdpLinks<'a> {
    /// The clients the proxy holds, which the program must leave to the rings.
    pub held: &'a HeldTuples,
    /// The program's settings, where SYN answering is stopped when the program cannot read the frames right.
    pub settings: &'a ProgramSettings,
}

/// Buffers reused for every frame, and where the proxy's changes are mirrored.
struct Work<'h> {
    outbox: Outbox,
    frame: Vec<u8>,
    held: Option<&'h HeldTuples>,
    settings: Option<&'h ProgramSettings>,
}

impl Work<'_> {
    /// Up to a burst of frames from one ring through the guard; returns how many there were.
    fn pump(&mut self, guard: &mut Guard, senders: &mut Senders, ring: &mut FrameRing, side: Interface) -> usize {
        ring.drain(BURST, |received| {
            if received.packet_type == PACKET_OUTGOING {
                return;
            }
            let ts = received.ts;
            // A partial checksum stays partial: it goes on with the frame's virtio header and is completed on
            // egress, once per segment of a super-frame (TP_STATUS_CSUMNOTREADY says the same as NEEDS_CSUM).
            let checksum = if received.checksum_pending || received.vnet.checksum_partial() {
                Checksum::Partial
            } else {
                Checksum::Complete
            };
            // Most frames are handled where they lie, in the ring; only one whose VLAN tag the driver took out is
            // copied out first, to put the tag back.
            let (frame, vnet): (&mut [u8], VnetHeader) = match received.vlan {
                Some(_) => {
                    if side == Interface::Outside {
                        stop_blind_answering(self.settings);
                    }
                    let Some(vnet) = received.vnet.shifted(4) else {
                        senders[index_of(side.other())].data_path.unsendable += 1;
                        return;
                    };
                    restore_tag(&received, &mut self.frame);
                    (&mut self.frame, vnet)
                }
                None => (received.data, received.vnet),
            };
            let verdict = guard.handle(ts, side, frame, checksum, &mut self.outbox);
            mirror_proxy(self.held, guard);
            if verdict == Verdict::Forward {
                senders[index_of(side.other())].push_with(frame, vnet);
            }
            self.send_outbox(senders);
        })
    }

    fn send_outbox(&mut self, senders: &mut Senders) {
        for (to, crafted) in self.outbox.frames() {
            senders[index_of(to)].push(crafted);
        }
        self.outbox.clear();
    }
}

/// The XDP program must leave the clients the proxy holds to this thread (`xdp::HeldTuples`): their segments pass,
/// and a SYN from one comes here. Called after every frame, before anything it produced is sent: the listener's
/// SYN-ACK, and the client's segments after it, must find the client in the map.
fn mirror_proxy(held: Option<&HeldTuples>, guard: &mut Guard) {
    if let Some(held) = held {
        for change in guard.drain_proxy_changes() {
            held.apply(change);
        }
    }
}

/// A frame reached the outside ring with its 802.1Q tag in the ring's metadata: the driver took it out before XDP
/// ran (veth keeps a sender's offloaded tag in `skb->vlan_tci`; NICs strip tags with rx-vlan-offload), so the
/// program saw the frame untagged. It cannot tell such a frame from an untagged one (only a device-bound program
/// can ask, with the `bpf_xdp_metadata_rx_vlan_tag` kfunc, Linux 6.8+), and would answer a tagged client's SYN
/// with an untagged SYN-ACK that never reaches the client's VLAN, then drop the client's segments as unknown ACKs.
/// So SYN answering and ACK checks stop for good at the first such frame, and the rings take every SYN from then
/// on. On a link carrying VLANs the first tagged frame is almost always an ARP request or a neighbour
/// solicitation, which comes before any SYN. It is said once, by the main thread (`XdpFront::watch`).
fn stop_blind_answering(settings: Option<&ProgramSettings>) {
    let Some(settings) = settings else { return };
    if settings.answering_stopped() {
        return;
    }
    let stopped = settings.stop_answering(|| {
        "frames arrive with their 802.1Q tag taken out by the driver, where the XDP program cannot see it, so it \
         could answer a tagged client untagged; SYNs go to the packet rings from now on"
            .to_string()
    });
    if let Err(e) = stopped {
        eprintln!("synscope: fast path: could not stop SYN answering in XDP for VLAN-tagged frames: {e}");
    }
}

fn index_of(side: Interface) -> usize {
    if side == Interface::Outside { 0 } else { 1 }
}

/// The frame as it was on the wire: the VLAN tag the driver took out (TP_STATUS_VLAN_VALID) put back after the
/// MAC addresses. Its virtio header's offsets move by the tag's 4 bytes ([`VnetHeader::shifted`]).
pub(crate) fn restore_tag(received: &SlotFrame<'_>, frame: &mut Vec<u8>) {
    frame.clear();
    let data = &*received.data;
    match received.vlan {
        Some((tci, tpid)) if data.len() >= 12 => {
            frame.extend_from_slice(&data[..12]);
            frame.extend_from_slice(&tpid.to_be_bytes());
            frame.extend_from_slice(&tci.to_be_bytes());
            frame.extend_from_slice(&data[12..]);
        }
        _ => frame.extend_from_slice(data),
    }
}

/// The wall clock, which the rings' timestamps also read (the kernel's realtime clock).
pub(crate) fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_nanos(since_epoch.as_nanos() as u64)
}
