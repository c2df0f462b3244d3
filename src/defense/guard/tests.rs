//! Scripted tests of the pure guard: crafted frames in, verdicts and crafted frames out, on a clock the test moves.
//! Each test plays both the client and the listener, so a listener can answer what no real Linux stack would.

use std::net::SocketAddr;

use super::*;
use crate::defense::half_open::HalfOpenConfig;
use crate::wire::checksum::{checksum, pseudo_header_sum};
use crate::wire::craft::{self, EthernetSpec, TcpSpec};
use crate::wire::tcp_options::TcpOption;

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0c];
const LISTENER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x05];
const START: Timestamp = Timestamp::from_nanos(1_780_315_200_000_000_000);

fn client() -> SocketAddr {
    "192.0.2.10:40000".parse().unwrap()
}

fn listener() -> SocketAddr {
    "192.0.2.20:9999".parse().unwrap()
}

fn config(mode: Mode) -> GuardConfig {
    GuardConfig {
        protect: listener(),
        mode,
        half_open: HalfOpenConfig::default(),
        watermarks: (768, 384),
        syn_rate_per_source: None,
        listener: ListenerOptions::default(),
        max_proxied: 1024,
        proxy_idle_timeout: Duration::from_secs(300),
        cookie_tick: Duration::from_secs(64),
    }
}

/// One TCP segment as either end would send it.
struct Seg<'a> {
    from: SocketAddr,
    to: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u16,
    window: u16,
    options: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Seg<'a> {
    /// A client's SYN to the listener, Linux's window.
    fn syn(from: SocketAddr, seq: u32, options: &'a [u8]) -> Seg<'a> {
        Seg { from, to: listener(), seq, ack: 0, flags: TcpFlags::SYN, window: 64240, options, payload: b"" }
    }

    fn frame(&self) -> Vec<u8> {
        let from_client = self.from == client();
        let (src, dst) = if from_client { (CLIENT_MAC, LISTENER_MAC) } else { (LISTENER_MAC, CLIENT_MAC) };
        let mut out = Vec::new();
        craft::tcp_frame(
            &mut out,
            Some(&EthernetSpec { src, dst, vlans: &[] }),
            &craft::ip_between(self.from, self.to, 64, 1),
            &TcpSpec {
                src_port: self.from.port(),
                dst_port: self.to.port(),
                seq: self.seq,
                ack: self.ack,
                flags: TcpFlags(self.flags),
                window: self.window,
                options: self.options,
                payload: self.payload,
            },
        )
        .unwrap();
        out
    }
}

/// The guard, its outbox and a clock.
struct Script {
    guard: Guard,
    out: Outbox,
    now: Timestamp,
}

/// What one frame did: the verdict, the frame as the guard left it, and what the guard sent.
struct Step {
    verdict: Verdict,
    frame: Vec<u8>,
    sent: Vec<(Side, Vec<u8>)>,
}

impl Script {
    fn new(mode: Mode) -> Script {
        Script { guard: Guard::new(config(mode), [7; 32]), out: Outbox::default(), now: START }
    }

    fn handle(&mut self, side: Side, mut frame: Vec<u8>) -> Step {
        self.out.clear();
        let verdict = self.guard.handle(self.now, side, &mut frame, Checksum::Complete, &mut self.out);
        let sent = self.out.frames().map(|(side, f)| (side, f.to_vec())).collect();
        Step { verdict, frame, sent }
    }

    fn advance(&mut self, by: Duration) {
        self.now = self.now.saturating_add(by);
    }
}

/// The TCP checksum of a frame checks out (the guard rewrites fields and adjusts it incrementally).
fn assert_checksum_valid(frame: &[u8]) {
    let layout = TcpLayout::of(frame).expect("a TCP frame");
    let (src, dst) = if layout.ipv6 {
        (&frame[layout.ip + 8..layout.ip + 24], &frame[layout.ip + 24..layout.ip + 40])
    } else {
        (&frame[layout.ip + 12..layout.ip + 16], &frame[layout.ip + 16..layout.ip + 20])
    };
    let segment = &frame[layout.tcp..layout.end];
    let pseudo = pseudo_header_sum(src, dst, 6, segment.len() as u32);
    assert_eq!(checksum(pseudo, segment), 0, "bad TCP checksum");
}

fn options_of(frame: &[u8]) -> Vec<TcpOption<'_>> {
    let layout = TcpLayout::of(frame).unwrap();
    TcpOptions::new(layout.options(frame)).collect()
}

fn wscale_of(frame: &[u8]) -> Option<u8> {
    options_of(frame).into_iter().find_map(|o| match o {
        TcpOption::WindowScale(shift) => Some(shift),
        _ => None,
    })
}

fn tsval_of(frame: &[u8]) -> Option<u32> {
    options_of(frame).into_iter().find_map(|o| match o {
        TcpOption::Timestamp { val, .. } => Some(val),
        _ => None,
    })
}

fn payload_of(frame: &[u8]) -> &[u8] {
    let layout = TcpLayout::of(frame).unwrap();
    &frame[layout.tcp + layout.tcp_header_len..layout.end]
}

/// A proxied connection, set up through a cookie: what each end chose.
struct Proxied {
    client_isn: u32,
    proxy_isn: u32,
    listener_isn: u32,
    client_tsval: u32,
    proxy_tsval: u32,
}

/// Runs the cookie handshake with a client that asks for window scale 7, then the listener's handshake, in which
/// the listener answers with `listener_options`.
fn proxied_connection(script: &mut Script, listener_options: &[u8]) -> Proxied {
    let client_isn = 0x1000_0000;
    let client_tsval = 5000;
    let syn_options = craft::linux_syn_options(1460, client_tsval, 0, 7);
    let syn = Seg::syn(client(), client_isn, &syn_options);
    let step = script.handle(Side::Outside, syn.frame());
    assert_eq!(step.verdict, Verdict::Consumed);
    assert_eq!(step.sent.len(), 1);
    let (side, synack) = &step.sent[0];
    assert_eq!(*side, Side::Outside);
    assert_checksum_valid(synack);
    let synack_layout = TcpLayout::of(synack).unwrap();
    let proxy_isn = synack_layout.seq(synack);
    let proxy_tsval = tsval_of(synack).expect("the SYN-ACK carries timestamps");
    assert_eq!(wscale_of(synack), Some(7), "the proxy promises the configured listener's window scale");

    script.advance(Duration::from_millis(1));
    let ts = craft::timestamp_option(client_tsval + 1, proxy_tsval);
    let ack = Seg {
        from: client(),
        to: listener(),
        seq: client_isn + 1,
        ack: proxy_isn.wrapping_add(1),
        flags: TcpFlags::ACK,
        window: 502,
        options: &ts,
        payload: b"",
    };
    let step = script.handle(Side::Outside, ack.frame());
    assert_eq!(step.verdict, Verdict::Consumed, "a valid cookie ACK opens the listener's side");
    let (side, syn_to_listener) = &step.sent[0];
    assert_eq!(*side, Side::Inside);
    assert_checksum_valid(syn_to_listener);
    assert_eq!(TcpLayout::of(syn_to_listener).unwrap().seq(syn_to_listener), client_isn);

    let listener_isn = 0x7000_0000;
    let synack = Seg {
        from: listener(),
        to: client(),
        seq: listener_isn,
        ack: client_isn + 1,
        flags: TcpFlags::SYN | TcpFlags::ACK,
        window: 65160,
        options: listener_options,
        payload: b"",
    };
    let step = script.handle(Side::Inside, synack.frame());
    assert_eq!(step.verdict, Verdict::Consumed, "the listener's SYN-ACK never reaches the client");
    let (side, ack_to_listener) = &step.sent[0];
    assert_eq!(*side, Side::Inside);
    assert_checksum_valid(ack_to_listener);
    Proxied { client_isn, proxy_isn, listener_isn, client_tsval, proxy_tsval }
}

/// The listener's SYN-ACK options, Linux's layout, with a window scale of `shift`.
fn listener_synack_options(shift: u8, tsval: u32, tsecr: u32) -> [u8; 20] {
    craft::linux_syn_options(1460, tsval, tsecr, shift)
}

#[test]
fn a_listener_window_scale_beyond_14_is_used_as_14_both_ways() {
    // RFC 7323 §2.3: a shift above 14 is used as 14. A listener sending 15, 40 or 255 used to overflow the
    // rescaling shift (a panic with overflow checks, a wrong window in release).
    for shift in [15u8, 40, 255] {
        let mut script = Script::new(Mode::Cookies);
        let listener_tsval = 900_000;
        let options = listener_synack_options(shift, listener_tsval, 5000);
        let c = proxied_connection(&mut script, &options);
        assert_eq!(script.guard.stats().counters.wscale_mismatches, 1, "shift {shift}: 14 is not the promised 7");

        // Listener → client: 300 bytes, window 100 in units of 2^14, which the client reads in units of 2^7.
        script.advance(Duration::from_millis(1));
        let ts = craft::timestamp_option(listener_tsval + 5, c.client_tsval + 1);
        let welcome = vec![b'w'; 300];
        let data = Seg {
            from: listener(),
            to: client(),
            seq: c.listener_isn + 1,
            ack: c.client_isn + 1,
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 100,
            options: &ts,
            payload: &welcome,
        };
        let step = script.handle(Side::Inside, data.frame());
        assert_eq!(step.verdict, Verdict::Forward, "shift {shift}");
        let layout = TcpLayout::of(&step.frame).unwrap();
        assert_eq!(layout.window(&step.frame), 100 << (14 - 7), "shift {shift}: the window the client must see");
        assert_eq!(layout.seq(&step.frame), c.proxy_isn.wrapping_add(1), "shift {shift}: in the proxy's space");
        assert_eq!(tsval_of(&step.frame), Some(c.proxy_tsval.wrapping_add(5)), "shift {shift}");
        assert_eq!(payload_of(&step.frame), &welcome[..]);
        assert_checksum_valid(&step.frame);

        // A window too large for 16 bits once rescaled saturates rather than wrapping.
        let big = Seg { window: 0xFFFF, ..data };
        let step = script.handle(Side::Inside, big.frame());
        let layout = TcpLayout::of(&step.frame).unwrap();
        assert_eq!(layout.window(&step.frame), 0xFFFF, "shift {shift}");
        assert_checksum_valid(&step.frame);

        // Client → listener: the client's data goes through with its ACK moved into the listener's space.
        let ts = craft::timestamp_option(c.client_tsval + 2, c.proxy_tsval.wrapping_add(5));
        let hello = b"Lambda";
        let reply = Seg {
            from: client(),
            to: listener(),
            seq: c.client_isn + 1,
            ack: c.proxy_isn.wrapping_add(301),
            flags: TcpFlags::ACK | TcpFlags::PSH,
            window: 501,
            options: &ts,
            payload: hello,
        };
        let step = script.handle(Side::Outside, reply.frame());
        assert_eq!(step.verdict, Verdict::Forward, "shift {shift}");
        let layout = TcpLayout::of(&step.frame).unwrap();
        assert_eq!(layout.ack(&step.frame), c.listener_isn + 301, "shift {shift}");
        assert_eq!(layout.window(&step.frame), 501, "client windows pass unchanged");
        assert_eq!(payload_of(&step.frame), hello);
        assert_checksum_valid(&step.frame);

        // The guard learnt the listener's options, clamped: the next client is promised 14, not the raw value.
        let syn_options = craft::linux_syn_options(1460, 1, 0, 7);
        let other: SocketAddr = "192.0.2.11:40001".parse().unwrap();
        let syn = Seg::syn(other, 1, &syn_options);
        let step = script.handle(Side::Outside, syn.frame());
        assert_eq!(wscale_of(&step.sent[0].1), Some(14), "shift {shift}");
    }
}

#[test]
fn a_client_window_scale_beyond_14_reaches_the_listener_as_14() {
    let mut script = Script::new(Mode::Cookies);
    let syn_options = craft::linux_syn_options(1460, 1, 0, 200);
    let syn = Seg::syn(client(), 1, &syn_options);
    let step = script.handle(Side::Outside, syn.frame());
    assert_eq!(step.verdict, Verdict::Consumed);
    let synack = &step.sent[0].1;
    assert_eq!(wscale_of(synack), Some(7), "the client gets the listener's shift");
    let (proxy_isn, proxy_tsval) = (TcpLayout::of(synack).unwrap().seq(synack), tsval_of(synack).unwrap());
    let ts = craft::timestamp_option(2, proxy_tsval);
    let ack = Seg {
        from: client(),
        to: listener(),
        seq: 2,
        ack: proxy_isn.wrapping_add(1),
        flags: TcpFlags::ACK,
        window: 3,
        options: &ts,
        payload: b"",
    };
    let step = script.handle(Side::Outside, ack.frame());
    assert_eq!(step.verdict, Verdict::Consumed);
    let syn_to_listener = &step.sent[0].1;
    // The cookie carried the client's 200 as 14; the listener's SYN says 14, and its unscaled window is 3 << 14.
    assert_eq!(wscale_of(syn_to_listener), Some(14));
    assert_eq!(TcpLayout::of(syn_to_listener).unwrap().window(syn_to_listener), 3 << 14);
    assert_checksum_valid(syn_to_listener);
}

#[test]
fn a_client_without_timestamps_is_offered_no_window_scale_or_sack_by_a_cookie() {
    let mut script = Script::new(Mode::Cookies);
    // MSS, SACK-permitted and window scale 7, no timestamps (Windows' default).
    let options = [2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2];
    let syn = Seg::syn(client(), 100, &options);
    let step = script.handle(Side::Outside, syn.frame());
    let synack = &step.sent[0].1;
    assert_eq!(wscale_of(synack), None, "the cookie could not keep it");
    assert!(!options_of(synack).contains(&TcpOption::SackPermitted));
    let proxy_isn = TcpLayout::of(synack).unwrap().seq(synack);
    let ack = Seg {
        from: client(),
        to: listener(),
        seq: 101,
        ack: proxy_isn.wrapping_add(1),
        flags: TcpFlags::ACK,
        window: 64240,
        options: &[],
        payload: b"",
    };
    let step = script.handle(Side::Outside, ack.frame());
    assert_eq!(step.verdict, Verdict::Consumed);
    let syn_to_listener = &step.sent[0].1;
    // Both ends agree: no scaling, no SACK; the client's unscaled window goes to the listener as it is.
    assert_eq!(wscale_of(syn_to_listener), None);
    assert!(!options_of(syn_to_listener).contains(&TcpOption::SackPermitted));
    assert_eq!(TcpLayout::of(syn_to_listener).unwrap().window(syn_to_listener), 64240);
}
