use super::*;

const MS: u64 = 1_000_000;

fn at(ms: u64) -> Timestamp {
    Timestamp::from_nanos(1_000_000_000 + ms * MS)
}

fn spec(text: &[(&str, &str)]) -> Spec {
    let mut spec = Spec { limit: DEFAULT_LIMIT, ..Spec::default() };
    for (name, value) in text {
        match *name {
            "loss" => spec.loss = value.parse().unwrap(),
            "duplicate" => spec.duplicate = value.parse().unwrap(),
            "reorder" => spec.reorder = value.parse().unwrap(),
            "delay" => spec.delay = Duration::from_millis(value.parse().unwrap()),
            "jitter" => spec.jitter = Duration::from_millis(value.parse().unwrap()),
            "limit" => spec.limit = value.parse().unwrap(),
            other => panic!("{other}"),
        }
    }
    spec
}

/// Pushes `n` numbered frames 1 ms apart, then drains everything; returns the numbers in leaving order with the
/// time each left (the earliest `pop_due` time that released it, probed every 0.1 ms).
fn run(spec: Spec, n: u32, seed: u64) -> (Vec<(u32, u64)>, ImpairStats) {
    let mut impairer: Impairer<u32> = Impairer::new(spec, seed);
    let mut out = Vec::new();
    let mut now = 0;
    let mut pushed = 0;
    while pushed < n || !impairer.is_empty() {
        if pushed < n && now % 10 == 0 {
            impairer.push(at(now / 10), &pushed.to_be_bytes(), pushed);
            pushed += 1;
        }
        while let Some(held) = impairer.pop_due(at(0).saturating_add(Duration::from_micros(now * 100))) {
            assert_eq!(held.bytes, held.meta.to_be_bytes(), "a frame leaves with its own bytes");
            out.push((held.meta, now * 100));
        }
        now += 1;
    }
    (out, impairer.stats())
}

#[test]
fn nothing_asked_passes_everything_at_once_in_order() {
    let (out, stats) = run(spec(&[]), 500, 1);
    assert_eq!(out.iter().map(|(n, _)| *n).collect::<Vec<_>>(), (0..500).collect::<Vec<_>>());
    assert!(out.iter().all(|&(n, left_us)| left_us == u64::from(n) * 1000), "no delay");
    assert_eq!(stats, ImpairStats { received: 500, sent: 500, ..ImpairStats::default() });
}

#[test]
fn loss_drops_about_the_share_asked_and_keeps_order() {
    let (out, stats) = run(spec(&[("loss", "5%")]), 20_000, 7);
    let rate = stats.lost as f64 / 20_000.0;
    assert!((0.04..0.06).contains(&rate), "lost {rate}");
    assert_eq!(stats.sent + stats.lost, stats.received);
    assert!(out.windows(2).all(|w| w[0].0 < w[1].0), "loss alone never reorders");
}

#[test]
fn duplicates_leave_twice() {
    let (out, stats) = run(spec(&[("duplicate", "5%")]), 20_000, 3);
    let rate = stats.duplicated as f64 / 20_000.0;
    assert!((0.04..0.06).contains(&rate), "duplicated {rate}");
    assert_eq!(out.len() as u64, 20_000 + stats.duplicated);
    assert_eq!(stats.sent, 20_000 + stats.duplicated);
}

#[test]
fn delay_with_jitter_stays_in_range_and_reorders_close_frames() {
    let (out, _) = run(spec(&[("delay", "50"), ("jitter", "20")]), 2000, 11);
    for &(n, left_us) in &out {
        let held_us = left_us - u64::from(n) * 1000;
        assert!((30_000..=70_100).contains(&held_us), "frame {n} held {held_us} µs");
    }
    let inversions = out.windows(2).filter(|w| w[0].0 > w[1].0).count();
    assert!(inversions > 100, "frames 1 ms apart with ±20 ms of jitter overtake each other ({inversions})");
}

#[test]
fn reorder_sends_a_share_at_once_ahead_of_the_delayed_ones() {
    let spec = spec(&[("reorder", "5%")]);
    assert_eq!(spec.effective_delay(), REORDER_DEFAULT_DELAY);
    assert!(
        spec.describe().contains("delay 10ms (netem's usual delay for reordering) reorder 5%"),
        "{}",
        spec.describe()
    );
    let (out, stats) = run(spec, 20_000, 5);
    let rate = stats.reordered as f64 / 20_000.0;
    assert!((0.04..0.06).contains(&rate), "reordered {rate}");
    let at_once = out.iter().filter(|&&(n, left_us)| left_us == u64::from(n) * 1000).count() as u64;
    assert_eq!(at_once, stats.reordered, "the reordered frames are exactly those sent at once");
    let inversions = out.windows(2).filter(|w| w[0].0 > w[1].0).count();
    assert!(inversions as u64 >= stats.reordered * 9 / 10, "each overtakes the frames still waiting ({inversions})");
}

#[test]
fn a_full_queue_drops_and_counts() {
    // 10 frames a millisecond into a 50 ms delay hold about 500 frames; a limit of 100 drops the rest.
    let mut impairer: Impairer<()> = Impairer::new(spec(&[("delay", "50"), ("limit", "100")]), 1);
    for i in 0..1000 {
        impairer.push(at(0).saturating_add(Duration::from_micros(i * 100)), b"x", ());
    }
    assert_eq!(impairer.len(), 100);
    assert_eq!(impairer.stats().overlimit, 900);
    assert_eq!(impairer.poll_timeout(), Some(at(50)));
    assert!(impairer.pop_due(at(49)).is_none());
    let mut left = 0;
    while impairer.pop_due(at(1000)).is_some() {
        left += 1;
    }
    assert_eq!(left, 100);
    assert_eq!(impairer.poll_timeout(), None);
}

#[test]
fn the_same_seed_repeats_the_same_faults() {
    let all = spec(&[("loss", "5"), ("duplicate", "5"), ("reorder", "5"), ("delay", "50"), ("jitter", "20")]);
    assert_eq!(run(all, 3000, 42), run(all, 3000, 42));
    assert_ne!(run(all, 3000, 42).0, run(all, 3000, 43).0);
}

#[test]
fn percentages_are_read_as_netem_writes_them() {
    assert_eq!("5%".parse::<Percent>(), Ok(Percent(5.0)));
    assert_eq!("0.5".parse::<Percent>(), Ok(Percent(0.5)));
    assert!("101%".parse::<Percent>().unwrap_err().contains("from 0 to 100"));
    assert!("-1".parse::<Percent>().is_err());
    assert!("five".parse::<Percent>().is_err());
    let mut rng = XorShift::new(9);
    assert!((0..1000).all(|_| Percent(100.0).hit(&mut rng)));
    assert!((0..1000).all(|_| !Percent(0.0).hit(&mut rng)));
}
