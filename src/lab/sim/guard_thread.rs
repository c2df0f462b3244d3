//! The guard's thread as `cmd/guard/bridge.rs` runs it, for timing only: three bounded receive rings and one CPU
//! that takes frames from them in the loop's order. The frames' contents go through the real
//! [`crate::defense::guard::Guard`] in [`super::world`]; this module decides *when* each is handled and which are
//! lost because a ring was full.
//!
//! The loop, per pass: up to [`BURST`] frames from the outside's ring of other frames, then up to [`BURST`] from
//! the inside's ring, then up to [`BURST`] SYNs, then its timers and a flush of the transmit rings (a pass's
//! overhead); a pass that found nothing sleeps in `poll` until a frame arrives (a wakeup's cost). Each frame takes
//! the CPU for its own cost; what the guard sends for it waits in a transmit ring until the pass ends or a batch
//! is full ([`super::world`]). A ring holds
//! `ring_slots` frames; the kernel drops what arrives at a full ring (`tpacket_rcv`), which the real guard reports
//! as `ring_drops`.
//!
//! So under a flood the SYN ring fills, the SYNs behind a legitimate one in its burst are handled before the
//! listener's SYN-ACK for it is read, and the round trip through the guard grows with the flood: what decides
//! whether a half-open entry survives `--overflow evict-oldest`.
//!
//! Not modelled: other processes taking the guard's CPU (the real lab's `machine` verdicts).

use std::collections::VecDeque;

use super::segment::Seg;
use crate::defense::guard::Interface;
use crate::time::{Duration, Timestamp};

/// Frames taken from one ring before looking at the others (`bridge.rs`'s `BURST`).
pub const BURST: usize = 512;

/// The three receive rings, in the loop's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ring {
    /// The outside's frames other than pure SYNs.
    Outside,
    Inside,
    /// The outside's pure SYNs (split off by a classic BPF filter).
    OutsideSyns,
}

const RINGS: [Ring; 3] = [Ring::Outside, Ring::Inside, Ring::OutsideSyns];

impl Ring {
    /// The ring a segment arriving on `side` lands in.
    pub fn of(side: Interface, seg: &Seg) -> Ring {
        match side {
            Interface::Inside => Ring::Inside,
            Interface::Outside if seg.is_syn() => Ring::OutsideSyns,
            Interface::Outside => Ring::Outside,
        }
    }

    pub fn side(self) -> Interface {
        match self {
            Ring::Inside => Interface::Inside,
            Ring::Outside | Ring::OutsideSyns => Interface::Outside,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A frame waiting in a ring: the segment, and whether it is the attacker's (crafted from a template).
#[derive(Clone, Copy, Debug)]
pub struct Waiting {
    pub seg: Seg,
    pub attack: bool,
}

/// What the thread does next.
pub enum Step {
    /// Handle this frame now; then call [`GuardThread::handled`] with its cost.
    Frame(Ring, Waiting),
    /// Nothing to handle at this instant (a pass ended, or the thread went to sleep).
    Idle,
}

pub struct GuardThread {
    rings: [VecDeque<Waiting>; 3],
    slots: usize,
    dropped: [u64; 3],
    /// The ring the pass is at, and how many frames it has taken from it.
    stage: usize,
    taken: usize,
    /// Frames taken in this pass.
    pass_frames: usize,
    /// When the thread next looks at its rings; `None` while it sleeps.
    next: Option<Timestamp>,
    pass_cost: Duration,
    wakeup_cost: Duration,
    busy_ns: u64,
}

impl GuardThread {
    pub fn new(slots: usize, pass_cost: Duration, wakeup_cost: Duration) -> GuardThread {
        GuardThread {
            rings: Default::default(),
            slots,
            dropped: [0; 3],
            stage: 0,
            taken: 0,
            pass_frames: 0,
            next: None,
            pass_cost,
            wakeup_cost,
            busy_ns: 0,
        }
    }

    /// A frame reaching `ring` at `now`: queued, or dropped if the ring is full. A sleeping thread wakes.
    pub fn arrive(&mut self, now: Timestamp, ring: Ring, frame: Waiting) {
        let queue = &mut self.rings[ring.index()];
        if queue.len() >= self.slots {
            self.dropped[ring.index()] += 1;
            return;
        }
        queue.push_back(frame);
        if self.next.is_none() {
            self.next = Some(now.saturating_add(self.wakeup_cost));
            self.busy_ns += self.wakeup_cost.as_nanos();
        }
    }

    /// When the thread next needs the clock.
    pub fn next_at(&self) -> Option<Timestamp> {
        self.next
    }

    /// The thread's move at `now` (its [`next_at`](Self::next_at)).
    pub fn step(&mut self, now: Timestamp) -> Step {
        while self.stage < RINGS.len() {
            let ring = RINGS[self.stage];
            if self.taken < BURST
                && let Some(frame) = self.rings[ring.index()].pop_front()
            {
                self.taken += 1;
                self.pass_frames += 1;
                // The caller reports the frame's cost before the clock moves on.
                self.next = Some(now);
                return Step::Frame(ring, frame);
            }
            self.stage += 1;
            self.taken = 0;
        }
        // The pass is over: timers and flushes, then the next pass; or, if it found nothing, poll(2).
        self.stage = 0;
        if self.pass_frames == 0 {
            self.next = None;
        } else {
            self.pass_frames = 0;
            self.next = Some(now.saturating_add(self.pass_cost));
            self.busy_ns += self.pass_cost.as_nanos();
        }
        Step::Idle
    }

    /// The frame [`step`](Self::step) gave out at `now` took `cost`.
    pub fn handled(&mut self, now: Timestamp, cost: Duration) {
        self.next = Some(now.saturating_add(cost));
        self.busy_ns += cost.as_nanos();
    }

    /// Frames lost to a full ring, per ring.
    pub fn dropped(&self, ring: Ring) -> u64 {
        self.dropped[ring.index()]
    }

    /// CPU time the thread spent.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_ns)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddrV4;

    use super::*;
    use crate::wire::segment::TcpFlags;

    fn frame(flags: u16, n: u32) -> Waiting {
        let src: SocketAddrV4 = format!("198.18.0.{}:{}", n % 250, 1000 + n % 60_000).parse().unwrap();
        Waiting { seg: Seg::new(src, "10.77.0.2:9999".parse().unwrap(), flags, n, 0), attack: true }
    }

    fn at_us(us: u64) -> Timestamp {
        Timestamp::from_nanos(1_000_000_000 + us * 1_000)
    }

    /// Runs the thread until it sleeps or `until`, each frame costing `cost`; returns (time, ring, seq) handled.
    fn run(t: &mut GuardThread, cost: Duration, until: Timestamp) -> Vec<(Timestamp, Ring, u32)> {
        let mut handled = Vec::new();
        while let Some(now) = t.next_at().filter(|&at| at <= until) {
            if let Step::Frame(ring, w) = t.step(now) {
                handled.push((now, ring, w.seg.seq));
                t.handled(now, cost);
            }
        }
        handled
    }

    #[test]
    fn a_full_ring_drops_and_the_others_are_drained_before_each_burst_of_syns() {
        let mut t = GuardThread::new(600, Duration::ZERO, Duration::ZERO);
        for n in 0..700 {
            t.arrive(at_us(0), Ring::OutsideSyns, frame(TcpFlags::SYN, n));
        }
        assert_eq!(t.dropped(Ring::OutsideSyns), 100);
        // A SYN-ACK from the listener arrives while the first burst runs: it waits for the burst's end, then goes
        // before the rest of the SYNs.
        let mut handled = run(&mut t, Duration::from_micros(1), at_us(10));
        t.arrive(at_us(10), Ring::Inside, frame(TcpFlags::SYN | TcpFlags::ACK, 9_999));
        handled.extend(run(&mut t, Duration::from_micros(1), at_us(100_000)));
        let inside = handled.iter().position(|&(_, ring, _)| ring == Ring::Inside).unwrap();
        assert_eq!(inside, BURST);
        assert_eq!(handled.len(), 601);
        assert_eq!(handled[BURST].0, at_us(BURST as u64));
        assert!(t.next_at().is_none(), "asleep once the rings are empty");
    }

    #[test]
    fn arrivals_beyond_the_service_rate_overflow_the_ring() {
        // 2 SYNs per µs against 1 µs each: about half are lost once the ring is full.
        let mut t = GuardThread::new(1_000, Duration::ZERO, Duration::ZERO);
        let mut handled = 0;
        for i in 0..100_000u64 {
            let now = Timestamp::from_nanos(1_000_000_000 + i * 500);
            t.arrive(now, Ring::OutsideSyns, frame(TcpFlags::SYN, i as u32));
            handled += run(&mut t, Duration::from_micros(1), now).len();
        }
        let lost = t.dropped(Ring::OutsideSyns) as f64 / 100_000.0;
        assert!((lost - 0.5).abs() < 0.02, "{lost}");
        assert!(handled > 49_000, "{handled}");
        assert!(t.busy() >= Duration::from_millis(49), "{:?}", t.busy());
    }

    #[test]
    fn a_sleeping_thread_pays_a_wakeup_and_each_pass_its_overhead() {
        let mut t = GuardThread::new(10, Duration::from_micros(3), Duration::from_micros(10));
        t.arrive(at_us(0), Ring::Outside, frame(TcpFlags::ACK, 1));
        let handled = run(&mut t, Duration::from_micros(1), at_us(1_000));
        assert_eq!(handled, [(at_us(10), Ring::Outside, 1)]);
        // wakeup 10 + frame 1 + pass 3; the empty pass after it costs nothing and sleeps.
        assert_eq!(t.busy(), Duration::from_micros(14));
        assert!(t.next_at().is_none());
    }
}
