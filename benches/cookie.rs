//! SYN-cookie codec benchmarks: `issue` (the SYN-ACK path), `check` (the ACK path, for a valid cookie and for a
//! random ACK, the path an ACK flood exercises) and an issue+check pair, for IPv4 and IPv6. The goal is at least
//! 20 M pairs/s per core, under 50 ns a pair. Before the benchmarks, `main` counts how many of 10 million random
//! ACKs validate and prints that beside the prediction for a 24-bit MAC.
//!
//!     cargo bench --bench cookie -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use synscope::defense::cookie::{CookieCodec, CookieConfig, IssuedCookie};
use synscope::defense::{SynOptions, Tuple};
use synscope::rng::XorShift;
use synscope::time::{Duration, Timestamp};

/// Distinct tuples cycled through, so the benchmark does not time one input the branch predictor has learnt.
const TUPLES: usize = 1024;
const FORGERY_TRIES: u32 = 10_000_000;

fn codec() -> CookieCodec {
    CookieCodec::new(std::array::from_fn(|i| i as u8 ^ 0x5c), CookieConfig::default())
}

fn now() -> Timestamp {
    Timestamp::from_secs_nanos(1_750_000_000, 123_456_789)
}

/// What a current Linux client puts in its SYN (MSS 1460, wscale 7, SACK, timestamps).
fn syn(rng: &mut XorShift) -> SynOptions {
    SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, tsval: Some(rng.next_u32()), ecn: false }
}

/// Random clients of one server, with their ISNs and SYN options.
fn clients(v6: bool) -> Vec<(Tuple, u32, SynOptions)> {
    let mut rng = XorShift::new(if v6 { 6 } else { 4 });
    let server: SocketAddr = if v6 { "[2001:db8::20]:9999" } else { "192.0.2.20:9999" }.parse().unwrap();
    (0..TUPLES)
        .map(|_| {
            let ip = if v6 {
                std::net::Ipv6Addr::from(u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())).into()
            } else {
                std::net::Ipv4Addr::from(rng.next_u32()).into()
            };
            let client = SocketAddr::new(ip, rng.range(1024, 65535) as u16);
            (Tuple { client, server }, rng.next_u32(), syn(&mut rng))
        })
        .collect()
}

fn family(v6: bool) -> &'static str {
    if v6 { "ipv6" } else { "ipv4" }
}

fn issue(c: &mut Criterion) {
    let codec = codec();
    let mut group = c.benchmark_group("cookie/issue");
    group.throughput(Throughput::Elements(1));
    for v6 in [false, true] {
        let clients = clients(v6);
        group.bench_function(family(v6), |b| {
            let mut i = 0;
            b.iter(|| {
                let (tuple, isn, syn) = &clients[i % TUPLES];
                i += 1;
                black_box(codec.issue(black_box(now()), tuple, *isn, syn))
            })
        });
    }
    group.finish();
}

fn check(c: &mut Criterion) {
    let codec = codec();
    let mut group = c.benchmark_group("cookie/check");
    group.throughput(Throughput::Elements(1));
    for v6 in [false, true] {
        let clients = clients(v6);
        let acks: Vec<(Tuple, u32, IssuedCookie)> =
            clients.iter().map(|(tuple, isn, syn)| (*tuple, *isn, codec.issue(now(), tuple, *isn, syn))).collect();
        let later = now().saturating_add(Duration::from_millis(30));
        for (tuple, isn, issued) in &acks {
            assert!(codec.check(later, tuple, isn + 1, issued.isn.wrapping_add(1), issued.tsval).is_ok());
        }
        group.bench_function(BenchmarkId::new("valid", family(v6)), |b| {
            let mut i = 0;
            b.iter(|| {
                let (tuple, isn, issued) = &acks[i % TUPLES];
                i += 1;
                black_box(codec.check(
                    black_box(later),
                    tuple,
                    isn.wrapping_add(1),
                    issued.isn.wrapping_add(1),
                    issued.tsval,
                ))
            })
        });
        group.bench_function(BenchmarkId::new("random_ack", family(v6)), |b| {
            let mut rng = XorShift::new(99);
            let mut i = 0;
            b.iter(|| {
                let (tuple, isn, _) = &acks[i % TUPLES];
                i += 1;
                black_box(codec.check(black_box(later), tuple, isn.wrapping_add(1), rng.next_u32(), None))
            })
        });
    }
    group.finish();
}

/// The figure to report: issue+check pairs per second.
fn pair(c: &mut Criterion) {
    let codec = codec();
    let mut group = c.benchmark_group("cookie/pair");
    group.throughput(Throughput::Elements(1));
    for v6 in [false, true] {
        let clients = clients(v6);
        group.bench_function(family(v6), |b| {
            let mut i = 0;
            b.iter(|| {
                let (tuple, isn, syn) = &clients[i % TUPLES];
                i += 1;
                let now = black_box(now());
                let issued = codec.issue(now, tuple, *isn, syn);
                black_box(codec.check(now, tuple, isn.wrapping_add(1), issued.isn.wrapping_add(1), issued.tsval))
            })
        });
    }
    group.finish();
}

/// Counts how many of 10 million random ACK numbers (right tuple, right seq, no timestamps) validate, and prints
/// that beside the prediction `N * max_age_ticks/256 * 4/2^24` (see the `defense::cookie` module docs).
fn forgery_report() {
    let codec = codec();
    let (tuple, isn, _) = clients(false)[0];
    let mut rng = XorShift::new(0x00c0_ffee);
    let started = std::time::Instant::now();
    let (mut validated, mut expired) = (0u32, 0u32);
    for _ in 0..FORGERY_TRIES {
        match codec.check(now(), &tuple, isn.wrapping_add(1), rng.next_u32(), None) {
            Ok(_) => validated += 1,
            Err(synscope::defense::cookie::CookieError::Expired) => expired += 1,
            Err(_) => {}
        }
    }
    let p = codec.config().forgery_probability();
    println!(
        "forgery: {validated} of {FORGERY_TRIES} random ACKs validated; a 24-bit MAC predicts {:.4} \
         (p = {p:.2e} per ACK; {expired} read as expired, {:.2} predicted; {:.1} ns per check)",
        f64::from(FORGERY_TRIES) * p,
        f64::from(FORGERY_TRIES) * (254.0 / 256.0) * 4.0 / f64::from(1u32 << 24),
        started.elapsed().as_nanos() as f64 / f64::from(FORGERY_TRIES),
    );
}

criterion_group! {
    name = benches;
    // No HTML plots: the figures are the printed ones, and criterion's plotters backend panics
    // (`FontUnavailable`) on machines without system fonts, such as the project's CI and bench hosts.
    config = Criterion::default().without_plots();
    targets = issue, check, pair
}

fn main() {
    // Only in benchmark mode: `cargo test --benches` runs this binary without `--bench`, and `--list` wants a list.
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list") {
        forgery_report();
    }
    benches();
    Criterion::default().without_plots().configure_from_args().final_summary();
}
