//! Tests for the cookie codec, grouped by what they exercise: round trips, the MSS table, age, rejection of wrong
//! ACKs, the TSecr, rotation, forgery odds and configuration.

use std::net::SocketAddr;

use super::*;
use crate::rng::XorShift;

/// 2023-11-14T22:13:20Z, the first nanosecond of a 64 s tick (1_700_000_000 = 64 * 26_562_500).
const T0: u64 = 1_700_000_000;
const TICK: u64 = 64;

fn key(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| seed.wrapping_mul(97).wrapping_add(i as u8))
}

fn codec() -> CookieCodec {
    CookieCodec::new(key(1), CookieConfig::default())
}

fn at(secs: u64) -> Timestamp {
    Timestamp::from_secs_nanos(secs, 0)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn v4() -> Tuple {
    Tuple { client: addr("192.0.2.10:40000"), server: addr("192.0.2.20:9999") }
}

fn v6() -> Tuple {
    Tuple { client: addr("[2001:db8::10]:40000"), server: addr("[2001:db8::20]:9999") }
}

/// What a current Linux client puts in its SYN.
fn linux_syn() -> SynOptions {
    SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, tsval: Some(3_141_592), ecn: false }
}

const CLIENT_ISN: u32 = 1_000_000;

/// The client's ACK for `issued`: seq = its ISN + 1, ack = our ISN + 1, TSecr = our TSval.
fn ack(
    codec: &CookieCodec,
    now: Timestamp,
    tuple: &Tuple,
    issued: &IssuedCookie,
) -> Result<AcceptedCookie, CookieError> {
    codec.check(now, tuple, CLIENT_ISN.wrapping_add(1), issued.isn.wrapping_add(1), issued.tsval)
}

// Round trips.

#[test]
fn every_mss_entry_and_option_combination_round_trips_in_both_families() {
    let codec = codec();
    let mut rng = XorShift::new(7);
    let mut cases = 0;
    for (tuple, table) in [(v4(), MSS_TABLE_V4), (v6(), MSS_TABLE_V6)] {
        for mss in table {
            for wscale in std::iter::once(None).chain((0..=14).map(Some)) {
                for sack_permitted in [false, true] {
                    for ecn in [false, true] {
                        for timestamps in [false, true] {
                            let tsval = timestamps.then_some(rng.next_u32());
                            let syn = SynOptions { mss: Some(mss), wscale, sack_permitted, tsval, ecn };
                            let client_isn = rng.next_u32();
                            let now =
                                Timestamp::from_nanos(at(T0).as_nanos() + u64::from(rng.range(0, 60_000)) * 1_000_000);
                            let issued = codec.issue(now, &tuple, client_isn, &syn);
                            assert_eq!(issued.mss, mss);
                            assert_eq!(issued.tsval.is_some(), timestamps);
                            let later = now.saturating_add(Duration::from_millis(40));
                            let got = codec.check(
                                later,
                                &tuple,
                                client_isn.wrapping_add(1),
                                issued.isn.wrapping_add(1),
                                issued.tsval,
                            );
                            let want = if timestamps {
                                AcceptedCookie { mss, wscale, sack_permitted, ecn, timestamps: true }
                            } else {
                                AcceptedCookie {
                                    mss,
                                    wscale: None,
                                    sack_permitted: false,
                                    ecn: false,
                                    timestamps: false,
                                }
                            };
                            assert_eq!(got, Ok(want), "{syn:?} {tuple:?}");
                            cases += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(cases, 2 * 4 * 16 * 2 * 2 * 2);
}

#[test]
fn client_isns_at_the_wrap_round_trip() {
    let codec = codec();
    for client_isn in [0, 1, u32::MAX - 1, u32::MAX] {
        let issued = codec.issue(at(T0), &v4(), client_isn, &linux_syn());
        let got = codec.check(at(T0), &v4(), client_isn.wrapping_add(1), issued.isn.wrapping_add(1), issued.tsval);
        assert_eq!(got.map(|a| a.mss), Ok(1460), "client ISN {client_isn}");
    }
}

#[test]
fn same_key_same_cookie_other_key_other_cookie() {
    let a = codec().issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    assert_eq!(codec().issue(at(T0), &v4(), CLIENT_ISN, &linux_syn()), a);
    let b = CookieCodec::new(key(2), CookieConfig::default()).issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    assert_ne!(a.isn, b.isn);
}

#[test]
fn an_ack_without_timestamps_loses_the_options_the_syn_offered() {
    // Linux `cookie_timestamp_decode`: no TSecr, nothing to read the options from.
    let codec = codec();
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    let got = codec.check(at(T0), &v4(), CLIENT_ISN + 1, issued.isn.wrapping_add(1), None);
    assert_eq!(
        got,
        Ok(AcceptedCookie { mss: 1460, wscale: None, sack_permitted: false, ecn: false, timestamps: false })
    );
}

// The MSS table.

#[test]
fn the_largest_entry_not_above_the_client_mss_is_encoded() {
    let codec = codec();
    let cases: [(Tuple, Option<u16>, u16); 16] = [
        (v4(), None, 536),
        (v4(), Some(0), 536),
        (v4(), Some(535), 536),
        (v4(), Some(536), 536),
        (v4(), Some(1299), 536),
        (v4(), Some(1300), 1300),
        (v4(), Some(1459), 1440),
        (v4(), Some(1460), 1460),
        (v4(), Some(u16::MAX), 1460),
        (v6(), None, 1220),
        (v6(), Some(1000), 1220),
        (v6(), Some(1420), 1420),
        (v6(), Some(1460), 1440),
        (v6(), Some(8939), 1440),
        (v6(), Some(8940), 8940),
        (v6(), Some(u16::MAX), 8940),
    ];
    for (tuple, mss, want) in cases {
        let syn = SynOptions { mss, ..linux_syn() };
        let issued = codec.issue(at(T0), &tuple, CLIENT_ISN, &syn);
        assert_eq!(issued.mss, want, "client MSS {mss:?}");
        assert_eq!(ack(&codec, at(T0), &tuple, &issued).map(|a| a.mss), Ok(want), "client MSS {mss:?}");
    }
}

#[test]
fn a_window_scale_above_14_comes_back_as_14() {
    // RFC 7323 §2.3; Linux clamps in `tcp_parse_options`.
    let codec = codec();
    for shift in [15, 200] {
        let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &SynOptions { wscale: Some(shift), ..linux_syn() });
        assert_eq!(ack(&codec, at(T0), &v4(), &issued).map(|a| a.wscale), Ok(Some(14)));
    }
}

#[test]
fn our_tsval_is_the_millisecond_clock_with_options_below() {
    let codec = codec();
    let now = Timestamp::from_nanos(at(T0).as_nanos() + 123_456_789);
    let clock = ((T0 * 1_000 + 123) % (1 << 32)) as u32;
    let tsval = codec.issue(now, &v4(), CLIENT_ISN, &linux_syn()).tsval.unwrap();
    assert_eq!(tsval & 0x3F, 7 | 1 << 4, "wscale 7, SACK, no ECN");
    assert!(tsval <= clock && clock - tsval < 128, "tsval {tsval} clock {clock}");
}

// Age.

#[test]
fn a_cookie_lives_until_the_second_tick_after_its_own_begins() {
    // Linux `check_tcp_syn_cookie`: `diff >= MAX_SYNCOOKIE_AGE` rejects, so ages 0 and 1 pass.
    let codec = codec();
    let last_ok = Timestamp::from_nanos(at(T0 + 2 * TICK).as_nanos() - 1);
    let first_expired = at(T0 + 2 * TICK);
    // Issued on the first nanosecond of its tick: accepted for 128 s.
    let early = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    assert!(ack(&codec, last_ok, &v4(), &early).is_ok());
    assert_eq!(ack(&codec, first_expired, &v4(), &early), Err(CookieError::Expired));
    // Issued on the last nanosecond of its tick: accepted for 64 s only.
    let late = codec.issue(Timestamp::from_nanos(at(T0 + TICK).as_nanos() - 1), &v4(), CLIENT_ISN, &linux_syn());
    assert!(ack(&codec, last_ok, &v4(), &late).is_ok());
    assert_eq!(ack(&codec, first_expired, &v4(), &late), Err(CookieError::Expired));
}

#[test]
fn the_tick_and_the_age_limit_are_configurable() {
    let codec = CookieCodec::new(key(1), CookieConfig { tick: Duration::from_secs(1), max_age_ticks: 5 });
    let issued = codec.issue(at(T0), &v6(), CLIENT_ISN, &linux_syn());
    assert!(ack(&codec, Timestamp::from_nanos(at(T0 + 5).as_nanos() - 1), &v6(), &issued).is_ok());
    assert_eq!(ack(&codec, at(T0 + 5), &v6(), &issued), Err(CookieError::Expired));
}

#[test]
fn an_old_cookie_is_expired_until_the_counter_wraps_then_invalid() {
    let codec = codec();
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    for ticks in [2, 100, 255] {
        assert_eq!(ack(&codec, at(T0 + ticks * TICK), &v4(), &issued), Err(CookieError::Expired), "{ticks} ticks");
    }
    // 256 ticks on, the 8-bit counter reads as fresh again, but H1 hashes the full counter.
    for ticks in [256, 257, 300] {
        assert_eq!(ack(&codec, at(T0 + ticks * TICK), &v4(), &issued), Err(CookieError::Invalid), "{ticks} ticks");
    }
}

#[test]
fn a_cookie_from_a_later_tick_than_now_is_invalid() {
    // Packet time went back across a tick boundary: the age reads 255 and the MAC fails, as in Linux.
    let codec = codec();
    let issued = codec.issue(at(T0 + TICK), &v4(), CLIENT_ISN, &linux_syn());
    assert_eq!(
        ack(&codec, Timestamp::from_nanos(at(T0 + TICK).as_nanos() - 1), &v4(), &issued),
        Err(CookieError::Invalid)
    );
}

#[test]
fn a_cookie_near_the_epoch_of_packet_time_works() {
    // Counters before zero cannot be reconstructed; nothing underflows.
    let codec = codec();
    let issued = codec.issue(at(1), &v4(), CLIENT_ISN, &linux_syn());
    assert!(ack(&codec, at(2), &v4(), &issued).is_ok());
    assert_eq!(codec.check(at(0), &v4(), 5, 0xFF00_0000, None), Err(CookieError::Invalid));
}

// Wrong ACKs.

#[test]
fn a_cookie_is_bound_to_each_of_the_four_tuple_fields() {
    let codec = codec();
    for tuple in [v4(), v6()] {
        let issued = codec.issue(at(T0), &tuple, CLIENT_ISN, &linux_syn());
        let mut variants = Vec::new();
        let mut t = tuple;
        t.client.set_ip(if tuple.client.is_ipv4() { "192.0.2.11" } else { "2001:db8::11" }.parse().unwrap());
        variants.push(t);
        let mut t = tuple;
        t.client.set_port(40001);
        variants.push(t);
        let mut t = tuple;
        t.server.set_ip(if tuple.server.is_ipv4() { "192.0.2.21" } else { "2001:db8::21" }.parse().unwrap());
        variants.push(t);
        let mut t = tuple;
        t.server.set_port(9998);
        variants.push(t);
        variants.push(Tuple { client: tuple.server, server: tuple.client });
        for wrong in variants {
            assert_eq!(ack(&codec, at(T0), &wrong, &issued), Err(CookieError::Invalid), "{wrong:?}");
        }
    }
}

#[test]
fn an_ipv4_cookie_does_not_validate_for_the_mapped_ipv6_tuple() {
    let codec = codec();
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    let mapped = Tuple { client: addr("[::ffff:192.0.2.10]:40000"), server: addr("[::ffff:192.0.2.20]:9999") };
    assert_eq!(ack(&codec, at(T0), &mapped, &issued), Err(CookieError::Invalid));
}

#[test]
fn a_wrong_ack_seq_is_invalid() {
    let codec = codec();
    // MSS 1460 is index 3; seq one too low would need index 4 (see the next test for shifts that stay in 0..4).
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    for seq in [CLIENT_ISN, CLIENT_ISN + 5, CLIENT_ISN + 1_000, 0, !CLIENT_ISN] {
        let got = codec.check(at(T0), &v4(), seq, issued.isn.wrapping_add(1), issued.tsval);
        assert_eq!(got, Err(CookieError::Invalid), "seq {seq}");
    }
}

#[test]
fn an_ack_seq_shift_that_lands_on_another_index_changes_the_mss_as_in_linux() {
    // The client ISN and the index are both added outside the MAC (Linux `check_tcp_syn_cookie`), so seq + d reads
    // index - d. Only someone who saw the SYN-ACK can use this, and they could have asked for that MSS anyway.
    let codec = codec();
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    for (shift, mss) in [(1, 1440), (2, 1300), (3, 536)] {
        let got = codec.check(at(T0), &v4(), CLIENT_ISN + 1 + shift, issued.isn.wrapping_add(1), issued.tsval);
        assert_eq!(got.map(|a| a.mss), Ok(mss), "seq + {shift}");
    }
}

#[test]
fn a_cookie_from_another_key_is_invalid() {
    let other = CookieCodec::new(key(9), CookieConfig::default());
    let issued = other.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    assert_eq!(ack(&codec(), at(T0), &v4(), &issued), Err(CookieError::Invalid));
}

// The TSecr.

#[test]
fn a_tsecr_from_outside_the_cookies_life_is_a_bad_timestamp() {
    let codec = codec();
    let issued = codec.issue(at(T0 + 10), &v4(), CLIENT_ISN, &linux_syn());
    let tsval = issued.tsval.unwrap();
    let tick_ms = (TICK * 1_000) as u32;
    for tsecr in [tsval.wrapping_sub(tick_ms), tsval.wrapping_add(3 * tick_ms), tsval ^ 0x8000_0000] {
        let got = codec.check(at(T0 + 20), &v4(), CLIENT_ISN + 1, issued.isn.wrapping_add(1), Some(tsecr));
        assert_eq!(got, Err(CookieError::BadTimestamp), "tsecr {tsecr} for tsval {tsval}");
    }
}

#[test]
fn a_tsecr_from_a_later_syn_ack_during_the_cookies_life_is_accepted() {
    // The client retransmitted its SYN, got a second SYN-ACK a tick later, and echoes that one's TSval.
    let codec = codec();
    let first = codec.issue(at(T0 + 10), &v4(), CLIENT_ISN, &linux_syn());
    let second = codec.issue(at(T0 + TICK + 5), &v4(), CLIENT_ISN, &linux_syn());
    let got = codec.check(at(T0 + TICK + 6), &v4(), CLIENT_ISN + 1, first.isn.wrapping_add(1), second.tsval);
    assert_eq!(got.map(|a| a.wscale), Ok(Some(7)));
}

#[test]
fn the_mac_is_checked_before_the_tsecr() {
    let codec = codec();
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    let got = codec.check(at(T0), &v4(), CLIENT_ISN + 1, (issued.isn ^ 1 << 23).wrapping_add(1), Some(0));
    assert_eq!(got, Err(CookieError::Invalid));
}

#[test]
fn the_option_bits_are_the_clients_own_to_change() {
    // As in Linux, the options are not under the MAC: a client can only misstate its own connection's options.
    let codec = codec();
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    let tsecr = (issued.tsval.unwrap() & !0x3F) | 0xF | 1 << 5;
    let got = codec.check(at(T0), &v4(), CLIENT_ISN + 1, issued.isn.wrapping_add(1), Some(tsecr));
    assert_eq!(got, Ok(AcceptedCookie { mss: 1460, wscale: None, sack_permitted: false, ecn: true, timestamps: true }));
}

// Rotation.

#[test]
fn a_cookie_survives_one_rotation_but_not_two() {
    let mut codec = codec();
    let first = codec.issue(at(T0), &v4(), CLIENT_ISN, &linux_syn());
    codec.rotate(key(2));
    assert!(ack(&codec, at(T0 + 1), &v4(), &first).is_ok());
    let second = codec.issue(at(T0 + 1), &v4(), CLIENT_ISN, &linux_syn());
    assert_ne!(first.isn, second.isn);
    assert!(ack(&codec, at(T0 + 2), &v4(), &second).is_ok());
    codec.rotate(key(3));
    assert_eq!(ack(&codec, at(T0 + 3), &v4(), &first), Err(CookieError::Invalid));
    assert!(ack(&codec, at(T0 + 3), &v4(), &second).is_ok());
}

#[test]
fn a_cookie_under_the_previous_secret_still_expires() {
    let mut codec = codec();
    let issued = codec.issue(at(T0), &v6(), CLIENT_ISN, &linux_syn());
    codec.rotate(key(2));
    assert_eq!(ack(&codec, at(T0 + 2 * TICK), &v6(), &issued), Err(CookieError::Expired));
}

// Forgery odds.

#[test]
fn random_acks_almost_never_validate() {
    // Prediction: each random ACK lands in the 2-tick window with probability 2/256, then passes the 24-bit MAC and
    // index test with 4/2^24: 1.9e-9 per ACK, 0.0019 expected in a million. More than 2 would happen by chance with
    // probability about 1e-9; `cargo bench --bench cookie` prints the figure for 10 million.
    const N: u32 = 1_000_000;
    let codec = codec();
    let mut rng = XorShift::new(0x5eed);
    let now = at(T0 + 30);
    let mut validated = 0u32;
    for _ in 0..N {
        if codec.check(now, &v4(), CLIENT_ISN + 1, rng.next_u32(), None).is_ok() {
            validated += 1;
        }
    }
    let expected = f64::from(N) * codec.config().forgery_probability();
    assert!(expected < 0.002, "prediction {expected}");
    assert!(validated <= 2, "{validated} of {N} random ACKs validated; predicted {expected:.4}");
}

#[test]
fn the_forgery_prediction_follows_the_age_window() {
    let p = |max_age_ticks| CookieConfig { tick: Duration::from_secs(64), max_age_ticks }.forgery_probability();
    assert!((p(2) - 2.0 / 256.0 * 4.0 / 16_777_216.0).abs() < 1e-15);
    assert!((p(4) - 2.0 * p(2)).abs() < 1e-15);
}

// Configuration and construction.

#[test]
fn out_of_range_settings_are_clamped_not_fatal() {
    let codec = CookieCodec::new(key(1), CookieConfig { tick: Duration::ZERO, max_age_ticks: 0 });
    assert_eq!(codec.config(), CookieConfig { tick: Duration::from_nanos(1), max_age_ticks: 1 });
    let issued = codec.issue(at(T0), &v4(), CLIENT_ISN, &SynOptions::default());
    assert!(ack(&codec, at(T0), &v4(), &issued).is_ok());
    let wide = CookieCodec::new(key(1), CookieConfig { tick: Duration::from_secs(1), max_age_ticks: 10_000 });
    assert_eq!(wide.config().max_age_ticks, 255);
}

#[test]
fn debug_output_hides_the_keys() {
    let text = format!("{:?}", codec());
    assert!(text.starts_with("CookieCodec"), "{text}");
    assert!(!text.contains("k0") && !text.contains("Sip"), "{text}");
}
