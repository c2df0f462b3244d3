//! Scripted tests of the pure guard, smoltcp style: crafted frames in, verdicts and crafted frames out, on a clock the
//! test moves. Each test plays both the client and the listener, so a listener can answer what no real Linux stack
//! would. Nothing sleeps: time moves only through [`Script::advance`] and the timers are polled where
//! [`Guard::poll_timeout`] says.
//!
//! ```text
//! let mut s = Script::new(Mode::Cookies);
//! let step = s.client(&Seg::syn(client(), 1000, &options));           // the client's SYN, from the outside
//! assert_eq!(step.verdict, Verdict::Consumed);
//! let synack = step.only(Interface::Outside);                               // the one frame the guard sent
//! assert_segment(synack, L2C, "S.", cookie, 1001);                     // flags as tcpdump prints them
//! s.advance(Duration::from_millis(1));
//! let step = s.listener(&Seg::from_listener(ACK, 5001, 1001));         // a segment from the inside
//! ```
//!
//! The fixed endpoints are a client at 192.0.2.10:40000 (other clients change the port) and the protected listener
//! at 192.0.2.20:9999; the clock starts at [`START`], on a boundary of the cookies' 64 s tick.
//!
//! Grouped by topic: `modes` (off, limit, cookies, auto), `cookies` (valid, bad, expired cookies; duplicate and
//! retransmitted SYNs), `teardown` (RST and FIN in every state), `framing` (malformed and VLAN-tagged frames),
//! `proxy` (the listener's retransmissions, idle expiry, deadlines) and `window_scale`.

mod cookies;
mod framing;
mod modes;
mod proxy;
mod teardown;
mod window_scale;

use std::net::SocketAddr;

use super::*;
use crate::defense::half_open::HalfOpenConfig;
use crate::wire::checksum::checksum;
use crate::wire::craft::{self, EthernetSpec, TcpSpec};
use crate::wire::tcp_options::TcpOption;

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0c];
const LISTENER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x05];
const START: Timestamp = Timestamp::from_nanos(1_780_315_200_000_000_000);

const SYN: u16 = TcpFlags::SYN;
const ACK: u16 = TcpFlags::ACK;
const FIN: u16 = TcpFlags::FIN;
const RST: u16 = TcpFlags::RST;
const PSH: u16 = TcpFlags::PSH;

fn client() -> SocketAddr {
    "192.0.2.10:40000".parse().unwrap()
}

/// Another client on the same host: the same source address, another port.
fn client_on(port: u16) -> SocketAddr {
    SocketAddr::new(client().ip(), port)
}

fn listener() -> SocketAddr {
    "192.0.2.20:9999".parse().unwrap()
}

/// Directions for [`assert_segment`]: client to listener, listener to client.
const C2L: bool = true;
const L2C: bool = false;

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
#[derive(Clone, Copy)]
struct Seg<'a> {
    from: SocketAddr,
    to: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u16,
    window: u16,
    options: &'a [u8],
    payload: &'a [u8],
    /// 802.1Q tags, outer first.
    vlans: &'a [u16],
}

impl<'a> Seg<'a> {
    /// A client's SYN to the listener, Linux's window.
    fn syn(from: SocketAddr, seq: u32, options: &'a [u8]) -> Seg<'a> {
        Seg { from, to: listener(), seq, ack: 0, flags: SYN, window: 64240, options, payload: b"", vlans: &[] }
    }

    /// A segment from the client to the listener, window 502, no options.
    fn from_client(flags: u16, seq: u32, ack: u32) -> Seg<'static> {
        Seg { from: client(), to: listener(), seq, ack, flags, window: 502, options: &[], payload: b"", vlans: &[] }
    }

    /// A segment from the listener to the client, window 509, no options.
    fn from_listener(flags: u16, seq: u32, ack: u32) -> Seg<'static> {
        Seg { from: listener(), to: client(), seq, ack, flags, window: 509, options: &[], payload: b"", vlans: &[] }
    }

    fn frame(&self) -> Vec<u8> {
        let from_listener = self.from == listener();
        let (src, dst) = if from_listener { (LISTENER_MAC, CLIENT_MAC) } else { (CLIENT_MAC, LISTENER_MAC) };
        let mut out = Vec::new();
        craft::tcp_frame(
            &mut out,
            Some(&EthernetSpec { src, dst, vlans: self.vlans }),
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
    sent: Vec<(Interface, Vec<u8>)>,
}

impl Step {
    /// The one frame the guard sent, which must have gone out of `side`.
    #[track_caller]
    fn only(&self, side: Interface) -> &[u8] {
        assert_eq!(self.sent.len(), 1, "expected exactly one frame out, got {:?}", summaries(&self.sent));
        assert_eq!(self.sent[0].0, side, "sent out of the wrong side");
        &self.sent[0].1
    }
}

impl Script {
    fn new(mode: Mode) -> Script {
        Script::with(config(mode))
    }

    fn with(config: GuardConfig) -> Script {
        Script { guard: Guard::new(config, [7; 32]), out: Outbox::default(), now: START }
    }

    fn handle(&mut self, side: Interface, mut frame: Vec<u8>) -> Step {
        self.out.clear();
        let verdict = self.guard.handle(self.now, side, &mut frame, Checksum::Complete, &mut self.out);
        let sent = self.out.frames().map(|(side, f)| (side, f.to_vec())).collect();
        Step { verdict, frame, sent }
    }

    /// A segment arriving on the outside (from a client).
    fn client(&mut self, seg: &Seg) -> Step {
        self.handle(Interface::Outside, seg.frame())
    }

    /// A segment arriving on the inside (from the listener).
    fn listener(&mut self, seg: &Seg) -> Step {
        self.handle(Interface::Inside, seg.frame())
    }

    fn advance(&mut self, by: Duration) {
        self.now = self.now.saturating_add(by);
    }

    fn advance_to(&mut self, at: Timestamp) {
        assert!(at >= self.now, "the script's clock only moves forward");
        self.now = at;
    }

    /// The guard's timers at the current time, and what they sent.
    fn poll(&mut self) -> Vec<(Interface, Vec<u8>)> {
        self.out.clear();
        self.guard.handle_timeout(self.now, &mut self.out);
        self.out.frames().map(|(side, f)| (side, f.to_vec())).collect()
    }

    /// Moves the clock to each deadline the guard asks for, up to `until`, and polls: what was sent, and when.
    fn run_timers_until(&mut self, until: Timestamp) -> Vec<(Timestamp, Interface, Vec<u8>)> {
        let mut sent = Vec::new();
        while let Some(at) = self.guard.poll_timeout().filter(|&at| at <= until) {
            self.advance_to(at.max(self.now));
            sent.extend(self.poll().into_iter().map(|(side, frame)| (self.now, side, frame)));
        }
        self.advance_to(until.max(self.now));
        sent
    }

    fn stats(&self) -> GuardStats {
        self.guard.stats()
    }
}

/// Seconds (and milliseconds) after [`START`].
fn at(secs: u64, millis: u64) -> Timestamp {
    START.saturating_add(Duration::from_millis(secs * 1000 + millis))
}

/// The TCP checksum of a frame checks out (the guard rewrites fields and adjusts it incrementally).
#[track_caller]
fn assert_checksum_valid(frame: &[u8]) {
    let segment = TcpFrame::new_checked(frame).expect("a TCP frame");
    assert_eq!(checksum(segment.pseudo_header_sum(), segment.tcp_segment()), 0, "bad TCP checksum");
}

/// A frame's TCP segment in one line, tcpdump's way: `192.0.2.10:40000 > 192.0.2.20:9999 [S.] seq 1 ack 2 win 3`.
fn summary(frame: &[u8]) -> String {
    let Ok(segment) = TcpFrame::new_checked(frame) else { return format!("{} bytes, not TCP", frame.len()) };
    format!(
        "{} > {} [{}] seq {} ack {} win {} len {}",
        segment.src(),
        segment.dst(),
        segment.flags().tcpdump_letters().as_str(),
        segment.seq(),
        segment.ack(),
        segment.window(),
        segment.payload_len()
    )
}

fn summaries(sent: &[(Interface, Vec<u8>)]) -> Vec<String> {
    sent.iter().map(|(side, frame)| format!("{side:?}: {}", summary(frame))).collect()
}

/// Asserts a segment's direction (between [`client`] and [`listener`]), its flags as tcpdump prints them, its
/// sequence and acknowledgment numbers, and its checksum.
#[track_caller]
fn assert_segment(frame: &[u8], client_to_listener: bool, flags: &str, seq: u32, ack: u32) {
    assert_segment_between(frame, client(), client_to_listener, flags, seq, ack);
}

/// [`assert_segment`] for another client.
#[track_caller]
fn assert_segment_between(frame: &[u8], peer: SocketAddr, client_to_listener: bool, flags: &str, seq: u32, ack: u32) {
    let segment = TcpFrame::new_checked(frame).unwrap_or_else(|_| panic!("not a TCP frame: {frame:?}"));
    let (from, to) = if client_to_listener { (peer, listener()) } else { (listener(), peer) };
    let got = (segment.src(), segment.dst(), segment.flags().tcpdump_letters().as_str().to_owned());
    assert_eq!(got, (from, to, flags.to_owned()), "{}", summary(frame));
    assert_eq!((segment.seq(), segment.ack()), (seq, ack), "seq, ack of {}", summary(frame));
    assert_checksum_valid(frame);
    // Crafted and forwarded frames alike go from the MAC of the side they leave towards the other.
    let macs = if client_to_listener { (LISTENER_MAC, CLIENT_MAC) } else { (CLIENT_MAC, LISTENER_MAC) };
    assert_eq!((&frame[..6], &frame[6..12]), (&macs.0[..], &macs.1[..]), "MACs of {}", summary(frame));
}

fn window_of(frame: &[u8]) -> u16 {
    TcpFrame::new_checked(frame).unwrap().window()
}

fn seq_of(frame: &[u8]) -> u32 {
    TcpFrame::new_checked(frame).unwrap().seq()
}

fn options_of(frame: &[u8]) -> Vec<TcpOption<'_>> {
    TcpOptions::new(TcpFrame::new_checked(frame).unwrap().into_options()).collect()
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

fn tsecr_of(frame: &[u8]) -> Option<u32> {
    options_of(frame).into_iter().find_map(|o| match o {
        TcpOption::Timestamp { ecr, .. } => Some(ecr),
        _ => None,
    })
}

fn payload_of(frame: &[u8]) -> &[u8] {
    TcpFrame::new_checked(frame).unwrap().into_payload()
}

/// Linux's SYN options for the scripts' clients: MSS 1460, SACK, timestamps, window scale 7.
const CLIENT_TSVAL: u32 = 5000;

fn client_syn_options() -> [u8; 20] {
    craft::linux_syn_options(1460, CLIENT_TSVAL, 0, 7)
}

/// The proxy's answer to a client's SYN: its ISN and TSval.
#[derive(Clone, Copy, Debug)]
struct SynAck {
    isn: u32,
    tsval: Option<u32>,
}

/// A client's SYN with [`client_syn_options`], which the guard must answer itself with one SYN-ACK.
#[track_caller]
fn syn_answered(script: &mut Script, from: SocketAddr, isn: u32) -> SynAck {
    let options = client_syn_options();
    let step = script.client(&Seg::syn(from, isn, &options));
    assert_eq!(step.verdict, Verdict::Consumed, "the guard answers the SYN itself");
    let synack = step.only(Interface::Outside);
    assert_segment_between(synack, from, L2C, "S.", seq_of(synack), isn.wrapping_add(1));
    SynAck { isn: seq_of(synack), tsval: tsval_of(synack) }
}

/// The client's ACK of `synack`, echoing its TSval.
fn ack_of(from: SocketAddr, client_isn: u32, synack: SynAck, ts: &[u8; 12]) -> Seg<'_> {
    Seg {
        from,
        options: if synack.tsval.is_some() { ts } else { &[] },
        ..Seg::from_client(ACK, client_isn.wrapping_add(1), synack.isn.wrapping_add(1))
    }
}

/// A proxied connection, set up through a cookie: what each end chose.
#[derive(Clone, Copy, Debug)]
struct Proxied {
    client_isn: u32,
    proxy_isn: u32,
    listener_isn: u32,
    client_tsval: u32,
    proxy_tsval: u32,
}

/// The cookie handshake with a client that asks for window scale 7, up to the proxy's SYN to the listener
/// ([`ProxyState::SynSent`](crate::defense::proxy::ProxyState)). The listener ISN is not chosen yet.
fn cookie_handshake(script: &mut Script) -> Proxied {
    let client_isn = 0x1000_0000;
    let synack = syn_answered(script, client(), client_isn);
    let proxy_tsval = synack.tsval.expect("the SYN-ACK carries timestamps");

    script.advance(Duration::from_millis(1));
    let ts = craft::timestamp_option(CLIENT_TSVAL + 1, proxy_tsval);
    let step = script.client(&ack_of(client(), client_isn, synack, &ts));
    assert_eq!(step.verdict, Verdict::Consumed, "a valid cookie ACK opens the listener's side");
    let syn_to_listener = step.only(Interface::Inside);
    assert_segment(syn_to_listener, C2L, "S", client_isn, 0);
    Proxied { client_isn, proxy_isn: synack.isn, listener_isn: 0, client_tsval: CLIENT_TSVAL, proxy_tsval }
}

/// The listener's ISN in the scripts.
const LISTENER_ISN: u32 = 0x7000_0000;

/// The listener's SYN-ACK for [`cookie_handshake`], with `listener_options`; the proxy must ACK it.
fn listener_accepts(script: &mut Script, c: Proxied, listener_options: &[u8]) -> Proxied {
    let synack = Seg {
        window: 65160,
        options: listener_options,
        ..Seg::from_listener(SYN | ACK, LISTENER_ISN, c.client_isn + 1)
    };
    let step = script.listener(&synack);
    assert_eq!(step.verdict, Verdict::Consumed, "the listener's SYN-ACK never reaches the client");
    let ack_to_listener = step.only(Interface::Inside);
    assert_segment(ack_to_listener, C2L, ".", c.client_isn + 1, LISTENER_ISN + 1);
    Proxied { listener_isn: LISTENER_ISN, ..c }
}

/// Runs the cookie handshake with a client that asks for window scale 7, then the listener's handshake, in which
/// the listener answers with `listener_options`.
fn proxied_connection(script: &mut Script, listener_options: &[u8]) -> Proxied {
    let c = cookie_handshake(script);
    listener_accepts(script, c, listener_options)
}

/// The listener's SYN-ACK options, Linux's layout, with a window scale of `shift`.
fn listener_synack_options(shift: u8, tsval: u32, tsecr: u32) -> [u8; 20] {
    craft::linux_syn_options(1460, tsval, tsecr, shift)
}

/// The listener's TSval clock in the scripts.
const LISTENER_TSVAL: u32 = 900_000;
