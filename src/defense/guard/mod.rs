//! The guard: a bump in the wire between an outside and an inside interface, in front of one protected
//! `ADDR:PORT`. Pure: frames and clock readings come in, verdicts and crafted frames go out; `cmd/guard/` moves
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

pub mod defaults;
mod inside;
mod outside;
pub mod reply;
pub mod stats;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::cookie::CookieCodec;
use super::half_open::{HalfOpenStats, HalfOpenTable, TimerEvent};
use super::policy::{Mode, Policy, PolicyConfig, PolicyStats};
pub use super::proxy::ProxyChange;
use super::proxy::{ProxyStats, ProxyTable};
use super::rate_limit::SourceRateLimiter;
use super::{SynOptions, Tuple};
use crate::hash_key::HashKey;
use crate::time::{Duration, Timestamp};
use crate::wire::segment::TcpFlags;
use crate::wire::tcp_frame::TcpFrame;
use crate::wire::tcp_options::TcpOptions;
use crate::wire::vlan;
use reply::{Macs, Segment};
pub use stats::{DropReason, GuardCounters};

/// Which interface a frame came in on (or goes out of).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interface {
    /// Towards the clients (and the attackers).
    Outside,
    /// Towards the listener.
    Inside,
}

impl Interface {
    pub fn other(self) -> Interface {
        match self {
            Interface::Outside => Interface::Inside,
            Interface::Inside => Interface::Outside,
        }
    }
}

/// The state of a frame's transport checksum as it was received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    /// Whole and (if the sender was honest) valid: rewrites adjust it incrementally (RFC 1624).
    Complete,
    /// The pseudo-header sum only, completed on egress (`VIRTIO_NET_HDR_F_NEEDS_CSUM`: a local sender on a virtual
    /// link, or a GRO super-frame). Rewrites leave it as it is.
    Partial,
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
    frames: Vec<(Interface, Vec<u8>)>,
    len: usize,
}

impl Outbox {
    /// A cleared buffer for a frame to send out of `side`.
    fn next(&mut self, side: Interface) -> &mut Vec<u8> {
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

    pub fn frames(&self) -> impl Iterator<Item = (Interface, &[u8])> {
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
    /// `key` is the cookie secret, and each table's hash key is derived from it under its own label
    /// ([`HashKey::derive`]); the guard draws it from the OS (or its `--secret-file`), tests fix it.
    pub fn new(config: GuardConfig, key: [u8; 32]) -> Guard {
        let cookies = CookieCodec::new(
            key,
            super::cookie::CookieConfig { tick: config.cookie_tick, ..super::cookie::CookieConfig::default() },
        );
        let rate_limit = config.syn_rate_per_source.map(|rate| {
            // A burst of one second's worth, and room for the heavy hitters the filter is meant for.
            SourceRateLimiter::new(rate, rate.ceil().max(1.0) as u32, 65_536, HashKey::derive(&key, "rate-limit"))
        });
        Guard {
            cookies,
            half_open: HalfOpenTable::new(config.half_open, HashKey::derive(&key, "half-open")),
            policy: Policy::new(PolicyConfig {
                mode: config.mode,
                high_watermark: config.watermarks.0,
                low_watermark: config.watermarks.1,
            }),
            rate_limit,
            proxy: ProxyTable::new(
                config.max_proxied,
                config.proxy_idle_timeout,
                Duration::from_secs(5),
                HashKey::derive(&key, "proxy"),
            ),
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

    /// From now on, note every connection the proxy opens or lets go, for [`Guard::drain_proxy_changes`]: what an
    /// edge that answers SYNs elsewhere (the XDP fast path) needs to leave a tuple the proxy holds to the guard,
    /// which forgets the old connection first (a client that started over, `outside.rs`).
    pub fn record_proxy_changes(&mut self) {
        self.proxy.record_changes();
    }

    /// The proxy's changes since the last call, oldest first.
    pub fn drain_proxy_changes(&mut self) -> impl Iterator<Item = ProxyChange> + '_ {
        self.proxy.drain_changes()
    }

    /// One frame in from `side`. It may be rewritten in place; frames the guard crafts go to `out`. A GSO
    /// super-frame is handled as the one segment its header describes: segmentation repeats that header with only
    /// the sequence number, lengths and checksum changed, so rewriting it once rewrites every segment.
    pub fn handle(
        &mut self,
        now: Timestamp,
        side: Interface,
        frame: &mut [u8],
        checksum: Checksum,
        out: &mut Outbox,
    ) -> Verdict {
        self.counters.frames_in += 1;
        let verdict = self.classify(now, side, frame, checksum, out);
        match verdict {
            Verdict::Forward => self.counters.frames_out += 1,
            Verdict::Drop(reason) => self.counters.drops.count(reason),
            Verdict::Consumed => {}
        }
        self.counters.frames_out += out.len as u64;
        verdict
    }

    fn classify(
        &mut self,
        now: Timestamp,
        side: Interface,
        frame: &mut [u8],
        checksum: Checksum,
        out: &mut Outbox,
    ) -> Verdict {
        if self.config.mode == Mode::Off {
            self.counters.bridged += 1;
            return Verdict::Forward;
        }
        let Ok(segment) = TcpFrame::new_checked(&mut *frame) else {
            if claims_tcp_for(frame, self.config.protect.ip()) {
                return Verdict::Drop(DropReason::Malformed);
            }
            self.counters.bridged += 1;
            return Verdict::Forward;
        };
        let mut segment = segment.with_partial_checksum(checksum == Checksum::Partial);
        let ours = match side {
            Interface::Outside => segment.dst() == self.config.protect,
            Interface::Inside => segment.src() == self.config.protect,
        };
        if !ours {
            self.counters.bridged += 1;
            return Verdict::Forward;
        }
        if segment.tagged() {
            // Crafted answers carry no VLAN tags (`reply::Segment::write` lays the IP header right after the
            // Ethernet header), so tagged links are bridged uninspected: from here on every frame is untagged.
            self.counters.tagged_bridged += 1;
            return Verdict::Forward;
        }
        match side {
            Interface::Outside => {
                self.macs.client_side = segment.src_mac();
                self.macs.server_side = segment.dst_mac();
                self.client_segment(now, &mut segment, out)
            }
            Interface::Inside => self.listener_segment(now, &mut segment, out),
        }
    }

    /// Time-outs due by `now`: SYN-ACK retransmissions (auto mode), RSTs that free the listener's slots (limit
    /// mode), and idle proxy entries.
    pub fn handle_timeout(&mut self, now: Timestamp, out: &mut Outbox) {
        while let Some(event) = self.half_open.handle_timeout(now) {
            match (self.config.mode, event) {
                (Mode::Limit, TimerEvent::Expired { entry }) => {
                    self.reset_listener(&entry.tuple, entry.client_isn.wrapping_add(1), out)
                }
                (Mode::Auto | Mode::Cookies, TimerEvent::Retransmit { entry, .. }) => {
                    let issued = self.cookies.issue(now, &entry.tuple, entry.client_isn, &entry.syn);
                    self.counters.synack_retransmits += 1;
                    self.send_synack(entry.tuple, entry.our_isn, entry.client_isn, &entry.syn, issued.tsval, out);
                }
                _ => {}
            }
        }
        self.proxy.handle_timeout(now);
        self.counters.frames_out += out.len as u64;
    }

    /// When [`Guard::handle_timeout`] is next due: the earliest of the half-open table's timers and the proxy table's
    /// expiry (which may come early, never late; see [`ProxyTable::next_expiry`]). `None` when both are empty.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        match (self.half_open.poll_timeout(), self.proxy.poll_timeout()) {
            (Some(half_open), Some(proxy)) => Some(half_open.min(proxy)),
            (half_open, proxy) => half_open.or(proxy),
        }
    }

    /// A RST to the listener in the client's name: its SYN-RECEIVED entry for the tuple goes (RFC 9293 §3.10.7.4:
    /// an in-window RST in SYN-RECEIVED closes the connection; `seq` is the client's ISN + 1, where the window
    /// starts).
    fn reset_listener(&mut self, tuple: &Tuple, seq: u32, out: &mut Outbox) {
        let segment = Segment {
            src_mac: self.macs.client_side,
            dst_mac: self.macs.server_side,
            from: tuple.client,
            to: tuple.server,
            seq,
            ack: 0,
            flags: TcpFlags::RST,
            window: 0,
            options: &[],
        };
        if segment.write(out.next(Interface::Inside)).is_ok() {
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
        if segment.write(out.next(Interface::Outside)).is_ok() {
            self.counters.rsts_sent += 1;
        } else {
            out.retract();
        }
    }
}

/// A segment to or from the protected service, in the frame the guard was handed (rewritten in place).
type Received<'f> = TcpFrame<&'f mut [u8]>;

/// The options of a client's SYN.
fn syn_options(syn: &Received) -> SynOptions {
    let options = TcpOptions::new(syn.options()).handshake();
    let flags = syn.flags();
    SynOptions {
        mss: options.mss,
        wscale: options.wscale,
        sack_permitted: options.sack_permitted,
        tsval: options.timestamps.map(|(tsval, _)| tsval),
        ecn: flags.has(TcpFlags::ECE) && flags.has(TcpFlags::CWR),
    }
}

/// Whether an unparseable frame still says it is IP carrying TCP to `ip`: such frames are dropped, not bridged.
/// VLAN tags are looked past by the walk [`TcpFrame::new_checked`] uses ([`vlan::skip_tags`]), so the two agree on which
/// tags they see through: a damaged tagged frame used to be bridged, since only the untagged EtherType was read.
fn claims_tcp_for(frame: &[u8], ip: IpAddr) -> bool {
    let Some((ethertype, at)) = vlan::skip_tags(frame) else { return false };
    let packet = &frame[at..];
    match (ethertype, ip) {
        (0x0800, IpAddr::V4(v4)) => packet.len() >= 20 && packet[9] == 6 && packet[16..20] == v4.octets(),
        (0x86DD, IpAddr::V6(v6)) => packet.len() >= 40 && packet[6] == 6 && packet[24..40] == v6.octets(),
        _ => false,
    }
}
