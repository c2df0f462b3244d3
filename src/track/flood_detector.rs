//! SYN-flood detection over per-destination sliding windows.
//!
//! A SYN flood (RFC 4987 §2) sends connection attempts that never complete, so the victim's half-open (SYN-RECEIVED)
//! state fills up. A busy server also sees many SYNs, so rate alone is not evidence: a flash crowd completes its
//! handshakes, a spoofed flood does not. The detector therefore alerts on a high SYN rate *and* a low completion ratio
//! per destination ip:port, the same two signals the defences of RFC 4987 §3 react to.
//!
//! Pure and bounded like the rest of `track`: time comes only from the timestamps passed in, at most
//! `max_targets` destinations are tracked (least recently active evicted, counted), each with a fixed-size window and
//! a fixed-size HyperLogLog of sources.

use std::cell::Cell;
use std::collections::{BTreeSet, VecDeque};

use hashbrown::HashTable;

use crate::hash_key::{HashKey, splitmix64};
use std::fmt;
use std::net::IpAddr;

use crate::time::{Duration, Timestamp};
use crate::wire::flow::Endpoint;

/// Sub-buckets per window: enough for a smooth rate, few enough that a target's window stays a couple hundred bytes.
const BUCKETS: usize = 10;
/// One extra slot holds the bucket sliding out of the window, weighted by the part still inside it.
const RING: usize = BUCKETS + 1;

#[derive(Clone, Copy, Debug)]
pub struct FloodConfig {
    /// Alert threshold in SYN/s per destination.
    pub syn_rate: u32,
    /// Alert only while completed handshakes / SYNs in the window stays below this.
    pub max_completion: f64,
    /// Sliding window length.
    pub window: Duration,
    /// Destinations tracked at once; the least recently active is evicted and counted.
    pub max_targets: usize,
}

impl Default for FloodConfig {
    fn default() -> Self {
        FloodConfig { syn_rate: 1000, max_completion: 0.1, window: Duration::from_secs(1), max_targets: 4096 }
    }
}

/// The current sliding-window view of one destination.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WindowStats {
    pub syn_per_sec: f64,
    pub syn_ack_per_sec: f64,
    /// Completed handshakes / SYNs in the window, 0..=1; 1 when the window holds no SYN (nothing is failing).
    pub completion: f64,
    /// SYNs minus established minus half-open attempts closed, saturating at 0.
    pub half_open: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FloodEvent {
    /// `ts` is when the alarm tripped.
    Started { target: Endpoint, ts: Timestamp, syn_per_sec: f64, completion: f64, half_open: u64 },
    /// `started` is back-dated to the first SYN in the window that tripped the alarm, `ended` is the last SYN seen
    /// while the rate was still at least half the threshold, and `syns` counts the SYNs in between, so the record
    /// describes the attack rather than the detector's confirmation delay.
    Ended {
        target: Endpoint,
        started: Timestamp,
        ended: Timestamp,
        syns: u64,
        distinct_sources: u64,
        peak_syn_per_sec: f64,
    },
}

impl fmt::Display for FloodEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FloodEvent::Started { target, syn_per_sec, completion, half_open, .. } => write!(
                f,
                "[flood] SYN flood on {}: {syn_per_sec:.0} SYN/s, {:.1}% completed, {half_open} half-open",
                target.socket_addr(),
                completion * 100.0
            ),
            FloodEvent::Ended { target, started, ended, syns, distinct_sources, peak_syn_per_sec } => write!(
                f,
                "[flood ended] {} after {:.3} s: {syns} SYNs from {distinct_sources} sources, peak {:.0} SYN/s",
                target.socket_addr(),
                ended.saturating_since(*started).as_secs_f64(),
                peak_syn_per_sec
            ),
        }
    }
}

/// Hashes an address in its 16-byte (IPv4-mapped) form, so 192.0.2.1 and ::ffff:192.0.2.1 count once.
///
/// Deliberately not keyed, unlike the tables ([`crate::hash_key`]): the estimate is printed ("from N sources"), and
/// the same capture must print the same text on every run, as tcpdump's would. The estimate is not a table: a flood
/// that picks its sources to skew it gains no memory or time from us, only a wrong N in one line.
fn hash_ip(ip: IpAddr) -> u64 {
    let bytes = match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    let wide = u128::from_be_bytes(bytes);
    let mut high = (wide >> 64) as u64;
    let mut mixed = splitmix64(&mut high) ^ wide as u64;
    splitmix64(&mut mixed)
}

const HLL_BITS: u32 = 10;
const HLL_M: usize = 1 << HLL_BITS;

/// HyperLogLog (Flajolet et al. 2007) with 2^10 one-byte registers: a spoofed flood has as many sources as packets,
/// so an exact set would grow with the attack. Standard error is 1.04/√1024 ≈ 3.3%; linear counting takes over for
/// small counts, where it is nearly exact.
#[derive(Clone)]
struct Hll {
    registers: [u8; HLL_M],
}

impl Hll {
    fn new() -> Self {
        Hll { registers: [0; HLL_M] }
    }

    fn insert(&mut self, hash: u64) {
        let index = (hash >> (64 - HLL_BITS)) as usize;
        // Rank of the first set bit among the remaining 54 bits, 55 when none is set.
        let rank = ((hash << HLL_BITS).leading_zeros() + 1).min(64 - HLL_BITS + 1) as u8;
        let slot = &mut self.registers[index];
        *slot = (*slot).max(rank);
    }

    fn estimate(&self) -> f64 {
        let m = HLL_M as f64;
        let sum: f64 = self.registers.iter().map(|&r| (-f64::from(r)).exp2()).sum();
        let zeros = self.registers.iter().filter(|&&r| r == 0).count();
        let raw = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
        // Small-range correction: below 2.5 m the raw estimate is biased and linear counting is better. A 64-bit hash
        // needs no large-range correction.
        if raw <= 2.5 * m && zeros > 0 { m * (m / zeros as f64).ln() } else { raw }
    }

    fn count(&self) -> u64 {
        self.estimate().round() as u64
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    syns: u32,
    syn_acks: u32,
    completed: u32,
    /// Time of the bucket's first SYN, to back-date a flood's start.
    first_syn: Timestamp,
}

/// Counts in `window`, taken over a ring of sub-buckets: memory per target is fixed whatever the rate.
struct Window {
    ring: [Bucket; RING],
    /// Absolute index (time / bucket width) of the newest bucket.
    head: u64,
}

struct Sums {
    syns: f64,
    syn_acks: f64,
    completed: f64,
}

impl Window {
    fn advance(&mut self, idx: u64) {
        if idx > self.head {
            for step in 1..=(idx - self.head).min(RING as u64) {
                self.ring[((self.head + step) % RING as u64) as usize] = Bucket::default();
            }
            self.head = idx;
        }
    }

    fn newest(&mut self) -> &mut Bucket {
        &mut self.ring[(self.head % RING as u64) as usize]
    }

    /// Buckets still (partly) inside the window ending at `now`, with their weight: the oldest one counts for the
    /// fraction of it not yet slid out, which keeps the rate smooth across bucket boundaries. Read-only, so stats can
    /// be taken at any later time without advancing.
    fn live(&self, now: Timestamp, width: u64) -> impl Iterator<Item = (&Bucket, f64)> {
        let now_idx = (now.as_nanos() / width).max(self.head);
        let frac = (now.as_nanos() % width) as f64 / width as f64;
        (0..RING as u64).filter(|&k| k <= self.head).filter_map(move |k| {
            let b = self.head - k;
            let weight = match now_idx - b {
                age if age < BUCKETS as u64 => 1.0,
                age if age == BUCKETS as u64 => 1.0 - frac,
                _ => return None,
            };
            Some((&self.ring[(b % RING as u64) as usize], weight))
        })
    }

    /// [`Window::sums`], and whether every live bucket but the newest has no SYN. The sums are taken exactly as
    /// `sums` takes them (same operations, same order), so they are bit-identical.
    fn sums_and_older_quiet(&self, now: Timestamp, width: u64) -> (Sums, bool) {
        let newest = &self.ring[(self.head % RING as u64) as usize];
        let mut s = Sums { syns: 0.0, syn_acks: 0.0, completed: 0.0 };
        let mut older_quiet = true;
        for (b, w) in self.live(now, width) {
            s.syns += f64::from(b.syns) * w;
            s.syn_acks += f64::from(b.syn_acks) * w;
            s.completed += f64::from(b.completed) * w;
            older_quiet &= std::ptr::eq(b, newest) || b.syns == 0;
        }
        (s, older_quiet)
    }

    fn sums(&self, now: Timestamp, width: u64) -> Sums {
        let mut s = Sums { syns: 0.0, syn_acks: 0.0, completed: 0.0 };
        for (b, w) in self.live(now, width) {
            s.syns += f64::from(b.syns) * w;
            s.syn_acks += f64::from(b.syn_acks) * w;
            s.completed += f64::from(b.completed) * w;
        }
        s
    }
}

/// An alarm in progress on one target.
struct Flood {
    started: Timestamp,
    syns: u64,
    /// `syns` and time at the last SYN while the rate was ≥ half the threshold: what `Ended` reports.
    syns_hot: u64,
    last_hot: Timestamp,
    peak: f64,
    /// When the rate was first seen below half the threshold, if it still is.
    below_since: Option<Timestamp>,
}

struct Target {
    /// The destination this is the window of: the index stores targets, not key-value pairs.
    endpoint: Endpoint,
    window: Window,
    last_active: Timestamp,
    half_open: u64,
    /// Sources since the current burst began (reset after a quiet window or a flood's end). Boxed: 1 KiB each.
    sources: Box<Hll>,
    flood: Option<Flood>,
}

pub struct FloodDetector {
    config: FloodConfig,
    /// Sub-bucket width in ns; the effective window is `BUCKETS` of these.
    width: u64,
    /// Latest packet time seen: older timestamps are treated as this one.
    now: Timestamp,
    /// Destination ports are attacker-chosen, so the index is keyed ([`crate::hash_key`]): SipHash-1-3 of the
    /// target's 18 bytes under `key`, computed once per call ([`FloodDetector::hash`]) and used for every lookup it
    /// makes. Through a `HashMap` each lookup hashed again with siphasher's streaming `write` (on_syn made four).
    targets: HashTable<Target>,
    key: HashKey,
    /// The last target hashed and its hash: most connections of a capture go to a few servers, and a connection
    /// reports its SYN, SYN-ACK and handshake to the same target, so the SipHash of its 18 bytes (about 130
    /// instructions) is usually the one just computed: about 20 instr/pkt of `read -q` on the bench file
    /// (callgrind). The hash depends only on the endpoint and `key`, so a remembered one is always right.
    last_hashed: Cell<(Endpoint, u64)>,
    /// Targets by last activity, oldest first, for O(log n) eviction under a random-destination flood. Built the
    /// first time the table is full (from every target's `last_active`) and kept up to date from then on: until a
    /// target must be evicted nobody asks for the order, and keeping it cost a B-tree removal and insertion per SYN,
    /// SYN-ACK and completed handshake (about 55 instructions per packet of `read -q` on short sessions, callgrind).
    recency: Option<BTreeSet<(Timestamp, Endpoint)>>,
    /// Targets in flood, ordered so events come out in a deterministic order.
    flooding: BTreeSet<Endpoint>,
    events: VecDeque<FloodEvent>,
    floods_detected: u64,
    evicted_targets: u64,
    events_dropped: u64,
}

impl FloodDetector {
    pub fn new(config: FloodConfig, key: HashKey) -> Self {
        let width = (config.window.as_nanos() / BUCKETS as u64).max(1);
        FloodDetector {
            config,
            width,
            now: Timestamp::default(),
            targets: HashTable::new(),
            key,
            last_hashed: Cell::new((Endpoint::UNSPECIFIED, key.hash_bytes(&Endpoint::UNSPECIFIED.to_bytes()))),
            recency: None,
            flooding: BTreeSet::new(),
            events: VecDeque::new(),
            floods_detected: 0,
            evicted_targets: 0,
            events_dropped: 0,
        }
    }

    fn window_secs(&self) -> f64 {
        window_secs(self.width)
    }

    /// Moves packet time forward; a timestamp older than one already seen is taken as "now" (reordered capture).
    fn clock(&mut self, ts: Timestamp) -> Timestamp {
        self.now = self.now.max(ts);
        self.now
    }

    fn push(&mut self, event: FloodEvent) {
        // At most two events per flood, but a caller that never polls must not grow us without bound.
        if self.events.len() >= self.config.max_targets.max(1) * 2 + 16 {
            self.events_dropped += 1;
        } else {
            self.events.push_back(event);
        }
    }

    /// The hash of `target` in the index.
    fn hash(&self, target: &Endpoint) -> u64 {
        let (last, hash) = self.last_hashed.get();
        if last == *target {
            return hash;
        }
        let hash = self.key.hash_bytes(&target.to_bytes());
        self.last_hashed.set((*target, hash));
        hash
    }

    fn get_mut(&mut self, target: &Endpoint, hash: u64) -> Option<&mut Target> {
        self.targets.find_mut(hash, |t| t.endpoint == *target)
    }

    /// Looks up a known target, records activity and rolls its window to `now`.
    fn touch(&mut self, now: Timestamp, target: Endpoint, hash: u64) -> Option<&mut Target> {
        let t = self.targets.find_mut(hash, |t| t.endpoint == target)?;
        if let Some(recency) = &mut self.recency
            && t.last_active != now
        {
            recency.remove(&(t.last_active, target));
            recency.insert((now, target));
        }
        t.last_active = now;
        t.window.advance(now.as_nanos() / self.width);
        Some(t)
    }

    /// A new connection attempt to `target` (not a retransmission). Only SYNs create targets, so SYN-ACK backscatter
    /// or stray ACKs cannot fill the table.
    ///
    /// One lookup of `target` serves the whole call: looking it up three times (exists?, settle, touch) cost about
    /// 830 instructions per SYN (callgrind). Events are pushed after the target is released, in the order the
    /// three-lookup version pushed them: a flood that cooled down ends before a new one can start.
    pub fn on_syn(&mut self, ts: Timestamp, target: Endpoint, source: IpAddr) {
        let now = self.clock(ts);
        let hash = self.hash(&target);
        let (width, cfg) = (self.width, self.config);
        let (ended, started) = match self.targets.find_mut(hash, |t| t.endpoint == target) {
            Some(t) => {
                let ended = settle_target(t, now, width, &cfg);
                if let Some(recency) = &mut self.recency
                    && t.last_active != now
                {
                    recency.remove(&(t.last_active, target));
                    recency.insert((now, target));
                }
                t.last_active = now;
                t.window.advance(now.as_nanos() / width);
                (ended, record_syn(t, now, width, &cfg, source))
            }
            // A new target has no flood to settle, and its window already starts at `now`.
            None => (None, record_syn(self.add_target(now, target, hash), now, width, &cfg, source)),
        };
        if let Some(ended) = ended {
            self.flooding.remove(&target);
            self.push(ended);
        }
        if let Some(started) = started {
            self.flooding.insert(target);
            self.floods_detected += 1;
            self.push(started);
        }
    }

    /// Starts tracking `target`, evicting the least recently active target if the table is full.
    fn add_target(&mut self, now: Timestamp, target: Endpoint, hash: u64) -> &mut Target {
        if self.targets.len() >= self.config.max_targets.max(1) {
            self.evict_oldest();
        }
        if let Some(recency) = &mut self.recency {
            recency.insert((now, target));
        }
        let window = Window { ring: [Bucket::default(); RING], head: now.as_nanos() / self.width };
        let sources = Box::new(Hll::new());
        let t = Target { endpoint: target, window, last_active: now, half_open: 0, sources, flood: None };
        let key = self.key;
        self.targets.insert_unique(hash, t, |t| key.hash_bytes(&t.endpoint.to_bytes())).into_mut()
    }

    pub fn on_syn_ack(&mut self, ts: Timestamp, target: Endpoint) {
        let now = self.clock(ts);
        let hash = self.hash(&target);
        if let Some(t) = self.touch(now, target, hash) {
            let b = t.window.newest();
            b.syn_acks = b.syn_acks.saturating_add(1);
        }
    }

    /// A handshake to `target` completed.
    pub fn on_established(&mut self, ts: Timestamp, target: Endpoint) {
        let now = self.clock(ts);
        let hash = self.hash(&target);
        if let Some(t) = self.touch(now, target, hash) {
            t.half_open = t.half_open.saturating_sub(1);
            let b = t.window.newest();
            b.completed = b.completed.saturating_add(1);
        }
    }

    /// A half-open attempt to `target` ended without completing (RST, timeout, eviction).
    pub fn on_half_open_closed(&mut self, ts: Timestamp, target: Endpoint) {
        let now = self.clock(ts);
        let hash = self.hash(&target);
        if let Some(t) = self.touch(now, target, hash) {
            t.half_open = t.half_open.saturating_sub(1);
        }
    }

    /// Advances packet time: slides the windows of flooded targets and ends floods that have cooled down.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let now = self.clock(now);
        let active: Vec<Endpoint> = self.flooding.iter().copied().collect();
        for target in active {
            let hash = self.hash(&target);
            self.settle(now, target, hash);
        }
    }

    /// End of input: ends every flood still active; the `Ended` events are then pollable.
    pub fn finish(&mut self, now: Timestamp) {
        self.handle_timeout(now);
        while let Some(target) = self.flooding.pop_first() {
            self.end_flood(target);
        }
    }

    pub fn poll_event(&mut self) -> Option<FloodEvent> {
        self.events.pop_front()
    }

    /// The window of `target` as of the latest packet time seen.
    pub fn window_stats(&self, target: Endpoint) -> Option<WindowStats> {
        let t = self.targets.find(self.hash(&target), |t| t.endpoint == target)?;
        let s = t.window.sums(self.now, self.width);
        let secs = self.window_secs();
        let completion = if s.syns > 0.0 { (s.completed / s.syns).min(1.0) } else { 1.0 };
        Some(WindowStats {
            syn_per_sec: s.syns / secs,
            syn_ack_per_sec: s.syn_acks / secs,
            completion,
            half_open: t.half_open,
        })
    }

    pub fn floods_detected(&self) -> u64 {
        self.floods_detected
    }

    pub fn evicted_targets(&self) -> u64 {
        self.evicted_targets
    }

    /// Events discarded because nobody polled and the queue reached its cap.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    /// Ends the flood on `target` once it has cooled down ([`settle_target`]).
    fn settle(&mut self, now: Timestamp, target: Endpoint, hash: u64) {
        let (width, cfg) = (self.width, self.config);
        let Some(t) = self.get_mut(&target, hash) else { return };
        if let Some(ended) = settle_target(t, now, width, &cfg) {
            self.flooding.remove(&target);
            self.push(ended);
        }
    }

    fn end_flood(&mut self, target: Endpoint) {
        let hash = self.hash(&target);
        let Some(t) = self.get_mut(&target, hash) else { return };
        if let Some(ended) = end_flood_of(t) {
            self.push(ended);
        }
    }

    /// Drops the least recently active target; a flood on it is ended first, so it is reported, not lost.
    fn evict_oldest(&mut self) {
        let targets = &self.targets;
        let recency = self.recency.get_or_insert_with(|| targets.iter().map(|t| (t.last_active, t.endpoint)).collect());
        let Some((_, target)) = recency.pop_first() else { return };
        if self.flooding.remove(&target) {
            self.end_flood(target);
        }
        let hash = self.hash(&target);
        if let Ok(entry) = self.targets.find_entry(hash, |t| t.endpoint == target) {
            entry.remove();
        }
        self.evicted_targets += 1;
    }
}

/// The window length in seconds for sub-buckets `width` ns wide.
fn window_secs(width: u64) -> f64 {
    (width * BUCKETS as u64) as f64 / 1e9
}

/// Counts a SYN on `t`, whose window is already rolled to `now`; returns the `Started` event if it trips the alarm.
fn record_syn(t: &mut Target, now: Timestamp, width: u64, cfg: &FloodConfig, source: IpAddr) -> Option<FloodEvent> {
    t.half_open = t.half_open.saturating_add(1);
    let bucket = t.window.newest();
    let newest_was_quiet = bucket.syns == 0;
    if newest_was_quiet {
        bucket.first_syn = now;
    }
    bucket.syns = bucket.syns.saturating_add(1);

    // One pass gives both the sums and whether the window held no SYN before this one: a separate pass for the
    // latter cost about 4 instructions per packet of `read -q` (callgrind, 100k bench file).
    let (sums, older_quiet) = t.window.sums_and_older_quiet(now, width);
    if t.flood.is_none() && newest_was_quiet && older_quiet {
        // A quiet window ended the previous burst: count sources afresh.
        *t.sources = Hll::new();
    }
    t.sources.insert(hash_ip(source));
    let rate = sums.syns / window_secs(width);
    let completion = (sums.completed / sums.syns).min(1.0);
    let half_open = t.half_open;
    if let Some(flood) = &mut t.flood {
        flood.syns += 1;
        flood.peak = flood.peak.max(rate);
        if rate >= f64::from(cfg.syn_rate) / 2.0 {
            flood.below_since = None;
            flood.syns_hot = flood.syns;
            flood.last_hot = now;
        }
        None
    } else if rate >= f64::from(cfg.syn_rate) && completion < cfg.max_completion {
        // Back-date to the window that tripped the alarm: those SYNs are the flood's first.
        let live = || t.window.live(now, width).filter(|(b, _)| b.syns > 0);
        let started = live().map(|(b, _)| b.first_syn).min().unwrap_or(now);
        let syns = live().map(|(b, _)| u64::from(b.syns)).sum();
        t.flood = Some(Flood { started, syns, syns_hot: syns, last_hot: now, peak: rate, below_since: None });
        Some(FloodEvent::Started { target: t.endpoint, ts: now, syn_per_sec: rate, completion, half_open })
    } else {
        None
    }
}

/// Ends the flood on `t` once its rate has stayed below half the threshold for a whole window, returning the `Ended`
/// event; the caller removes the target from the flooding set.
///
/// Why hysteresis: an attacker pulsing around the threshold, or a flood whose rate wobbles across it bucket to
/// bucket, would otherwise start and end an alarm every few milliseconds; the operator wants one record per
/// attack. Half the threshold, held for a full window, is far enough from the trigger that noise cannot cross both.
fn settle_target(t: &mut Target, now: Timestamp, width: u64, cfg: &FloodConfig) -> Option<FloodEvent> {
    let window = width * BUCKETS as u64;
    let half = f64::from(cfg.syn_rate) / 2.0 * window_secs(width);
    let flood = t.flood.as_mut()?;
    if flood.below_since.is_none() {
        // No SYN since `head`, so the count only falls from there: the first bucket boundary where it is below
        // half dates the cool-down even when handle_timeout is called rarely. After RING boundaries it is zero.
        let last = now.as_nanos() / width;
        let boundaries = (t.window.head + 1..=last).take(RING).map(|i| Timestamp::from_nanos(i * width));
        flood.below_since = boundaries.chain([now]).find(|&at| t.window.sums(at, width).syns < half);
    }
    if flood.below_since.is_some_and(|since| now.saturating_since(since).as_nanos() >= window) {
        end_flood_of(t)
    } else {
        None
    }
}

/// Takes the flood off `t` and describes it; the next burst on this target counts its own sources.
fn end_flood_of(t: &mut Target) -> Option<FloodEvent> {
    let flood = t.flood.take()?;
    let distinct_sources = t.sources.count();
    *t.sources = Hll::new();
    Some(FloodEvent::Ended {
        target: t.endpoint,
        started: flood.started,
        ended: flood.last_hot,
        syns: flood.syns_hot,
        distinct_sources,
        peak_syn_per_sec: flood.peak,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::net::Ipv4Addr;

    const T0: u64 = 1_700_000_000_000_000_000;

    fn at(micros: u64) -> Timestamp {
        Timestamp::from_nanos(T0 + micros * 1_000)
    }

    fn victim() -> Endpoint {
        Endpoint::new("192.0.2.20".parse().unwrap(), 9999)
    }

    fn src(i: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))
    }

    fn drain(d: &mut FloodDetector) -> Vec<FloodEvent> {
        std::iter::from_fn(|| d.poll_event()).collect()
    }

    fn started(events: &[FloodEvent]) -> usize {
        events.iter().filter(|e| matches!(e, FloodEvent::Started { .. })).count()
    }

    /// `count` SYNs at `per_sec`, starting at `start_us`, sources cycling over `sources`; returns the next free time.
    fn syns(d: &mut FloodDetector, start_us: u64, per_sec: u64, count: u64, sources: u32, complete: bool) -> u64 {
        let gap = 1_000_000 / per_sec;
        for i in 0..count {
            let ts = at(start_us + i * gap);
            d.on_syn(ts, victim(), src(i as u32 % sources));
            if complete {
                d.on_syn_ack(ts, victim());
                d.on_established(ts, victim());
            }
        }
        start_us + count * gap
    }

    // Tests for the alarm's start.

    #[test]
    fn no_alert_below_the_threshold() {
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syns(&mut d, 0, 800, 2400, 1000, false);
        assert!(drain(&mut d).is_empty());
        let stats = d.window_stats(victim()).unwrap();
        assert!((stats.syn_per_sec - 800.0).abs() < 10.0, "{stats:?}");
        assert_eq!(stats.completion, 0.0);
        assert_eq!(stats.half_open, 2400);
        assert_eq!(d.floods_detected(), 0);
    }

    #[test]
    fn alerts_once_at_20k_syn_per_sec_without_completions() {
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syns(&mut d, 0, 20_000, 40_000, 5000, false);
        let events = drain(&mut d);
        assert_eq!(events.len(), 1, "one alert, not one per SYN: {events:?}");
        let FloodEvent::Started { target, ts, syn_per_sec, completion, half_open } = events[0] else { panic!() };
        assert_eq!(target, victim());
        // Tripped when the window first held 1000 SYNs, i.e. the 1000th SYN at 20k/s.
        assert_eq!(ts, at(999 * 50));
        assert!((1000.0..1010.0).contains(&syn_per_sec));
        assert_eq!((completion, half_open), (0.0, 1000));
        assert_eq!(d.floods_detected(), 1);
        let stats = d.window_stats(victim()).unwrap();
        assert!((stats.syn_per_sec - 20_000.0).abs() < 50.0, "{stats:?}");
    }

    #[test]
    fn no_alert_when_completions_keep_up() {
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syns(&mut d, 0, 20_000, 40_000, 5000, true);
        assert!(drain(&mut d).is_empty());
        let stats = d.window_stats(victim()).unwrap();
        assert!(stats.completion > 0.99 && stats.syn_ack_per_sec > 19_000.0, "{stats:?}");
        assert_eq!(stats.half_open, 0);
    }

    #[test]
    fn half_open_counts_attempts_not_yet_finished() {
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syns(&mut d, 0, 100, 10, 10, false);
        d.on_established(at(200_000), victim());
        d.on_half_open_closed(at(200_000), victim());
        d.on_half_open_closed(at(200_000), victim());
        assert_eq!(d.window_stats(victim()).unwrap().half_open, 7);
        for _ in 0..20 {
            d.on_half_open_closed(at(200_000), victim());
        }
        assert_eq!(d.window_stats(victim()).unwrap().half_open, 0, "saturates");
        // Events for targets never SYNed do not create entries.
        let other = Endpoint::new("192.0.2.99".parse().unwrap(), 80);
        d.on_syn_ack(at(200_000), other);
        assert!(d.window_stats(other).is_none());
    }

    #[test]
    fn reordered_timestamps_count_as_now() {
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        d.on_syn(at(1_000_000), victim(), src(1));
        d.on_syn(at(0), victim(), src(2));
        d.handle_timeout(at(10));
        d.on_established(Timestamp::from_nanos(0), victim());
        let stats = d.window_stats(victim()).unwrap();
        assert_eq!(stats.half_open, 1);
        assert!((stats.syn_per_sec - 2.0).abs() < 1e-9);
    }

    // Tests for the alarm's end.

    #[test]
    fn ends_only_after_a_full_window_below_half_the_threshold() {
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        let t = syns(&mut d, 0, 20_000, 10_000, 500, false);
        assert_eq!(started(&drain(&mut d)), 1);
        // 700 SYN/s sits between syn_rate/2 and syn_rate: still a flood, and no second Started either.
        let t = syns(&mut d, t, 700, 2100, 500, false);
        d.handle_timeout(at(t));
        assert!(drain(&mut d).is_empty());
        // Then quiet: the rate crosses 500 SYN/s, and a window later the flood is over.
        let last_syn = at(t - 1_000_000 / 700);
        d.handle_timeout(at(t + 900_000));
        assert!(drain(&mut d).is_empty(), "not yet a full window below half");
        d.handle_timeout(at(t + 1_500_000));
        let events = drain(&mut d);
        assert_eq!(events.len(), 1);
        let FloodEvent::Ended { started, ended, syns, peak_syn_per_sec, .. } = events[0] else { panic!() };
        assert_eq!((started, ended, syns), (at(0), last_syn, 12_100));
        // The window held the 0.5 s at 20k (10 000 SYNs) plus the first 0.5 s at 700/s (350).
        assert!((peak_syn_per_sec - 10_350.0).abs() < 5.0, "{peak_syn_per_sec}");
        d.finish(at(t + 9_000_000));
        assert!(drain(&mut d).is_empty(), "ended once");
    }

    #[test]
    fn finish_ends_an_active_flood_with_its_counts() {
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syns(&mut d, 0, 20_000, 4000, 10, false);
        d.finish(at(200_000));
        let events = drain(&mut d);
        assert_eq!(started(&events), 1);
        let FloodEvent::Ended { target, started, ended, syns, distinct_sources, .. } = events[1] else { panic!() };
        assert_eq!((target, started, ended, syns), (victim(), at(0), at(3999 * 50), 4000));
        assert!(distinct_sources.abs_diff(10) <= 1, "{distinct_sources}");
    }

    #[test]
    fn scripted_flood_from_random_sources() {
        // 1200 SYNs 50 µs apart from 198.51.100.x, x from a fixed-seed xorshift.
        let mut d = FloodDetector::new(FloodConfig::default(), crate::hash_key::HashKey::from_seed(1));
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut truth = HashSet::new();
        for i in 0..1200 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let source = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + (state % 254) as u8));
            truth.insert(source);
            d.on_syn(at(i * 50), victim(), source);
        }
        d.handle_timeout(at(3_000_000));
        d.finish(at(4_000_000));
        let events = drain(&mut d);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[0].to_string(),
            "[flood] SYN flood on 192.0.2.20:9999: 1000 SYN/s, 0.0% completed, 1000 half-open"
        );
        let FloodEvent::Ended { syns, distinct_sources, started, ended, .. } = events[1] else { panic!() };
        assert_eq!((syns, started, ended), (1200, at(0), at(1199 * 50)));
        let error = distinct_sources.abs_diff(truth.len() as u64) as f64 / truth.len() as f64;
        assert!(error < 0.05, "estimated {distinct_sources}, true {}", truth.len());
        let expected = format!(
            "[flood ended] 192.0.2.20:9999 after 0.060 s: 1200 SYNs from {distinct_sources} sources, peak 1200 SYN/s"
        );
        assert_eq!(events[1].to_string(), expected);
    }

    // Tests for bounds.

    #[test]
    fn evicts_the_least_recently_active_target() {
        let cfg = FloodConfig { max_targets: 4, ..FloodConfig::default() };
        let mut d = FloodDetector::new(cfg, crate::hash_key::HashKey::from_seed(1));
        let target = |port| Endpoint::new("192.0.2.1".parse().unwrap(), port);
        for port in 0..4 {
            d.on_syn(at(u64::from(port)), target(port), src(1));
        }
        d.on_established(at(10), target(0));
        d.on_syn(at(11), target(4), src(1));
        assert_eq!(d.evicted_targets(), 1);
        assert!(d.window_stats(target(1)).is_none());
        assert!([0, 2, 3, 4].iter().all(|&p| d.window_stats(target(p)).is_some()));
    }

    #[test]
    fn eviction_order_holds_after_the_first_eviction_and_among_equal_times() {
        let cfg = FloodConfig { max_targets: 2, ..FloodConfig::default() };
        let mut d = FloodDetector::new(cfg, crate::hash_key::HashKey::from_seed(1));
        let target = |port| Endpoint::new("192.0.2.1".parse().unwrap(), port);
        let alive = |d: &FloodDetector, ports: &[u16]| ports.iter().all(|&p| d.window_stats(target(p)).is_some());
        d.on_syn(at(0), target(1), src(1));
        d.on_syn(at(1), target(2), src(1));
        d.on_established(at(2), target(1));
        d.on_syn(at(3), target(3), src(1));
        assert!(d.window_stats(target(2)).is_none() && alive(&d, &[1, 3]), "the order is built at the first eviction");
        d.on_syn_ack(at(4), target(1));
        d.on_syn(at(5), target(4), src(1));
        assert!(d.window_stats(target(3)).is_none() && alive(&d, &[1, 4]), "and kept up to date after it");
        d.on_syn(at(6), target(6), src(1));
        d.on_syn(at(6), target(5), src(1));
        assert!(alive(&d, &[5, 6]), "at equal times the lower endpoint goes first");
        d.on_syn(at(6), target(7), src(1));
        assert!(d.window_stats(target(5)).is_none() && alive(&d, &[6, 7]));
        assert_eq!(d.evicted_targets(), 5);
    }

    #[test]
    fn evicting_a_flooded_target_reports_its_flood() {
        let cfg = FloodConfig { max_targets: 1, ..FloodConfig::default() };
        let mut d = FloodDetector::new(cfg, crate::hash_key::HashKey::from_seed(1));
        let t = syns(&mut d, 0, 20_000, 2000, 50, false);
        d.on_syn(at(t), Endpoint::new("192.0.2.1".parse().unwrap(), 1), src(1));
        let events = drain(&mut d);
        assert!(matches!(events[1], FloodEvent::Ended { syns: 2000, .. }), "{events:?}");
        assert_eq!(d.evicted_targets(), 1);
    }

    // Tests for the HyperLogLog.

    #[test]
    fn hll_is_nearly_exact_for_few_sources() {
        let mut hll = Hll::new();
        for n in 1..=10 {
            hll.insert(hash_ip(src(n)));
            hll.insert(hash_ip(src(n)));
            assert!(hll.count().abs_diff(u64::from(n)) <= 1, "{n}: {}", hll.count());
        }
        // An IPv4 address and its mapped IPv6 form are one source.
        hll.insert(hash_ip("::ffff:10.0.0.1".parse().unwrap()));
        assert_eq!(hll.count(), 10);
    }

    #[test]
    fn hll_error_is_a_few_percent_at_100k_sources() {
        let mut hll = Hll::new();
        for i in 0..100_000 {
            hll.insert(hash_ip(src(i)));
        }
        let error = (hll.estimate() - 100_000.0).abs() / 100_000.0;
        assert!(error < 0.05, "estimate {}", hll.estimate());
    }
}
