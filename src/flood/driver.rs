//! The flood loop, at the edge: the one clock, the token bucket, crafting into the sender's slots, flushing, and
//! the stop conditions (count, duration, signal), then a bounded drain of what is queued. It runs on one thread per
//! worker (`--threads`), each with its own socket, ring and share of the count and rate, since on a veth the
//! receiving namespace's stack runs on the sending CPU (the softirq raised by `netif_rx` runs when the send path
//! re-enables bottom halves), so one core is spent on both ends. The calling thread prints the once-a-second line.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::bucket::TokenBucket;
use super::report::{Progress, Stop};
use super::template::SegmentGenerator;
use crate::capture::tx::{Tx, TxError};

/// How long the frames still queued at the end may take to leave.
const DRAIN: Duration = Duration::from_secs(1);
/// The longest nap while pacing, so Ctrl-C, the deadline and the progress line are never late by more.
const NAP: Duration = Duration::from_millis(20);
/// Back-off after a flush that sent nothing and met a transient error (a full device queue).
const BACKOFF: Duration = Duration::from_micros(200);
const SECOND: u64 = 1_000_000_000;

/// When to stop, and how fast to go.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub count: Option<u64>,
    pub duration: Duration,
    /// Frames per second; `None` is as fast as the sender goes.
    pub rate: Option<u64>,
    /// Frames crafted between two flushes, at most.
    pub batch: usize,
    /// What one frame is called in the once-a-second lines: `SYN`, or `frame` for other shapes.
    pub unit: &'static str,
}

/// What the loop did.
#[derive(Debug, Default)]
pub struct Outcome {
    pub sent: u64,
    /// Crafted and never taken by the kernel.
    pub failed: u64,
    /// Flushes cut short by a transient error and retried.
    pub retries: u64,
    /// From the start to the moment the last frame was handed over.
    pub elapsed: Duration,
    pub stop: Stop,
    /// The first transient error, for the report.
    pub first_retry: Option<String>,
    /// The error that stopped the flood, if one did.
    pub fatal: Option<TxError>,
}

/// One sending thread's sender and SYN generator.
pub struct Worker {
    pub tx: Box<dyn Tx + Send>,
    pub generator: SegmentGenerator,
}

/// Totals the workers add to as they go, for the once-a-second line.
#[derive(Default)]
struct Live {
    sent: AtomicU64,
    retries: AtomicU64,
}

/// The `index`th of `parts` near-equal shares of `total` (the first ones take the remainder).
pub fn share(total: u64, parts: usize, index: usize) -> u64 {
    let parts = parts.max(1) as u64;
    total / parts + u64::from((index as u64) < total % parts)
}

/// Runs the flood on one thread per worker until a limit or `stop`, each with its share of the count and the
/// rate; this thread prints the once-a-second lines through `progress`. A thread that cannot be started stops
/// the others and is reported as the error.
pub fn run(
    workers: Vec<Worker>,
    limits: &Limits,
    stop: &AtomicBool,
    mut progress: impl FnMut(&str),
) -> std::io::Result<Outcome> {
    let parts = workers.len();
    let start = Instant::now();
    let live = Live::default();
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(parts);
        for (index, mut worker) in workers.into_iter().enumerate() {
            let mine = Limits {
                count: limits.count.map(|count| share(count, parts, index)),
                rate: limits.rate.map(|rate| share(rate, parts, index)),
                ..*limits
            };
            let live = &live;
            let spawned = std::thread::Builder::new()
                .name(format!("flood-{index}"))
                .spawn_scoped(scope, move || send(worker.tx.as_mut(), &mut worker.generator, &mine, start, stop, live));
            match spawned {
                Ok(handle) => handles.push(handle),
                Err(err) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(err);
                }
            }
        }
        let mut ticker = Progress::new(SECOND, limits.unit);
        while !handles.iter().all(|h| h.is_finished()) {
            let now = start.elapsed().as_nanos() as u64;
            let (sent, retries) = (live.sent.load(Ordering::Relaxed), live.retries.load(Ordering::Relaxed));
            if let Some(line) = ticker.tick(now, sent, retries) {
                progress(&line);
            }
            std::thread::sleep(Duration::from_nanos(ticker.next_due().saturating_sub(now)).min(NAP));
        }
        let outcomes = handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        Ok(outcomes.reduce(merge).unwrap_or_default())
    })
}

/// Two threads' outcomes as one: totals add, the later end counts, and the gravest reason to stop wins.
fn merge(a: Outcome, b: Outcome) -> Outcome {
    let rank = |stop: Stop| match stop {
        Stop::Error => 3,
        Stop::Signal => 2,
        Stop::Duration => 1,
        Stop::Count => 0,
    };
    Outcome {
        sent: a.sent + b.sent,
        failed: a.failed + b.failed,
        retries: a.retries + b.retries,
        elapsed: a.elapsed.max(b.elapsed),
        stop: if rank(b.stop) > rank(a.stop) { b.stop } else { a.stop },
        first_retry: a.first_retry.or(b.first_retry),
        fatal: a.fatal.or(b.fatal),
    }
}

/// One thread's loop: craft into the sender's slots as the bucket allows, flush, until a limit or `stop`.
fn send(
    tx: &mut dyn Tx,
    generator: &mut SegmentGenerator,
    limits: &Limits,
    start: Instant,
    stop: &AtomicBool,
    live: &Live,
) -> Outcome {
    let deadline = u64::try_from(limits.duration.as_nanos()).unwrap_or(u64::MAX);
    let batch = limits.batch.max(1) as u64;
    let mut bucket = limits.rate.map(TokenBucket::new);
    let mut out = Outcome::default();
    let mut crafted = 0u64;
    out.stop = loop {
        if stop.load(Ordering::Relaxed) {
            break Stop::Signal;
        }
        let now = start.elapsed().as_nanos() as u64;
        if now >= deadline {
            break Stop::Duration;
        }
        let remaining = limits.count.map_or(u64::MAX, |count| count - crafted);
        if remaining == 0 {
            break Stop::Count;
        }
        let mut want = batch.min(remaining);
        if let Some(bucket) = bucket.as_mut() {
            want = bucket.take(now, want);
            if want == 0 {
                let wake = bucket.wait(now).min(deadline - now);
                std::thread::sleep(Duration::from_nanos(wake).min(NAP));
                continue;
            }
        }
        let mut crafted_now = 0;
        while crafted_now < want {
            let Some(slot) = tx.slot() else { break };
            generator.fill(slot);
            tx.commit();
            crafted_now += 1;
        }
        crafted += crafted_now;
        if let Some(bucket) = bucket.as_mut() {
            // Tokens for frames that found no slot go back: the device, not the bucket, was the limit.
            bucket.refund(want - crafted_now);
        }
        match tx.flush() {
            Ok(flushed) => {
                out.sent += flushed.sent;
                live.sent.fetch_add(flushed.sent, Ordering::Relaxed);
                if let Some(err) = flushed.retry {
                    out.retries += 1;
                    live.retries.fetch_add(1, Ordering::Relaxed);
                    out.first_retry.get_or_insert_with(|| err.to_string());
                    if flushed.sent == 0 {
                        std::thread::sleep(BACKOFF);
                    }
                }
            }
            Err(err) => {
                // The others stop too: the report is about one flood.
                stop.store(true, Ordering::Relaxed);
                out.fatal = Some(err);
                break Stop::Error;
            }
        }
        if crafted_now == 0 {
            tx.wait_room(NAP);
        }
    };
    drain(tx, &mut out);
    out.elapsed = start.elapsed();
    out.failed = crafted - out.sent;
    out
}

/// Flushes what is still queued, for at most [`DRAIN`]; what is left then counts as failed.
fn drain(tx: &mut dyn Tx, out: &mut Outcome) {
    if out.fatal.is_some() {
        return;
    }
    let until = Instant::now() + DRAIN;
    while tx.queued() > 0 && Instant::now() < until {
        match tx.flush() {
            Ok(flushed) => {
                out.sent += flushed.sent;
                if flushed.retry.is_some() {
                    out.retries += 1;
                    std::thread::sleep(BACKOFF);
                }
            }
            Err(err) => {
                out.fatal = Some(err);
                out.stop = Stop::Error;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_differ_by_one_at_most() {
        for (total, parts) in [(5000, 1), (5000, 3), (2, 4), (0, 2), (u64::MAX, 7)] {
            let shares: Vec<u64> = (0..parts).map(|i| share(total, parts, i)).collect();
            assert_eq!(shares.iter().map(|&s| u128::from(s)).sum::<u128>(), u128::from(total), "{shares:?}");
            assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1, "{shares:?}");
        }
    }

    #[test]
    fn merged_outcomes_add_up_and_keep_the_gravest_stop() {
        let a =
            Outcome { sent: 10, failed: 1, elapsed: Duration::from_secs(2), stop: Stop::Count, ..Default::default() };
        let b =
            Outcome { sent: 5, retries: 2, elapsed: Duration::from_secs(1), stop: Stop::Signal, ..Default::default() };
        let both = merge(a, b);
        assert_eq!((both.sent, both.failed, both.retries), (15, 1, 2));
        assert_eq!((both.elapsed, both.stop), (Duration::from_secs(2), Stop::Signal));
    }
}
