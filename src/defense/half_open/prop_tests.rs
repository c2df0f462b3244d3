//! Random operation sequences against the half-open table: limits hold, counters balance, timers come in order.

use proptest::prelude::*;

use super::tests::{at, check, syn, tuple};
use super::*;
use crate::time::Duration;

#[derive(Clone, Debug)]
enum Op {
    Syn { host: u8, port: u16, isn: u32 },
    Complete { host: u8, port: u16 },
    Reset { host: u8, port: u16 },
    Advance { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..6u8, 0..6u16, 0..3u32).prop_map(|(host, port, isn)| Op::Syn { host, port, isn }),
        1 => (0..6u8, 0..6u16).prop_map(|(host, port)| Op::Complete { host, port }),
        1 => (0..6u8, 0..6u16).prop_map(|(host, port)| Op::Reset { host, port }),
        2 => (0..4000u64).prop_map(|ms| Op::Advance { ms }),
    ]
}

fn config() -> impl Strategy<Value = HalfOpenConfig> {
    (1..12usize, 1..6usize, 0..3usize, 0..5u32, 100..2000u64, 500..20_000u64).prop_map(
        |(global, per_source, overflow, retries, rto, timeout)| HalfOpenConfig {
            global_limit: global,
            per_source_limit: per_source,
            overflow: Overflow::ALL[overflow],
            synack_retries: retries,
            initial_rto: Duration::from_millis(rto),
            synrecv_timeout: Duration::from_millis(timeout),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_operations_keep_limits_and_balance_counters(
        config in config(),
        ops in proptest::collection::vec(op(), 0..300),
        seed in any::<u64>(),
    ) {
        let mut table = HalfOpenTable::new(config, crate::hash_key::HashKey::from_seed(seed));
        let mut now = 0;
        for op in ops {
            match op {
                Op::Syn { host, port, isn } => {
                    let before = table.len();
                    let verdict = syn(&mut table, at(now), tuple(host, port), isn);
                    match verdict {
                        SynVerdict::UseCookie => prop_assert_eq!(config.overflow, Overflow::Cookies),
                        SynVerdict::Evicted(_) => prop_assert_eq!(config.overflow, Overflow::EvictOldest),
                        SynVerdict::Dropped(DropReason::GlobalLimit) => {
                            prop_assert_eq!(config.overflow, Overflow::DropNew)
                        }
                        SynVerdict::Dropped(DropReason::SourceLimit) => {
                            prop_assert_ne!(config.overflow, Overflow::EvictOldest)
                        }
                        SynVerdict::Admitted | SynVerdict::Duplicate(_) => {}
                    }
                    if matches!(verdict, SynVerdict::UseCookie | SynVerdict::Dropped(_) | SynVerdict::Duplicate(_)) {
                        prop_assert_eq!(table.len(), before);
                    } else {
                        prop_assert_eq!(table.get(&tuple(host, port)).map(|e| e.client_isn), Some(isn));
                    }
                }
                Op::Complete { host, port } => {
                    let had = table.get(&tuple(host, port)).copied();
                    prop_assert_eq!(table.complete(&tuple(host, port)), had);
                }
                Op::Reset { host, port } => {
                    let had = table.get(&tuple(host, port)).copied();
                    prop_assert_eq!(table.reset(&tuple(host, port)), had);
                }
                Op::Advance { ms } => {
                    now += ms;
                    let mut last = None;
                    while let Some(event) = table.handle_timeout(at(now)) {
                        // When the event fell due: a retransmission's previous deadline, an expiry's last one.
                        let due = match event {
                            TimerEvent::Retransmit { entry, attempt } => {
                                prop_assert!(attempt >= 1 && attempt <= config.synack_retries);
                                prop_assert_eq!(entry.retries, attempt);
                                entry.created.saturating_add(table.schedule.offset(attempt as usize - 1))
                            }
                            TimerEvent::Expired { entry } => {
                                let lifetime = entry.deadline.saturating_since(entry.created);
                                prop_assert!(lifetime <= config.synrecv_timeout);
                                prop_assert!(table.get(&entry.tuple).is_none());
                                entry.deadline
                            }
                        };
                        prop_assert!(due <= at(now));
                        prop_assert!(last.is_none_or(|last| last <= due), "events out of deadline order");
                        last = Some(due);
                    }
                    if let Some(next) = table.poll_timeout() {
                        prop_assert!(next > at(now));
                    }
                }
            }
            check(&table);
        }
    }
}
