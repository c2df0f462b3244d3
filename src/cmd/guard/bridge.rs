//! The guard's loop: drain the rings, hand each frame to the pure [`Guard`] with its kernel timestamp, send what
//! comes back in batches, fire timers, print a line a second.
//!
//! Order matters under a flood: the rings other than the outside's SYNs are drained before each burst of SYNs, so
//! the traffic of connections the guard has admitted never waits behind more than one burst of the flood.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant};

use super::links::{RingDrops, Rings, Sender};
use crate::capture::live::frame_ring::FrameRing;
use crate::capture::live::ring::RingFrame;
use crate::defense::guard::{Guard, GuardStats, Outbox, Side, Verdict};
use crate::time::Timestamp;

/// Frames taken from one ring before looking at the others.
const BURST: usize = 512;
/// `sll_pkttype` of frames this host sent: the guard's own sends, seen again by the ring of that interface.
const PACKET_OUTGOING: u8 = 4;

/// Senders by side: outside first.
pub type Senders = [Sender; 2];

/// What the loop leaves behind: the guard's counters and the kernel's ring drops.
pub struct Served {
    pub stats: GuardStats,
    pub ring_drops: RingDrops,
}

pub fn serve(
    guard: &mut Guard,
    rings: &mut Rings,
    senders: &mut Senders,
    stop: &AtomicBool,
    deadline: Option<Instant>,
    quiet: bool,
) -> Served {
    let mut work = Work { outbox: Outbox::default(), frame: Vec::with_capacity(1 << 16) };
    let mut next_line = Instant::now() + StdDuration::from_secs(1);
    let mut last = guard.stats();
    let mut ring_drops = RingDrops::default();
    let mut last_drops = ring_drops;
    while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        let mut busy = 0;
        busy += work.pump(guard, senders, &mut rings.outside, Side::Outside);
        busy += work.pump(guard, senders, &mut rings.inside, Side::Inside);
        busy += work.pump(guard, senders, &mut rings.outside_syns, Side::Outside);
        guard.poll_timers(now(), &mut work.outbox);
        work.send_outbox(senders);
        for sender in senders.iter_mut() {
            sender.flush();
        }
        if Instant::now() >= next_line {
            next_line += StdDuration::from_secs(1);
            let stats = guard.stats();
            rings.add_drops(&mut ring_drops);
            if !quiet {
                let send_errors = senders.iter().map(|s| s.send_errors).sum();
                print_line(&last, &stats, ring_drops.total() - last_drops.total(), send_errors);
            }
            last = stats;
            last_drops = ring_drops;
        }
        if busy == 0 {
            rings.wait(10);
        }
    }
    rings.add_drops(&mut ring_drops);
    Served { stats: guard.stats(), ring_drops }
}

/// Buffers reused for every frame.
struct Work {
    outbox: Outbox,
    frame: Vec<u8>,
}

impl Work {
    /// Up to a burst of frames from one ring through the guard; returns how many there were.
    fn pump(&mut self, guard: &mut Guard, senders: &mut Senders, ring: &mut FrameRing, side: Side) -> usize {
        ring.drain(BURST, |received| {
            if received.packet_type == PACKET_OUTGOING {
                return;
            }
            restore(&received, &mut self.frame);
            if guard.handle(received.ts, side, &mut self.frame, &mut self.outbox) == Verdict::Forward {
                senders[index_of(side.other())].push(&self.frame);
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

fn index_of(side: Side) -> usize {
    if side == Side::Outside { 0 } else { 1 }
}

/// The frame as it was on the wire: a stripped VLAN tag put back, and a checksum the sender left to hardware
/// filled in (forwarded as it is, the receiver would drop it).
fn restore(received: &RingFrame<'_>, frame: &mut Vec<u8>) {
    frame.clear();
    let data = received.data;
    match received.vlan {
        Some((tci, tpid)) if data.len() >= 12 => {
            frame.extend_from_slice(&data[..12]);
            frame.extend_from_slice(&tpid.to_be_bytes());
            frame.extend_from_slice(&tci.to_be_bytes());
            frame.extend_from_slice(&data[12..]);
        }
        _ => frame.extend_from_slice(data),
    }
    if received.checksum_pending {
        crate::wire::checksum::fill_transport_checksum(frame);
    }
}

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_nanos(since_epoch.as_nanos() as u64)
}

/// One line a second on stderr: rates over the last second, and the tables now.
fn print_line(last: &GuardStats, now: &GuardStats, ring_drops: u64, send_errors: u64) {
    let (a, b) = (&last.counters, &now.counters);
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "guard: {} SYN/s, {} SYN-ACK/s, in {} pps, out {} pps | half-open {} (peak {}) | proxied {} | cookies ok {} \
         failed {} expired {} | drops {} | rst sent {}{}{}",
        b.syns_seen - a.syns_seen,
        b.synacks_sent - a.synacks_sent,
        b.frames_in - a.frames_in,
        b.frames_out - a.frames_out,
        now.half_open.current,
        now.half_open.peak,
        now.proxy.current,
        b.cookies_validated,
        b.cookies_failed,
        b.cookies_expired,
        b.drops.total(),
        b.rsts_sent,
        if ring_drops > 0 { format!(" | ring full, {ring_drops} frames/s dropped unread") } else { String::new() },
        if send_errors > 0 { format!(" | send errors {send_errors}") } else { String::new() }
    );
}
