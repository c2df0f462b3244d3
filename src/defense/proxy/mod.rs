//! The SYN proxy's connection table (RFC 4987 §3.8, modelled on netfilter's SYNPROXY target):
//!
//! 1. the client's SYN is answered by the proxy (a cookie, or a stateful ISN), and nothing reaches the listener;
//! 2. a valid ACK opens an entry here in [`ProxyState::SynSent`], and the proxy sends the listener a SYN carrying
//!    the client's ISN and options;
//! 3. the listener's SYN-ACK fixes the [`Translation`] and the proxy ACKs it: [`ProxyState::Established`];
//! 4. from then on every segment of the connection is rewritten ([`translate`]);
//! 5. entries go on RST, after both FINs, or when idle too long; the table is bounded.
//!
//! There is no TIME-WAIT: once the last ACK has passed, the translation is gone. A segment of the connection after
//! that (the client's FIN again, when the listener's last ACK was lost on its way) is dropped, not translated, so
//! such a client waits out its LAST-ACK. netfilter keeps conntrack entries in TIME_WAIT for 120 s instead; here that
//! would hold table room for every closed connection.

pub mod translate;

use hashbrown::HashMap;

use crate::hash_key::HashKey;
use serde::Serialize;

use super::Tuple;
use crate::time::{Duration, Timestamp};
pub use translate::Translation;

/// What the proxy learnt from the client's handshake and must pass on to the listener in its SYN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    /// The client's ISN (its ACK's sequence number − 1).
    pub client_isn: u32,
    /// The ISN the proxy gave the client (the cookie, or the stateful ISN).
    pub proxy_isn: u32,
    pub mss: u16,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    /// The client's current TSval and the TSval the proxy sent it, when the client uses timestamps.
    pub timestamps: Option<(u32, u32)>,
    /// The client's receive window as its ACK announced it (already scaled by its window scale).
    pub window: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyState {
    /// The proxy has sent the listener its SYN and waits for the SYN-ACK.
    SynSent(ClientHandshake),
    Established(Translation),
}

#[derive(Clone, Copy, Debug)]
pub struct ProxyEntry {
    pub state: ProxyState,
    /// The client's handshake, kept after the listener's SYN-ACK: its ISN tells an old duplicate of the client's SYN
    /// from a new connection on the same tuple, and its window and TSval let the proxy ACK a retransmitted SYN-ACK
    /// of the listener again.
    pub handshake: ClientHandshake,
    /// Client windows, sent with the first shift, for a listener that reads them with the second, when these
    /// differ: one half of the connection scales windows and the other does not (RFC 7323 §2.2). Set with the
    /// translation, which rescales the listener's windows itself.
    pub client_window_rescale: Option<(u8, u8)>,
    pub last_seen: Timestamp,
    pub client_fin: bool,
    pub server_fin: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ProxyStats {
    /// Connections handed to the listener after a valid ACK.
    pub opened: u64,
    /// Connections whose listener SYN-ACK arrived: the translation is set.
    pub established: u64,
    pub closed: u64,
    pub reset: u64,
    pub idle_expired: u64,
    /// Valid ACKs turned away because the table was full.
    pub table_full: u64,
    pub current: u64,
    pub peak: u64,
}

/// A tuple that entered or left the table, for an edge that mirrors the table elsewhere (the XDP fast path keeps
/// its SYN answers off tuples the proxy holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyChange {
    Held(Tuple),
    Released(Tuple),
}

/// Proxied connections, bounded.
pub struct ProxyTable {
    entries: HashMap<Tuple, ProxyEntry, HashKey>,
    /// Changes not yet taken by [`ProxyTable::drain_changes`], when [`ProxyTable::record_changes`] asked for them.
    changes: Option<Vec<ProxyChange>>,
    max_entries: usize,
    idle_timeout: Duration,
    /// A SYN-SENT entry whose listener never answers is dropped after this long.
    syn_sent_timeout: Duration,
    next_sweep: Timestamp,
    /// No entry expires before this: a lower bound on every entry's `last_seen` plus its time-out, lowered as entries
    /// are opened or seen and made exact again by each sweep. Entries that leave the table or are refreshed can only
    /// leave it early, which costs one sweep that finds nothing and raises it.
    earliest_expiry: Timestamp,
    stats: ProxyStats,
}

/// The map starts with room for this many connections and grows with them, up to `max_entries`, as the half-open
/// table and `track/table.rs` do. It used to reserve room for all of them (65,536): the pages of that reservation
/// were touched one by one as connections landed in random buckets, so the guard's own memory crept up by 7.5 MiB
/// over ten minutes of soak (scripts/soak.sh) without ever holding more than 13 connections.
const INITIAL_CAPACITY: usize = 1 << 12;

/// How often idle entries are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

impl ProxyTable {
    /// A table of at most `max_entries` connections, hashed under `key`: the tuples are the clients' choice
    /// ([`crate::hash_key`]).
    pub fn new(max_entries: usize, idle_timeout: Duration, syn_sent_timeout: Duration, key: HashKey) -> ProxyTable {
        ProxyTable {
            entries: HashMap::with_capacity_and_hasher(max_entries.min(INITIAL_CAPACITY), key),
            changes: None,
            max_entries,
            idle_timeout,
            syn_sent_timeout,
            next_sweep: Timestamp::from_nanos(0),
            earliest_expiry: Timestamp::from_nanos(0),
            stats: ProxyStats::default(),
        }
    }

    pub fn stats(&self) -> ProxyStats {
        ProxyStats { current: self.entries.len() as u64, ..self.stats }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get_mut(&mut self, tuple: &Tuple) -> Option<&mut ProxyEntry> {
        self.entries.get_mut(tuple)
    }

    /// From now on, note every tuple that enters or leaves the table, for [`ProxyTable::drain_changes`]. The
    /// caller must drain them as it goes: they are kept until then.
    pub fn record_changes(&mut self) {
        self.changes.get_or_insert_with(Vec::new);
    }

    /// The changes since the last call, oldest first.
    pub fn drain_changes(&mut self) -> impl Iterator<Item = ProxyChange> + '_ {
        self.changes.iter_mut().flat_map(|changes| changes.drain(..))
    }

    fn note(&mut self, change: ProxyChange) {
        if let Some(changes) = self.changes.as_mut() {
            changes.push(change);
        }
    }

    /// Step 2: a valid ACK. Returns false (and counts it) when the table is full; a new SYN for a tuple already
    /// here replaces it (the client started over).
    pub fn open(&mut self, now: Timestamp, tuple: Tuple, handshake: ClientHandshake) -> bool {
        if self.entries.len() >= self.max_entries && !self.entries.contains_key(&tuple) {
            self.stats.table_full += 1;
            return false;
        }
        let entry = ProxyEntry {
            state: ProxyState::SynSent(handshake),
            handshake,
            client_window_rescale: None,
            last_seen: now,
            client_fin: false,
            server_fin: false,
        };
        let expiry = now.saturating_add(self.syn_sent_timeout);
        self.earliest_expiry = if self.entries.is_empty() { expiry } else { self.earliest_expiry.min(expiry) };
        self.entries.insert(tuple, entry);
        self.note(ProxyChange::Held(tuple));
        self.stats.opened += 1;
        self.stats.peak = self.stats.peak.max(self.entries.len() as u64);
        true
    }

    /// Step 3: the listener's SYN-ACK (its ISN and TSval) fixes the translation. `window_rescale` is
    /// [`Translation`]'s, `client_window_rescale` [`ProxyEntry`]'s.
    pub fn establish(
        &mut self,
        now: Timestamp,
        tuple: &Tuple,
        listener_isn: u32,
        listener_tsval: Option<u32>,
        window_rescale: Option<(u8, u8)>,
        client_window_rescale: Option<(u8, u8)>,
    ) -> Option<(ClientHandshake, Translation)> {
        let entry = self.entries.get_mut(tuple)?;
        let ProxyState::SynSent(handshake) = entry.state else { return None };
        let ts_delta = match (handshake.timestamps, listener_tsval) {
            (Some((_, proxy_tsval)), Some(listener)) => Some(proxy_tsval.wrapping_sub(listener)),
            _ => None,
        };
        let translation =
            Translation { seq_delta: handshake.proxy_isn.wrapping_sub(listener_isn), ts_delta, window_rescale };
        entry.state = ProxyState::Established(translation);
        entry.client_window_rescale = client_window_rescale;
        entry.last_seen = now;
        // The idle time-out may be the shorter one.
        self.earliest_expiry = self.earliest_expiry.min(now.saturating_add(self.idle_timeout));
        self.stats.established += 1;
        Some((handshake, translation))
    }

    /// A segment of an established connection passed: note FINs, and drop the entry once both sides have sent one
    /// (the final ACK needs no translation state: a lone ACK of a FIN is translated before the entry goes).
    pub fn saw(&mut self, now: Timestamp, tuple: &Tuple, from_client: bool, fin: bool) {
        let Some(entry) = self.entries.get_mut(tuple) else { return };
        entry.last_seen = now;
        // Only a clock that went back can make this lower: packet timestamps are not promised to be in order.
        let limit =
            if matches!(entry.state, ProxyState::SynSent(_)) { self.syn_sent_timeout } else { self.idle_timeout };
        self.earliest_expiry = self.earliest_expiry.min(now.saturating_add(limit));
        if fin {
            if from_client {
                entry.client_fin = true;
            } else {
                entry.server_fin = true;
            }
        }
    }

    /// Removes an entry whose both FINs have been seen and acknowledged (called on the last ACK).
    pub fn close_if_done(&mut self, tuple: &Tuple) {
        if self.entries.get(tuple).is_some_and(|e| e.client_fin && e.server_fin) {
            self.entries.remove(tuple);
            self.note(ProxyChange::Released(*tuple));
            self.stats.closed += 1;
        }
    }

    /// A RST from either side ends the entry.
    pub fn reset(&mut self, tuple: &Tuple) -> Option<ProxyEntry> {
        let entry = self.entries.remove(tuple)?;
        self.note(ProxyChange::Released(*tuple));
        self.stats.reset += 1;
        Some(entry)
    }

    /// Drops idle entries, at most once per second of packet time.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(SWEEP_EVERY);
        let (idle, syn_sent) = (self.idle_timeout, self.syn_sent_timeout);
        let before = self.entries.len();
        let changes = &mut self.changes;
        let mut earliest = Timestamp::from_nanos(u64::MAX);
        self.entries.retain(|tuple, e| {
            let limit = if matches!(e.state, ProxyState::SynSent(_)) { syn_sent } else { idle };
            let keep = now.saturating_since(e.last_seen) < limit;
            if keep {
                earliest = earliest.min(e.last_seen.saturating_add(limit));
            } else if let Some(changes) = changes.as_mut() {
                changes.push(ProxyChange::Released(*tuple));
            }
            keep
        });
        self.earliest_expiry = earliest;
        self.stats.idle_expired += (before - self.entries.len()) as u64;
    }

    /// When [`ProxyTable::expire`] may next drop an entry; `None` when the table is empty. O(1): the sweep that
    /// expires entries already walks them all (once a second at most) and leaves the earliest expiry behind. It can
    /// be early (an entry seen since, or gone), never late, and never before the next sweep is allowed.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        (!self.entries.is_empty()).then(|| self.earliest_expiry.max(self.next_sweep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_changes_follow_every_way_in_and_out() {
        let mut table =
            ProxyTable::new(8, Duration::from_secs(10), Duration::from_secs(5), crate::hash_key::HashKey::from_seed(1));
        let now = Timestamp::from_nanos(1_000_000_000);
        table.open(now, tuple(1), handshake());
        assert_eq!(table.drain_changes().count(), 0, "nothing is noted until asked");
        table.record_changes();
        for port in 2..=4 {
            table.open(now, tuple(port), handshake());
        }
        table.reset(&tuple(2));
        table.saw(now, &tuple(3), true, true);
        table.saw(now, &tuple(3), false, true);
        table.close_if_done(&tuple(3));
        table.handle_timeout(now.saturating_add(Duration::from_secs(6)));
        let changes: Vec<ProxyChange> = table.drain_changes().collect();
        let mut released: Vec<u16> = changes
            .iter()
            .filter_map(|c| if let ProxyChange::Released(t) = c { Some(t.client.port()) } else { None })
            .collect();
        released.sort_unstable();
        assert_eq!(&changes[..3], &[2, 3, 4].map(|p| ProxyChange::Held(tuple(p))));
        // Reset, closed, and the two SYN-SENT entries (1 and 4) that timed out.
        assert_eq!(released, [1, 2, 3, 4]);
        assert!(table.is_empty());
        assert_eq!(table.drain_changes().count(), 0, "drained");
    }

    fn tuple(port: u16) -> Tuple {
        Tuple { client: format!("10.0.0.1:{port}").parse().unwrap(), server: "10.0.0.2:80".parse().unwrap() }
    }

    fn handshake() -> ClientHandshake {
        ClientHandshake {
            client_isn: 100,
            proxy_isn: 5000,
            mss: 1460,
            wscale: Some(7),
            sack_permitted: true,
            timestamps: Some((11, 900)),
            window: 502,
        }
    }

    fn at(secs: u64) -> Timestamp {
        Timestamp::from_nanos(secs * 1_000_000_000)
    }

    #[test]
    fn the_translation_comes_from_both_isns_and_both_clocks() {
        let mut table = ProxyTable::new(
            10,
            Duration::from_secs(60),
            Duration::from_secs(5),
            crate::hash_key::HashKey::from_seed(1),
        );
        assert!(table.open(at(1), tuple(1), handshake()));
        let (_, t) = table.establish(at(1), &tuple(1), 3000, Some(400), None, None).unwrap();
        assert_eq!(t.seq_delta, 2000);
        assert_eq!(t.ts_delta, Some(500));
        // A second SYN-ACK (a retransmission) does not re-establish.
        assert!(table.establish(at(1), &tuple(1), 3000, Some(400), None, None).is_none());
        assert_eq!(table.stats().established, 1);
    }

    #[test]
    fn the_table_is_bounded() {
        let mut table =
            ProxyTable::new(2, Duration::from_secs(60), Duration::from_secs(5), crate::hash_key::HashKey::from_seed(1));
        assert!(table.open(at(1), tuple(1), handshake()));
        assert!(table.open(at(1), tuple(2), handshake()));
        assert!(!table.open(at(1), tuple(3), handshake()));
        // Replacing an existing tuple is not growth.
        assert!(table.open(at(1), tuple(2), handshake()));
        assert_eq!((table.len(), table.stats().table_full), (2, 1));
    }

    #[test]
    fn entries_go_after_both_fins_on_rst_or_when_idle() {
        let mut table = ProxyTable::new(
            10,
            Duration::from_secs(60),
            Duration::from_secs(5),
            crate::hash_key::HashKey::from_seed(1),
        );
        for port in 1..=3 {
            table.open(at(1), tuple(port), handshake());
            table.establish(at(1), &tuple(port), 1, None, None, None);
        }
        table.saw(at(2), &tuple(1), true, true);
        table.close_if_done(&tuple(1));
        assert_eq!(table.len(), 3, "one FIN is not the end");
        table.saw(at(2), &tuple(1), false, true);
        table.close_if_done(&tuple(1));
        assert!(table.reset(&tuple(2)).is_some());
        table.handle_timeout(at(62));
        let stats = table.stats();
        assert_eq!((stats.closed, stats.reset, stats.idle_expired, stats.current), (1, 1, 1, 0));
    }

    #[test]
    fn next_expiry_is_never_late_and_exact_after_a_sweep() {
        let mut table = ProxyTable::new(
            10,
            Duration::from_secs(60),
            Duration::from_secs(5),
            crate::hash_key::HashKey::from_seed(1),
        );
        assert_eq!(table.poll_timeout(), None);
        table.open(at(1), tuple(1), handshake());
        assert_eq!(table.poll_timeout(), Some(at(6)), "SYN-SENT for 5 s");
        // Established at 2 s, the entry may live to 62 s; the bound stays at 6 s until a sweep raises it.
        table.establish(at(2), &tuple(1), 1, None, None, None);
        assert_eq!(table.poll_timeout(), Some(at(6)));
        table.handle_timeout(at(6));
        assert_eq!((table.len(), table.poll_timeout()), (1, Some(at(62))));
        table.saw(at(10), &tuple(1), true, false);
        table.handle_timeout(at(62));
        assert_eq!((table.len(), table.poll_timeout()), (1, Some(at(70))), "seen at 10 s");
        table.handle_timeout(at(70));
        assert_eq!((table.len(), table.poll_timeout()), (0, None));
        // A sweep a second at most: an entry due sooner waits for the next allowed sweep.
        table.open(at(70), tuple(2), handshake());
        assert_eq!(table.poll_timeout(), Some(at(75)));
        let mut short = ProxyTable::new(
            10,
            Duration::from_millis(300),
            Duration::from_millis(200),
            crate::hash_key::HashKey::from_seed(1),
        );
        short.handle_timeout(at(100));
        short.open(at(100), tuple(3), handshake());
        assert_eq!(short.poll_timeout(), Some(at(101)), "due at 100.2 s, but the last sweep was at 100 s");
        short.handle_timeout(at(101));
        assert!(short.is_empty());
    }

    #[test]
    fn a_listener_that_never_answers_frees_the_entry_sooner() {
        let mut table = ProxyTable::new(
            10,
            Duration::from_secs(60),
            Duration::from_secs(5),
            crate::hash_key::HashKey::from_seed(1),
        );
        table.open(at(1), tuple(1), handshake());
        table.handle_timeout(at(5));
        assert_eq!(table.len(), 1);
        table.handle_timeout(at(7));
        assert_eq!(table.len(), 0);
    }
}
