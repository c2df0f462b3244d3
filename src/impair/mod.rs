//! Link impairments as `tc netem` applies them, for kernels built without `sch_netem` (this project's CI machine
//! is one: `CONFIG_NET_SCH_NETEM` is unset) and for runs that must repeat exactly (a seed, not the kernel's
//! random state). Pure: frames come in with a time and leave when [`Impairer::pop_due`] is asked at or after their
//! release time; the caller owns the sockets and the clock.
//!
//! The rules follow netem's (`net/sched/sch_netem.c`, `man tc-netem`), so a fault written for one means the same
//! for the other:
//! - **loss** drops a frame with the given probability, independently of the others;
//! - **duplicate** queues a second copy with the given probability (the copy gets its own delay);
//! - **delay** and **jitter** hold a frame for `delay ± jitter`, uniform over that range (netem's default when no
//!   distribution table is given). Frames leave in order of release time, as netem's time-ordered queue (`tfifo`)
//!   sends them, so jitter reorders frames that arrive closer together than the jitter;
//! - **reorder** sends a frame at once, ahead of the delayed ones, with the given probability; the rest wait for
//!   the delay. As in netem it needs a delay to do anything: `--reorder` without `--delay` takes netem's usual
//!   10 ms (the man page's example), and says so in [`Spec::describe`];
//! - **limit**: at most this many frames are held (netem's default is 1000); a frame arriving at a full queue is
//!   dropped and counted, as netem counts `overlimits`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::rng::XorShift;
use crate::time::{Duration, Timestamp};

/// The delay `--reorder` uses when no `--delay` is given.
pub const REORDER_DEFAULT_DELAY: Duration = Duration::from_millis(10);
/// netem's default queue limit, in frames.
pub const DEFAULT_LIMIT: usize = 1000;

/// A probability given as a percentage, `5%` or `5`, from 0 to 100.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Percent(pub f64);

impl Percent {
    fn hit(self, rng: &mut XorShift) -> bool {
        // 53 random bits give a uniform double in [0, 1); 0% never hits and 100% always does.
        self.0 > 0.0 && ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64) * 100.0 < self.0
    }
}

impl FromStr for Percent {
    type Err = String;

    fn from_str(text: &str) -> Result<Percent, String> {
        let number = text.trim().trim_end_matches('%');
        match number.parse::<f64>() {
            Ok(value) if (0.0..=100.0).contains(&value) => Ok(Percent(value)),
            _ => Err(format!("'{text}' is not a percentage from 0 to 100, such as 5%")),
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// What to do to the frames.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spec {
    pub loss: Percent,
    pub duplicate: Percent,
    pub reorder: Percent,
    pub delay: Duration,
    pub jitter: Duration,
    pub limit: usize,
}

impl Spec {
    /// The delay frames not picked for reordering get.
    pub fn effective_delay(&self) -> Duration {
        if self.reorder.0 > 0.0 && self.delay == Duration::ZERO { REORDER_DEFAULT_DELAY } else { self.delay }
    }

    /// The spec as a `tc qdisc add ... netem` line would spell it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let delay = self.effective_delay();
        if delay > Duration::ZERO || self.jitter > Duration::ZERO {
            let mut text = format!("delay {}ms", delay.as_nanos() as f64 / 1e6);
            if self.jitter > Duration::ZERO {
                text += &format!(" {}ms", self.jitter.as_nanos() as f64 / 1e6);
            }
            if self.delay == Duration::ZERO && self.reorder.0 > 0.0 {
                text += " (netem's usual delay for reordering)";
            }
            parts.push(text);
        }
        for (name, value) in [("loss", self.loss), ("duplicate", self.duplicate), ("reorder", self.reorder)] {
            if value.0 > 0.0 {
                parts.push(format!("{name} {value}"));
            }
        }
        parts.push(format!("limit {}", self.limit));
        parts.join(" ")
    }
}

/// What happened to the frames so far. Counters only grow.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImpairStats {
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    /// Dropped because `limit` frames were already held.
    pub overlimit: u64,
    pub sent: u64,
}

/// A frame waiting for its release time, with whatever the caller keeps beside it (its virtio header, say).
#[derive(Debug)]
pub struct Held<M> {
    pub bytes: Vec<u8>,
    pub meta: M,
}

/// The queue and its random state.
pub struct Impairer<M> {
    spec: Spec,
    rng: XorShift,
    /// (release time, arrival order, slot): the earliest release first, ties in arrival order.
    order: BinaryHeap<Reverse<(Timestamp, u64, usize)>>,
    slots: Vec<Option<Held<M>>>,
    free: Vec<usize>,
    arrivals: u64,
    stats: ImpairStats,
}

impl<M: Clone> Impairer<M> {
    pub fn new(spec: Spec, seed: u64) -> Impairer<M> {
        let limit = spec.limit.max(1);
        Impairer {
            spec: Spec { limit, ..spec },
            rng: XorShift::new(seed),
            order: BinaryHeap::with_capacity(limit),
            slots: Vec::new(),
            free: Vec::new(),
            arrivals: 0,
            stats: ImpairStats::default(),
        }
    }

    pub fn stats(&self) -> ImpairStats {
        self.stats
    }

    /// Frames held now.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// A frame arrives at `now`.
    pub fn push(&mut self, now: Timestamp, frame: &[u8], meta: M) {
        self.stats.received += 1;
        if self.spec.loss.hit(&mut self.rng) {
            self.stats.lost += 1;
            return;
        }
        let copies = if self.spec.duplicate.hit(&mut self.rng) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = self.release_time(now);
            self.hold(at, frame, meta.clone());
        }
    }

    /// The next frame whose release time is at or before `now`.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<Held<M>> {
        let &Reverse((at, _, slot)) = self.order.peek()?;
        if at > now {
            return None;
        }
        self.order.pop();
        let held = self.slots[slot].take();
        self.free.push(slot);
        self.stats.sent += u64::from(held.is_some());
        held
    }

    /// When the next frame is due, if one is held.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.order.peek().map(|Reverse((at, _, _))| *at)
    }

    fn release_time(&mut self, now: Timestamp) -> Timestamp {
        let delay = self.spec.effective_delay();
        if delay == Duration::ZERO && self.spec.jitter == Duration::ZERO {
            return now;
        }
        if self.spec.reorder.hit(&mut self.rng) {
            // Sent at once: it overtakes every frame still waiting for its delay.
            self.stats.reordered += 1;
            return now;
        }
        let jitter = self.spec.jitter.as_nanos();
        let low = delay.as_nanos().saturating_sub(jitter);
        let span = delay.as_nanos() + jitter - low;
        let offset = if span == 0 { 0 } else { self.rng.next_u64() % (span + 1) };
        now.saturating_add(Duration::from_nanos(low + offset))
    }

    fn hold(&mut self, at: Timestamp, frame: &[u8], meta: M) {
        if self.order.len() >= self.spec.limit {
            self.stats.overlimit += 1;
            return;
        }
        let held = Held { bytes: frame.to_vec(), meta };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(held);
                slot
            }
            None => {
                self.slots.push(Some(held));
                self.slots.len() - 1
            }
        };
        self.arrivals += 1;
        self.order.push(Reverse((at, self.arrivals, slot)));
    }
}

#[cfg(test)]
mod tests;
