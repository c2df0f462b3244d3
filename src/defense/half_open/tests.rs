//! Tests of the half-open table, grouped by what happens to an entry.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::*;
use crate::time::Duration;

/// Packet time: `ms` milliseconds after an arbitrary epoch-like origin.
pub(super) fn at(ms: u64) -> Timestamp {
    Timestamp::from_secs_nanos(1_700_000_000, 0).saturating_add(Duration::from_millis(ms))
}

/// A client at 10.0.0.`host`, port `port`, talking to one server.
pub(super) fn tuple(host: u8, port: u16) -> Tuple {
    Tuple { client: SocketAddr::from(([10, 0, 0, host], port)), server: SocketAddr::from(([192, 0, 2, 1], 7)) }
}

fn v6(client: &str) -> Tuple {
    Tuple { client: client.parse().unwrap(), server: "[2001:db8::1]:7".parse().unwrap() }
}

fn config(global: usize, per_source: usize, overflow: Overflow) -> HalfOpenConfig {
    HalfOpenConfig { global_limit: global, per_source_limit: per_source, overflow, ..HalfOpenConfig::default() }
}

/// Our ISN is derived from the client's, so tests can tell which SYN an entry came from.
pub(super) fn syn(table: &mut HalfOpenTable, now: Timestamp, tuple: Tuple, isn: u32) -> SynVerdict {
    table.on_syn(now, tuple, isn, !isn, SynOptions::default())
}

fn drain(table: &mut HalfOpenTable, now: Timestamp) -> Vec<TimerEvent> {
    std::iter::from_fn(|| table.handle_timeout(now)).collect()
}

/// Walks one intrusive list from its head.
fn walk(table: &HalfOpenTable, list: &List, which: usize) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur = list.head();
    while let Some(s) = cur {
        out.push(s);
        let next = table.slots[s as usize].links[which].next;
        cur = (next != NIL).then_some(next);
    }
    out
}

/// Every structural invariant, checked from the outside in.
pub(super) fn check(table: &HalfOpenTable) {
    let config = table.config();
    let stats = table.stats();
    assert!(table.len() <= config.global_limit, "{} > {}", table.len(), config.global_limit);
    assert!(table.slots.len() <= config.global_limit, "the slab outgrew the limit");
    assert_eq!(stats.current as usize, table.len());
    assert!(stats.peak >= stats.current);
    assert_eq!(stats.admitted, stats.current + stats.departed(), "{stats:?}");
    assert_eq!(table.free.len() + table.len(), table.slots.len());

    let all: Vec<HalfOpen> = table.iter().copied().collect();
    assert_eq!(all.len(), table.len());
    assert!(all.windows(2).all(|w| w[0].created <= w[1].created), "age list out of order");
    for e in &all {
        assert_eq!(table.get(&e.tuple), Some(e));
    }

    let mut timed = 0;
    for (level, list) in table.timers.iter().enumerate() {
        let slots = walk(table, list, TIMER);
        let entries: Vec<&HalfOpen> = slots.iter().map(|&s| &table.slots[s as usize].entry).collect();
        for e in &entries {
            assert_eq!(e.retries as usize, level);
            assert_eq!(e.deadline, e.created.saturating_add(table.schedule.offset(level)));
        }
        assert!(entries.windows(2).all(|w| w[0].deadline <= w[1].deadline), "timer list {level} out of order");
        timed += entries.len();
    }
    assert_eq!(timed, table.len(), "every entry has exactly one timer");

    let mut counts: HashMap<IpAddr, usize> = HashMap::new();
    for e in &all {
        *counts.entry(source_prefix(e.tuple.client.ip())).or_default() += 1;
    }
    assert_eq!(table.sources.len(), counts.len(), "sources without entries are forgotten");
    for source in table.sources.iter() {
        let n = counts[&source.prefix];
        assert_eq!(source.count as usize, n);
        assert!(n <= config.per_source_limit, "{n} > {}", config.per_source_limit);
        assert_eq!(walk(table, &source.entries, SOURCE).len(), n);
        assert_eq!(table.source_count(source.prefix), n);
    }
}

mod admission {
    use super::*;

    #[test]
    fn admits_and_remembers_the_handshake() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        let options = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, tsval: Some(9), ecn: false };
        assert_eq!(table.on_syn(at(0), tuple(1, 1000), 100, 5000, options), SynVerdict::Admitted);
        let entry = *table.get(&tuple(1, 1000)).unwrap();
        assert_eq!(
            entry,
            HalfOpen {
                tuple: tuple(1, 1000),
                client_isn: 100,
                our_isn: 5000,
                syn: options,
                created: at(0),
                retries: 0,
                deadline: at(1000),
            }
        );
        assert_eq!(table.get(&tuple(1, 1001)), None);
        assert_eq!((table.len(), table.stats().admitted, table.stats().current), (1, 1, 1));
        check(&table);
    }

    #[test]
    fn a_retransmitted_syn_repeats_the_stored_syn_ack() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 100);
        let first = *table.get(&tuple(1, 1000)).unwrap();
        // A fresh ISN from the caller is ignored: the client must see the SYN-ACK it already got.
        let verdict = table.on_syn(at(900), tuple(1, 1000), 100, 77, SynOptions::default());
        assert_eq!(verdict, SynVerdict::Duplicate(first));
        assert_eq!(table.get(&tuple(1, 1000)), Some(&first), "nor does it re-arm the timer");
        assert_eq!((table.stats().duplicates, table.stats().admitted, table.len()), (1, 1, 1));
        check(&table);
    }

    #[test]
    fn a_new_isn_on_a_pending_tuple_restarts_the_attempt() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 100);
        drain(&mut table, at(1000));
        assert_eq!(syn(&mut table, at(1500), tuple(1, 1000), 200), SynVerdict::Admitted);
        let entry = table.get(&tuple(1, 1000)).unwrap();
        assert_eq!((entry.client_isn, entry.retries, entry.created), (200, 0, at(1500)));
        let stats = table.stats();
        assert_eq!((stats.admitted, stats.reset, stats.current), (2, 1, 1));
        check(&table);
    }

    #[test]
    fn behaviour_does_not_depend_on_the_seed() {
        let run = |seed| {
            let mut table =
                HalfOpenTable::new(config(8, 3, Overflow::EvictOldest), crate::hash_key::HashKey::from_seed(seed));
            let verdicts: Vec<_> = (0..40u32)
                .map(|i| syn(&mut table, at(u64::from(i) * 100), tuple((i % 5) as u8, (i % 7) as u16), i))
                .collect();
            (verdicts, drain(&mut table, at(100_000)), *table.stats())
        };
        assert_eq!(run(1), run(0xdead_beef));
    }
}

mod limits {
    use super::*;

    fn fill(table: &mut HalfOpenTable, hosts: u8) {
        for host in 1..=hosts {
            assert_eq!(syn(table, at(u64::from(host)), tuple(host, 1000), u32::from(host)), SynVerdict::Admitted);
        }
    }

    #[test]
    fn a_full_table_drops_new_syns() {
        let mut table = HalfOpenTable::new(config(3, 16, Overflow::DropNew), crate::hash_key::HashKey::from_seed(1));
        fill(&mut table, 3);
        assert_eq!(syn(&mut table, at(10), tuple(9, 1000), 9), SynVerdict::Dropped(DropReason::GlobalLimit));
        assert_eq!(table.get(&tuple(9, 1000)), None);
        assert_eq!((table.stats().rejected_global, table.len()), (1, 3));
        // A duplicate still finds its entry when the table is full.
        assert!(matches!(syn(&mut table, at(11), tuple(1, 1000), 1), SynVerdict::Duplicate(_)));
        table.complete(&tuple(2, 1000));
        assert_eq!(syn(&mut table, at(12), tuple(9, 1000), 9), SynVerdict::Admitted, "room again");
        check(&table);
    }

    #[test]
    fn a_full_table_falls_back_to_cookies() {
        let mut table = HalfOpenTable::new(config(3, 16, Overflow::Cookies), crate::hash_key::HashKey::from_seed(1));
        fill(&mut table, 3);
        assert_eq!(syn(&mut table, at(10), tuple(9, 1000), 9), SynVerdict::UseCookie);
        assert_eq!(syn(&mut table, at(11), tuple(9, 1001), 9), SynVerdict::UseCookie);
        assert_eq!(table.get(&tuple(9, 1000)), None, "a cookie keeps no state");
        assert_eq!((table.stats().cookie_fallbacks, table.stats().rejected_global, table.len()), (2, 0, 3));
        check(&table);
    }

    #[test]
    fn a_full_table_recycles_the_oldest_entry_first() {
        let mut table =
            HalfOpenTable::new(config(3, 16, Overflow::EvictOldest), crate::hash_key::HashKey::from_seed(1));
        fill(&mut table, 3);
        let mut victims = Vec::new();
        for host in 10..15 {
            match syn(&mut table, at(u64::from(host)), tuple(host, 1000), u32::from(host)) {
                SynVerdict::Evicted(v) => victims.push(v.tuple),
                other => panic!("{other:?}"),
            }
            check(&table);
        }
        assert_eq!(victims, [tuple(1, 1000), tuple(2, 1000), tuple(3, 1000), tuple(10, 1000), tuple(11, 1000)]);
        let survivors: Vec<Tuple> = table.iter().map(|e| e.tuple).collect();
        assert_eq!(survivors, [tuple(12, 1000), tuple(13, 1000), tuple(14, 1000)]);
        let stats = table.stats();
        assert_eq!((stats.admitted, stats.evicted, stats.evicted_for_source, stats.peak), (8, 5, 0, 3));
    }

    #[test]
    fn the_per_source_limit_counts_every_port_of_an_address() {
        let mut table = HalfOpenTable::new(config(100, 2, Overflow::DropNew), crate::hash_key::HashKey::from_seed(1));
        assert_eq!(syn(&mut table, at(0), tuple(1, 1000), 1), SynVerdict::Admitted);
        assert_eq!(syn(&mut table, at(1), tuple(1, 1001), 2), SynVerdict::Admitted);
        assert_eq!(syn(&mut table, at(2), tuple(1, 1002), 3), SynVerdict::Dropped(DropReason::SourceLimit));
        assert_eq!(syn(&mut table, at(3), tuple(2, 1002), 4), SynVerdict::Admitted, "another source has its own share");
        assert_eq!(table.source_count(tuple(1, 0).client.ip()), 2);
        assert_eq!(table.stats().rejected_source, 1);
        table.reset(&tuple(1, 1000));
        assert_eq!(syn(&mut table, at(4), tuple(1, 1002), 3), SynVerdict::Admitted, "a departure frees the share");
        check(&table);
    }

    #[test]
    fn a_source_over_its_share_gets_no_cookie() {
        let mut table = HalfOpenTable::new(config(100, 1, Overflow::Cookies), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        assert_eq!(syn(&mut table, at(1), tuple(1, 1001), 2), SynVerdict::Dropped(DropReason::SourceLimit));
        assert_eq!((table.stats().rejected_source, table.stats().cookie_fallbacks), (1, 0));
    }

    #[test]
    fn a_source_over_its_share_recycles_only_its_own_entries() {
        let mut table =
            HalfOpenTable::new(config(100, 2, Overflow::EvictOldest), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(2, 1000), 1); // the globally oldest, another source's
        syn(&mut table, at(1), tuple(1, 1000), 2);
        syn(&mut table, at(2), tuple(1, 1001), 3);
        let verdict = syn(&mut table, at(3), tuple(1, 1002), 4);
        assert!(matches!(verdict, SynVerdict::Evicted(v) if v.tuple == tuple(1, 1000)), "{verdict:?}");
        assert!(table.get(&tuple(2, 1000)).is_some());
        let verdict = syn(&mut table, at(4), tuple(1, 1003), 5);
        assert!(matches!(verdict, SynVerdict::Evicted(v) if v.tuple == tuple(1, 1001)), "{verdict:?}");
        let stats = table.stats();
        assert_eq!((stats.evicted, stats.evicted_for_source, stats.rejected_source), (2, 2, 0));
        check(&table);
    }

    #[test]
    fn a_full_source_in_a_full_table_recycles_its_own_entry() {
        let mut table = HalfOpenTable::new(config(2, 1, Overflow::EvictOldest), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(2, 1000), 1);
        syn(&mut table, at(1), tuple(1, 1000), 2);
        let verdict = syn(&mut table, at(2), tuple(1, 1001), 3);
        assert!(matches!(verdict, SynVerdict::Evicted(v) if v.tuple == tuple(1, 1000)), "{verdict:?}");
        assert!(table.get(&tuple(2, 1000)).is_some(), "the older entry of another source survives");
        check(&table);
    }

    #[test]
    fn ipv6_sources_share_their_slash_64() {
        let mut table = HalfOpenTable::new(config(100, 2, Overflow::DropNew), crate::hash_key::HashKey::from_seed(1));
        assert_eq!(syn(&mut table, at(0), v6("[2001:db8:0:1::a]:1000"), 1), SynVerdict::Admitted);
        assert_eq!(syn(&mut table, at(1), v6("[2001:db8:0:1::b]:1000"), 2), SynVerdict::Admitted);
        let verdict = syn(&mut table, at(2), v6("[2001:db8:0:1:ffff::c]:1000"), 3);
        assert_eq!(verdict, SynVerdict::Dropped(DropReason::SourceLimit));
        assert_eq!(syn(&mut table, at(3), v6("[2001:db8:0:2::a]:1000"), 4), SynVerdict::Admitted);
        check(&table);
    }
}

mod timers {
    use super::*;

    fn retransmit_times(table: &mut HalfOpenTable) -> (Vec<Timestamp>, Option<Timestamp>) {
        let mut retransmits = Vec::new();
        while let Some(due) = table.poll_timeout() {
            // Nothing fires a nanosecond early.
            assert_eq!(table.handle_timeout(due.saturating_sub(Duration::from_nanos(1))), None);
            match table.handle_timeout(due) {
                Some(TimerEvent::Retransmit { entry, attempt }) => {
                    assert_eq!(attempt as usize, retransmits.len() + 1);
                    assert_eq!(entry.retries, attempt);
                    retransmits.push(due);
                }
                Some(TimerEvent::Expired { .. }) => return (retransmits, Some(due)),
                None => panic!("nothing due at the deadline"),
            }
            check(table);
        }
        (retransmits, None)
    }

    #[test]
    fn syn_acks_back_off_1_2_4_seconds_then_expire() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        assert_eq!(table.poll_timeout(), Some(at(1000)));
        let (retransmits, expired) = retransmit_times(&mut table);
        assert_eq!(retransmits, [at(1000), at(3000), at(7000)]);
        assert_eq!(expired, Some(at(15_000)), "one last 8 s wait after the third retransmission");
        assert!(table.is_empty());
        assert_eq!(table.poll_timeout(), None);
        let stats = table.stats();
        assert_eq!((stats.synack_retransmits, stats.timed_out, stats.current), (3, 1, 0));
    }

    #[test]
    fn the_schedule_follows_the_configuration() {
        let config = HalfOpenConfig {
            initial_rto: Duration::from_millis(200),
            synack_retries: 5,
            synrecv_timeout: Duration::from_secs(60),
            ..HalfOpenConfig::default()
        };
        let mut table = HalfOpenTable::new(config, crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        let (retransmits, expired) = retransmit_times(&mut table);
        assert_eq!(retransmits, [at(200), at(600), at(1400), at(3000), at(6200)]);
        assert_eq!(expired, Some(at(12_600)));
    }

    #[test]
    fn the_synrecv_timeout_bounds_the_lifetime() {
        let config =
            HalfOpenConfig { synack_retries: 5, synrecv_timeout: Duration::from_secs(5), ..HalfOpenConfig::default() };
        let mut table = HalfOpenTable::new(config, crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        let (retransmits, expired) = retransmit_times(&mut table);
        assert_eq!(retransmits, [at(1000), at(3000)], "the 7 s retransmission would outlive the timeout");
        assert_eq!(expired, Some(at(5000)));
    }

    #[test]
    fn a_late_poll_reports_every_event_in_deadline_order() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        syn(&mut table, at(1500), tuple(2, 1000), 2);
        let events: Vec<(char, u32, u32)> = drain(&mut table, at(100_000))
            .into_iter()
            .map(|e| match e {
                TimerEvent::Retransmit { entry, attempt } => ('r', entry.client_isn, attempt),
                TimerEvent::Expired { entry } => ('x', entry.client_isn, entry.retries),
            })
            .collect();
        // Entry 1 is due at 1, 3, 7 and 15 s; entry 2 at 2.5, 4.5, 8.5 and 16.5 s.
        let expected =
            [('r', 1, 1), ('r', 2, 1), ('r', 1, 2), ('r', 2, 2), ('r', 1, 3), ('r', 2, 3), ('x', 1, 3), ('x', 2, 3)];
        assert_eq!(events, expected);
        assert!(table.is_empty());
    }

    #[test]
    fn entries_fall_due_in_deadline_order_across_levels() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        let mut seen = Vec::new();
        let mut now = 0;
        while now <= 20_000 {
            if now == 2500 {
                syn(&mut table, at(now), tuple(2, 1000), 2);
            }
            while let Some(event) = table.handle_timeout(at(now)) {
                let (entry, kind) = match event {
                    TimerEvent::Retransmit { entry, .. } => (entry, 'r'),
                    TimerEvent::Expired { entry } => (entry, 'x'),
                };
                seen.push((now, entry.tuple.client.ip().to_string(), kind));
            }
            now += 500;
        }
        let expected = [
            (1000, "10.0.0.1", 'r'),
            (3000, "10.0.0.1", 'r'),
            (3500, "10.0.0.2", 'r'),
            (5500, "10.0.0.2", 'r'),
            (7000, "10.0.0.1", 'r'),
            (9500, "10.0.0.2", 'r'),
            (15_000, "10.0.0.1", 'x'),
            (17_500, "10.0.0.2", 'x'),
        ];
        let expected: Vec<_> = expected.iter().map(|&(t, ip, k)| (t, ip.to_string(), k)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn removed_entries_never_fire() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        syn(&mut table, at(0), tuple(2, 1000), 2);
        drain(&mut table, at(1000));
        table.complete(&tuple(1, 1000));
        let events = drain(&mut table, at(100_000));
        assert!(events.iter().all(|e| match e {
            TimerEvent::Retransmit { entry, .. } | TimerEvent::Expired { entry } => entry.tuple == tuple(2, 1000),
        }));
        assert_eq!(events.len(), 3, "two retransmissions and the expiry of the other entry");
    }

    #[test]
    fn a_reordered_timestamp_counts_as_the_latest() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(5000), tuple(1, 1000), 1);
        syn(&mut table, at(4000), tuple(2, 1000), 2);
        assert_eq!(table.get(&tuple(2, 1000)).unwrap().created, at(5000));
        assert_eq!(table.handle_timeout(at(0)), None);
        check(&table);
    }
}

mod departures {
    use super::*;

    #[test]
    fn complete_and_reset_remove_and_count() {
        let mut table = HalfOpenTable::new(HalfOpenConfig::default(), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        syn(&mut table, at(0), tuple(1, 1001), 2);
        syn(&mut table, at(0), tuple(1, 1002), 3);
        let done = table.complete(&tuple(1, 1000)).unwrap();
        assert_eq!((done.client_isn, done.our_isn), (1, !1));
        assert_eq!(table.reset(&tuple(1, 1001)).map(|e| e.client_isn), Some(2));
        assert_eq!(table.complete(&tuple(1, 1000)), None, "already gone");
        assert_eq!(table.reset(&tuple(9, 1000)), None);
        let stats = *table.stats();
        assert_eq!((stats.completed, stats.reset, stats.current, stats.peak), (1, 1, 1, 3));
        assert_eq!(table.source_count(tuple(1, 0).client.ip()), 1);
        check(&table);
    }

    #[test]
    fn churn_reuses_slots_within_the_limit() {
        let mut table =
            HalfOpenTable::new(config(64, 64, Overflow::EvictOldest), crate::hash_key::HashKey::from_seed(1));
        for i in 0..10_000u32 {
            let t = tuple((i % 200) as u8, (i / 200) as u16);
            syn(&mut table, at(u64::from(i)), t, i);
            if i % 3 == 0 {
                table.complete(&t);
            }
            drain(&mut table, at(u64::from(i)));
        }
        assert!(table.slots.len() <= 64);
        check(&table);
    }

    #[test]
    fn stats_serialize_for_the_guard() {
        let mut table = HalfOpenTable::new(config(1, 1, Overflow::Cookies), crate::hash_key::HashKey::from_seed(1));
        syn(&mut table, at(0), tuple(1, 1000), 1);
        syn(&mut table, at(0), tuple(2, 1000), 2);
        let json = serde_json::to_value(table.stats()).unwrap();
        assert_eq!(json["admitted"], 1);
        assert_eq!(json["cookie_fallbacks"], 1);
        assert_eq!(json["peak"], 1);
        assert_eq!(json.as_object().unwrap().len(), 13);
    }
}
