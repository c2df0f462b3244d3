//! The simulation's clock queue: events ordered by virtual time, ties broken by insertion order, so a run never
//! depends on how `BinaryHeap` orders equal keys and the same seed replays the same trial event for event.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::time::Timestamp;

struct Entry<E> {
    at: Timestamp,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<E> Eq for Entry<E> {}

impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<E> Ord for Entry<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// A min-queue of `(time, seq)`: earliest first, and first in, first out among events due at the same instant.
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<Entry<E>>>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), seq: 0 }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, at: Timestamp, event: E) {
        self.heap.push(Reverse(Entry { at, seq: self.seq, event }));
        self.seq += 1;
    }

    /// When the earliest event is due.
    pub fn next_at(&self) -> Option<Timestamp> {
        self.heap.peek().map(|Reverse(e)| e.at)
    }

    /// The earliest event, if it is due at or before `now`.
    pub fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, E)> {
        if self.next_at()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse(e)| (e.at, e.event))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_fifo_among_equals() {
        let mut q = EventQueue::default();
        let t = Timestamp::from_nanos;
        q.push(t(5), 'a');
        q.push(t(1), 'b');
        q.push(t(5), 'c');
        q.push(t(1), 'd');
        assert_eq!(q.pop_due(t(0)), None);
        let order: Vec<char> = std::iter::from_fn(|| q.pop_due(t(10)).map(|(_, e)| e)).collect();
        assert_eq!(order, ['b', 'd', 'a', 'c']);
        assert!(q.is_empty());
    }
}
