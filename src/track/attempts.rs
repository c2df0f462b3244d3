//! A small memory of connection attempts logged at the SYN timeout, so a SYN retransmitted after it is still
//! numbered as a retransmission. Direct-mapped and fixed in size: one write when an attempt times out, one read
//! when a SYN opens a connection. A collision forgets the older attempt, which only costs the numbering. Keyed like
//! every table facing attacker-chosen tuples ([`crate::hash_key`]): with an unkeyed hash a flood could aim its SYNs
//! at the slots of real attempts, or forge a tag match.

use crate::hash_key::HashKey;
use crate::wire::flow::FlowKey;

const SLOTS: usize = 4096;

#[derive(Clone, Copy, Default)]
struct Slot {
    /// The key's hash with the low bit set, so zero means empty.
    tag: u64,
    isn: u32,
    tries: u8,
}

pub struct TimedOutAttempts {
    slots: Vec<Slot>,
    key: HashKey,
}

impl TimedOutAttempts {
    pub fn new(key: HashKey) -> TimedOutAttempts {
        TimedOutAttempts { slots: vec![Slot::default(); SLOTS], key }
    }

    fn tag_of(&self, key: &FlowKey) -> u64 {
        key.hash_under(&self.key) | 1
    }

    pub fn remember(&mut self, key: &FlowKey, isn: u32, tries: u8) {
        let tag = self.tag_of(key);
        self.slots[(tag >> 1) as usize % SLOTS] = Slot { tag, isn, tries };
    }

    /// The SYN count of a timed-out attempt on this tuple with this ISN, forgetting it.
    pub fn take(&mut self, key: &FlowKey, isn: u32) -> Option<u8> {
        let tag = self.tag_of(key);
        let slot = &mut self.slots[(tag >> 1) as usize % SLOTS];
        if slot.tag == tag && slot.isn == isn {
            let tries = slot.tries;
            *slot = Slot::default();
            Some(tries)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash_key::HashKey;
    use crate::wire::flow::Endpoint;

    fn key(port: u16) -> FlowKey {
        let a = Endpoint::new("192.0.2.10".parse().unwrap(), port);
        let b = Endpoint::new("192.0.2.20".parse().unwrap(), 9999);
        FlowKey::between(a, b, 6).0
    }

    #[test]
    fn remembers_by_tuple_and_isn_once() {
        let mut cache = TimedOutAttempts::new(HashKey::from_seed(1));
        cache.remember(&key(1), 100, 3);
        assert_eq!(cache.take(&key(1), 101), None, "another ISN is another attempt");
        assert_eq!(cache.take(&key(2), 100), None);
        assert_eq!(cache.take(&key(1), 100), Some(3));
        assert_eq!(cache.take(&key(1), 100), None, "taken once");
    }
}
