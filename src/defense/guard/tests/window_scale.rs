//! Window scaling across the proxy: the client's half of the connection was negotiated with the proxy's SYN-ACK, the
//! listener's half with the listener's, so the shifts on either side can differ (RFC 7323 §2).

use super::*;

#[test]
fn a_listener_window_scale_beyond_14_is_used_as_14_both_ways() {
    // RFC 7323 §2.3: a shift above 14 is used as 14. A listener sending 15, 40 or 255 used to overflow the
    // rescaling shift (a panic with overflow checks, a wrong window in release).
    for shift in [15u8, 40, 255] {
        let mut script = Script::new(Mode::Cookies);
        let options = listener_synack_options(shift, LISTENER_TSVAL, 5000);
        let c = proxied_connection(&mut script, &options);
        assert_eq!(script.stats().counters.wscale_mismatches, 1, "shift {shift}: 14 is not the promised 7");

        // Listener → client: 300 bytes, window 100 in units of 2^14, which the client reads in units of 2^7.
        script.advance(Duration::from_millis(1));
        let ts = craft::timestamp_option(LISTENER_TSVAL + 5, c.client_tsval + 1);
        let welcome = vec![b'w'; 300];
        let data = Seg {
            window: 100,
            options: &ts,
            payload: &welcome,
            ..Seg::from_listener(ACK | PSH, c.listener_isn + 1, c.client_isn + 1)
        };
        let step = script.listener(&data);
        assert_eq!(step.verdict, Verdict::Forward, "shift {shift}");
        assert_segment(&step.frame, L2C, "P.", c.proxy_isn.wrapping_add(1), c.client_isn + 1);
        assert_eq!(window_of(&step.frame), 100 << (14 - 7), "shift {shift}: the window the client must see");
        assert_eq!(tsval_of(&step.frame), Some(c.proxy_tsval.wrapping_add(5)), "shift {shift}");
        assert_eq!(payload_of(&step.frame), &welcome[..]);

        // A window too large for 16 bits once rescaled saturates rather than wrapping.
        let step = script.listener(&Seg { window: 0xFFFF, ..data });
        assert_eq!(window_of(&step.frame), 0xFFFF, "shift {shift}");
        assert_checksum_valid(&step.frame);

        // Client → listener: the client's data goes through with its ACK moved into the listener's space.
        let ts = craft::timestamp_option(c.client_tsval + 2, c.proxy_tsval.wrapping_add(5));
        let hello = b"Lambda";
        let reply = Seg {
            window: 501,
            options: &ts,
            payload: hello,
            ..Seg::from_client(ACK | PSH, c.client_isn + 1, c.proxy_isn.wrapping_add(301))
        };
        let step = script.client(&reply);
        assert_eq!(step.verdict, Verdict::Forward, "shift {shift}");
        assert_segment(&step.frame, C2L, "P.", c.client_isn + 1, c.listener_isn + 301);
        assert_eq!(window_of(&step.frame), 501, "client windows pass unchanged");
        assert_eq!(payload_of(&step.frame), hello);

        // The guard learnt the listener's options, clamped: the next client is promised 14, not the raw value.
        let syn_options = craft::linux_syn_options(1460, 1, 0, 7);
        let step = script.client(&Seg::syn(client_on(40001), 1, &syn_options));
        assert_eq!(wscale_of(step.only(Interface::Outside)), Some(14), "shift {shift}");
    }
}

#[test]
fn a_client_window_scale_beyond_14_reaches_the_listener_as_14() {
    let mut script = Script::new(Mode::Cookies);
    let syn_options = craft::linux_syn_options(1460, 1, 0, 200);
    let step = script.client(&Seg::syn(client(), 1, &syn_options));
    assert_eq!(step.verdict, Verdict::Consumed);
    let synack = step.only(Interface::Outside);
    assert_eq!(wscale_of(synack), Some(7), "the client gets the listener's shift");
    let (proxy_isn, proxy_tsval) = (seq_of(synack), tsval_of(synack).unwrap());
    let ts = craft::timestamp_option(2, proxy_tsval);
    let ack = Seg { window: 3, options: &ts, ..Seg::from_client(ACK, 2, proxy_isn.wrapping_add(1)) };
    let step = script.client(&ack);
    assert_eq!(step.verdict, Verdict::Consumed);
    let syn_to_listener = step.only(Interface::Inside);
    // The cookie carried the client's 200 as 14; the listener's SYN says 14, and its unscaled window is 3 << 14.
    assert_eq!(wscale_of(syn_to_listener), Some(14));
    assert_eq!(window_of(syn_to_listener), 3 << 14);
    assert_checksum_valid(syn_to_listener);
}

#[test]
fn a_client_without_timestamps_is_offered_no_window_scale_or_sack_by_a_cookie() {
    let mut script = Script::new(Mode::Cookies);
    // MSS, SACK-permitted and window scale 7, no timestamps (Windows' default).
    let options = [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2];
    let step = script.client(&Seg::syn(client(), 100, &options));
    let synack = step.only(Interface::Outside);
    assert_eq!(wscale_of(synack), None, "the cookie could not keep it");
    assert!(!options_of(synack).contains(&TcpOption::SackPermitted));
    let proxy_isn = seq_of(synack);
    let ack = Seg { window: 64240, ..Seg::from_client(ACK, 101, proxy_isn.wrapping_add(1)) };
    let step = script.client(&ack);
    assert_eq!(step.verdict, Verdict::Consumed);
    let syn_to_listener = step.only(Interface::Inside);
    // Both ends agree: no scaling, no SACK; the client's unscaled window goes to the listener as it is.
    assert_eq!(wscale_of(syn_to_listener), None);
    assert!(!options_of(syn_to_listener).contains(&TcpOption::SackPermitted));
    assert_eq!(window_of(syn_to_listener), 64240);
}

#[test]
fn a_listener_with_a_smaller_window_scale_has_its_windows_rounded_down_for_the_client() {
    // The client was promised 7 and reads windows in units of 128; the listener scales by 2 (a small receive
    // buffer). Rounded down, the window never promises the client more than the listener offered (RFC 7323 §2.3:
    // each side scales by its own shift, so the proxy must convert).
    let mut script = Script::new(Mode::Cookies);
    let options = listener_synack_options(2, LISTENER_TSVAL, CLIENT_TSVAL + 1);
    let c = proxied_connection(&mut script, &options);
    assert_eq!(script.stats().counters.wscale_mismatches, 1);
    let data = Seg { window: 1000, ..Seg::from_listener(ACK, c.listener_isn + 1, c.client_isn + 1) };
    let step = script.listener(&data);
    assert_eq!(step.verdict, Verdict::Forward);
    assert_eq!(window_of(&step.frame), (1000 << 2) >> 7, "4000 bytes as 31 units of 128 (3968 bytes)");
    assert_checksum_valid(&step.frame);
    // Both halves scale, and the listener reads the client's windows with the client's own shift: no change.
    let step = script.client(&Seg::from_client(ACK, c.client_isn + 1, c.proxy_isn.wrapping_add(1)));
    assert_eq!(window_of(&step.frame), 502);
    // The next client is promised what this listener does.
    let step = script.client(&Seg::syn(client_on(40001), 1, &client_syn_options()));
    assert_eq!(wscale_of(step.only(Interface::Outside)), Some(2));
}

#[test]
fn a_listener_without_window_scaling_gets_unscaled_windows_both_ways() {
    // RFC 7323 §2.2: scaling is in effect only when both SYNs carry the option. The client's half scales (the
    // proxy's SYN-ACK promised 7), the listener's does not (its SYN-ACK has no window scale, as with Linux's
    // net.ipv4.tcp_window_scaling=0), so every window crossing the proxy must be converted.
    let mut script = Script::new(Mode::Cookies);
    let c = cookie_handshake(&mut script);
    // MSS, SACK-permitted with timestamps, no window scale.
    let ts = LISTENER_TSVAL.to_be_bytes();
    let ecr = (CLIENT_TSVAL + 1).to_be_bytes();
    let options = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, ts[0], ts[1], ts[2], ts[3], ecr[0], ecr[1], ecr[2], ecr[3]];
    let synack =
        Seg { window: 65160, options: &options, ..Seg::from_listener(SYN | ACK, LISTENER_ISN, c.client_isn + 1) };
    let step = script.listener(&synack);
    assert_eq!(step.verdict, Verdict::Consumed);
    let ack = step.only(Interface::Inside);
    assert_segment(ack, C2L, ".", c.client_isn + 1, LISTENER_ISN + 1);
    assert_eq!(window_of(ack), 502 << 7, "the client's 502 units of 128, in bytes for a listener that does not scale");
    assert_eq!(script.stats().counters.wscale_mismatches, 1);

    // Listener → client: 65535 bytes are 511 units of 128 for the client.
    let step = script.listener(&Seg { window: 0xFFFF, ..Seg::from_listener(ACK, LISTENER_ISN + 1, c.client_isn + 1) });
    assert_eq!(step.verdict, Verdict::Forward);
    assert_eq!(window_of(&step.frame), 0xFFFF >> 7);
    assert_checksum_valid(&step.frame);
    // Client → listener: 501 units of 128 are 64128 bytes; a window beyond 16 bits saturates.
    for (window, want) in [(501, 501 << 7), (1000, 0xFFFF)] {
        let step =
            script.client(&Seg { window, ..Seg::from_client(ACK, c.client_isn + 1, c.proxy_isn.wrapping_add(1)) });
        assert_eq!(step.verdict, Verdict::Forward);
        assert_eq!(window_of(&step.frame), want, "client window {window}");
        assert_checksum_valid(&step.frame);
    }
    // The listener's SYN-ACK answered a SYN that asked for window scaling, so it shows the listener does not scale:
    // the next client is promised no scaling, and its connection needs no conversion.
    let other = client_on(40001);
    let step = script.client(&Seg::syn(other, 1, &client_syn_options()));
    let synack = step.only(Interface::Outside);
    assert_eq!(wscale_of(synack), None, "learnt: no window scaling");
    let synack = SynAck { isn: seq_of(synack), tsval: tsval_of(synack) };
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, synack.tsval.unwrap());
    let step = script.client(&Seg { window: 64240, ..ack_of(other, 1, synack, &ts) });
    assert_eq!(
        window_of(step.only(Interface::Inside)),
        64240,
        "an unscaled client window goes to the listener as it is"
    );
    assert_eq!(script.stats().counters.listener_options_learnt, 1);
}

#[test]
fn a_listener_that_scales_when_the_proxy_promised_no_scaling_gets_scaled_windows_both_ways() {
    // `--listener-wscale none`: the proxy's SYN-ACK offers no scaling, so the client's half does not scale, but
    // the SYN the proxy sends the listener carries the client's shift from the cookie and the listener scales.
    let mut script = Script::with(GuardConfig {
        listener: ListenerOptions { wscale: None, ..ListenerOptions::default() },
        ..config(Mode::Cookies)
    });
    let synack = syn_answered(&mut script, client(), 0x1000_0000);
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, synack.tsval.unwrap());
    // The client's window is unscaled: 64240 bytes.
    let step = script.client(&Seg { window: 64240, ..ack_of(client(), 0x1000_0000, synack, &ts) });
    let syn = step.only(Interface::Inside);
    assert_eq!(wscale_of(syn), Some(7), "the client's SYN, as the cookie kept it");
    assert_eq!(window_of(syn), 64240, "an unscaled window is not shifted again");

    let options = listener_synack_options(7, LISTENER_TSVAL, CLIENT_TSVAL + 1);
    let step = script.listener(&Seg { options: &options, ..Seg::from_listener(SYN | ACK, LISTENER_ISN, 0x1000_0001) });
    let ack = step.only(Interface::Inside);
    assert_eq!(window_of(ack), 64240 >> 7, "the listener reads client windows in units of 128");
    assert_eq!(script.stats().counters.wscale_mismatches, 1);
    // Listener → client: 100 units of 128 are 12800 bytes for a client that does not scale.
    let step = script.listener(&Seg { window: 100, ..Seg::from_listener(ACK, LISTENER_ISN + 1, 0x1000_0001) });
    assert_eq!(window_of(&step.frame), 100 << 7);
    assert_checksum_valid(&step.frame);
    let step = script.client(&Seg { window: 64240, ..Seg::from_client(ACK, 0x1000_0001, synack.isn.wrapping_add(1)) });
    assert_eq!(window_of(&step.frame), 64240 >> 7);
    assert_checksum_valid(&step.frame);
    // Learnt: the next client is promised the listener's 7.
    let step = script.client(&Seg::syn(client_on(40001), 1, &client_syn_options()));
    assert_eq!(wscale_of(step.only(Interface::Outside)), Some(7));
}
