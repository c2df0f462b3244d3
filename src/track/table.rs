//! The bounded flow table: connections in a slab, found through a hash index of slot numbers, and threaded on one
//! intrusive list per timer phase. Each list is ordered by the time its timer counts from, so expiry only ever
//! looks at list heads, and eviction under pressure takes the oldest half-open connection first (the victims of a
//! SYN flood) before touching anything established.

use hashbrown::HashTable;

use super::conn::{Conn, Phase};
use crate::hash_key::HashKey;
use crate::wire::flow::FlowKey;

const NONE: u32 = u32::MAX;
/// The index starts small and grows with the live connections: sized to the cap, it would be sparse, spread over
/// megabytes, and miss the cache on every lookup.
const INITIAL_INDEX: usize = 1 << 12;
const PHASES: usize = 4;

fn list_of(phase: Phase) -> usize {
    match phase {
        Phase::HalfOpen => 0,
        Phase::Closed => 1,
        Phase::Udp => 2,
        Phase::Active => 3,
    }
}

#[derive(Clone, Copy, Default)]
struct List {
    head: u32,
    tail: u32,
}

pub struct FlowTable {
    slots: Vec<Option<Conn>>,
    free: Vec<u32>,
    index: HashTable<u32>,
    /// Flood sources choose the tuples, so the index is keyed ([`crate::hash_key`]).
    hasher: HashKey,
    lists: [List; PHASES],
    capacity: usize,
    /// The slot last found or inserted: consecutive packets are mostly one connection's (a request and its answer,
    /// a burst), and [`FlowTable::lookup`] tries it before hashing. It is never invalidated: a lookup checks that the
    /// slot still holds a connection with the packet's key, and keys are unique in the table, so a slot freed or
    /// reused since holds either no connection, another key, or the very connection the packet belongs to.
    recent: Slot,
    pub evictions: u64,
    pub evicted_half_open: u64,
}

/// Where a connection lives in the table.
pub type Slot = u32;

impl FlowTable {
    pub fn new(capacity: usize, key: HashKey) -> FlowTable {
        let capacity = capacity.max(1);
        // The slab is reserved up front so it never regrows (and copies itself) in the middle of a flood; its pages
        // are only touched as connections arrive, so this costs address space, not memory.
        FlowTable {
            slots: Vec::with_capacity(capacity),
            free: Vec::new(),
            index: HashTable::with_capacity(capacity.min(INITIAL_INDEX)),
            hasher: key,
            lists: [List { head: NONE, tail: NONE }; PHASES],
            capacity,
            recent: NONE,
            evictions: 0,
            evicted_half_open: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The key's hash in the index. The tracker computes it once per packet and passes it to `find_hashed`, then to
    /// `insert` on a miss. Connections do not keep it: 8 more bytes would take an entry past its 256 (see the size
    /// test below), and only removal and the index's growth hash a stored key again.
    pub fn hash(&self, key: &FlowKey) -> u64 {
        key.hash_under(&self.hasher)
    }

    /// The connection with this key.
    pub fn find(&self, key: &FlowKey) -> Option<Slot> {
        self.find_hashed(key, self.hash(key))
    }

    /// The connection with this key, whose [`FlowTable::hash`] the caller already has.
    pub fn find_hashed(&self, key: &FlowKey, hash: u64) -> Option<Slot> {
        debug_assert_eq!(hash, self.hash(key));
        let slots = &self.slots;
        self.index.find(hash, |&s| slots[s as usize].as_ref().is_some_and(|c| c.key == *key)).copied()
    }

    /// The connection with this key, trying the last one found or inserted first; on a miss there it hashes the key,
    /// and returns the hash for an insert. A hit there skips SipHash and the index probe: measured on `read -q` of the
    /// bench file, 1,541 -> 1,387 instr/pkt.
    #[inline]
    pub fn lookup(&mut self, key: &FlowKey) -> (Option<Slot>, Option<u64>) {
        if let Some(Some(conn)) = self.slots.get(self.recent as usize)
            && conn.key == *key
        {
            return (Some(self.recent), None);
        }
        let hash = self.hash(key);
        let found = self.find_hashed(key, hash);
        if let Some(slot) = found {
            self.recent = slot;
        }
        (found, Some(hash))
    }

    pub fn get(&self, slot: Slot) -> &Conn {
        self.slots[slot as usize].as_ref().expect("live slot")
    }

    pub fn get_mut(&mut self, slot: Slot) -> &mut Conn {
        self.slots[slot as usize].as_mut().expect("live slot")
    }

    /// Inserts a connection whose key is not in the table; `hash` is [`FlowTable::hash`] of its key. When the table
    /// is full, first evicts one connection (returned so its record can still be written).
    pub fn insert(&mut self, conn: Conn, hash: u64) -> (Slot, Option<Conn>) {
        debug_assert_eq!(hash, self.hash(&conn.key));
        let evicted = if self.len() >= self.capacity { self.evict() } else { None };
        let phase = conn.timer_list();
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(conn);
                s
            }
            None => {
                self.slots.push(Some(conn));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        let hasher = &self.hasher;
        // On growth the index rehashes every slot; it must hash exactly as `find` does.
        self.index.insert_unique(hash, slot, |&s| match &slots[s as usize] {
            Some(c) => c.key.hash_under(hasher),
            None => 0,
        });
        self.push_back(list_of(phase), slot);
        self.recent = slot;
        (slot, evicted)
    }

    /// Removes and returns a connection.
    pub fn remove(&mut self, slot: Slot) -> Conn {
        self.forget(slot);
        self.slots[slot as usize].take().expect("live slot")
    }

    /// Removes a connection without moving it out (the caller already read what it needed).
    pub fn discard(&mut self, slot: Slot) {
        self.forget(slot);
        self.slots[slot as usize] = None;
    }

    /// Unlinks a slot from its list and the index, and frees it for reuse.
    fn forget(&mut self, slot: Slot) {
        let phase = self.get(slot).timer_list();
        self.unlink(list_of(phase), slot);
        let hash = self.hash(&self.get(slot).key);
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        self.free.push(slot);
    }

    /// Moves a connection to the tail of its timer list ([`Conn::timer_list`]): call after changing what that list is
    /// (`old_phase` is the list it was on), or on activity for lists whose timer counts from the last packet.
    pub fn requeue(&mut self, slot: Slot, old_phase: Phase) {
        let phase = self.get(slot).timer_list();
        self.requeue_onto(slot, old_phase, phase);
    }

    /// [`FlowTable::requeue`] for a caller that already knows the connection's timer list (`new_phase`, its
    /// [`Conn::timer_list`]): the tracker reads it for every TCP packet anyway, and reading it again here cost
    /// about 6 instr/pkt (callgrind, 100k bench file).
    pub fn requeue_onto(&mut self, slot: Slot, old_phase: Phase, new_phase: Phase) {
        debug_assert_eq!(new_phase, self.get(slot).timer_list());
        if old_phase == new_phase && self.lists[list_of(new_phase)].tail == slot {
            // Already the tail of its list, where unlinking and pushing back would put it again: the connection that
            // just had a packet usually had the one before too (about 55 instr/pkt of `read -q` on the bench file).
            return;
        }
        self.unlink(list_of(old_phase), slot);
        self.push_back(list_of(new_phase), slot);
    }

    /// The oldest connection of a phase.
    pub fn head(&self, phase: Phase) -> Option<Slot> {
        let head = self.lists[list_of(phase)].head;
        (head != NONE).then_some(head)
    }

    /// Every live slot, oldest first within each phase.
    #[cfg(test)]
    pub fn slots(&self) -> Vec<Slot> {
        let mut all = Vec::with_capacity(self.len());
        for list in 0..PHASES {
            let mut cur = self.lists[list].head;
            while cur != NONE {
                all.push(cur);
                cur = self.get(cur).next;
            }
        }
        all
    }

    /// The slot to close out first at the end of input: the oldest of the first non-empty phase, in eviction order.
    pub fn oldest(&self) -> Option<Slot> {
        self.lists.iter().map(|l| l.head).find(|&h| h != NONE)
    }

    /// Picks a victim: half-open first, then closed, then UDP, then established — each time the oldest.
    fn evict(&mut self) -> Option<Conn> {
        let victim = self.oldest()?;
        let conn = self.remove(victim);
        self.evictions += 1;
        if conn.is_half_open() {
            self.evicted_half_open += 1;
        }
        Some(conn)
    }

    fn push_back(&mut self, list: usize, slot: Slot) {
        let tail = self.lists[list].tail;
        {
            let c = self.get_mut(slot);
            c.prev = tail;
            c.next = NONE;
        }
        if tail == NONE {
            self.lists[list].head = slot;
        } else {
            self.get_mut(tail).next = slot;
        }
        self.lists[list].tail = slot;
    }

    fn unlink(&mut self, list: usize, slot: Slot) {
        let (prev, next) = {
            let c = self.get(slot);
            (c.prev, c.next)
        };
        if prev == NONE {
            self.lists[list].head = next;
        } else {
            self.get_mut(prev).next = next;
        }
        if next == NONE {
            self.lists[list].tail = prev;
        } else {
            self.get_mut(next).prev = prev;
        }
        let c = self.get_mut(slot);
        c.prev = NONE;
        c.next = NONE;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Timestamp;
    use crate::wire::flow::Endpoint;

    fn key(n: u32) -> FlowKey {
        let a = Endpoint::new(std::net::IpAddr::from(n.to_be_bytes()), 1000);
        let b = Endpoint::new("192.0.2.20".parse().unwrap(), 9999);
        FlowKey::between(a, b, 6).0
    }

    fn conn(n: u32, phase: Phase) -> Conn {
        Conn::new(key(n), true, Timestamp::from_nanos(u64::from(n)), false, phase)
    }

    /// Inserts connection `n`, hashed as the tracker hashes.
    fn insert(table: &mut FlowTable, n: u32, phase: Phase) -> (Slot, Option<Conn>) {
        let hash = table.hash(&key(n));
        table.insert(conn(n, phase), hash)
    }

    #[test]
    fn an_entry_costs_at_most_256_bytes() {
        // The slot (Option<Conn>, key included) plus the index's slot number and control byte, at the index's
        // worst load factor of 7/8.
        let slot = std::mem::size_of::<Option<Conn>>();
        let index = (std::mem::size_of::<u32>() + 1) * 8 / 7 + 1;
        assert!(slot + index <= 256, "{slot} + {index} bytes per connection");
    }

    #[test]
    fn finds_what_was_inserted_and_forgets_what_was_removed() {
        let mut table = FlowTable::new(10, crate::hash_key::HashKey::from_seed(1));
        let (a, _) = insert(&mut table, 1, Phase::Active);
        let (b, _) = insert(&mut table, 2, Phase::HalfOpen);
        assert_eq!(table.find(&key(1)), Some(a));
        assert_eq!(table.find(&key(2)), Some(b));
        let removed = table.remove(a);
        assert_eq!(removed.key, key(1));
        assert_eq!(table.find(&key(1)), None);
        assert_eq!(table.len(), 1);
        let (c, _) = insert(&mut table, 3, Phase::Active);
        assert_eq!(c, a, "freed slots are reused");
    }

    #[test]
    fn lookup_finds_the_recent_connection_only_while_its_slot_holds_it() {
        let mut table = FlowTable::new(10, crate::hash_key::HashKey::from_seed(1));
        let (a, _) = insert(&mut table, 1, Phase::Active);
        assert_eq!(table.lookup(&key(1)), (Some(a), None), "the inserted connection, without hashing");
        assert_eq!(table.lookup(&key(2)), (None, Some(table.hash(&key(2)))));
        table.discard(a);
        assert_eq!(table.lookup(&key(1)), (None, Some(table.hash(&key(1)))), "its slot was freed");
        let (b, _) = insert(&mut table, 2, Phase::Active);
        let (c, _) = insert(&mut table, 3, Phase::Active);
        assert_eq!(b, a, "the freed slot is reused by another key");
        assert_eq!(table.lookup(&key(1)), (None, Some(table.hash(&key(1)))));
        assert_eq!(table.lookup(&key(2)), (Some(b), Some(table.hash(&key(2)))), "found through the index");
        assert_eq!(table.lookup(&key(2)), (Some(b), None), "then remembered");
        assert_eq!(table.lookup(&key(3)), (Some(c), Some(table.hash(&key(3)))));
    }

    #[test]
    fn eviction_takes_the_oldest_half_open_before_anything_established() {
        let mut table = FlowTable::new(3, crate::hash_key::HashKey::from_seed(1));
        insert(&mut table, 1, Phase::Active);
        insert(&mut table, 2, Phase::HalfOpen);
        insert(&mut table, 3, Phase::HalfOpen);
        let (_, evicted) = insert(&mut table, 4, Phase::Active);
        assert_eq!(evicted.map(|c| c.key), Some(key(2)));
        let (_, evicted) = insert(&mut table, 5, Phase::Active);
        assert_eq!(evicted.map(|c| c.key), Some(key(3)));
        let (_, evicted) = insert(&mut table, 6, Phase::Active);
        assert_eq!(evicted.map(|c| c.key), Some(key(1)), "then the oldest established");
        assert_eq!((table.evictions, table.evicted_half_open), (3, 2));
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn many_entries_survive_index_growth() {
        let mut table = FlowTable::new(100_000, crate::hash_key::HashKey::from_seed(1));
        for n in 0..50_000 {
            insert(&mut table, n, Phase::Active);
        }
        assert!((0..50_000).all(|n| table.find(&key(n)).is_some()));
        assert_eq!(table.find(&key(60_000)), None);
    }

    #[test]
    fn oldest_follows_the_eviction_order() {
        let mut table = FlowTable::new(10, crate::hash_key::HashKey::from_seed(1));
        insert(&mut table, 1, Phase::Active);
        insert(&mut table, 2, Phase::HalfOpen);
        insert(&mut table, 3, Phase::Closed);
        let mut keys = Vec::new();
        while let Some(slot) = table.oldest() {
            keys.push(table.get(slot).key);
            table.discard(slot);
        }
        assert_eq!(keys, vec![key(2), key(3), key(1)], "half-open, closed, then active");
        assert!(table.is_empty());
        assert_eq!(table.find(&key(1)), None);
    }

    #[test]
    fn requeue_moves_to_the_tail_of_the_new_phase() {
        let mut table = FlowTable::new(10, crate::hash_key::HashKey::from_seed(1));
        let (a, _) = insert(&mut table, 1, Phase::HalfOpen);
        let (b, _) = insert(&mut table, 2, Phase::HalfOpen);
        assert_eq!(table.head(Phase::HalfOpen), Some(a));
        table.get_mut(a).phase = Phase::Active;
        table.requeue(a, Phase::HalfOpen);
        assert_eq!(table.head(Phase::HalfOpen), Some(b));
        assert_eq!(table.head(Phase::Active), Some(a));
        assert_eq!(table.slots().len(), 2);
    }
}
