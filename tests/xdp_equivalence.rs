//! One cookie, two implementations: the XDP program (src/xdp/syn_cookie.bpf.c), run on crafted SYNs through
//! BPF_PROG_TEST_RUN (no interface needed), against the userspace guard (`defense::guard`) given the same SYN, key,
//! listener and packet time. For every SYN the program answers, the SYN-ACKs must be byte for byte the same; a
//! cookie the program issued must open a proxied connection in userspace; and the program must drop exactly the
//! ACKs whose cookie userspace would refuse. Needs root (loading BPF programs).

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use common::netns::have_root;
use synscope::defense::SynOptions;
use synscope::defense::Tuple;
use synscope::defense::cookie::{CookieCodec, CookieConfig};
use synscope::defense::guard::{
    Checksum, Guard, GuardConfig, Interface, ListenerOptions, Outbox, ProxyChange, Verdict,
};
use synscope::defense::policy::Mode;
use synscope::lab::sim::setup::GuardSetup;
use synscope::time::{Duration, Timestamp};
use synscope::wire::craft::{self, EthernetSpec, IpSpec, TcpSpec};
use synscope::wire::segment::TcpFlags;
use synscope::xdp::{FastPath, XDP_DROP, XDP_PASS, XDP_TX, XdpConfig};

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0c];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x05];

/// A fast path loaded for tests, or `None` (and a skip, or a failure in CI) when this machine cannot load it.
fn fast_path(config: XdpConfig) -> Option<FastPath> {
    if !have_root("xdp_equivalence") {
        return None;
    }
    if !synscope::xdp::built_in() {
        // CI installs clang and libbpf-dev, so there the program must have been built.
        assert!(std::env::var_os("SYNSCOPE_REQUIRE_ROOT").is_none(), "synscope was built without XDP support");
        eprintln!("SKIPPED: synscope was built without XDP support (install clang and libbpf-dev)");
        return None;
    }
    Some(FastPath::load(config, 1024).unwrap_or_else(|e| panic!("loading the XDP program: {e}")))
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// `synscope guard --mode cookies` with its flag defaults, the listener's options given. The proxy table is kept
/// small: each case builds a fresh guard, and the default's 65,536 entries are allocated up front.
fn guard_config(protect: SocketAddr, listener: ListenerOptions) -> GuardConfig {
    GuardConfig { listener, max_proxied: 1024, ..GuardSetup::with_defaults(Mode::Cookies).config(protect) }
}

/// A SYN's option list as clients and attackers write them: the usual four in Linux's or another order, some
/// missing, padding with NOPs or EOL, unknown kinds, SACK blocks, out-of-range shifts, and now and then a malformed
/// option that ends the list. At most 40 bytes.
fn random_options(rng: &mut Rng) -> Vec<u8> {
    // The layouts the program reads in place: Linux's 20 bytes (any shift, TSval and TSecr), and MSS alone.
    match rng.below(10) {
        0 | 1 => {
            let shift = if rng.chance(80) { rng.below(15) as u8 } else { rng.below(256) as u8 };
            let mss = if rng.chance(50) { 1460 } else { rng.below(65536) as u16 };
            return craft::linux_syn_options(mss, rng.next() as u32, rng.next() as u32, shift).to_vec();
        }
        2 => {
            let mss = rng.below(65536) as u16;
            return vec![2, 4, (mss >> 8) as u8, mss as u8];
        }
        _ => {}
    }
    let mut items: Vec<Vec<u8>> = Vec::new();
    if rng.chance(85) {
        let mss = match rng.below(4) {
            0 => rng.below(65536) as u16,
            1 => [536, 1220, 1300, 1420, 1440, 1460, 8940, 8960][rng.below(8) as usize],
            _ => 1460,
        };
        items.push(vec![2, 4, (mss >> 8) as u8, mss as u8]);
    }
    if rng.chance(75) {
        items.push(vec![4, 2]);
    }
    if rng.chance(75) {
        let (val, ecr) = (rng.next() as u32, if rng.chance(90) { 0 } else { rng.next() as u32 });
        let mut ts = vec![8, 10];
        ts.extend_from_slice(&val.to_be_bytes());
        ts.extend_from_slice(&ecr.to_be_bytes());
        items.push(ts);
    }
    if rng.chance(75) {
        let shift = if rng.chance(90) { rng.below(15) as u8 } else { rng.below(256) as u8 };
        items.push(vec![3, 3, shift]);
    }
    if rng.chance(15) {
        items.push(vec![30, 4, 1, 2]); // an unknown kind (MPTCP's number), skipped
    }
    if rng.chance(5) {
        items.push(vec![5, 10, 0, 0, 0, 1, 0, 0, 0, 2]); // SACK blocks in a SYN, ignored
    }
    if rng.chance(5) {
        items.push(vec![2, 3, 5]); // an MSS of the wrong length: the list ends here
    }
    if rng.chance(3) {
        items.push(vec![0, 2, 4, 0, 0]); // EOL, then what looks like an MSS option but is padding
    }
    // Shuffle, then pad each item with NOPs now and then.
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut out = Vec::new();
    for item in items {
        let nops = if rng.chance(30) { rng.below(3) as usize } else { 0 };
        if out.len() + nops + item.len() > 40 {
            continue;
        }
        out.extend(std::iter::repeat_n(1u8, nops));
        out.extend_from_slice(&item);
    }
    while out.len() % 4 != 0 {
        out.push(if rng.chance(50) { 0 } else { 1 });
    }
    out
}

fn random_address(rng: &mut Rng, v4: bool) -> IpAddr {
    if v4 {
        IpAddr::V4(Ipv4Addr::from_bits(rng.next() as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from_bits(u128::from(rng.next()) << 64 | u128::from(rng.next())))
    }
}

fn syn_frame(client: SocketAddr, server: SocketAddr, isn: u32, flags: u16, options: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    craft::tcp_frame(
        &mut frame,
        Some(&EthernetSpec { src: CLIENT_MAC, dst: SERVER_MAC, vlans: &[] }),
        &IpSpec { src: client.ip(), dst: server.ip(), ttl: 64, id: 7 },
        &TcpSpec {
            src_port: client.port(),
            dst_port: server.port(),
            seq: isn,
            ack: 0,
            flags: TcpFlags(flags),
            window: 64240,
            options,
            payload,
        },
    )
    .unwrap();
    frame
}

/// What the userspace guard answers to `frame` at `now`: the one frame it sends back out of the outside.
fn userspace_answer(guard: &mut Guard, now: Timestamp, frame: &[u8]) -> Option<Vec<u8>> {
    let mut out = Outbox::default();
    let mut frame = frame.to_vec();
    let verdict = guard.handle(now, Interface::Outside, &mut frame, Checksum::Complete, &mut out);
    let sent: Vec<(Interface, Vec<u8>)> = out.frames().map(|(side, f)| (side, f.to_vec())).collect();
    match (verdict, sent.as_slice()) {
        (Verdict::Consumed, [(Interface::Outside, synack)]) => Some(synack.clone()),
        _ => None,
    }
}

#[test]
fn xdp_and_userspace_answer_random_syns_with_the_same_bytes() {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    // One program, reconfigured per case: loading is the slow part.
    let Some(mut fast_path) = fast_path(XdpConfig::default()) else { return };
    let cases = 4000;
    let mut answered = [0usize; 2];
    for case in 0..cases {
        let v4 = rng.chance(60);
        let key: [u8; 32] = std::array::from_fn(|_| rng.next() as u8);
        let server = SocketAddr::new(random_address(&mut rng, v4), 1 + rng.below(65535) as u16);
        let client = SocketAddr::new(random_address(&mut rng, v4), rng.below(65536) as u16);
        let listener = ListenerOptions {
            mss: if rng.chance(70) { 1460 } else { 536 + rng.below(9000) as u16 },
            wscale: if rng.chance(80) { Some(rng.below(15) as u8) } else { None },
            sack_permitted: rng.chance(80),
            timestamps: rng.chance(80),
            window: if rng.chance(70) { 64240 } else { rng.below(65536) as u16 },
        };
        let config = guard_config(server, listener);
        // Packet time anywhere from 2001 to 2100, to the nanosecond: ticks and the TSval clock at any phase.
        let now = Timestamp::from_nanos(978_307_200_000_000_000 + rng.below(3_155_760_000_000_000_000));
        let mut flags = TcpFlags::SYN;
        if rng.chance(10) {
            flags |= TcpFlags::ECE | TcpFlags::CWR;
        } else if rng.chance(5) {
            flags |= TcpFlags::ECE;
        }
        if rng.chance(3) {
            flags |= TcpFlags::FIN; // SYN+FIN is still a SYN to both paths
        }
        let options = random_options(&mut rng);
        let payload: &[u8] = if rng.chance(3) { b"data in a SYN" } else { b"" };
        let mut frame = syn_frame(client, server, rng.next() as u32, flags, &options, payload);
        if rng.chance(10) {
            // Ethernet padding after the IP packet (a short frame brought up to 60 bytes, or a driver's trailer):
            // not part of the segment, for either path.
            frame.extend(std::iter::repeat_n(0xEEu8, 1 + rng.below(20) as usize));
        }

        let mut xdp_config = XdpConfig::for_guard(&config, &key);
        xdp_config.now_override_ns = now.as_nanos();
        fast_path.set_config(xdp_config).unwrap();
        let (action, xdp_frame) = fast_path.run_on(&frame).unwrap();
        let mut guard = Guard::new(config, key);
        let ours = userspace_answer(&mut guard, now, &frame);
        let describe = || format!("case {case}: {client} -> {server}, options {options:?}, flags {flags:#x}");
        assert_eq!(action, XDP_TX, "XDP did not answer: {}", describe());
        let ours = ours.unwrap_or_else(|| panic!("userspace did not answer: {}", describe()));
        assert_eq!(xdp_frame, ours, "the SYN-ACKs differ: {}", describe());
        answered[usize::from(v4)] += 1;
    }
    assert!(answered[0] > cases / 5 && answered[1] > cases / 5, "{answered:?}");
}

#[test]
fn a_cookie_issued_in_xdp_opens_a_connection_in_userspace() {
    let server: SocketAddr = "10.77.0.2:9999".parse().unwrap();
    let client: SocketAddr = "198.18.7.9:40123".parse().unwrap();
    let key = [0x42; 32];
    let config = guard_config(server, ListenerOptions::default());
    let now = Timestamp::from_nanos(1_780_315_200_000_000_000);
    let mut xdp_config = XdpConfig::for_guard(&config, &key);
    xdp_config.now_override_ns = now.as_nanos();
    let Some(fast_path) = fast_path(xdp_config) else { return };
    let linux_options = craft::linux_syn_options(1460, 123_456, 0, 7);
    let syn = syn_frame(client, server, 1_000, TcpFlags::SYN, &linux_options, b"");
    let (action, synack) = fast_path.run_on(&syn).unwrap();
    assert_eq!(action, XDP_TX);
    let isn = u32::from_be_bytes(synack[38..42].try_into().unwrap());
    let tsval = u32::from_be_bytes(synack[54 + 8..54 + 12].try_into().unwrap());
    // The client's ACK, 20 ms later, echoing our TSval: the userspace guard must accept it and send the listener
    // the client's SYN.
    let mut ts = vec![1, 1, 8, 10];
    ts.extend_from_slice(&123_470u32.to_be_bytes());
    ts.extend_from_slice(&tsval.to_be_bytes());
    let mut ack = Vec::new();
    craft::tcp_frame(
        &mut ack,
        Some(&EthernetSpec { src: CLIENT_MAC, dst: SERVER_MAC, vlans: &[] }),
        &IpSpec { src: client.ip(), dst: server.ip(), ttl: 64, id: 8 },
        &TcpSpec {
            src_port: client.port(),
            dst_port: server.port(),
            seq: 1_001,
            ack: isn.wrapping_add(1),
            flags: TcpFlags(TcpFlags::ACK),
            window: 502,
            options: &ts,
            payload: b"",
        },
    )
    .unwrap();
    let mut guard = Guard::new(config, key);
    let mut out = Outbox::default();
    let later = now.saturating_add(Duration::from_millis(20));
    let verdict = guard.handle(later, Interface::Outside, &mut ack, Checksum::Complete, &mut out);
    assert_eq!(verdict, Verdict::Consumed);
    assert_eq!(guard.stats().counters.cookies_validated, 1);
    let sent: Vec<Interface> = out.frames().map(|(side, _)| side).collect();
    assert_eq!(sent, [Interface::Inside], "the listener gets the client's SYN");
}

#[test]
fn what_xdp_leaves_to_userspace_passes_unchanged() {
    let server: SocketAddr = "10.77.0.2:9999".parse().unwrap();
    let client: SocketAddr = "198.18.7.9:40123".parse().unwrap();
    let config = guard_config(server, ListenerOptions::default());
    let mut xdp_config = XdpConfig::for_guard(&config, &[1; 32]);
    xdp_config.now_override_ns = 1_780_315_200_000_000_000;
    let Some(mut fast_path) = fast_path(xdp_config) else { return };
    let options = craft::linux_syn_options(1460, 1, 0, 7);
    let other_port = SocketAddr::new(server.ip(), 80);
    let other_host: SocketAddr = "10.77.0.3:9999".parse().unwrap();
    let mut tagged = Vec::new();
    craft::tcp_frame(
        &mut tagged,
        Some(&EthernetSpec { src: CLIENT_MAC, dst: SERVER_MAC, vlans: &[100] }),
        &IpSpec { src: client.ip(), dst: server.ip(), ttl: 64, id: 1 },
        &TcpSpec {
            src_port: client.port(),
            dst_port: server.port(),
            seq: 1,
            ack: 0,
            flags: TcpFlags(TcpFlags::SYN),
            window: 64240,
            options: &options,
            payload: b"",
        },
    )
    .unwrap();
    let mut truncated = syn_frame(client, server, 1, TcpFlags::SYN, &options, b"");
    truncated.truncate(truncated.len() - 4); // the IP length now runs past the frame
    // IPv4 with a 4-byte option (IHL 6): a NOP NOP NOP EOL list inserted after the fixed header, lengths fixed up.
    let mut ip_options = syn_frame(client, server, 1, TcpFlags::SYN, &options, b"");
    ip_options.splice(34..34, [1u8, 1, 1, 0]);
    ip_options[14] = 0x46;
    let total = u16::from_be_bytes([ip_options[16], ip_options[17]]) + 4;
    ip_options[16..18].copy_from_slice(&total.to_be_bytes());
    ip_options[24..26].copy_from_slice(&[0, 0]);
    let header_sum = synscope::wire::checksum::checksum(0, &ip_options[14..38]);
    ip_options[24..26].copy_from_slice(&header_sum.to_be_bytes());
    let cases: [(&str, Vec<u8>); 9] = [
        ("IPv4 with options", ip_options),
        ("SYN-ACK", syn_frame(client, server, 1, TcpFlags::SYN | TcpFlags::ACK, &options, b"")),
        ("SYN+RST", syn_frame(client, server, 1, TcpFlags::SYN | TcpFlags::RST, &options, b"")),
        ("RST+ACK", syn_frame(client, server, 1, TcpFlags::RST | TcpFlags::ACK, &[], b"")),
        ("ACK to another port", syn_frame(client, other_port, 1, TcpFlags::ACK, &[], b"")),
        ("another port", syn_frame(client, other_port, 1, TcpFlags::SYN, &options, b"")),
        ("another host", syn_frame(client, other_host, 1, TcpFlags::SYN, &options, b"")),
        ("VLAN-tagged", tagged),
        ("truncated", truncated),
    ];
    for (what, frame) in &cases {
        let (action, out) = fast_path.run_on(frame).unwrap();
        assert_eq!(action, XDP_PASS, "{what}");
        assert_eq!(&out, frame, "{what} left changed");
    }
    // A client the proxy holds a connection for: its SYN is the guard's to answer, after it forgets the old one.
    let held = fast_path.take_held().unwrap();
    let tuple = Tuple { client, server };
    let syn = syn_frame(client, server, 1, TcpFlags::SYN, &options, b"");
    held.apply(ProxyChange::Held(tuple));
    assert_eq!(fast_path.run_on(&syn).unwrap(), (XDP_PASS, syn.clone()), "a held client's SYN");
    held.apply(ProxyChange::Released(tuple));
    assert_eq!(fast_path.run_on(&syn).unwrap().0, XDP_TX, "the same SYN once the proxy let the client go");

    // With the fast path disabled, even a plain SYN passes.
    let mut disabled = fast_path.config();
    disabled.enabled = 0;
    fast_path.set_config(disabled).unwrap();
    let syn = syn_frame(client, server, 1, TcpFlags::SYN, &options, b"");
    assert_eq!(fast_path.run_on(&syn).unwrap(), (XDP_PASS, syn.clone()));
    let counters = fast_path.counters().unwrap();
    assert_eq!(counters.synacks_sent, 1, "{counters:?}");
    assert_eq!(counters.syns_passed, 2, "the truncated SYN and the held client's: {counters:?}");

    // Stopped for good (a guard thread saw a VLAN tag the driver took out): a later write from a copy that still
    // says `enabled` cannot turn answering back on, and the reason is handed over once.
    let mut enabled = fast_path.config();
    enabled.enabled = 1;
    fast_path.set_config(enabled).unwrap();
    assert_eq!(fast_path.run_on(&syn).unwrap().0, XDP_TX, "answering again before the stop");
    let settings = fast_path.settings();
    settings.stop_answering(|| "tags".into()).unwrap();
    settings.stop_answering(|| "a second reason".into()).unwrap();
    fast_path.set_config(enabled).unwrap();
    fast_path.sync_clock().unwrap();
    assert_eq!(fast_path.config().enabled, 0);
    assert_eq!(fast_path.run_on(&syn).unwrap(), (XDP_PASS, syn.clone()), "a SYN after the stop");
    assert_eq!(settings.take_stop_reason().as_deref(), Some("tags"));
    assert_eq!(settings.take_stop_reason(), None);
}

#[test]
fn xdp_drops_exactly_the_acks_userspace_would_refuse() {
    let mut rng = Rng(0xacc0_57ed_0000_0001);
    let Some(mut fast_path) = fast_path(XdpConfig::default()) else { return };
    let tick = Duration::from_secs(64);
    let (mut passed, mut dropped) = (0, 0);
    for case in 0..4000 {
        let v4 = rng.chance(60);
        let key: [u8; 32] = std::array::from_fn(|_| rng.next() as u8);
        let server = SocketAddr::new(random_address(&mut rng, v4), 1 + rng.below(65535) as u16);
        let client = SocketAddr::new(random_address(&mut rng, v4), rng.below(65536) as u16);
        let config = guard_config(server, ListenerOptions::default());
        let codec = CookieCodec::new(key, CookieConfig { tick, ..CookieConfig::default() });
        let issued_at = Timestamp::from_nanos(978_307_200_000_000_000 + rng.below(3_155_760_000_000_000_000));
        let client_isn = rng.next() as u32;
        let syn = SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, tsval: None, ecn: false };
        let issued = codec.issue(issued_at, &Tuple { client, server }, client_isn, &syn);
        // The ACK: a good one, or one off in its ack or seq, or random, seen up to 5 ticks later.
        let (mut seq, mut ack) = (client_isn.wrapping_add(1), issued.isn.wrapping_add(1));
        match rng.below(6) {
            0 => ack = ack.wrapping_add(1 + rng.below(1 << 20) as u32),
            1 => seq = seq.wrapping_add(1 + rng.below(8) as u32),
            2 => (seq, ack) = (rng.next() as u32, rng.next() as u32),
            _ => {}
        }
        let now = issued_at.saturating_add(Duration::from_nanos(rng.below(5 * tick.as_nanos())));
        // Most ACKs are bare; some carry the first data, a FIN, or the timestamps option (whose TSecr the program
        // leaves to userspace).
        let (flags, payload): (u16, &[u8]) = match rng.below(10) {
            0 => (TcpFlags::ACK | TcpFlags::PSH, b"GET / HTTP/1.1\r\n\r\n"),
            1 => (TcpFlags::ACK | TcpFlags::FIN, b""),
            _ => (TcpFlags::ACK, b""),
        };
        let mut ts_option = vec![1, 1, 8, 10];
        ts_option.extend_from_slice(&(rng.next() as u32).to_be_bytes());
        ts_option.extend_from_slice(&(rng.next() as u32).to_be_bytes());
        let options: &[u8] = if rng.chance(50) { &ts_option } else { &[] };
        let mut frame = Vec::new();
        craft::tcp_frame(
            &mut frame,
            Some(&EthernetSpec { src: CLIENT_MAC, dst: SERVER_MAC, vlans: &[] }),
            &IpSpec { src: client.ip(), dst: server.ip(), ttl: 64, id: 9 },
            &TcpSpec {
                src_port: client.port(),
                dst_port: server.port(),
                seq,
                ack,
                flags: TcpFlags(flags),
                window: 502,
                options,
                payload,
            },
        )
        .unwrap();
        let mut xdp_config = XdpConfig::for_guard(&config, &key);
        xdp_config.now_override_ns = now.as_nanos();
        fast_path.set_config(xdp_config).unwrap();
        let (action, out) = fast_path.run_on(&frame).unwrap();
        let userspace = codec.check(now, &Tuple { client, server }, seq, ack, None);
        let expected = if userspace.is_ok() { XDP_PASS } else { XDP_DROP };
        assert_eq!(action, expected, "case {case}: {client} -> {server}, seq {seq} ack {ack}: userspace {userspace:?}");
        if action == XDP_PASS {
            assert_eq!(out, frame, "a passed ACK is left as it was");
            passed += 1;
        } else {
            dropped += 1;
        }
    }
    assert!(passed > 400 && dropped > 1000, "both verdicts exercised: {passed} passed, {dropped} dropped");
    let counters = fast_path.counters().unwrap();
    assert_eq!((counters.acks_passed, counters.acks_dropped), (passed as u64, dropped as u64), "{counters:?}");
}

#[test]
fn every_held_client_is_left_to_userspace_and_no_other() {
    let server: SocketAddr = "10.77.0.2:9999".parse().unwrap();
    let server_v6: SocketAddr = "[2001:db8::2]:9999".parse().unwrap();
    let mut rng = Rng(0x401d_0000_5eed_0001);
    for server in [server, server_v6] {
        let config = guard_config(server, ListenerOptions::default());
        let mut xdp_config = XdpConfig::for_guard(&config, &[3; 32]);
        xdp_config.now_override_ns = 1_780_315_200_000_000_000;
        let Some(mut fast_path) = fast_path(xdp_config) else { return };
        let held = fast_path.take_held().unwrap();
        let clients: Vec<SocketAddr> = (0..400)
            .map(|_| SocketAddr::new(random_address(&mut rng, server.is_ipv4()), rng.below(65536) as u16))
            .collect();
        let (kept, others) = clients.split_at(200);
        for &client in kept {
            held.apply(ProxyChange::Held(Tuple { client, server }));
        }
        let options = craft::linux_syn_options(1460, 1, 0, 7);
        // The program finds each held client through its hint bit (the slot hash is computed on both sides) and
        // then the exact map; every other client's SYN is answered.
        for &client in kept {
            let syn = syn_frame(client, server, 1, TcpFlags::SYN, &options, b"");
            assert_eq!(fast_path.run_on(&syn).unwrap().0, XDP_PASS, "held {client}");
        }
        for &client in others {
            let syn = syn_frame(client, server, 1, TcpFlags::SYN, &options, b"");
            assert_eq!(fast_path.run_on(&syn).unwrap().0, XDP_TX, "not held {client}");
        }
        // Let half go: those are answered again, the rest still left alone, whichever slots they share.
        for &client in &kept[..100] {
            held.apply(ProxyChange::Released(Tuple { client, server }));
        }
        for (i, &client) in kept.iter().enumerate() {
            let syn = syn_frame(client, server, 1, TcpFlags::SYN, &options, b"");
            let want = if i < 100 { XDP_TX } else { XDP_PASS };
            assert_eq!(fast_path.run_on(&syn).unwrap().0, want, "{client}, released: {}", i < 100);
        }
    }
}
