//! The capture thread of one interface: drain ring blocks into frame batches, hand them to the engine without ever
//! waiting for it, send a clock tick when the interface is quiet, and keep the kernel's counters current.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use super::convert::{self, Conversion};
use super::ring::Ring;
use super::{LiveCounters, LiveEvent};
use crate::capture::FrameBatch;
use crate::time::Timestamp;

/// How long one poll(2) waits: also how quickly a stop request or a quiet-interface tick is noticed.
const POLL_MS: i32 = 50;
/// How often the kernel's counters are read while capturing.
const STATS_EVERY: Duration = Duration::from_millis(250);
/// How far a quiet-interface tick stays behind the clock.
const TICK_LAG: crate::time::Duration = crate::time::Duration::from_millis(200);
/// At a stop, how long to wait for the engine to take the last batch.
const LAST_SEND: Duration = Duration::from_secs(2);
/// At a stop, how long to keep draining: the frames in the block the kernel is still filling become ours only
/// when its retire timer closes it, within RETIRE_MS of the first (rounded up to jiffies, so allow three times
/// that). Stopping sooner would lose the last few milliseconds of traffic, such as the end of a connection.
const LAST_RETIRE: Duration = Duration::from_millis(3 * super::RETIRE_MS as u64);

pub(super) struct Worker {
    pub interface: String,
    pub ring: Ring,
    pub conversion: Conversion,
    pub counters: Arc<LiveCounters>,
    pub tx: Sender<LiveEvent>,
    pub recycled: Receiver<FrameBatch>,
    pub stop: Arc<AtomicBool>,
}

impl Worker {
    pub fn run(mut self) {
        let mut batch = self.fresh_batch();
        let mut stats_read = Instant::now();
        loop {
            let stopping = self.stop.load(Ordering::Relaxed);
            let mut drained = false;
            while batch.len() < FrameBatch::FRAMES {
                let (conversion, batch_ref) = (&self.conversion, &mut batch);
                if !self.ring.drain_block(|frame| {
                    convert::push(conversion, &frame, batch_ref);
                }) {
                    break;
                }
                drained = true;
            }
            let hand_over_now = !batch.is_empty() && (!self.ring.ready() || batch.len() >= FrameBatch::FRAMES);
            if hand_over_now && !self.hand_over(&mut batch, false) {
                return;
            }
            if stats_read.elapsed() >= STATS_EVERY || stopping {
                self.read_kernel_stats();
                stats_read = Instant::now();
            }
            if stopping {
                // Everything captured so far, including the block still open when the stop came, then hang up.
                let until = Instant::now() + LAST_RETIRE;
                loop {
                    while batch.len() < FrameBatch::FRAMES
                        && self.ring.drain_block(|frame| {
                            convert::push(&self.conversion, &frame, &mut batch);
                        })
                    {}
                    if batch.len() >= FrameBatch::FRAMES && !self.hand_over(&mut batch, true) {
                        return;
                    }
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    if !self.ring.ready() {
                        let _ = self.ring.wait((left.as_millis() as i32).max(1));
                    }
                }
                self.hand_over(&mut batch, true);
                self.read_kernel_stats();
                return;
            }
            if !drained {
                if let Err(err) = self.ring.wait(POLL_MS) {
                    let _ =
                        self.tx.send(LiveEvent::Failed { interface: self.interface.clone(), error: err.to_string() });
                    return;
                }
                if !self.ring.ready() {
                    // Quiet: let the engine's clock move on (a dropped tick is harmless). The tick lags the clock
                    // by more than a block's retire time, so no frame still sitting in an unretired block is
                    // older than a tick already sent.
                    let _ = self.tx.try_send(LiveEvent::Tick(now().saturating_sub(TICK_LAG)));
                }
            }
        }
    }

    /// Sends the batch to the engine. A full channel means the engine is behind: the batch is counted as dropped
    /// and reused, so the ring keeps draining (DESIGN.md: a live source never blocks on the engine). At the last
    /// send of a stop the engine is draining, so it is worth waiting for. Returns false when the engine is gone.
    fn hand_over(&self, batch: &mut FrameBatch, last: bool) -> bool {
        if batch.is_empty() {
            return true;
        }
        let frames = batch.len() as u64;
        let full = std::mem::replace(batch, self.fresh_batch());
        let sent = if last {
            self.tx.send_timeout(LiveEvent::Frames(full), LAST_SEND).map_err(|e| match e {
                crossbeam_channel::SendTimeoutError::Timeout(event) => TrySendError::Full(event),
                crossbeam_channel::SendTimeoutError::Disconnected(event) => TrySendError::Disconnected(event),
            })
        } else {
            self.tx.try_send(LiveEvent::Frames(full))
        };
        match sent {
            Ok(()) => {
                self.counters.captured.fetch_add(frames, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(LiveEvent::Frames(mut back))) => {
                self.counters.channel_dropped.fetch_add(frames, Ordering::Relaxed);
                back.clear();
                *batch = back;
                true
            }
            Err(TrySendError::Full(_)) => true,
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    fn fresh_batch(&self) -> FrameBatch {
        let mut batch = self.recycled.try_recv().unwrap_or_default();
        batch.clear();
        batch
    }

    fn read_kernel_stats(&self) {
        if let Ok(stats) = self.ring.socket().take_stats() {
            self.counters.kernel_received.fetch_add(stats.packets, Ordering::Relaxed);
            self.counters.kernel_dropped.fetch_add(stats.drops, Ordering::Relaxed);
        }
    }
}

/// The kernel's CLOCK_REALTIME, the clock frame timestamps come from.
fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Timestamp::from_nanos(since_epoch.as_nanos() as u64)
}
