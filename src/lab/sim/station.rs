//! A place where packets wait for a CPU: `servers` identical servers in front of one bounded FIFO, each packet
//! taking a known service time. It models the kernel's per-packet work on a path (a veth's delivery in softirq,
//! the listener's `tcp_v4_rcv`), which on the real lab's 2-vCPU machine is what makes the round trip grow with the
//! flood and, past the path's capacity, drops packets: Linux queues a packet handed to a CPU in its backlog
//! (`enqueue_to_backlog`) and drops it once `netdev_max_backlog` (1,000) wait there.
//!
//! Packets are served in arrival order, so a packet's departure is known when it arrives ([`Station::offer`]): the
//! station needs no events of its own, and the caller schedules the packet's next step at the time it returns.
//! Offers must come in time order, as the simulation's clock gives them.

use std::collections::VecDeque;

use crate::time::{Duration, Timestamp};

pub struct Station {
    /// When each server next falls idle.
    free_at: Vec<Timestamp>,
    /// When each packet still waiting (not yet being served) will start, in order.
    waiting: VecDeque<Timestamp>,
    queue_limit: usize,
    dropped: u64,
    served: u64,
    busy_ns: u64,
}

impl Station {
    /// `servers` (at least one) behind a queue holding at most `queue_limit` waiting packets.
    pub fn new(servers: usize, queue_limit: usize) -> Station {
        Station {
            free_at: vec![Timestamp::from_nanos(0); servers.max(1)],
            waiting: VecDeque::new(),
            queue_limit,
            dropped: 0,
            served: 0,
            busy_ns: 0,
        }
    }

    /// A packet arriving at `now` that needs `cost` of a server: when it leaves, or `None` when the queue is full
    /// and it is dropped (counted in [`dropped`](Self::dropped)).
    pub fn offer(&mut self, now: Timestamp, cost: Duration) -> Option<Timestamp> {
        while self.waiting.front().is_some_and(|&start| start <= now) {
            self.waiting.pop_front();
        }
        let (server, free) = self.free_at.iter().copied().enumerate().min_by_key(|&(i, at)| (at, i))?;
        let start = free.max(now);
        if start > now {
            if self.waiting.len() >= self.queue_limit {
                self.dropped += 1;
                return None;
            }
            self.waiting.push_back(start);
        }
        let done = start.saturating_add(cost);
        self.free_at[server] = done;
        self.served += 1;
        self.busy_ns = self.busy_ns.saturating_add(cost.as_nanos());
        Some(done)
    }

    /// Packets dropped for want of room.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Packets accepted.
    pub fn served(&self) -> u64 {
        self.served
    }

    /// Server time spent, summed over the servers.
    pub fn busy(&self) -> Duration {
        Duration::from_nanos(self.busy_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_us(us: u64) -> Timestamp {
        Timestamp::from_nanos(1_000_000_000 + us * 1_000)
    }

    #[test]
    fn an_idle_station_serves_at_once() {
        let mut s = Station::new(1, 10);
        assert_eq!(s.offer(at_us(0), Duration::from_micros(2)), Some(at_us(2)));
        assert_eq!(s.offer(at_us(5), Duration::from_micros(2)), Some(at_us(7)));
        assert_eq!((s.served(), s.dropped(), s.busy()), (2, 0, Duration::from_micros(4)));
    }

    #[test]
    fn the_wait_grows_with_the_backlog_and_a_full_queue_drops() {
        // Ten packets at once into one server of 1 µs with room for 3 waiting: one in service, three wait, six
        // are dropped.
        let mut s = Station::new(1, 3);
        let done: Vec<Option<Timestamp>> = (0..10).map(|_| s.offer(at_us(0), Duration::from_micros(1))).collect();
        assert_eq!(&done[..4], [Some(at_us(1)), Some(at_us(2)), Some(at_us(3)), Some(at_us(4))]);
        assert!(done[4..].iter().all(Option::is_none));
        assert_eq!(s.dropped(), 6);
        // Once the first two have started, two places are free again.
        assert_eq!(s.offer(at_us(2), Duration::from_micros(1)), Some(at_us(5)));
        assert_eq!(s.offer(at_us(2), Duration::from_micros(1)), Some(at_us(6)));
        assert_eq!(s.offer(at_us(2), Duration::from_micros(1)), None);
    }

    #[test]
    fn arrivals_faster_than_service_drop_the_excess() {
        // 2 packets per µs into two servers of 2 µs each (capacity 1 per µs): about half are dropped, and the
        // ones served wait at most the queue's length of work.
        let mut s = Station::new(2, 100);
        let mut worst = Duration::ZERO;
        for i in 0..20_000u64 {
            let now = Timestamp::from_nanos(1_000_000_000 + i * 500);
            if let Some(done) = s.offer(now, Duration::from_micros(2)) {
                worst = worst.max(done.saturating_since(now));
            }
        }
        let share = s.dropped() as f64 / 20_000.0;
        assert!((share - 0.5).abs() < 0.01, "{share}");
        assert!(worst <= Duration::from_micros(2 + 100), "{worst:?}");
        // Below capacity nothing is dropped.
        let mut s = Station::new(2, 100);
        for i in 0..20_000u64 {
            s.offer(Timestamp::from_nanos(1_000_000_000 + i * 1_100), Duration::from_micros(2));
        }
        assert_eq!(s.dropped(), 0);
    }
}
