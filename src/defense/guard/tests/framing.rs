//! Frames the guard cannot or will not parse: damaged headers that still name the protected address (dropped and
//! counted), and VLAN-tagged links (bridged uninspected, since crafted answers carry no tags).

use super::*;

/// Damaged copies of `frame`, a SYN whose IP header starts at `ip` and TCP header at `tcp`.
fn damaged(frame: &[u8], ip: usize, tcp: usize) -> Vec<(&'static str, Vec<u8>)> {
    let edit = |at: usize, byte: u8| {
        let mut f = frame.to_vec();
        f[at] = byte;
        f
    };
    let mut out = vec![
        ("TCP header cut short", frame[..tcp + 10].to_vec()),
        ("data offset below 5 words", edit(tcp + 12, 0x30)),
        ("data offset past the segment", edit(tcp + 12, 0xF0)),
    ];
    if tcp - ip == 20 {
        // IPv4 only: a total length beyond the frame, and a header length below 20 bytes.
        let total = u16::from_be_bytes([frame[ip + 2], frame[ip + 3]]) + 100;
        let mut long = frame.to_vec();
        long[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
        out.push(("IP total length past the frame", long));
        out.push(("IP header length below 20", edit(ip, 0x44)));
    }
    out
}

#[test]
fn a_damaged_frame_claiming_tcp_to_the_protected_address_is_dropped_and_counted() {
    // A frame that says it is TCP for the protected address but does not parse must not reach the listener
    // (whatever the listener's stack would make of it): dropped, not bridged, and counted.
    let options = client_syn_options();
    let untagged = Seg::syn(client(), 1000, &options).frame();
    let tagged = Seg { vlans: &[5], ..Seg::syn(client(), 1000, &options) }.frame();
    let qinq = Seg { vlans: &[5, 6], ..Seg::syn(client(), 1000, &options) }.frame();
    for mode in [Mode::Limit, Mode::Cookies, Mode::Auto] {
        let mut script = Script::new(mode);
        let mut count = 0;
        for (frame, ip) in [(&untagged, 14), (&tagged, 18), (&qinq, 22)] {
            for (what, bad) in damaged(frame, ip, ip + 20) {
                assert!(TcpFrame::new_checked(&bad).is_err(), "{what}: the test must damage the frame");
                let step = script.handle(Interface::Outside, bad);
                assert_eq!(step.verdict, Verdict::Drop(DropReason::Malformed), "{mode}, {what}, tags at {ip}");
                assert!(step.sent.is_empty());
                count += 1;
            }
        }
        let stats = script.stats();
        assert_eq!(stats.counters.drops.malformed, count, "{mode}");
        assert_eq!((stats.counters.bridged, stats.counters.tagged_bridged, stats.counters.frames_out), (0, 0, 0));
        assert_eq!(stats.counters.syns_seen, 0);
    }
}

#[test]
fn a_damaged_ipv6_frame_claiming_tcp_to_the_protected_address_is_dropped() {
    let protect: SocketAddr = "[2001:db8::20]:9999".parse().unwrap();
    let from: SocketAddr = "[2001:db8::10]:40000".parse().unwrap();
    let mut script = Script::with(GuardConfig { protect, ..config(Mode::Cookies) });
    let options = client_syn_options();
    let syn = Seg { to: protect, ..Seg::syn(from, 1000, &options) }.frame();
    // Whole, it is answered.
    assert_eq!(script.handle(Interface::Outside, syn.clone()).verdict, Verdict::Consumed);
    for (what, bad) in damaged(&syn, 14, 54) {
        assert_eq!(script.handle(Interface::Outside, bad).verdict, Verdict::Drop(DropReason::Malformed), "{what}");
    }
    assert_eq!(script.stats().counters.drops.malformed, 3);
}

#[test]
fn damaged_frames_for_other_addresses_are_bridged() {
    // Not the guard's business: whatever is not for the protected address passes as it is.
    let mut script = Script::new(Mode::Cookies);
    let options = client_syn_options();
    let elsewhere: SocketAddr = "192.0.2.99:9999".parse().unwrap();
    let syn = Seg { to: elsewhere, ..Seg::syn(client(), 1000, &options) }.frame();
    for (what, bad) in damaged(&syn, 14, 34) {
        let step = script.handle(Interface::Outside, bad.clone());
        assert_eq!((step.verdict, step.frame == bad), (Verdict::Forward, true), "{what}");
    }
    let stats = script.stats();
    assert_eq!((stats.counters.bridged, stats.counters.drops.malformed), (5, 0));
}

#[test]
fn vlan_tagged_frames_are_bridged_uninspected() {
    // The guard's crafted answers carry no 802.1Q tags, so a tagged link is bridged as it is (counted apart), in
    // either direction, one tag or two (802.1ad).
    let options = client_syn_options();
    for mode in [Mode::Limit, Mode::Cookies, Mode::Auto] {
        let mut script = Script::new(mode);
        let frames = [
            (Interface::Outside, Seg { vlans: &[5], ..Seg::syn(client(), 1000, &options) }.frame()),
            (Interface::Outside, Seg { vlans: &[5, 6], ..Seg::syn(client(), 1000, &options) }.frame()),
            (Interface::Outside, Seg { vlans: &[5], ..Seg::from_client(ACK, 1001, 0xdead_beef) }.frame()),
            (Interface::Inside, Seg { vlans: &[5], ..Seg::from_listener(SYN | ACK, 5000, 1001) }.frame()),
        ];
        for (side, frame) in &frames {
            let step = script.handle(*side, frame.clone());
            assert_eq!((step.verdict, &step.frame, step.sent.len()), (Verdict::Forward, frame, 0), "{mode}");
        }
        // Tagged, but for another address: plainly bridged.
        let elsewhere: SocketAddr = "192.0.2.99:80".parse().unwrap();
        let other = Seg { to: elsewhere, vlans: &[5], ..Seg::syn(client(), 1000, &options) };
        assert_eq!(script.client(&other).verdict, Verdict::Forward);
        let stats = script.stats();
        assert_eq!((stats.counters.tagged_bridged, stats.counters.bridged), (4, 1), "{mode}");
        assert_eq!((stats.counters.syns_seen, stats.counters.drops.total()), (0, 0), "{mode}");
        assert_eq!((stats.half_open.admitted, stats.proxy.opened), (0, 0), "{mode}");

        // The untagged path is unaffected: the same client untagged is handled by the mode.
        let step = script.client(&Seg::syn(client(), 1000, &options));
        let want = if mode == Mode::Limit { Verdict::Forward } else { Verdict::Consumed };
        assert_eq!(step.verdict, want, "{mode}");
        assert_eq!(script.stats().counters.syns_seen, 1);
    }
}

#[test]
fn a_0x9100_outer_tag_is_seen_alike_by_every_frame_walker() {
    // 0x9100, the QinQ outer tag before 802.1ad, used to be a tag to the decoder only: the frame view's layout, the
    // checksum filler and the damaged-frame check read it as an unknown EtherType, so a damaged SYN behind it was
    // bridged to the listener. All four walk the tags with `wire::vlan` now.
    use crate::wire::checksum::fill_transport_checksum;
    use crate::wire::packet::Transport;
    use crate::wire::{LinkType, decode};
    let options = client_syn_options();
    for vlans in [&[5][..], &[5, 6]] {
        let mut frame = Seg { vlans, ..Seg::syn(client(), 1000, &options) }.frame();
        frame[12..14].copy_from_slice(&0x9100u16.to_be_bytes());
        let ip = 14 + 4 * vlans.len();

        let packet = decode(LinkType::Ethernet, &frame);
        assert_eq!(packet.malformed, None);
        let ids: Vec<u16> = packet.link.vlans.as_slice().iter().map(|tag| tag.id).collect();
        assert_eq!((ids.as_slice(), usize::from(packet.link.header_len)), (vlans, ip));
        let Transport::Tcp(segment) = &packet.transport else { panic!("decoded as TCP") };
        assert_eq!((segment.dst_port, segment.seq), (listener().port(), 1000));

        let segment = TcpFrame::new_checked(frame.as_slice()).expect("laid out behind the tags");
        // The TCP header starts 20 bytes (an IPv4 header without options) after the tags.
        assert_eq!((segment.headers_len() - segment.options().len(), segment.tagged()), (ip + 20 + 20, true));
        assert_eq!((segment.src(), segment.dst()), (client(), listener()));

        let mut spoiled = TcpFrame::new_checked(frame.clone()).unwrap();
        spoiled.set_checksum(segment.checksum() ^ 0x5a00);
        let mut spoiled = spoiled.into_inner();
        assert_ne!(spoiled, frame);
        assert!(fill_transport_checksum(&mut spoiled), "the checksum is found behind the tags");
        assert_eq!(spoiled, frame);

        assert!(claims_tcp_for(&frame, listener().ip()));
        for mode in [Mode::Limit, Mode::Cookies, Mode::Auto] {
            // Whole, it is a tagged frame for the protected service: bridged uninspected, like 802.1Q ones.
            let mut script = Script::new(mode);
            let step = script.handle(Interface::Outside, frame.clone());
            assert_eq!((step.verdict, &step.frame, step.sent.len()), (Verdict::Forward, &frame, 0), "{mode}");
            assert_eq!(script.stats().counters.tagged_bridged, 1, "{mode}");
            // Damaged, it is dropped.
            for (what, bad) in damaged(&frame, ip, ip + 20) {
                assert!(TcpFrame::new_checked(&bad).is_err(), "{what}: the test must damage the frame");
                let step = script.handle(Interface::Outside, bad);
                assert_eq!(step.verdict, Verdict::Drop(DropReason::Malformed), "{mode}, {what}, tags at {ip}");
            }
        }
    }
}
