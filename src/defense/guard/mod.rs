//! The guard: a bump in the wire between an outside and an inside interface, in front of one protected
//! `ADDR:PORT`. Pure: frames and clock readings come in, verdicts and crafted frames go out; `cmd/guard.rs` moves
//! them between interfaces. Every frame that is not TCP to or from the protected service is bridged unchanged.
//!
//! The modes (RFC 4987):
//!
//! - `off`: bridge everything (the baseline).
//! - `limit` (transparent, §3.2–3.4): SYNs within the half-open limits reach the listener and the guard tracks the
//!   listener's half-open connections. One that times out or is evicted gets a RST sent to the listener in the
//!   client's name, which frees its SYN-queue slot: the guard shortens the listener's SYN-RECEIVED timeout and
//!   enforces a half-open limit without touching the listener. With `--overflow cookies` a SYN beyond the limit is
//!   answered with a cookie instead (§3.7).
//! - `cookies` (§3.6 + §3.8): the SYN proxy. SYNs are answered with SYN cookies; the guard holds no state until a
//!   valid ACK, then opens the connection to the listener and translates it ([`crate::defense::proxy`]).
//! - `auto`: the SYN proxy with a stateful half-open table while it is below the high watermark, and cookies
//!   once it passes it, until it drains below the low one ([`crate::defense::policy`]).

pub mod reply;
pub mod stats;

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::cookie::{CookieCodec, CookieError};
use super::half_open::{HalfOpen, HalfOpenStats, HalfOpenTable, SynVerdict, TimerEvent};
use super::policy::{Decision, Mode, Policy, PolicyConfig, PolicyStats};
use super::proxy::{ClientHandshake, ProxyState, ProxyStats, ProxyTable};
use super::rate_limit::SourceRateLimiter;
use super::{SynOptions, Tuple};
use crate::time::{Duration, Timestamp};
use crate::wire::segment::TcpFlags;
use crate::wire::tcp_layout::TcpLayout;
use crate::wire::tcp_options::{HandshakeOptions, TcpOptions};
use reply::{Macs, Segment, handshake_options, timestamp_only};
pub use stats::{DropReason, GuardCounters};

/// Which interface a frame came in on (or goes out of).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Towards the clients (and the attackers).
    Outside,
    /// Towards the listener.
    Inside,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Outside => Side::Inside,
            Side::Inside => Side::Outside,
        }
    }
}

/// What to do with the frame just handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it out of the other side (possibly rewritten in place).
    Forward,
    Drop(DropReason),
    /// The guard answered it itself; the answers are in the outbox.
    Consumed,
}

/// What the listener's SYN-ACKs carry, which the proxy's SYN-ACKs must promise in its place (netfilter's SYNPROXY
/// takes the same values as `--mss --wscale --sack-perm --timestamp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerOptions {
    pub mss: u16,
    pub wscale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    /// The window of its SYN-ACK (never scaled, RFC 7323 §2.2).
    pub window: u16,
}

impl Default for ListenerOptions {
    /// A Linux listener on an Ethernet link with default buffers: MSS 1460, window scale 7, SACK, timestamps,
    /// window 64240 (tcp_select_initial_window with a 1460-byte MSS).
    fn default() -> Self {
        ListenerOptions { mss: 1460, wscale: Some(7), sack_permitted: true, timestamps: true, window: 64240 }
    }
}

#[derive(Clone, Debug)]
pub struct GuardConfig {
    pub protect: SocketAddr,
    pub mode: Mode,
    pub half_open: super::half_open::HalfOpenConfig,
    /// Auto mode: switch to cookies above `high`, back below `low` half-open entries.
    pub watermarks: (usize, usize),
    /// SYNs per second per source, when limited (RFC 4987 §3.1 filtering).
    pub syn_rate_per_source: Option<f64>,
    pub listener: ListenerOptions,
    pub max_proxied: usize,
    pub proxy_idle_timeout: Duration,
    pub cookie_tick: Duration,
}

/// Crafted frames waiting to be sent, with their buffers kept for reuse.
#[derive(Default)]
pub struct Outbox {
    frames: Vec<(Side, Vec<u8>)>,
    len: usize,
}

impl Outbox {
    /// A cleared buffer for a frame to send out of `side`.
    fn next(&mut self, side: Side) -> &mut Vec<u8> {
        if self.len == self.frames.len() {
            self.frames.push((side, Vec::with_capacity(128)));
        }
        let slot = &mut self.frames[self.len];
        slot.0 = side;
        slot.1.clear();
        self.len += 1;
        &mut slot.1
    }

    /// Takes back the last frame (its crafting failed).
    fn retract(&mut self) {
        self.len -= 1;
    }

    pub fn frames(&self) -> impl Iterator<Item = (Side, &[u8])> {
        self.frames[..self.len].iter().map(|(side, frame)| (*side, frame.as_slice()))
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// Everything the guard counts, for the per-second line and the JSON at the end.
#[derive(Clone, Debug, Serialize)]
pub struct GuardStats {
    pub mode: &'static str,
    #[serde(flatten)]
    pub counters: GuardCounters,
    pub half_open: HalfOpenStats,
    pub proxy: ProxyStats,
    pub policy: PolicyStats,
    pub rate_limited_sources: u64,
}

pub struct Guard {
    config: GuardConfig,
    cookies: CookieCodec,
    half_open: HalfOpenTable,
    policy: Policy,
    rate_limit: Option<SourceRateLimiter>,
    proxy: ProxyTable,
    macs: Macs,
    counters: GuardCounters,
    /// Scratch space for option bytes of crafted segments.
    options: [u8; 40],
}

impl Guard {
    /// `key` seeds the cookie secret and the tables' hashers; the guard draws it from the OS, tests fix it.
    pub fn new(config: GuardConfig, key: [u8; 32]) -> Guard {
        let seed = u64::from_le_bytes([key[0], key[1], key[2], key[3], key[4], key[5], key[6], key[7]]);
        let cookies = CookieCodec::new(
            key,
            super::cookie::CookieConfig { tick: config.cookie_tick, ..super::cookie::CookieConfig::default() },
        );
        let rate_limit = config.syn_rate_per_source.map(|rate| {
            // A burst of one second's worth, and room for the heavy hitters the filter is meant for.
            SourceRateLimiter::new(rate, rate.ceil().max(1.0) as u32, 65_536, seed ^ 0x5eed)
        });
        Guard {
            cookies,
            half_open: HalfOpenTable::new(config.half_open, seed),
            policy: Policy::new(PolicyConfig {
                mode: config.mode,
                high_watermark: config.watermarks.0,
                low_watermark: config.watermarks.1,
            }),
            rate_limit,
            proxy: ProxyTable::new(config.max_proxied, config.proxy_idle_timeout, Duration::from_secs(5)),
            macs: Macs::default(),
            counters: GuardCounters::default(),
            options: [0; 40],
            config,
        }
    }

    pub fn stats(&self) -> GuardStats {
        GuardStats {
            mode: self.config.mode.as_str(),
            counters: self.counters,
            half_open: *self.half_open.stats(),
            proxy: self.proxy.stats(),
            policy: *self.policy.stats(),
            rate_limited_sources: self.rate_limit.as_ref().map_or(0, |r| r.stats().sources),
        }
    }

    pub fn half_open_now(&self) -> usize {
        self.half_open.len()
    }

    /// One frame in from `side`. It may be rewritten in place; frames the guard crafts go to `out`.
    pub fn handle(&mut self, now: Timestamp, side: Side, frame: &mut [u8], out: &mut Outbox) -> Verdict {
        self.counters.frames_in += 1;
        let verdict = self.classify(now, side, frame, out);
        match verdict {
            Verdict::Forward => self.counters.frames_out += 1,
            Verdict::Drop(reason) => self.counters.drops.count(reason),
            Verdict::Consumed => {}
        }
        self.counters.frames_out += out.len as u64;
        verdict
    }

    fn classify(&mut self, now: Timestamp, side: Side, frame: &mut [u8], out: &mut Outbox) -> Verdict {
        if self.config.mode == Mode::Off {
            self.counters.bridged += 1;
            return Verdict::Forward;
        }
        let Some(layout) = TcpLayout::of(frame) else {
            if claims_tcp_for(frame, self.config.protect.ip()) {
                return Verdict::Drop(DropReason::Malformed);
            }
            self.counters.bridged += 1;
            return Verdict::Forward;
        };
        let ours = match side {
            Side::Outside => layout.dst(frame) == self.config.protect,
            Side::Inside => layout.src(frame) == self.config.protect,
        };
        if !ours {
            self.counters.bridged += 1;
            return Verdict::Forward;
        }
        if layout.ip != 14 {
            // Crafted answers carry no VLAN tags, so tagged links are bridged uninspected.
            self.counters.tagged_bridged += 1;
            return Verdict::Forward;
        }
        match side {
            Side::Outside => {
                self.macs.client_side.copy_from_slice(&frame[6..12]);
                self.macs.server_side.copy_from_slice(&frame[..6]);
                self.client_segment(now, frame, &layout, out)
            }
            Side::Inside => self.listener_segment(now, frame, &layout, out),
        }
    }

    fn client_segment(&mut self, now: Timestamp, frame: &mut [u8], layout: &TcpLayout, out: &mut Outbox) -> Verdict {
        let tuple = Tuple { client: layout.src(frame), server: layout.dst(frame) };
        let flags = layout.flags(frame);
        if flags.syn() && !flags.ack() && !flags.rst() {
            return self.client_syn(now, tuple, frame, layout, out);
        }
        if let Some(entry) = self.proxy.get_mut(&tuple) {
            let state = entry.state;
            return match state {
                ProxyState::SynSent(_) if flags.rst() => {
                    // Nothing reached the client-facing side of the listener yet; forget the attempt.
                    self.proxy.reset(&tuple);
                    Verdict::Drop(DropReason::NotYetEstablished)
                }
                ProxyState::SynSent(_) => Verdict::Drop(DropReason::NotYetEstablished),
                ProxyState::Established(translation) => {
                    translation.to_server(frame, layout);
                    self.follow_established(now, &tuple, true, flags, layout);
                    Verdict::Forward
                }
            };
        }
        if self.config.mode == Mode::Limit {
            if flags.rst() {
                self.half_open.reset(&tuple);
            } else if flags.ack() && self.half_open.complete(&tuple).is_some() {
                return Verdict::Forward;
            }
            // Established connections pass untracked in the transparent mode; only an ACK that may answer a
            // cookie sent on overflow is worth checking.
            if flags.ack() && !flags.rst() && self.counters.cookies_sent > 0 {
                return match self.open_from_ack(now, tuple, frame, layout, out, false) {
                    Verdict::Consumed => Verdict::Consumed,
                    _ => Verdict::Forward,
                };
            }
            return Verdict::Forward;
        }
        if flags.rst() {
            self.half_open.reset(&tuple);
            return Verdict::Drop(DropReason::NoConnection);
        }
        if flags.ack() {
            return self.open_from_ack(now, tuple, frame, layout, out, true);
        }
        Verdict::Drop(DropReason::NoConnection)
    }

    fn client_syn(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        frame: &[u8],
        layout: &TcpLayout,
        out: &mut Outbox,
    ) -> Verdict {
        self.counters.syns_seen += 1;
        if let Some(limiter) = self.rate_limit.as_mut()
            && !limiter.allow(now, tuple.client.ip())
        {
            return Verdict::Drop(DropReason::RateLimited);
        }
        let syn = syn_options(frame, layout);
        let client_isn = layout.seq(frame);
        if self.proxy.get_mut(&tuple).is_some() {
            // The client started over on a tuple the proxy still holds.
            self.proxy.reset(&tuple);
        }
        match self.config.mode {
            Mode::Off => Verdict::Forward,
            Mode::Limit => match self.half_open.on_syn(now, tuple, client_isn, 0, syn) {
                SynVerdict::Admitted | SynVerdict::Duplicate(_) => Verdict::Forward,
                SynVerdict::Evicted(victim) => {
                    self.reset_listener(&victim, out);
                    Verdict::Forward
                }
                SynVerdict::UseCookie => self.answer_with_cookie(now, tuple, client_isn, &syn, frame, out),
                SynVerdict::Dropped(_) => Verdict::Drop(DropReason::HalfOpenLimit),
            },
            Mode::Cookies => self.answer_with_cookie(now, tuple, client_isn, &syn, frame, out),
            Mode::Auto => match self.policy.decide(now, self.half_open.len()) {
                Decision::Cookie => self.answer_with_cookie(now, tuple, client_isn, &syn, frame, out),
                Decision::Stateful | Decision::Pass => {
                    let issued = self.cookies.issue(now, &tuple, client_isn, &syn);
                    match self.half_open.on_syn(now, tuple, client_isn, issued.isn, syn) {
                        SynVerdict::Admitted | SynVerdict::Duplicate(_) | SynVerdict::Evicted(_) => {
                            let isn = self.half_open.get(&tuple).map_or(issued.isn, |e| e.our_isn);
                            self.send_synack(tuple, isn, client_isn, &syn, issued.tsval, out);
                            Verdict::Consumed
                        }
                        SynVerdict::UseCookie => self.answer_with_cookie(now, tuple, client_isn, &syn, frame, out),
                        SynVerdict::Dropped(_) => Verdict::Drop(DropReason::HalfOpenLimit),
                    }
                }
            },
        }
    }

    fn answer_with_cookie(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        client_isn: u32,
        syn: &SynOptions,
        _frame: &[u8],
        out: &mut Outbox,
    ) -> Verdict {
        let issued = self.cookies.issue(now, &tuple, client_isn, syn);
        self.counters.cookies_sent += 1;
        self.send_synack(tuple, issued.isn, client_isn, syn, issued.tsval, out);
        Verdict::Consumed
    }

    /// The proxy's SYN-ACK: the listener's options, as far as the client asked for them.
    fn send_synack(
        &mut self,
        tuple: Tuple,
        isn: u32,
        client_isn: u32,
        syn: &SynOptions,
        tsval: Option<u32>,
        out: &mut Outbox,
    ) {
        let listener = self.config.listener;
        let timestamps = match (syn.tsval, tsval, listener.timestamps) {
            (Some(client), Some(ours), true) => Some((ours, client)),
            _ => None,
        };
        let wscale = syn.wscale.and(listener.wscale);
        let len = handshake_options(
            &mut self.options,
            listener.mss,
            syn.sack_permitted && listener.sack_permitted,
            timestamps,
            wscale,
        );
        let segment = Segment {
            src_mac: self.macs.server_side,
            dst_mac: self.macs.client_side,
            from: tuple.server,
            to: tuple.client,
            seq: isn,
            ack: client_isn.wrapping_add(1),
            flags: TcpFlags::SYN | TcpFlags::ACK,
            window: listener.window,
            options: &self.options[..len],
        };
        if segment.write(out.next(Side::Outside)).is_ok() {
            self.counters.synacks_sent += 1;
        } else {
            out.retract();
        }
    }

    /// An ACK for the protected service with no proxied connection: the third packet of a handshake the proxy
    /// answered, statefully or with a cookie. A valid one opens the connection to the listener.
    fn open_from_ack(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        frame: &[u8],
        layout: &TcpLayout,
        out: &mut Outbox,
        drop_invalid: bool,
    ) -> Verdict {
        let (seq, ack) = (layout.seq(frame), layout.ack(frame));
        let client_ts = TcpOptions::new(layout.options(frame)).handshake().timestamps;
        let stateful = self
            .half_open
            .get(&tuple)
            .filter(|e| e.our_isn.wrapping_add(1) == ack && e.client_isn.wrapping_add(1) == seq)
            .map(|e| (e.syn, e.our_isn));
        let (mss, wscale, sack_permitted) = if let Some((syn, _)) = stateful {
            self.half_open.complete(&tuple);
            let mss = syn.mss.unwrap_or(if tuple.client.is_ipv4() { 536 } else { 1220 });
            (mss, syn.wscale, syn.sack_permitted)
        } else {
            match self.cookies.check(now, &tuple, seq, ack, client_ts.map(|(_, ecr)| ecr)) {
                Ok(accepted) => {
                    self.counters.cookies_validated += 1;
                    (accepted.mss, accepted.wscale, accepted.sack_permitted)
                }
                Err(CookieError::Expired) => {
                    self.counters.cookies_expired += 1;
                    return if drop_invalid { Verdict::Drop(DropReason::ExpiredCookie) } else { Verdict::Forward };
                }
                Err(_) => {
                    self.counters.cookies_failed += 1;
                    return if drop_invalid { Verdict::Drop(DropReason::BadCookie) } else { Verdict::Forward };
                }
            }
        };
        let timestamps = match (client_ts, self.config.listener.timestamps) {
            (Some((tsval, tsecr)), true) => Some((tsval, tsecr)),
            _ => None,
        };
        let handshake = ClientHandshake {
            client_isn: seq.wrapping_sub(1),
            proxy_isn: ack.wrapping_sub(1),
            mss,
            wscale,
            sack_permitted: sack_permitted && self.config.listener.sack_permitted,
            timestamps,
            window: layout.window(frame),
        };
        if !self.proxy.open(now, tuple, handshake) {
            return Verdict::Drop(DropReason::ProxyFull);
        }
        // Step 2: the listener gets the client's SYN, as the client sent it to us.
        let syn_window = (u32::from(handshake.window) << handshake.wscale.unwrap_or(0)).min(0xFFFF) as u16;
        let len = handshake_options(
            &mut self.options,
            handshake.mss,
            handshake.sack_permitted,
            handshake.timestamps.map(|(tsval, _)| (tsval, 0)),
            handshake.wscale,
        );
        let segment = Segment {
            src_mac: self.macs.client_side,
            dst_mac: self.macs.server_side,
            from: tuple.client,
            to: tuple.server,
            seq: handshake.client_isn,
            ack: 0,
            flags: TcpFlags::SYN,
            window: syn_window,
            options: &self.options[..len],
        };
        if segment.write(out.next(Side::Inside)).is_err() {
            out.retract();
        }
        Verdict::Consumed
    }

    fn listener_segment(&mut self, now: Timestamp, frame: &mut [u8], layout: &TcpLayout, out: &mut Outbox) -> Verdict {
        let tuple = Tuple { client: layout.dst(frame), server: layout.src(frame) };
        let flags = layout.flags(frame);
        let Some(entry) = self.proxy.get_mut(&tuple) else {
            if flags.rst() {
                self.half_open.reset(&tuple);
            }
            return Verdict::Forward;
        };
        match entry.state {
            ProxyState::SynSent(handshake) => {
                if flags.rst() {
                    // The listener refused: tell the client, in the proxy's sequence space.
                    self.proxy.reset(&tuple);
                    self.reset_client(&tuple, handshake.proxy_isn.wrapping_add(1), out);
                    return Verdict::Consumed;
                }
                if !(flags.syn() && flags.ack()) {
                    return Verdict::Drop(DropReason::NotYetEstablished);
                }
                self.listener_synack(now, tuple, handshake, frame, layout, out)
            }
            ProxyState::Established(translation) => {
                if flags.syn() {
                    // A retransmitted SYN-ACK (our ACK was lost): the client must not see it. The client's next
                    // segment, translated, acknowledges the listener's ISN and completes its handshake
                    // (tcp_check_req accepts any ACK of the SYN-ACK).
                    return Verdict::Drop(DropReason::NotYetEstablished);
                }
                translation.to_client(frame, layout);
                self.follow_established(now, &tuple, false, flags, layout);
                Verdict::Forward
            }
        }
    }

    /// Bookkeeping for a segment of a proxied connection: a RST ends the entry, FINs are noted, and the bare ACK
    /// after both FINs closes it.
    fn follow_established(
        &mut self,
        now: Timestamp,
        tuple: &Tuple,
        from_client: bool,
        flags: TcpFlags,
        layout: &TcpLayout,
    ) {
        if flags.rst() {
            self.proxy.reset(tuple);
            return;
        }
        self.proxy.saw(now, tuple, from_client, flags.fin());
        if !flags.fin() && layout.payload_len() == 0 {
            self.proxy.close_if_done(tuple);
        }
    }

    /// Step 3: the listener's SYN-ACK. Fix the translation and complete the listener's handshake.
    fn listener_synack(
        &mut self,
        now: Timestamp,
        tuple: Tuple,
        handshake: ClientHandshake,
        frame: &[u8],
        layout: &TcpLayout,
        out: &mut Outbox,
    ) -> Verdict {
        let options = TcpOptions::new(layout.options(frame)).handshake();
        let listener_ts = options.timestamps.map(|(tsval, _)| tsval);
        let advertised = handshake.wscale.and(self.config.listener.wscale);
        let actual = handshake.wscale.and(options.wscale);
        let rescale = match (actual, advertised) {
            (Some(actual), Some(advertised)) if actual != advertised => {
                self.counters.wscale_mismatches += 1;
                Some((actual, advertised))
            }
            _ => None,
        };
        self.learn_listener(&options, layout.window(frame));
        let listener_isn = layout.seq(frame);
        let Some((handshake, _)) = self.proxy.establish(now, &tuple, listener_isn, listener_ts, rescale) else {
            return Verdict::Drop(DropReason::NotYetEstablished);
        };
        let len = match (handshake.timestamps, listener_ts) {
            (Some((client_tsval, _)), Some(listener_tsval)) => {
                timestamp_only(&mut self.options, client_tsval, listener_tsval)
            }
            _ => 0,
        };
        let segment = Segment {
            src_mac: self.macs.client_side,
            dst_mac: self.macs.server_side,
            from: tuple.client,
            to: tuple.server,
            seq: handshake.client_isn.wrapping_add(1),
            ack: listener_isn.wrapping_add(1),
            flags: TcpFlags::ACK,
            window: handshake.window,
            options: &self.options[..len],
        };
        if segment.write(out.next(Side::Inside)).is_err() {
            out.retract();
        }
        Verdict::Consumed
    }

    /// The listener's SYN-ACK shows what it really does; later SYN-ACKs of the proxy promise that instead of the
    /// configured guess (netfilter's SYNPROXY needs them configured by hand; learning them from the first
    /// handshake removes the mismatch after one connection). The connection that taught us is rescaled.
    fn learn_listener(&mut self, options: &HandshakeOptions, window: u16) {
        let Some(mss) = options.mss else { return };
        let learnt = ListenerOptions {
            mss,
            wscale: options.wscale,
            sack_permitted: options.sack_permitted,
            timestamps: options.timestamps.is_some(),
            window,
        };
        // Only what the listener answered to a SYN that asked for everything counts; a client without window
        // scaling or SACK gets a SYN-ACK without them, which says nothing about the listener.
        if learnt != self.config.listener && options.wscale.is_some() && options.sack_permitted {
            self.config.listener = learnt;
            self.counters.listener_options_learnt += 1;
        }
    }

    /// Time-outs due by `now`: SYN-ACK retransmissions (auto mode), RSTs that free the listener's slots (limit
    /// mode), and idle proxy entries.
    pub fn poll_timers(&mut self, now: Timestamp, out: &mut Outbox) {
        while let Some(event) = self.half_open.poll_timer(now) {
            match (self.config.mode, event) {
                (Mode::Limit, TimerEvent::Expired { entry }) => self.reset_listener(&entry, out),
                (Mode::Auto | Mode::Cookies, TimerEvent::Retransmit { entry, .. }) => {
                    let issued = self.cookies.issue(now, &entry.tuple, entry.client_isn, &entry.syn);
                    self.counters.synack_retransmits += 1;
                    self.send_synack(entry.tuple, entry.our_isn, entry.client_isn, &entry.syn, issued.tsval, out);
                }
                _ => {}
            }
        }
        self.proxy.expire(now);
        self.counters.frames_out += out.len as u64;
    }

    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.half_open.next_deadline()
    }

    /// A RST to the listener in the client's name: its SYN-RECEIVED entry for the tuple goes (RFC 9293 §3.10.7.4:
    /// an in-window RST in SYN-RECEIVED closes the connection; the window starts at the client's ISN + 1).
    fn reset_listener(&mut self, entry: &HalfOpen, out: &mut Outbox) {
        let segment = Segment {
            src_mac: self.macs.client_side,
            dst_mac: self.macs.server_side,
            from: entry.tuple.client,
            to: entry.tuple.server,
            seq: entry.client_isn.wrapping_add(1),
            ack: 0,
            flags: TcpFlags::RST,
            window: 0,
            options: &[],
        };
        if segment.write(out.next(Side::Inside)).is_ok() {
            self.counters.rsts_sent += 1;
        } else {
            out.retract();
        }
    }

    fn reset_client(&mut self, tuple: &Tuple, seq: u32, out: &mut Outbox) {
        let segment = Segment {
            src_mac: self.macs.server_side,
            dst_mac: self.macs.client_side,
            from: tuple.server,
            to: tuple.client,
            seq,
            ack: 0,
            flags: TcpFlags::RST,
            window: 0,
            options: &[],
        };
        if segment.write(out.next(Side::Outside)).is_ok() {
            self.counters.rsts_sent += 1;
        } else {
            out.retract();
        }
    }
}

/// The options of a client's SYN.
fn syn_options(frame: &[u8], layout: &TcpLayout) -> SynOptions {
    let options = TcpOptions::new(layout.options(frame)).handshake();
    let flags = layout.flags(frame);
    SynOptions {
        mss: options.mss,
        wscale: options.wscale.map(|shift| shift.min(14)),
        sack_permitted: options.sack_permitted,
        tsval: options.timestamps.map(|(tsval, _)| tsval),
        ecn: flags.has(TcpFlags::ECE) && flags.has(TcpFlags::CWR),
    }
}

/// Whether an unparseable frame still says it is IP carrying TCP to `ip`: such frames are dropped, not bridged.
fn claims_tcp_for(frame: &[u8], ip: IpAddr) -> bool {
    let Some(ethertype) = frame.get(12..14) else { return false };
    match (u16::from_be_bytes([ethertype[0], ethertype[1]]), ip) {
        (0x0800, IpAddr::V4(v4)) => frame.len() >= 34 && frame[23] == 6 && frame[30..34] == v4.octets(),
        (0x86DD, IpAddr::V6(v6)) => frame.len() >= 54 && frame[20] == 6 && frame[38..54] == v6.octets(),
        _ => false,
    }
}
