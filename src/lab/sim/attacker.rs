//! The attacker: `synscope flood --spoof 198.18.0.0/15` or hping3 `-S --rand-source`, as a Poisson stream of bare
//! SYNs (no options, as hping3 sends them) from random addresses of the lab's spoofed range and random ports. A
//! spoofed source never answers: the SYN-ACKs sent to it die in the client namespace (DESIGN.md, the lab), so it
//! neither completes the handshake nor resets it.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::random::Rng;
use super::segment::Seg;
use crate::time::{Duration, Timestamp};
use crate::wire::segment::TcpFlags;

pub struct Attacker {
    target: SocketAddrV4,
    start: Timestamp,
    /// SYNs leave in batches on this grid from `start` (zero: each at its own instant).
    period: Duration,
    /// Mean gap between SYNs, nanoseconds; zero rate means no SYN at all.
    mean_gap_ns: f64,
    next: Option<Timestamp>,
    stop: Timestamp,
    rng: Rng,
    sent: u64,
}

impl Attacker {
    /// SYNs at `rate` per second on average, from `start` until `stop`.
    pub fn new(target: SocketAddrV4, rate: u64, start: Timestamp, stop: Timestamp, seed: u64) -> Attacker {
        let mut attacker = Attacker {
            target,
            start,
            period: Duration::ZERO,
            mean_gap_ns: 0.0,
            next: None,
            stop,
            rng: Rng::new(seed),
            sent: 0,
        };
        if rate > 0 {
            attacker.mean_gap_ns = 1e9 / rate as f64;
            attacker.next = attacker.after(start);
        }
        attacker
    }

    /// SYNs released in batches every `period`, as `synscope flood --rate` sends them: its token bucket's sleep
    /// (`flood/driver.rs`) lasts at least the kernel's timer slack, and the tokens accrued meanwhile leave in one
    /// send. The SYNs are the same; each waits for the next multiple of `period` after its own instant.
    pub fn batched(mut self, period: Duration) -> Attacker {
        self.period = period;
        self
    }

    /// When the next SYN arrives.
    pub fn next_at(&self) -> Option<Timestamp> {
        let at = self.next?;
        let period = self.period.as_nanos();
        if period == 0 {
            return Some(at);
        }
        let offset = at.saturating_since(self.start).as_nanos();
        Some(self.start.saturating_add(Duration::from_nanos(offset.div_ceil(period) * period)))
    }

    /// SYNs sent so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The SYN due at [`next_at`](Self::next_at); the following one is drawn.
    pub fn fire(&mut self) -> Option<Seg> {
        let now = self.next?;
        self.next = self.after(now);
        self.sent += 1;
        let r = self.rng.next_u64();
        let source = SocketAddrV4::new(spoofed_ip(r as u32), 1024 + ((r >> 32) as u16 % (65535 - 1024)));
        Some(Seg::new(source, self.target, TcpFlags::SYN, self.rng.next_u32(), 0))
    }

    fn after(&mut self, now: Timestamp) -> Option<Timestamp> {
        let next = now.saturating_add(Duration::from_nanos(self.rng.exponential_ns(self.mean_gap_ns)));
        (next < self.stop).then_some(next)
    }
}

/// A random address of RFC 2544's benchmarking block 198.18.0.0/15, the real lab's `SPOOF` range.
fn spoofed_ip(r: u32) -> Ipv4Addr {
    Ipv4Addr::from(0xC612_0000 | (r & 0x0001_FFFF))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floods_at_the_rate_asked_from_spoofed_sources() {
        let start = Timestamp::from_nanos(1_000_000_000);
        let stop = start.saturating_add(Duration::from_secs(2));
        let mut attacker = Attacker::new("10.77.0.2:9999".parse().unwrap(), 50_000, start, stop, 3);
        let mut last = start;
        while let Some(at) = attacker.next_at() {
            let syn = attacker.fire().unwrap();
            assert!(at >= last && at < stop);
            assert!(syn.is_syn() && !syn.handshake_options);
            let [a, b, _, _] = syn.src.ip().octets();
            assert!(a == 198 && (b == 18 || b == 19), "{}", syn.src);
            last = at;
        }
        let rate = attacker.sent() as f64 / 2.0;
        assert!((rate - 50_000.0).abs() < 500.0, "{rate}");
        assert!(Attacker::new("10.77.0.2:9999".parse().unwrap(), 0, start, stop, 3).next_at().is_none());
    }

    #[test]
    fn a_batched_flood_sends_the_same_syns_on_a_grid() {
        let start = Timestamp::from_nanos(1_000_000_000);
        let stop = start.saturating_add(Duration::from_millis(10));
        let target = "10.77.0.2:9999".parse().unwrap();
        let mut smooth = Attacker::new(target, 100_000, start, stop, 5);
        let mut batched = Attacker::new(target, 100_000, start, stop, 5).batched(Duration::from_micros(60));
        let mut sizes = std::collections::BTreeMap::new();
        while let Some(at) = batched.next_at() {
            let raw = smooth.next_at().unwrap();
            assert!(at >= raw && at.saturating_since(raw) < Duration::from_micros(60));
            assert_eq!((at.as_nanos() - start.as_nanos()) % 60_000, 0);
            assert_eq!(batched.fire(), smooth.fire());
            *sizes.entry(at).or_insert(0) += 1;
        }
        assert!(smooth.next_at().is_none());
        // About 6 SYNs a batch at 100k SYN/s.
        let mean = batched.sent() as f64 / sizes.len() as f64;
        assert!((5.0..7.0).contains(&mean), "{mean}");
    }
}
