//! The half-open (SYN-RECEIVED) table: the state a listener keeps between answering a SYN and receiving the ACK
//! that completes the handshake, bounded the ways RFC 4987 §3 lists.
//!
//! - **Limits.** A global limit (the backlog of §3.2, Linux's `tcp_max_syn_backlog`) and a per-source limit, counted
//!   per IPv4 address or IPv6 /64, so that one heavy source cannot take the whole backlog.
//! - **Timers.** Every entry is retransmitted like Linux's request socks (`reqsk_timer_handler`): after 1 s, 2 s,
//!   4 s, ... (the initial RTO doubling up to `TCP_RTO_MAX`), `synack_retries` times, and dropped one backoff after
//!   the last. `synrecv_timeout` bounds the whole lifetime on top of that (§3.3).
//! - **Overflow.** When a SYN finds no room, [`Overflow`] says what happens: drop it, recycle the oldest entry
//!   (§3.4), or leave it to a SYN cookie (the hybrid of §3.7, Linux's `tcp_syncookies=1`).
//!
//! Each entry is a few machine words, not a TCB: the "SYN cache" idea of §3.5.
//!
//! # Driving it
//!
//! The table is sans-IO (DESIGN.md): the caller feeds it segments and packet timestamps and sends whatever the
//! answers ask for.
//!
//! ```text
//! SYN         -> on_syn(now, tuple, client_isn, our_isn, options)
//!                  Admitted          send a SYN-ACK with our_isn
//!                  Duplicate(entry)  the client retransmitted its SYN: send the same SYN-ACK again (entry.our_isn)
//!                  Evicted(victim)   send the SYN-ACK, and a RST for the victim, whose state is gone
//!                  UseCookie         keep nothing; answer with a SYN cookie
//!                  Dropped(reason)   send nothing; the client will retransmit its SYN
//! ACK         -> complete(tuple)     (after checking ack == our_isn + 1) returns the entry and forgets it
//! RST         -> reset(tuple)        from either side
//! timers      -> handle_timeout(now) until None, before feeding the segments stamped `now`;
//!                poll_timeout() says when to call it next
//!                  Retransmit { entry, attempt }  resend the SYN-ACK (attempt 1, 2, ...)
//!                  Expired { entry }              the entry is gone
//! ```
//!
//! # Decisions
//!
//! - **Per-source overflow follows the policy within the source.** `drop-new` drops the SYN; `evict-oldest`
//!   recycles that source's own oldest entry, never another client's, so a heavy source only churns its own share;
//!   `cookies` drops too. Cookies are the hybrid answer to a full *shared* backlog (§3.7), where legitimate clients
//!   would otherwise be refused; a source over its own share threatens no one else's, and answering each of its SYNs
//!   with a cookie would make us reflect SYN-ACKs, at the flood's rate, at one (possibly spoofed) address.
//!   Legitimate clients retransmit their SYN a second later.
//! - **A SYN with another ISN on a pending tuple** ends the old attempt and starts a new one, as Linux's
//!   `tcp_check_req` does ("embryonic reset", counted in `reset`). Linux then waits for the client's next SYN; we
//!   admit this one at once.
//! - **A retransmitted SYN does not re-arm the timer.** Linux re-arms it (`tcp_check_req` after `inet_rtx_syn_ack`),
//!   which lets a client that keeps repeating its SYN keep its entry forever. Here the lifetime stays bounded from
//!   creation, and all entries keep one schedule, which is what keeps the timers O(1).
//! - **Time never runs backwards.** A timestamp earlier than one already seen (reordered packets) counts as the
//!   latest one, so entries are created, and fall due, in the order they were admitted.
//! - **Complexity.** Every operation is O(1), except that finding the next timer looks at the head of one FIFO list
//!   per retransmission level (4 by default). Memory is bounded by `global_limit`.

mod config;
mod list;
#[cfg(test)]
mod prop_tests;
mod stats;
#[cfg(test)]
mod tests;

use std::hash::BuildHasher;
use std::net::IpAddr;

use hashbrown::HashTable;

use self::config::Schedule;
pub use self::config::{
    HalfOpenConfig, HalfOpenConfigError, MAX_GLOBAL_LIMIT, MAX_SYNACK_RETRIES, Overflow, ParseOverflowError, RTO_MAX,
};
use self::list::{Link, Links, List, NIL};
pub use self::stats::HalfOpenStats;
use super::source_hash::source_prefix;
use super::{SynOptions, Tuple};
use crate::hash_key::HashKey;
use crate::time::Timestamp;

/// The index and slab start small and grow with the entries, as `track/table.rs` explains.
const INITIAL_CAPACITY: usize = 1 << 12;

/// One pending handshake, as a snapshot the caller can keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HalfOpen {
    pub tuple: Tuple,
    /// The client's initial sequence number, from its SYN.
    pub client_isn: u32,
    /// The sequence number our SYN-ACK carries: the server's ISN, or the proxy's, as the caller chose.
    pub our_isn: u32,
    /// What the client's SYN asked for, to repeat in every SYN-ACK and to use once the connection is up.
    pub syn: SynOptions,
    /// When the first SYN-ACK went out.
    pub created: Timestamp,
    /// SYN-ACK retransmissions done so far.
    pub retries: u32,
    /// When the entry's timer fires next: a retransmission, or the expiry.
    pub deadline: Timestamp,
}

/// How [`HalfOpenTable::on_syn`] answered a SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynVerdict {
    /// A new entry: send a SYN-ACK.
    Admitted,
    /// A retransmission of a pending entry's SYN (same ISN): send its SYN-ACK again, with its stored `our_isn`.
    Duplicate(HalfOpen),
    /// Admitted after recycling this older entry to make room (overflow `evict-oldest`): RST it.
    Evicted(HalfOpen),
    /// The table is full and the overflow is `cookies`: nothing was stored; answer with a SYN cookie.
    UseCookie,
    /// Nothing was stored and nothing should be sent.
    Dropped(DropReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The table held `global_limit` entries.
    GlobalLimit,
    /// The client's source held `per_source_limit` entries.
    SourceLimit,
}

/// What a due timer asks the caller to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerEvent {
    /// Send the SYN-ACK again; `attempt` counts retransmissions from 1 (equal to `entry.retries`).
    Retransmit { entry: HalfOpen, attempt: u32 },
    /// The entry ran out of retries or time and has been removed.
    Expired { entry: HalfOpen },
}

/// Which of a slot's links a list threads through.
const TIMER: usize = 0;
const AGE: usize = 1;
const SOURCE: usize = 2;

struct Slot {
    entry: HalfOpen,
    /// Cached so removal and index growth never rehash a tuple.
    hash: u64,
    source_hash: u64,
    links: [Link; 3],
}

/// One source's share of the table: its count, and its entries oldest first.
struct Source {
    prefix: IpAddr,
    count: u32,
    entries: List,
}

/// The links of one kind across the slab.
struct Chain<'a> {
    slots: &'a mut [Slot],
    which: usize,
}

impl Links for Chain<'_> {
    fn link(&mut self, slot: u32) -> &mut Link {
        &mut self.slots[slot as usize].links[self.which]
    }
}

fn chain(slots: &mut [Slot], which: usize) -> Chain<'_> {
    Chain { slots, which }
}

pub struct HalfOpenTable {
    config: HalfOpenConfig,
    schedule: Schedule,
    /// Entries by slot number; freed slots are reused, so the slab never outgrows `global_limit`.
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Slot numbers by tuple.
    index: HashTable<u32>,
    /// Only sources with at least one entry, so at most `global_limit` of them.
    sources: HashTable<Source>,
    hasher: HashKey,
    /// One list per retransmissions done; each is in creation order, hence in deadline order.
    timers: Vec<List>,
    /// Every entry in creation order: the head is the oldest, the victim of `evict-oldest`.
    age: List,
    clock: Timestamp,
    stats: HalfOpenStats,
}

impl HalfOpenTable {
    /// A table with `config` (limits below 1 are raised to 1; see [`HalfOpenConfig::validate`]), hashing under `key`:
    /// attackers choose the tuples ([`crate::hash_key`]).
    pub fn new(config: HalfOpenConfig, key: HashKey) -> HalfOpenTable {
        let config = config.clamped();
        let schedule = Schedule::new(&config);
        let initial = config.global_limit.min(INITIAL_CAPACITY);
        HalfOpenTable {
            timers: vec![List::EMPTY; schedule.levels()],
            config,
            schedule,
            slots: Vec::with_capacity(initial),
            free: Vec::new(),
            index: HashTable::with_capacity(initial),
            sources: HashTable::new(),
            hasher: key,
            age: List::EMPTY,
            clock: Timestamp::default(),
            stats: HalfOpenStats::default(),
        }
    }

    /// The configuration in force, after clamping.
    pub fn config(&self) -> &HalfOpenConfig {
        &self.config
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn stats(&self) -> &HalfOpenStats {
        &self.stats
    }

    pub fn get(&self, tuple: &Tuple) -> Option<&HalfOpen> {
        let slot = self.find(self.hasher.hash_one(tuple), tuple)?;
        Some(&self.slots[slot as usize].entry)
    }

    /// Entries of one source (an IPv4 address, or the /64 of an IPv6 one).
    pub fn source_count(&self, client: IpAddr) -> usize {
        let prefix = source_prefix(client);
        self.sources.find(self.hasher.hash_one(prefix), |s| s.prefix == prefix).map_or(0, |s| s.count as usize)
    }

    /// Every entry, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &HalfOpen> + '_ {
        let mut cur = self.age.head();
        std::iter::from_fn(move || {
            let slot = &self.slots[cur? as usize];
            let next = slot.links[AGE].next;
            cur = (next != NIL).then_some(next);
            Some(&slot.entry)
        })
    }

    /// A client's SYN. Call [`handle_timeout`](Self::handle_timeout) for `now` first, or entries that are due still take
    /// room. `our_isn` is stored only when the SYN is admitted; a duplicate keeps the ISN it was first given.
    pub fn on_syn(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        client_isn: u32,
        our_isn: u32,
        syn: SynOptions,
    ) -> SynVerdict {
        let now = self.advance(now);
        let hash = self.hasher.hash_one(tuple);
        if let Some(slot) = self.find(hash, &tuple) {
            let entry = self.slots[slot as usize].entry;
            if entry.client_isn == client_isn {
                self.stats.duplicates += 1;
                return SynVerdict::Duplicate(entry);
            }
            self.remove(slot);
            self.stats.reset += 1;
        }

        let prefix = source_prefix(tuple.client.ip());
        let source_hash = self.hasher.hash_one(prefix);
        let (held, source_oldest) = self
            .sources
            .find(source_hash, |s| s.prefix == prefix)
            .map_or((0, None), |s| (s.count as usize, s.entries.head()));
        let mut victim = None;
        if held >= self.config.per_source_limit {
            match (self.config.overflow, source_oldest) {
                (Overflow::EvictOldest, Some(oldest)) => {
                    victim = Some(self.evict(oldest));
                    self.stats.evicted_for_source += 1;
                }
                _ => {
                    self.stats.rejected_source += 1;
                    return SynVerdict::Dropped(DropReason::SourceLimit);
                }
            }
        } else if self.len() >= self.config.global_limit {
            match (self.config.overflow, self.age.head()) {
                (Overflow::EvictOldest, Some(oldest)) => victim = Some(self.evict(oldest)),
                (Overflow::Cookies, _) => {
                    self.stats.cookie_fallbacks += 1;
                    return SynVerdict::UseCookie;
                }
                _ => {
                    self.stats.rejected_global += 1;
                    return SynVerdict::Dropped(DropReason::GlobalLimit);
                }
            }
        }

        let entry = HalfOpen {
            tuple,
            client_isn,
            our_isn,
            syn,
            created: now,
            retries: 0,
            deadline: now.saturating_add(self.schedule.offset(0)),
        };
        self.insert(entry, hash, source_hash, prefix);
        match victim {
            Some(v) => SynVerdict::Evicted(v),
            None => SynVerdict::Admitted,
        }
    }

    /// The handshake's final ACK arrived (the caller checked it acknowledges `our_isn + 1`): forgets the entry and
    /// returns it, so the caller can set up the connection with the client's options.
    pub fn complete(&mut self, tuple: &Tuple) -> Option<HalfOpen> {
        let slot = self.find(self.hasher.hash_one(tuple), tuple)?;
        self.stats.completed += 1;
        Some(self.remove(slot))
    }

    /// A RST from either side ended the attempt.
    pub fn reset(&mut self, tuple: &Tuple) -> Option<HalfOpen> {
        let slot = self.find(self.hasher.hash_one(tuple), tuple)?;
        self.stats.reset += 1;
        Some(self.remove(slot))
    }

    /// When the earliest timer is due; `None` when the table is empty.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.earliest().map(|(_, slot)| self.slots[slot as usize].entry.deadline)
    }

    /// Handles the next timer due at `now`, earliest first, and says what it did; call until `None`. Deadlines are fixed at creation, so a late
    /// call still reports every event, in the order they fell due.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Option<TimerEvent> {
        let now = self.advance(now);
        let (level, slot) = self.earliest()?;
        if self.slots[slot as usize].entry.deadline > now {
            return None;
        }
        if self.schedule.expires(level) {
            self.stats.timed_out += 1;
            return Some(TimerEvent::Expired { entry: self.remove(slot) });
        }
        self.timers[level].unlink(&mut chain(&mut self.slots, TIMER), slot);
        let entry = {
            let e = &mut self.slots[slot as usize].entry;
            e.retries += 1;
            e.deadline = e.created.saturating_add(self.schedule.offset(level + 1));
            *e
        };
        self.timers[level + 1].push_back(&mut chain(&mut self.slots, TIMER), slot);
        self.stats.synack_retransmits += 1;
        Some(TimerEvent::Retransmit { entry, attempt: entry.retries })
    }

    fn advance(&mut self, now: Timestamp) -> Timestamp {
        self.clock = self.clock.max(now);
        self.clock
    }

    fn find(&self, hash: u64, tuple: &Tuple) -> Option<u32> {
        let slots = &self.slots;
        self.index.find(hash, |&s| slots[s as usize].entry.tuple == *tuple).copied()
    }

    /// The head of the timer list due first, with its level (retransmissions done).
    fn earliest(&self) -> Option<(usize, u32)> {
        self.timers
            .iter()
            .enumerate()
            .filter_map(|(level, list)| Some((level, list.head()?)))
            .min_by_key(|&(_, slot)| self.slots[slot as usize].entry.deadline)
    }

    fn evict(&mut self, slot: u32) -> HalfOpen {
        self.stats.evicted += 1;
        self.remove(slot)
    }

    fn insert(&mut self, entry: HalfOpen, hash: u64, source_hash: u64, prefix: IpAddr) {
        let fresh = Slot { entry, hash, source_hash, links: [Link::DETACHED; 3] };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = fresh;
                s
            }
            None => {
                self.slots.push(fresh);
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.index.insert_unique(hash, slot, |&s| slots[s as usize].hash);
        self.timers[0].push_back(&mut chain(&mut self.slots, TIMER), slot);
        self.age.push_back(&mut chain(&mut self.slots, AGE), slot);
        match self.sources.find_mut(source_hash, |s| s.prefix == prefix) {
            Some(source) => {
                source.count += 1;
                source.entries.push_back(&mut chain(&mut self.slots, SOURCE), slot);
            }
            None => {
                let mut source = Source { prefix, count: 1, entries: List::EMPTY };
                source.entries.push_back(&mut chain(&mut self.slots, SOURCE), slot);
                let hasher = &self.hasher;
                self.sources.insert_unique(source_hash, source, |s| hasher.hash_one(s.prefix));
            }
        }
        self.stats.admitted += 1;
        self.stats.current = self.len() as u64;
        self.stats.peak = self.stats.peak.max(self.stats.current);
    }

    /// Unthreads a slot from every list and the index, frees it, and returns its entry.
    fn remove(&mut self, slot: u32) -> HalfOpen {
        let Slot { entry, hash, source_hash, .. } = self.slots[slot as usize];
        self.timers[entry.retries as usize].unlink(&mut chain(&mut self.slots, TIMER), slot);
        self.age.unlink(&mut chain(&mut self.slots, AGE), slot);
        let prefix = source_prefix(entry.tuple.client.ip());
        if let Ok(mut found) = self.sources.find_entry(source_hash, |s| s.prefix == prefix) {
            let source = found.get_mut();
            source.entries.unlink(&mut chain(&mut self.slots, SOURCE), slot);
            source.count -= 1;
            if source.count == 0 {
                found.remove();
            }
        }
        if let Ok(found) = self.index.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        self.free.push(slot);
        self.stats.current = self.len() as u64;
        entry
    }
}
