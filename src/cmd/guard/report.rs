//! What the guard prints: a line a second on stderr from the threads' latest snapshots, and the JSON statistics at
//! the end. With several threads, every counter is the sum of the threads' counters; a `peak` is the sum of the
//! threads' peaks, which bounds the true peak from above.

use std::io::Write;

use serde_json::Value;

use super::bridge::Snapshot;
use crate::xdp::XdpCounters;

/// Adds every number in `part` to the number at the same place in `total`; anything else in `total` stays as the
/// first thread had it (the mode, the policy's state).
fn add_into(total: &mut Value, part: &Value) {
    match (total, part) {
        (Value::Object(total), Value::Object(part)) => {
            for (key, value) in part {
                match total.get_mut(key) {
                    Some(slot) => add_into(slot, value),
                    None => {
                        total.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Number(total), Value::Number(part)) => {
            if let (Some(a), Some(b)) = (total.as_u64(), part.as_u64()) {
                *total = (a + b).into();
            } else if let Some(sum) =
                total.as_f64().zip(part.as_f64()).and_then(|(a, b)| serde_json::Number::from_f64(a + b))
            {
                *total = sum;
            }
        }
        _ => {}
    }
}

/// The threads' statistics as one: the first thread's, with every other's numbers added in.
pub fn sum<'a>(threads: impl IntoIterator<Item = &'a Value>) -> Value {
    let mut threads = threads.into_iter();
    let mut total = threads.next().cloned().unwrap_or_default();
    for stats in threads {
        add_into(&mut total, stats);
    }
    total
}

/// The threads' snapshots as one.
pub fn merge(snapshots: &[Snapshot]) -> Snapshot {
    Snapshot {
        stats: sum(snapshots.iter().map(|s| &s.stats)),
        ring_drops: snapshots.iter().map(|s| s.ring_drops).sum(),
        send_errors: snapshots.iter().map(|s| s.send_errors).sum(),
    }
}

/// One line a second on stderr: rates over the last second, and the tables now.
pub fn print_line(last: &Snapshot, now: &Snapshot, xdp: Option<&XdpCounters>) {
    let number = |snapshot: &Snapshot, path: &[&str]| {
        path.iter().try_fold(&snapshot.stats, |value, key| value.get(key)).and_then(Value::as_u64).unwrap_or(0)
    };
    let per_second = |path: &[&str]| number(now, path).saturating_sub(number(last, path));
    let ring_drops = now.ring_drops.saturating_sub(last.ring_drops);
    let drops: u64 = now
        .stats
        .get("drops")
        .and_then(Value::as_object)
        .map_or(0, |reasons| reasons.values().filter_map(Value::as_u64).sum());
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "guard: {} SYN/s, {} SYN-ACK/s, in {} pps, out {} pps | half-open {} (peak {}) | proxied {} | cookies ok {} \
         failed {} expired {} | drops {} | rst sent {}{}{}{}",
        per_second(&["syns_seen"]),
        per_second(&["synacks_sent"]),
        per_second(&["frames_in"]),
        per_second(&["frames_out"]),
        number(now, &["half_open", "current"]),
        number(now, &["half_open", "peak"]),
        number(now, &["proxy", "current"]),
        number(now, &["cookies_validated"]),
        number(now, &["cookies_failed"]),
        number(now, &["cookies_expired"]),
        drops,
        number(now, &["rsts_sent"]),
        if ring_drops > 0 {
            format!(" | {ring_drops} frames/s lost unread (ring full, or too long)")
        } else {
            String::new()
        },
        if now.send_errors > 0 { format!(" | send errors {}", now.send_errors) } else { String::new() },
        xdp.map_or(String::new(), |x| format!(" | xdp {} SYN-ACK/s, {} passed/s", x.synacks_sent, x.frames_passed))
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn threads_add_up_and_the_first_keeps_its_words() {
        let a = Snapshot {
            stats: json!({"mode": "cookies", "syns_seen": 3, "half_open": {"peak": 2}, "rate": 0.5}),
            ring_drops: 1,
            send_errors: 0,
        };
        let b = Snapshot {
            stats: json!({"mode": "cookies", "syns_seen": 4, "half_open": {"peak": 5, "new": 1}, "rate": 0.25}),
            ring_drops: 2,
            send_errors: 7,
        };
        let merged = merge(&[a.clone(), b]);
        assert_eq!(
            merged.stats,
            json!({"mode": "cookies", "syns_seen": 7, "half_open": {"peak": 7, "new": 1}, "rate": 0.75})
        );
        assert_eq!((merged.ring_drops, merged.send_errors), (3, 7));
        assert_eq!(merge(std::slice::from_ref(&a)).stats, a.stats, "one thread is itself");
    }
}
