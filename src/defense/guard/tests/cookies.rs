//! SYN cookies through the guard (RFC 4987 §3.6, Linux's layout): valid, bad and expired cookie ACKs, duplicate SYNs
//! and SYNs retransmitted after the cookie SYN-ACK.

use super::*;

#[test]
fn a_valid_cookie_ack_gives_the_listener_the_clients_syn() {
    // RFC 4987 §3.8: the listener gets the SYN the client sent, rebuilt from the cookie (Linux's cookie_v4_check
    // recovers MSS, window scale and SACK from the ISN and TSecr).
    let mut script = Script::new(Mode::Cookies);
    let synack = syn_answered(&mut script, client(), 0x1000_0000);
    script.advance(Duration::from_millis(1));
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, synack.tsval.unwrap());
    let step = script.client(&ack_of(client(), 0x1000_0000, synack, &ts));
    assert_eq!(step.verdict, Verdict::Consumed, "the ACK itself goes nowhere");
    let syn = step.only(Interface::Inside);
    assert_segment(syn, C2L, "S", 0x1000_0000, 0);
    // MSS 1460, SACK-permitted with timestamps (the ACK's TSval, no echo), window scale 7, Linux's order.
    let tsval = (CLIENT_TSVAL + 1).to_be_bytes();
    let want = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, tsval[0], tsval[1], tsval[2], tsval[3], 0, 0, 0, 0, 1, 3, 3, 7];
    assert_eq!(TcpFrame::new_checked(syn).unwrap().options(), want);
    assert_eq!(window_of(syn), 502 << 7, "the ACK's scaled window, unscaled as a SYN's must be (RFC 7323 §2.2)");
    let stats = script.stats();
    assert_eq!((stats.counters.cookies_validated, stats.counters.cookies_failed), (1, 0));
    assert_eq!((stats.proxy.opened, stats.proxy.current, stats.proxy.established), (1, 1, 0));
    assert_eq!((stats.counters.frames_in, stats.counters.frames_out), (2, 2));
}

#[test]
fn a_bad_cookie_is_dropped_and_opens_nothing() {
    // Linux's cookie_v4_check: an ACK that does not carry a cookie of ours for this tuple is refused.
    let mut script = Script::new(Mode::Cookies);
    let isn = 0x1000_0000;
    let synack = syn_answered(&mut script, client(), isn);
    let proxy_tsval = synack.tsval.unwrap();
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, proxy_tsval);
    let far_ts = craft::timestamp_option(CLIENT_TSVAL + 1, proxy_tsval.wrapping_add(10_000_000));
    let good = ack_of(client(), isn, synack, &ts);
    let bad = [
        ("wrong cookie", Seg { ack: synack.isn.wrapping_add(1 + 0x10000), ..good }),
        ("another ISN", Seg { seq: isn + 101, ..good }),
        ("TSecr echoes nothing we sent", Seg { options: &far_ts, ..good }),
        ("a client that sent no SYN", Seg { from: client_on(40001), ..good }),
    ];
    for (what, seg) in &bad {
        let step = script.client(seg);
        assert_eq!(step.verdict, Verdict::Drop(DropReason::BadCookie), "{what}");
        assert!(step.sent.is_empty(), "{what}");
    }
    let stats = script.stats();
    assert_eq!((stats.counters.cookies_failed, stats.counters.drops.bad_cookie), (4, 4));
    assert_eq!((stats.counters.cookies_validated, stats.proxy.opened), (0, 0));
    // Nothing was used up: the right ACK still opens.
    assert_eq!(script.client(&good).verdict, Verdict::Consumed);
    assert_eq!(script.stats().proxy.opened, 1);
}

#[test]
fn a_cookie_expires_after_two_ticks() {
    // Linux's MAX_SYNCOOKIE_AGE: a cookie from tick c is accepted in ticks c and c + 1, refused from c + 2 (here
    // ticks of 64 s, and START is a tick boundary).
    let mut script = Script::new(Mode::Cookies);
    let early = syn_answered(&mut script, client(), 100);
    let late = syn_answered(&mut script, client_on(40001), 200);

    script.advance_to(at(127, 999));
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, early.tsval.unwrap());
    let step = script.client(&ack_of(client(), 100, early, &ts));
    assert_eq!(step.verdict, Verdict::Consumed, "still in tick c + 1");
    assert_segment(step.only(Interface::Inside), C2L, "S", 100, 0);

    script.advance_to(at(128, 0));
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, late.tsval.unwrap());
    let step = script.client(&ack_of(client_on(40001), 200, late, &ts));
    assert_eq!(step.verdict, Verdict::Drop(DropReason::ExpiredCookie));
    assert!(step.sent.is_empty());
    let stats = script.stats();
    assert_eq!((stats.counters.cookies_validated, stats.counters.cookies_expired), (1, 1));
    assert_eq!((stats.counters.cookies_failed, stats.counters.drops.expired_cookie, stats.proxy.opened), (0, 1, 1));
}

#[test]
fn a_duplicate_syn_is_answered_again_in_each_mode() {
    // RFC 9293 §3.10.7.2 and Linux's tcp_check_req: a retransmitted SYN gets the SYN-ACK again, never a second
    // connection.
    let options = client_syn_options();
    let syn = Seg::syn(client(), 1000, &options);

    let mut script = Script::new(Mode::Cookies);
    let first = syn_answered(&mut script, client(), 1000);
    let again = syn_answered(&mut script, client(), 1000);
    assert_eq!(again.isn, first.isn, "the same tuple, ISN and tick give the same cookie");
    let stats = script.stats();
    assert_eq!((stats.counters.cookies_sent, script.guard.half_open_now(), stats.proxy.opened), (2, 0, 0));

    let mut script = Script::new(Mode::Auto);
    let first = syn_answered(&mut script, client(), 1000);
    script.advance(Duration::from_millis(200));
    let again = syn_answered(&mut script, client(), 1000);
    assert_eq!(again.isn, first.isn, "the entry's ISN");
    let stats = script.stats();
    assert_eq!((stats.half_open.duplicates, stats.half_open.current, stats.counters.synacks_sent), (1, 1, 2));
    assert_eq!(script.guard.poll_timeout(), Some(at(1, 0)), "the duplicate did not re-arm the timer (half_open docs)");

    let mut script = Script::new(Mode::Limit);
    for _ in 0..2 {
        let step = script.client(&syn);
        assert_eq!((step.verdict, step.sent.len()), (Verdict::Forward, 0), "the listener answers its own duplicate");
    }
    let stats = script.stats();
    assert_eq!((stats.half_open.duplicates, stats.half_open.current), (1, 1));
}

#[test]
fn a_syn_retransmitted_after_the_cookie_synack_is_answered_again_and_either_answer_opens() {
    // The SYN-ACK was lost or slow, so the client retransmits its SYN (RFC 6298 §2.1, 1 s later); stateless, the
    // proxy answers it like the first.
    let mut script = Script::new(Mode::Cookies);
    let first = syn_answered(&mut script, client(), 1000);
    script.advance(Duration::from_secs(1));
    let second = syn_answered(&mut script, client(), 1000);
    assert_eq!(second.isn, first.isn, "within one tick the cookie is the same");
    let apart = second.tsval.unwrap().wrapping_sub(first.tsval.unwrap());
    assert!(apart.abs_diff(1000) < 64, "TSvals a second apart, give or take the 6 bits of options: {apart}");
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, second.tsval.unwrap());
    assert_eq!(script.client(&ack_of(client(), 1000, second, &ts)).verdict, Verdict::Consumed);

    // Across a tick boundary the cookie changes; the first, arriving late, still opens, and the ACK of the
    // second then finds the connection open and waiting for the listener.
    let other = client_on(40001);
    script.advance_to(at(63, 500));
    let first = syn_answered(&mut script, other, 2000);
    script.advance_to(at(64, 500));
    let second = syn_answered(&mut script, other, 2000);
    assert_ne!(second.isn, first.isn, "a new tick, a new cookie");
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, first.tsval.unwrap());
    let step = script.client(&ack_of(other, 2000, first, &ts));
    assert_eq!(step.verdict, Verdict::Consumed);
    assert_segment_between(step.only(Interface::Inside), other, C2L, "S", 2000, 0);
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, second.tsval.unwrap());
    let step = script.client(&ack_of(other, 2000, second, &ts));
    assert_eq!((step.verdict, step.sent.len()), (Verdict::Drop(DropReason::NotYetEstablished), 0));
    let stats = script.stats();
    assert_eq!((stats.counters.cookies_sent, stats.counters.cookies_validated, stats.proxy.opened), (4, 2, 2));
}

#[test]
fn an_old_duplicate_syn_does_not_end_a_proxied_connection() {
    // A SYN with the connection's own ISN is an old duplicate (RFC 9293 §3.10.7.4 and RFC 5961 §4: a SYN never
    // ends a synchronized connection silently; Linux answers it with a challenge ACK). It used to make the proxy
    // forget the connection, leaving the listener's half untranslated.
    let mut script = Script::new(Mode::Cookies);
    let c = cookie_handshake(&mut script);
    let options = client_syn_options();
    let duplicate = Seg::syn(client(), c.client_isn, &options);
    let step = script.client(&duplicate);
    assert_eq!(
        (step.verdict, step.sent.len()),
        (Verdict::Drop(DropReason::DuplicateSyn), 0),
        "waiting for the listener"
    );
    let c = listener_accepts(&mut script, c, &listener_synack_options(7, LISTENER_TSVAL, CLIENT_TSVAL + 1));
    let step = script.client(&duplicate);
    assert_eq!((step.verdict, step.sent.len()), (Verdict::Drop(DropReason::DuplicateSyn), 0), "established");
    let stats = script.stats();
    assert_eq!((stats.proxy.current, stats.proxy.reset, stats.counters.drops.duplicate_syn), (1, 0, 2));
    let step = script.client(&Seg::from_client(ACK, c.client_isn + 1, c.proxy_isn.wrapping_add(1)));
    assert_eq!(step.verdict, Verdict::Forward);
    assert_segment(&step.frame, C2L, ".", c.client_isn + 1, c.listener_isn + 1);

    // A SYN with another ISN is a client that started over on the same port: the proxy lets the old connection go
    // and answers with a cookie.
    let step = script.client(&Seg::syn(client(), 0x5000_0000, &options));
    assert_eq!(step.verdict, Verdict::Consumed);
    assert_segment(step.only(Interface::Outside), L2C, "S.", seq_of(step.only(Interface::Outside)), 0x5000_0001);
    let stats = script.stats();
    assert_eq!((stats.proxy.current, stats.proxy.reset), (0, 1));
}
