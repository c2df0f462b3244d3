//! The proxy's half towards the listener: lost and retransmitted handshake segments, idle expiry, and the deadlines
//! the guard reports for them.

use super::*;

fn linux_listener() -> [u8; 20] {
    listener_synack_options(7, LISTENER_TSVAL, CLIENT_TSVAL + 1)
}

#[test]
fn a_lost_listener_synack_is_recovered_from_its_retransmission() {
    // Linux retransmits an unanswered SYN-ACK after 1 s (TCP_TIMEOUT_INIT, reqsk_timer_handler). Meanwhile the
    // client, established from its side, sends data, which waits for the listener's half (the client retransmits).
    let mut script = Script::new(Mode::Cookies);
    let c = cookie_handshake(&mut script);
    let ts = craft::timestamp_option(CLIENT_TSVAL + 2, c.proxy_tsval);
    let hello = Seg {
        options: &ts,
        payload: b"hello",
        ..Seg::from_client(ACK | PSH, c.client_isn + 1, c.proxy_isn.wrapping_add(1))
    };
    let step = script.client(&hello);
    assert_eq!((step.verdict, step.sent.len()), (Verdict::Drop(DropReason::NotYetEstablished), 0));

    script.advance(Duration::from_secs(1));
    let c = listener_accepts(&mut script, c, &linux_listener());
    script.advance(Duration::from_millis(200));
    let step = script.client(&hello);
    assert_eq!(step.verdict, Verdict::Forward);
    assert_segment(&step.frame, C2L, "P.", c.client_isn + 1, c.listener_isn + 1);
    assert_eq!(payload_of(&step.frame), b"hello");
    let stats = script.stats();
    assert_eq!((stats.proxy.established, stats.counters.drops.not_yet_established), (1, 1));
}

#[test]
fn a_listener_synack_retransmitted_after_the_proxy_acked_it_is_acked_again() {
    // The proxy's ACK of the SYN-ACK was lost, so the listener retransmits its SYN-ACK. Linux answers a SYN-ACK in
    // ESTABLISHED with an ACK (tcp_rcv_state_process, RFC 9293 §3.10.7.4); the proxy, which completed the
    // listener's handshake in the client's name, must do the same. Dropping it, as it used to, left the listener in
    // SYN-RECEIVED until the client spoke: a server that speaks first (SMTP, SSH) never accepted the connection.
    let mut script = Script::new(Mode::Cookies);
    let c = proxied_connection(&mut script, &linux_listener());
    script.advance(Duration::from_secs(1));
    let later = listener_synack_options(7, LISTENER_TSVAL + 1000, CLIENT_TSVAL + 1);
    let synack =
        Seg { window: 65160, options: &later, ..Seg::from_listener(SYN | ACK, c.listener_isn, c.client_isn + 1) };
    let step = script.listener(&synack);
    assert_eq!(step.verdict, Verdict::Consumed, "never reaches the client");
    let ack = step.only(Interface::Inside);
    assert_segment(ack, C2L, ".", c.client_isn + 1, c.listener_isn + 1);
    assert_eq!(window_of(ack), 502, "the client's window, as in the first ACK");
    assert_eq!((tsval_of(ack), tsecr_of(ack)), (Some(CLIENT_TSVAL + 1), Some(LISTENER_TSVAL + 1000)));
    assert!(payload_of(ack).is_empty());

    // The connection is unchanged: established once, translated as before.
    let stats = script.stats();
    assert_eq!((stats.proxy.established, stats.proxy.current, stats.counters.drops.total()), (1, 1, 0));
    // A SYN-ACK with another ISN is no retransmission of this handshake: it is not acknowledged, nor passed on.
    let stranger = Seg { seq: c.listener_isn + 5000, ..synack };
    let step = script.listener(&stranger);
    assert_eq!((step.verdict, step.sent.len()), (Verdict::Drop(DropReason::NotYetEstablished), 0));
    let step = script.listener(&Seg::from_listener(ACK, c.listener_isn + 1, c.client_isn + 1));
    assert_segment(&step.frame, L2C, ".", c.proxy_isn.wrapping_add(1), c.client_isn + 1);
}

#[test]
fn the_proxy_recovers_when_its_syn_to_the_listener_is_lost() {
    // The proxy does not retransmit its SYN: the SYN-SENT entry goes after 5 s, and the client's next
    // retransmission, which still carries the cookie (seq = ISN + 1, ack = cookie + 1, TSecr = our TSval), opens
    // the listener's half again.
    let mut script = Script::new(Mode::Cookies);
    let c = cookie_handshake(&mut script);
    let ts = craft::timestamp_option(CLIENT_TSVAL + 2, c.proxy_tsval);
    let hello = Seg {
        options: &ts,
        payload: b"hello",
        ..Seg::from_client(ACK | PSH, c.client_isn + 1, c.proxy_isn.wrapping_add(1))
    };
    script.advance(Duration::from_millis(200));
    assert_eq!(script.client(&hello).verdict, Verdict::Drop(DropReason::NotYetEstablished));
    assert!(script.run_timers_until(at(6, 0)).is_empty());
    let stats = script.stats();
    assert_eq!((stats.proxy.idle_expired, stats.proxy.current), (1, 0));

    let step = script.client(&hello);
    assert_eq!(step.verdict, Verdict::Consumed);
    let syn = step.only(Interface::Inside);
    assert_segment(syn, C2L, "S", c.client_isn, 0);
    assert_eq!(wscale_of(syn), Some(7), "the client's options, from the cookie again");
    let c = listener_accepts(&mut script, c, &linux_listener());
    let step = script.client(&hello);
    assert_eq!(step.verdict, Verdict::Forward);
    assert_segment(&step.frame, C2L, "P.", c.client_isn + 1, c.listener_isn + 1);
    assert_eq!((script.stats().proxy.opened, script.stats().counters.cookies_validated), (2, 2));
}

#[test]
fn idle_proxied_connections_expire_and_traffic_keeps_them() {
    // netfilter's conntrack and SYNPROXY forget idle connections; here after proxy_idle_timeout without a segment
    // either way.
    let mut script = Script::with(GuardConfig { proxy_idle_timeout: Duration::from_secs(30), ..config(Mode::Cookies) });
    script.guard.record_proxy_changes();
    let c = proxied_connection(&mut script, &linux_listener());
    script.advance_to(at(20, 0));
    let data = [b'x'; 100];
    let step = script
        .client(&Seg { payload: &data, ..Seg::from_client(ACK | PSH, c.client_isn + 1, c.proxy_isn.wrapping_add(1)) });
    assert_eq!(step.verdict, Verdict::Forward);

    assert!(script.run_timers_until(at(49, 999)).is_empty());
    assert_eq!(script.stats().proxy.current, 1, "seen at 20 s: idle for less than 30 s");
    assert_eq!(script.guard.poll_timeout(), Some(at(50, 0)), "30 s after the last segment");
    assert!(script.run_timers_until(at(50, 0)).is_empty(), "expiry sends nothing");
    let stats = script.stats();
    assert_eq!((stats.proxy.idle_expired, stats.proxy.current), (1, 0));
    assert_eq!(script.guard.poll_timeout(), None);
    let tuple = crate::defense::Tuple { client: client(), server: listener() };
    let changes: Vec<ProxyChange> = script.guard.drain_proxy_changes().collect();
    assert_eq!(changes, [ProxyChange::Held(tuple), ProxyChange::Released(tuple)], "the XDP mirror lets it go");
    // The connection is gone: its segments no longer pass (this one's numbers are past the handshake's, so they
    // carry no cookie either).
    let step = script.client(&Seg::from_client(ACK, c.client_isn + 101, c.proxy_isn.wrapping_add(1)));
    assert_eq!((step.verdict, step.sent.len()), (Verdict::Drop(DropReason::BadCookie), 0));
}

#[test]
fn poll_timeout_covers_a_proxy_entry_when_it_is_the_only_state() {
    // In cookies mode the half-open table stays empty; the proxy's SYN-SENT entry (5 s) is the only timer. The
    // guard used to report no deadline at all, so a caller sleeping until poll_timeout() never expired it.
    let mut script = Script::new(Mode::Cookies);
    cookie_handshake(&mut script);
    assert_eq!(script.guard.half_open_now(), 0);
    assert_eq!(script.guard.poll_timeout(), Some(at(5, 1)), "opened at 1 ms");
    script.advance_to(at(5, 1));
    assert!(script.poll().is_empty());
    assert_eq!((script.stats().proxy.idle_expired, script.stats().proxy.current), (1, 0), "polled at the deadline");
    assert_eq!(script.guard.poll_timeout(), None);

    // Sweeps run at most once a second: a poll before the deadline moves it to the next allowed sweep, and a poll
    // there expires the entry.
    let mut script = Script::new(Mode::Cookies);
    cookie_handshake(&mut script);
    script.advance_to(at(4, 500));
    assert!(script.poll().is_empty());
    assert_eq!(script.stats().proxy.current, 1);
    assert_eq!(script.guard.poll_timeout(), Some(at(5, 500)));
    script.advance_to(at(5, 500));
    script.poll();
    assert_eq!(script.stats().proxy.current, 0);
}

#[test]
fn poll_timeout_is_the_earliest_of_the_half_open_and_proxy_timers() {
    let mut script = Script::new(Mode::Auto);
    cookie_handshake(&mut script);
    assert_eq!(script.guard.poll_timeout(), Some(at(5, 1)), "the proxy's entry alone; the handshake completed");
    script.advance_to(at(2, 0));
    syn_answered(&mut script, client_on(40001), 1);
    assert_eq!(script.guard.poll_timeout(), Some(at(3, 0)), "the half-open entry's retransmission first");
    let sent = script.run_timers_until(at(5, 0));
    assert_eq!(sent.iter().map(|(t, _, _)| *t).collect::<Vec<_>>(), [at(3, 0), at(5, 0)], "retransmissions");
    // The sweep at 5 s found the proxy's entry a millisecond short of its time-out; the next is allowed at 6 s.
    assert_eq!(script.guard.poll_timeout(), Some(at(6, 0)), "the proxy's entry, due at 5.001 s, swept at 6 s");
    script.run_timers_until(at(6, 0));
    assert_eq!(script.stats().proxy.current, 0);
    assert_eq!(script.guard.poll_timeout(), Some(at(9, 0)), "the half-open entry's next retransmission");
}
