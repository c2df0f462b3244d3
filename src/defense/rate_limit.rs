//! Per-source SYN rate limiting: the filtering of RFC 4987 §3.1, applied at the gateway to sources that send more
//! SYNs than any client needs (iptables' `hashlimit`, nftables' `meter ... limit rate`, pf's `max-src-conn-rate`).
//!
//! Each source (an IPv4 address, or an IPv6 /64) has a token bucket of `burst` tokens refilled at `rate_per_sec`;
//! a SYN takes a token or is limited. The bucket is kept as GCRA (ITU-T I.371's virtual scheduling): one
//! "theoretical arrival time" per source instead of a token count and a refill time, exact in integer nanoseconds
//! and the same decisions as the token bucket it stands for.
//!
//! **What this filter is for.** The table of buckets is bounded by `max_sources`. A flood from few heavy sources is
//! limited for as long as it lasts. A flood from many (spoofed) sources, each sending a SYN or two, cycles the table:
//! every new source evicts an old bucket, and every new source gets a full burst. The filter cannot stop that, and
//! does not try to: SYN cookies and the half-open limits are the defences for it. `evictions_active` counts the
//! buckets forgotten while still limiting, the sign that the table is being cycled.
//!
//! **Eviction** is CLOCK (second chance). Where the hand stops: a bucket that has refilled (its arrival time is past)
//! is indistinguishable from a new one, so it goes at no cost in accuracy, used or not; a bucket used since the hand
//! last passed gets a second chance; any other is evicted. A heavy source is used constantly, so it keeps its
//! bucket while the spoofed ones cycle through. Each step past a bucket clears a bit some earlier call set, so
//! eviction is O(1) amortized, and a bucket costs one flag rather than the two links of an LRU list.

use std::hash::BuildHasher;
use std::net::IpAddr;

use hashbrown::HashTable;
use serde::Serialize;

use super::source_hash::source_prefix;
use crate::hash_key::HashKey;
use crate::time::Timestamp;

/// The table starts small and grows with the sources, as `track/table.rs` explains.
const INITIAL_CAPACITY: usize = 1 << 12;
/// Bounds that keep every arrival time within `u64` nanoseconds for centuries: rates from one SYN per 1000 s to a
/// billion per second, bursts up to a million.
const MIN_RATE: f64 = 0.001;
const MAX_BURST: u32 = 1_000_000;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RateLimitStats {
    /// SYNs that took a token.
    pub allowed: u64,
    /// SYNs refused for lack of one.
    pub limited: u64,
    /// Sources with a bucket now.
    pub sources: u64,
    /// The most sources tracked at once (at most `max_sources`).
    pub peak_sources: u64,
    /// Buckets dropped to make room for a new source.
    pub evictions: u64,
    /// Of those, buckets that had not refilled yet: the source was given a fresh burst.
    pub evictions_active: u64,
}

struct Bucket {
    source: IpAddr,
    /// GCRA's theoretical arrival time, in nanoseconds: the bucket is full once `now` reaches it.
    tat: u64,
    /// Used since the CLOCK hand last passed.
    referenced: bool,
}

pub struct SourceRateLimiter {
    /// Nanoseconds per token.
    interval: u64,
    /// How far ahead of `now` the arrival time may run: `(burst - 1)` intervals.
    tolerance: u64,
    max_sources: usize,
    buckets: Vec<Bucket>,
    /// Bucket numbers by source.
    index: HashTable<u32>,
    hasher: HashKey,
    hand: usize,
    clock: u64,
    stats: RateLimitStats,
}

impl SourceRateLimiter {
    /// Lets each source send `burst` SYNs at once and `rate_per_sec` SYNs a second after that, tracking at most
    /// `max_sources` sources. Out-of-range values are clamped: the rate to [0.001, 1e9] per second (a rate that is
    /// not positive means "the burst, then about one per 17 minutes"), `burst` to [1, 1_000_000], `max_sources` to
    /// [1, u32::MAX]. The sources, which attackers choose, are hashed under `key` ([`crate::hash_key`]).
    pub fn new(rate_per_sec: f64, burst: u32, max_sources: usize, key: HashKey) -> SourceRateLimiter {
        let rate = if rate_per_sec.is_nan() { MIN_RATE } else { rate_per_sec.clamp(MIN_RATE, 1e9) };
        let interval = (1e9 / rate).round() as u64;
        let burst = burst.clamp(1, MAX_BURST);
        let max_sources = max_sources.clamp(1, u32::MAX as usize);
        let initial = max_sources.min(INITIAL_CAPACITY);
        SourceRateLimiter {
            interval,
            tolerance: interval * u64::from(burst - 1),
            max_sources,
            buckets: Vec::with_capacity(initial),
            index: HashTable::with_capacity(initial),
            hasher: key,
            hand: 0,
            clock: 0,
            stats: RateLimitStats::default(),
        }
    }

    /// Whether `source` may send a SYN at `now`; counts the answer. Time never runs backwards here: an earlier
    /// timestamp than one already seen counts as that one.
    pub fn allow(&mut self, now: Timestamp, source: IpAddr) -> bool {
        self.clock = self.clock.max(now.as_nanos());
        let now = self.clock;
        let source = source_prefix(source);
        let hash = self.hasher.hash_one(source);
        let buckets = &self.buckets;
        let slot = match self.index.find(hash, |&b| buckets[b as usize].source == source) {
            Some(&b) => {
                self.buckets[b as usize].referenced = true;
                b as usize
            }
            None => self.track(now, source, hash),
        };
        let bucket = &mut self.buckets[slot];
        let tat = bucket.tat.max(now);
        if tat - now > self.tolerance {
            self.stats.limited += 1;
            return false;
        }
        bucket.tat = tat.saturating_add(self.interval);
        self.stats.allowed += 1;
        true
    }

    pub fn stats(&self) -> &RateLimitStats {
        &self.stats
    }

    /// Sources with a bucket now.
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// A full bucket for a new source, in a fresh slot or an evicted one's.
    fn track(&mut self, now: u64, source: IpAddr, hash: u64) -> usize {
        let fresh = Bucket { source, tat: now, referenced: false };
        let slot = if self.buckets.len() < self.max_sources {
            self.buckets.push(fresh);
            self.stats.sources = self.buckets.len() as u64;
            self.stats.peak_sources = self.stats.peak_sources.max(self.stats.sources);
            self.buckets.len() - 1
        } else {
            let victim = self.victim(now);
            let old = self.hasher.hash_one(self.buckets[victim].source);
            if let Ok(entry) = self.index.find_entry(old, |&b| b as usize == victim) {
                entry.remove();
            }
            self.buckets[victim] = fresh;
            victim
        };
        let (buckets, hasher) = (&self.buckets, &self.hasher);
        self.index.insert_unique(hash, slot as u32, |&b| hasher.hash_one(buckets[b as usize].source));
        slot
    }

    /// The CLOCK hand's next victim: a full bucket, or one unused for a whole turn.
    fn victim(&mut self, now: u64) -> usize {
        loop {
            let slot = self.hand;
            self.hand = (self.hand + 1) % self.buckets.len();
            let bucket = &mut self.buckets[slot];
            if bucket.tat <= now {
                self.stats.evictions += 1;
                return slot;
            }
            if !bucket.referenced {
                self.stats.evictions += 1;
                self.stats.evictions_active += 1;
                return slot;
            }
            bucket.referenced = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_secs_nanos(1_700_000_000, 0).saturating_add(Duration::from_millis(ms))
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::from(n.to_be_bytes())
    }

    fn burst(limiter: &mut SourceRateLimiter, now: Timestamp, source: IpAddr) -> usize {
        std::iter::from_fn(|| limiter.allow(now, source).then_some(())).take(1_000_000).count()
    }

    #[test]
    fn a_new_source_gets_its_burst_then_the_rate() {
        let mut limiter = SourceRateLimiter::new(10.0, 5, 100, crate::hash_key::HashKey::from_seed(1));
        assert_eq!(burst(&mut limiter, at(0), ip(1)), 5);
        assert!(!limiter.allow(at(99), ip(1)), "one token takes 100 ms");
        assert!(limiter.allow(at(100), ip(1)));
        assert!(!limiter.allow(at(100), ip(1)));
        assert_eq!(burst(&mut limiter, at(350), ip(1)), 2, "2.5 tokens refilled, 2 whole ones");
        assert!(limiter.allow(at(400), ip(1)), "the half token was kept");
        assert_eq!(burst(&mut limiter, at(60_000), ip(1)), 5, "refill stops at the burst");
        let stats = limiter.stats();
        assert_eq!((stats.allowed, stats.limited, stats.sources), (5 + 1 + 2 + 1 + 5, 5, 1));
    }

    #[test]
    fn sources_have_their_own_buckets() {
        let mut limiter = SourceRateLimiter::new(1.0, 2, 100, crate::hash_key::HashKey::from_seed(1));
        assert_eq!(burst(&mut limiter, at(0), ip(1)), 2);
        assert_eq!(burst(&mut limiter, at(0), ip(2)), 2);
        let a: IpAddr = "2001:db8:0:1::a".parse().unwrap();
        let b: IpAddr = "2001:db8:0:1:ffff::b".parse().unwrap();
        assert_eq!(burst(&mut limiter, at(0), a), 2);
        assert!(!limiter.allow(at(0), b), "one IPv6 /64 is one source");
        assert_eq!(limiter.len(), 3);
    }

    #[test]
    fn a_steady_source_at_the_rate_is_never_limited() {
        let mut limiter = SourceRateLimiter::new(3.0, 1, 10, crate::hash_key::HashKey::from_seed(1));
        // 3 per second is one every 333.33 ms; the interval rounds to whole nanoseconds.
        let every = 333_333_334;
        let start = at(0).as_nanos();
        assert!((0..10_000).all(|i| limiter.allow(Timestamp::from_nanos(start + i * every), ip(1))));
    }

    #[test]
    fn out_of_range_settings_are_clamped() {
        let mut limiter = SourceRateLimiter::new(0.0, 0, 0, crate::hash_key::HashKey::from_seed(1));
        assert!(limiter.allow(at(0), ip(1)), "a burst of at least one");
        assert!(!limiter.allow(at(900_000), ip(1)));
        assert!(limiter.allow(at(1_000_000), ip(1)), "one per 1000 s at the slowest");
        assert!(limiter.allow(at(0), ip(2)), "one source tracked at least");
        let mut limiter = SourceRateLimiter::new(f64::NAN, u32::MAX, 1, crate::hash_key::HashKey::from_seed(1));
        assert_eq!(burst(&mut limiter, at(0), ip(1)), MAX_BURST as usize);
        let mut limiter = SourceRateLimiter::new(f64::INFINITY, 1, 1, crate::hash_key::HashKey::from_seed(1));
        assert_eq!(burst(&mut limiter, at(0), ip(1)), 1, "a billion per second, no more");
        assert!(limiter.allow(at(0).saturating_add(Duration::from_nanos(1)), ip(1)));
    }

    #[test]
    fn a_million_sources_stay_within_the_bound() {
        let mut limiter = SourceRateLimiter::new(1.0, 3, 1000, crate::hash_key::HashKey::from_seed(7));
        for n in 0..1_000_000u32 {
            assert!(limiter.allow(at(u64::from(n / 1000)), ip(n)), "a new source has its burst");
        }
        let stats = *limiter.stats();
        assert_eq!(limiter.len(), 1000);
        assert_eq!(limiter.buckets.len(), 1000);
        assert_eq!(limiter.index.len(), 1000);
        assert_eq!((stats.sources, stats.peak_sources, stats.evictions), (1000, 1000, 999_000));
        assert_eq!(stats.evictions_active, 999_000, "no bucket refills in a millisecond");
    }

    #[test]
    fn a_heavy_source_stays_limited_while_spoofed_sources_cycle() {
        let mut limiter = SourceRateLimiter::new(1.0, 5, 100, crate::hash_key::HashKey::from_seed(7));
        let heavy = ip(u32::MAX);
        assert_eq!(burst(&mut limiter, at(0), heavy), 5);
        for n in 0..100_000u32 {
            limiter.allow(at(1), ip(n));
            if n % 50 == 0 {
                assert!(!limiter.allow(at(1), heavy), "the heavy source kept its empty bucket");
            }
        }
        assert_eq!(limiter.len(), 100);
    }

    #[test]
    fn eviction_gives_used_buckets_a_second_chance_and_drops_refilled_ones() {
        let mut limiter = SourceRateLimiter::new(1.0, 3, 2, crate::hash_key::HashKey::from_seed(7));
        assert!(limiter.allow(at(0), ip(1))); // full again at 1 s, never used again
        assert_eq!(burst(&mut limiter, at(0), ip(2)), 3); // empty until 3 s, used since it was tracked
        assert!(limiter.allow(at(0), ip(3))); // the hand evicts ip 1, still refilling
        assert_eq!((limiter.stats().evictions, limiter.stats().evictions_active), (1, 1));
        assert!(limiter.allow(at(1500), ip(4))); // passes over ip 2 (used), evicts ip 3 (refilled)
        assert_eq!((limiter.stats().evictions, limiter.stats().evictions_active), (2, 1));
        assert_eq!(burst(&mut limiter, at(1500), ip(2)), 1, "ip 2 kept its bucket: 1.5 tokens, not a fresh 3");
    }

    #[test]
    fn stats_serialize() {
        let mut limiter = SourceRateLimiter::new(1.0, 1, 2, crate::hash_key::HashKey::from_seed(7));
        limiter.allow(at(0), ip(1));
        limiter.allow(at(0), ip(1));
        let json = serde_json::to_value(limiter.stats()).unwrap();
        assert_eq!((json["allowed"].as_u64(), json["limited"].as_u64()), (Some(1), Some(1)));
    }
}
