//! Each mode end to end (RFC 4987 §3): `off` bridges, `limit` tracks the listener's half-open connections, `cookies`
//! is the stateless SYN proxy, `auto` keeps state until the high watermark.

use super::*;
use crate::defense::half_open::Overflow;

#[test]
fn off_bridges_every_frame_untouched() {
    // The baseline: the guard is a plain bridge, even for frames it would drop in every other mode.
    let mut script = Script::new(Mode::Off);
    let options = client_syn_options();
    let mut truncated = Seg::syn(client(), 1000, &options).frame();
    truncated.truncate(14 + 20 + 10);
    let frames = [
        (Interface::Outside, Seg::syn(client(), 1000, &options).frame()),
        (Interface::Inside, Seg::from_listener(SYN | ACK, 5000, 1001).frame()),
        (Interface::Outside, Seg::from_client(ACK, 1001, 5001).frame()),
        (Interface::Outside, Seg::from_client(ACK, 1001, 0xdead_beef).frame()),
        (Interface::Outside, Seg::from_client(RST, 1001, 0).frame()),
        (Interface::Outside, Seg { vlans: &[5], ..Seg::syn(client(), 1000, &options) }.frame()),
        (Interface::Outside, truncated),
    ];
    for (side, frame) in &frames {
        let step = script.handle(*side, frame.clone());
        assert_eq!(step.verdict, Verdict::Forward);
        assert_eq!(&step.frame, frame, "unchanged");
        assert!(step.sent.is_empty());
    }
    let stats = script.stats();
    let n = frames.len() as u64;
    assert_eq!((stats.counters.frames_in, stats.counters.frames_out, stats.counters.bridged), (n, n, n));
    assert_eq!((stats.counters.syns_seen, stats.counters.tagged_bridged, stats.counters.drops.total()), (0, 0, 0));
    assert_eq!((stats.half_open.admitted, stats.proxy.opened), (0, 0));
    assert_eq!(script.guard.poll_timeout(), None, "no timers at all");
}

#[test]
fn limit_forwards_the_handshake_and_tracks_it_until_the_ack() {
    // RFC 4987 §3.2: transparent; the guard only watches the listener's SYN-RECEIVED state.
    let mut script = Script::new(Mode::Limit);
    let syn = Seg::syn(client(), 1000, &client_syn_options()).frame();
    let step = script.handle(Interface::Outside, syn.clone());
    assert_eq!((step.verdict, step.frame == syn, step.sent.len()), (Verdict::Forward, true, 0));
    assert_eq!(script.guard.half_open_now(), 1);
    assert_eq!(script.guard.poll_timeout(), Some(at(1, 0)), "the entry's first timer (1 s, RFC 6298 §2.1)");

    let synack = Seg::from_listener(SYN | ACK, 5000, 1001).frame();
    let step = script.handle(Interface::Inside, synack.clone());
    assert_eq!((step.verdict, step.frame == synack), (Verdict::Forward, true), "the listener answers itself");
    let step = script.client(&Seg::from_client(ACK, 1001, 5001));
    assert_eq!(step.verdict, Verdict::Forward);
    assert_eq!(script.guard.half_open_now(), 0, "the ACK completed it");
    assert_eq!(script.guard.poll_timeout(), None);
    // Established connections pass untracked in the transparent mode.
    let step = script.client(&Seg { payload: b"hi", ..Seg::from_client(ACK | PSH, 1001, 5001) });
    assert_eq!(step.verdict, Verdict::Forward);
    let stats = script.stats();
    assert_eq!((stats.half_open.admitted, stats.half_open.completed), (1, 1));
    assert_eq!((stats.counters.syns_seen, stats.counters.synacks_sent, stats.counters.cookies_sent), (1, 0, 0));
    assert_eq!((stats.counters.frames_in, stats.counters.frames_out), (4, 4));
}

#[test]
fn limit_resets_the_listener_when_a_half_open_entry_expires() {
    // RFC 4987 §3.3 (a shorter SYN-RECEIVED timer): the entry expires at 15 s, and a RST in the client's name with
    // seq = ISN + 1 frees the listener's slot (RFC 9293 §3.10.7.4: an in-window RST closes SYN-RECEIVED).
    let mut script = Script::new(Mode::Limit);
    let step = script.client(&Seg::syn(client(), 1000, &client_syn_options()));
    assert_eq!(step.verdict, Verdict::Forward);
    // The timers at 1, 3 and 7 s are the SYN-ACK retransmissions of the stateful modes; here the listener
    // retransmits its own, so they send nothing.
    let sent = script.run_timers_until(at(60, 0));
    assert_eq!(sent.len(), 1, "{:?}", sent.iter().map(|(t, _, f)| (t, summary(f))).collect::<Vec<_>>());
    let (when, side, rst) = &sent[0];
    assert_eq!((*when, *side), (at(15, 0), Interface::Inside));
    assert_segment(rst, C2L, "R", 1001, 0);
    assert_eq!(window_of(rst), 0);
    let stats = script.stats();
    assert_eq!((stats.half_open.timed_out, stats.counters.rsts_sent, stats.half_open.current), (1, 1, 0));
    assert_eq!(script.guard.poll_timeout(), None);
}

#[test]
fn limit_evicts_the_oldest_half_open_entry_and_resets_it_at_the_listener() {
    // RFC 4987 §3.4: recycle the oldest half-open entry; the listener's slot for it is freed with a RST.
    let mut script = Script::with(GuardConfig {
        half_open: HalfOpenConfig { global_limit: 2, overflow: Overflow::EvictOldest, ..HalfOpenConfig::default() },
        ..config(Mode::Limit)
    });
    let options = client_syn_options();
    for (port, isn) in [(40000, 100), (40001, 200)] {
        assert_eq!(script.client(&Seg::syn(client_on(port), isn, &options)).verdict, Verdict::Forward);
    }
    let step = script.client(&Seg::syn(client_on(40002), 300, &options));
    assert_eq!(step.verdict, Verdict::Forward, "the new SYN still reaches the listener");
    assert_segment_between(step.only(Interface::Inside), client_on(40000), C2L, "R", 101, 0);
    let stats = script.stats();
    assert_eq!((stats.half_open.evicted, stats.half_open.current, stats.counters.rsts_sent), (1, 2, 1));
}

#[test]
fn limit_answers_overflow_with_cookies_and_proxies_their_acks() {
    // RFC 4987 §3.7, Linux's tcp_syncookies=1: state while there is room, a cookie once the backlog is full.
    let mut script = Script::with(GuardConfig {
        half_open: HalfOpenConfig { global_limit: 1, ..HalfOpenConfig::default() },
        ..config(Mode::Limit)
    });
    let options = client_syn_options();
    assert_eq!(script.client(&Seg::syn(client_on(40001), 100, &options)).verdict, Verdict::Forward);
    let synack = syn_answered(&mut script, client(), 0x1000_0000);
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, synack.tsval.unwrap());
    let step = script.client(&ack_of(client(), 0x1000_0000, synack, &ts));
    assert_eq!(step.verdict, Verdict::Consumed);
    assert_segment(step.only(Interface::Inside), C2L, "S", 0x1000_0000, 0);
    // An ACK that is no cookie of ours passes: established connections are not tracked in this mode.
    let stray = Seg { from: client_on(40002), ..Seg::from_client(ACK, 77, 88) };
    let step = script.client(&stray);
    assert_eq!((step.verdict, step.sent.len()), (Verdict::Forward, 0));
    let stats = script.stats();
    assert_eq!((stats.half_open.cookie_fallbacks, stats.half_open.current), (1, 1));
    assert_eq!(
        (stats.counters.cookies_sent, stats.counters.cookies_validated, stats.counters.cookies_failed),
        (1, 1, 1)
    );
    assert_eq!(stats.proxy.opened, 1);
}

#[test]
fn cookies_answer_syns_statelessly_and_open_to_the_listener_only_on_a_valid_ack() {
    // RFC 4987 §3.6 and §3.8: a SYN-ACK with a cookie, nothing kept; the listener hears of the client only from a
    // valid ACK, and the connection is then translated between the two sequence spaces.
    let mut script = Script::new(Mode::Cookies);
    let step = script.client(&Seg::syn(client(), 0x1000_0000, &client_syn_options()));
    assert_eq!(step.verdict, Verdict::Consumed);
    let synack = step.only(Interface::Outside);
    assert_segment(synack, L2C, "S.", seq_of(synack), 0x1000_0001);
    assert_eq!(window_of(synack), 64240, "the listener's SYN-ACK window");
    assert_eq!(tsecr_of(synack), Some(CLIENT_TSVAL), "RFC 7323 §3.2: the SYN-ACK echoes the client's TSval");
    assert_eq!((script.guard.half_open_now(), script.guard.poll_timeout()), (0, None), "stateless");
    let stats = script.stats();
    assert_eq!((stats.counters.syns_seen, stats.counters.synacks_sent, stats.counters.cookies_sent), (1, 1, 1));
    assert_eq!(stats.proxy.opened, 0);

    let mut script = Script::new(Mode::Cookies);
    let c = proxied_connection(&mut script, &listener_synack_options(7, LISTENER_TSVAL, CLIENT_TSVAL + 1));
    let stats = script.stats();
    assert_eq!((stats.counters.cookies_validated, stats.proxy.opened, stats.proxy.established), (1, 1, 1));
    assert_eq!((stats.proxy.current, stats.counters.wscale_mismatches), (1, 0));
    // Listener → client: seq moves into the proxy's space; client → listener: ack moves into the listener's.
    let step = script
        .listener(&Seg { payload: b"220 hi", ..Seg::from_listener(ACK | PSH, c.listener_isn + 1, c.client_isn + 1) });
    assert_eq!(step.verdict, Verdict::Forward);
    assert_segment(&step.frame, L2C, "P.", c.proxy_isn.wrapping_add(1), c.client_isn + 1);
    let step = script.client(&Seg::from_client(ACK, c.client_isn + 1, c.proxy_isn.wrapping_add(7)));
    assert_eq!(step.verdict, Verdict::Forward);
    assert_segment(&step.frame, C2L, ".", c.client_isn + 1, c.listener_isn + 7);
}

#[test]
fn auto_keeps_state_below_the_high_watermark_and_switches_to_cookies_above_it() {
    // RFC 4987 §3.7 with hysteresis (policy.rs): cookies from the high watermark (2) until below the low one (1).
    let mut script = Script::with(GuardConfig { watermarks: (2, 1), ..config(Mode::Auto) });
    let mut synacks = Vec::new();
    for port in 40000..40003 {
        synacks.push(syn_answered(&mut script, client_on(port), u32::from(port)));
    }
    let stats = script.stats();
    assert_eq!(script.guard.half_open_now(), 2, "the third SYN found the table at the watermark");
    assert_eq!((stats.policy.stateful, stats.policy.cookies, stats.policy.switches_to_cookies), (2, 1, 1));
    assert_eq!((stats.counters.synacks_sent, stats.counters.cookies_sent), (3, 1));

    // Completing a stateful handshake opens the listener's side without a cookie check.
    let complete = |script: &mut Script, port: u16, synack: SynAck| {
        let ts = craft::timestamp_option(CLIENT_TSVAL + 1, synack.tsval.unwrap());
        let step = script.client(&ack_of(client_on(port), u32::from(port), synack, &ts));
        assert_eq!(step.verdict, Verdict::Consumed, "port {port}");
        assert_segment_between(step.only(Interface::Inside), client_on(port), C2L, "S", u32::from(port), 0);
    };
    complete(&mut script, 40000, synacks[0]);
    assert_eq!((script.guard.half_open_now(), script.stats().counters.cookies_validated), (1, 0));
    // At the low watermark cookies stay on.
    syn_answered(&mut script, client_on(40003), 40003);
    assert_eq!((script.guard.half_open_now(), script.stats().counters.cookies_sent), (1, 2));
    complete(&mut script, 40001, synacks[1]);
    // Below it, state again.
    syn_answered(&mut script, client_on(40004), 40004);
    let stats = script.stats();
    assert_eq!(script.guard.half_open_now(), 1);
    assert_eq!((stats.policy.switches_back, stats.counters.cookies_sent), (1, 2));
    // The cookie answered during the spell still opens.
    complete(&mut script, 40002, synacks[2]);
    let stats = script.stats();
    assert_eq!((stats.counters.cookies_validated, stats.proxy.opened, stats.half_open.completed), (1, 3, 2));
}

#[test]
fn auto_retransmits_its_synack_on_the_half_open_schedule() {
    // Linux's reqsk_timer_handler: the SYN-ACK again after 1, 3 and 7 s, with the same ISN; the entry goes at 15 s.
    let mut script = Script::new(Mode::Auto);
    let first = syn_answered(&mut script, client(), 0x1000_0000);
    let sent = script.run_timers_until(at(60, 0));
    let times: Vec<Timestamp> = sent.iter().map(|(t, _, _)| *t).collect();
    assert_eq!(times, [at(1, 0), at(3, 0), at(7, 0)]);
    for (when, side, synack) in &sent {
        assert_eq!(*side, Interface::Outside);
        assert_segment(synack, L2C, "S.", first.isn, 0x1000_0001);
        assert_eq!(tsecr_of(synack), Some(CLIENT_TSVAL), "at {when:?}");
    }
    let stats = script.stats();
    assert_eq!((stats.counters.synack_retransmits, stats.half_open.timed_out, stats.half_open.current), (3, 1, 0));
    // The stateful ISN is itself a cookie: an ACK after the entry expired still opens, while the cookie is fresh.
    let ts = craft::timestamp_option(CLIENT_TSVAL + 60, first.tsval.unwrap());
    let step = script.client(&ack_of(client(), 0x1000_0000, first, &ts));
    assert_eq!(step.verdict, Verdict::Consumed);
    assert_segment(step.only(Interface::Inside), C2L, "S", 0x1000_0000, 0);
    assert_eq!(script.stats().counters.cookies_validated, 1);
}
