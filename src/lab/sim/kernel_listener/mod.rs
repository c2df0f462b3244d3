//! A model of a Linux TCP listener under a SYN flood: the request (SYN) queue, SYN-ACK retransmissions, SYN
//! cookies and the accept queue, with the `/proc/net/netstat` counters the kernel keeps. Each rule names the kernel
//! function it copies (Linux 5.10–6.x, `net/ipv4/tcp_input.c`, `inet_connection_sock.c`, `tcp_minisocks.c`,
//! `include/net/sock.h`). Pure and sans-IO like `defense/`: segments and the virtual clock come in, segments to
//! send go out, and [`KernelListener::poll_timeout`] says when to [`poll`](KernelListener::poll) next.
//!
//! What is modelled:
//!
//! - **A SYN** (`tcp_conn_request`), in the kernel's order:
//!   1. `syncookies == 2 || inet_csk_reqsk_queue_is_full(sk)` (request queue length `>= sk_max_ack_backlog`, the
//!      listen backlog capped by `somaxconn`): `tcp_syn_flood_action` counts `TCPReqQFullDoCookies` and answers
//!      with a cookie when `tcp_syncookies` is on, else counts `TCPReqQFullDrop` and drops it.
//!   2. `sk_acceptq_is_full(sk)` (accept queue length `>` the backlog, so it holds backlog + 1): `ListenOverflows`,
//!      drop.
//!   3. The "¾ rule", only with cookies off: `max_syn_backlog - qlen < (max_syn_backlog >> 2)` drops the SYN of a
//!      peer without TCP metrics (`!tcp_peer_is_proven`; the lab sets `tcp_no_metrics_save=1`, so no peer is
//!      proven). The queue therefore stops at `max_syn_backlog - (max_syn_backlog >> 2) + 1` requests: 97 for 128.
//!   4. Otherwise a request is queued and a SYN-ACK sent; with a cookie, nothing is queued (`cookie_init_sequence`
//!      counts `SyncookiesSent` and notes the overflow time, `tcp_synq_overflow`).
//!
//!   Every drop counts `ListenDrops` (`tcp_listendrop`).
//! - **SYN-ACK retransmission** (`reqsk_timer_handler`, `syn_ack_recalc`): at 1 s (`TCP_TIMEOUT_INIT`), then
//!   doubling up to `TCP_RTO_MAX`, `tcp_synack_retries` times, then the request is dropped one backoff later. When
//!   the queue is more than half of `max(8, backlog)` full, the retries are cut, down to 2, while the requests that
//!   were never retransmitted ("young") are fewer than half, a quarter, an eighth of the queue: under a flood, old
//!   requests die after 7 s instead of 63 s.
//! - **The third ACK** (`tcp_check_req` → `tcp_v4_syn_recv_sock`): the request moves to the accept queue unless
//!   it is full, in which case `ListenOverflows` and `ListenDrops` count, the ACK is dropped, and the request stays
//!   (`acked`), its SYN-ACK retransmissions inviting the client to ACK again (`tcp_abort_on_overflow=0`).
//! - **A cookie ACK** (`cookie_v4_check`), for an ACK matching no request, within 2 minutes of the last overflow:
//!   valid → `SyncookiesRecv` and a child (or `ListenOverflows` if the accept queue is full); invalid →
//!   `SyncookiesFailed`, and the ACK to a LISTEN socket is answered with a RST (RFC 9293 §3.10.7.2). The cookie
//!   arithmetic is the project's own [`CookieCodec`], which copies the layout of `net/ipv4/syncookies.c`.
//! - **A RST** for a pending request drops it (`tcp_check_req`); for an accepted connection, closes it.
//! - **accept()**: our echo listener accepts each connection `accept_cost` after the previous one and greets it at
//!   once with the seed's `Welcome!`.
//!
//! Not modelled: TIME-WAIT recycling (`isn != 0` bypasses the limits), re-arming a request's timer when its SYN is
//! retransmitted (the SYN-ACK is sent again, the timer left as it was; it matters only when a SYN-ACK was lost to
//! a full ring or backlog), and `tcp_defer_accept`. The CPU cost of processing a segment is the world's (`world.rs`: the server's station,
//! before a segment reaches this model).

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddrV4;

use rustc_hash::FxHashMap;

use super::random::Rng;
use super::segment::Seg;
use crate::defense::cookie::{CookieCodec, CookieConfig};
use crate::defense::{SynOptions, Tuple};
use crate::listener::GREETING;
use crate::netns::ListenCounters;
use crate::time::{Duration, Timestamp};
use crate::wire::segment::TcpFlags;

/// `TCP_TIMEOUT_INIT`: the first SYN-ACK retransmission (RFC 6298 §2.1).
pub const TIMEOUT_INIT: Duration = Duration::from_secs(1);
/// `TCP_RTO_MAX`.
pub const RTO_MAX: Duration = Duration::from_secs(120);
/// `TCP_SYNCOOKIE_VALID`: ACKs are checked as cookies only this long after the queue last overflowed
/// (`tcp_synq_no_recent_overflow`).
const SYNCOOKIE_VALID: Duration = Duration::from_secs(120);

/// The per-namespace knobs `synscope harden` sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sysctls {
    /// `net.ipv4.tcp_syncookies`: 0 never, 1 when the request queue is full, 2 always.
    pub syncookies: u8,
    /// `net.ipv4.tcp_max_syn_backlog`.
    pub max_syn_backlog: u32,
    /// `net.core.somaxconn`: caps every listen(2) backlog.
    pub somaxconn: u32,
    /// `net.ipv4.tcp_synack_retries`.
    pub synack_retries: u32,
    /// `net.ipv4.tcp_abort_on_overflow`: RST instead of ignoring a third ACK that finds the accept queue full.
    pub abort_on_overflow: bool,
}

impl Default for Sysctls {
    /// Linux's defaults: cookies when the queue overflows, `somaxconn` 4096 (since 5.4), 5 SYN-ACK retries, and
    /// `tcp_max_syn_backlog` 1024 (it is `max(128, ehash buckets / 128)`; 1024 is the lab's baseline).
    fn default() -> Self {
        Sysctls { syncookies: 1, max_syn_backlog: 1024, somaxconn: 4096, synack_retries: 5, abort_on_overflow: false }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    pub addr: SocketAddrV4,
    /// The listen(2) backlog (our echo listener's `--backlog`, 128 by default).
    pub backlog: u32,
    pub sysctls: Sysctls,
    /// Time the echo listener takes per accept().
    pub accept_cost: Duration,
}

impl ListenerConfig {
    /// `sk_max_ack_backlog`: the backlog capped by `somaxconn` (`__sys_listen`).
    pub fn max_ack_backlog(&self) -> u32 {
        self.backlog.min(self.sysctls.somaxconn)
    }

    /// The most requests the queue can hold: `sk_max_ack_backlog` (`inet_csk_reqsk_queue_is_full`) and, with cookies
    /// off, one more than `max_syn_backlog - (max_syn_backlog >> 2)` (the ¾ rule admits while that many or fewer
    /// are queued); nothing with `tcp_syncookies=2`.
    pub fn syn_queue_limit(&self) -> u32 {
        let s = &self.sysctls;
        match s.syncookies {
            0 => self.max_ack_backlog().min(s.max_syn_backlog - (s.max_syn_backlog >> 2) + 1),
            1 => self.max_ack_backlog(),
            _ => 0,
        }
    }
}

/// What the listener did, beyond the kernel's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListenerStats {
    pub requests_queued: u64,
    pub synack_retransmits: u64,
    pub requests_expired: u64,
    pub accepted: u64,
}

/// A request sock: one entry of the SYN queue.
#[derive(Clone, Copy, Debug)]
struct Request {
    client: SocketAddrV4,
    client_isn: u32,
    our_isn: u32,
    /// The client's latest TSval, to echo.
    ts_recent: Option<u32>,
    handshake_options: bool,
    /// Timer firings so far (`req->num_timeout`); zero means "young".
    num_timeout: u32,
    /// Bumped when the slot is freed, so timers of a dead request are recognised.
    generation: u32,
    live: bool,
}

#[derive(Clone, Copy, Debug)]
struct Timer {
    at: Timestamp,
    slot: u32,
    generation: u32,
}

/// A connection past the handshake: in the accept queue, then accepted.
#[derive(Clone, Copy, Debug)]
struct Child {
    client: SocketAddrV4,
    client_isn: u32,
    our_isn: u32,
    ts_recent: Option<u32>,
}

pub struct KernelListener {
    config: ListenerConfig,
    slots: Vec<Request>,
    free: Vec<u32>,
    /// Pending requests by client address (the listener has one address and port).
    requests: FxHashMap<SocketAddrV4, u32>,
    /// One FIFO per `num_timeout`: every request follows the same schedule from its creation, so each list is in
    /// deadline order. Entries of dropped requests stay until they come up and are skipped.
    timers: Vec<VecDeque<Timer>>,
    qlen: u32,
    young: u32,
    accept_queue: VecDeque<Child>,
    next_accept: Option<Timestamp>,
    established: FxHashMap<SocketAddrV4, Child>,
    cookies: CookieCodec,
    last_overflow: Option<Timestamp>,
    rng: Rng,
    counters: ListenCounters,
    stats: ListenerStats,
}

impl KernelListener {
    pub fn new(config: ListenerConfig, seed: u64) -> KernelListener {
        let mut rng = Rng::new(seed);
        let cookies = CookieCodec::new(rng.key(), CookieConfig::default());
        KernelListener {
            config,
            slots: Vec::new(),
            free: Vec::new(),
            requests: FxHashMap::default(),
            timers: Vec::new(),
            qlen: 0,
            young: 0,
            accept_queue: VecDeque::new(),
            next_accept: None,
            established: FxHashMap::default(),
            cookies,
            last_overflow: None,
            rng,
            counters: ListenCounters::default(),
            stats: ListenerStats::default(),
        }
    }

    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }

    /// Requests in the SYN queue: what `ss -tn state syn-recv` counts.
    pub fn syn_queue_len(&self) -> u32 {
        self.qlen
    }

    /// Connections waiting for accept().
    pub fn accept_queue_len(&self) -> usize {
        self.accept_queue.len()
    }

    pub fn counters(&self) -> &ListenCounters {
        &self.counters
    }

    pub fn stats(&self) -> &ListenerStats {
        &self.stats
    }

    /// One segment addressed to the listener.
    pub fn on_segment(&mut self, now: Timestamp, seg: &Seg, out: &mut Vec<Seg>) {
        if seg.dst != self.config.addr {
            return;
        }
        if seg.flags.rst() {
            self.on_rst(seg);
        } else if seg.is_syn() {
            self.on_syn(now, seg, out);
        } else if seg.flags.ack() && !seg.flags.syn() {
            self.on_ack(now, seg, out);
        }
    }

    /// When [`poll`](Self::poll) has something to do: a request timer (possibly one of a dropped request) or the
    /// next accept().
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let timers = self.timers.iter().filter_map(|level| level.front().map(|t| t.at)).min();
        match (timers, self.next_accept) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires every timer due at `now`, earliest first, then accepts if it is time.
    pub fn poll(&mut self, now: Timestamp, out: &mut Vec<Seg>) {
        while let Some(level) = self.due_level(now) {
            if let Some(timer) = self.timers[level].pop_front() {
                self.on_timer(timer, level, out);
            }
        }
        if self.next_accept.is_some_and(|at| at <= now) {
            self.accept(now, out);
        }
    }

    /// The level whose head is due first, dropping dead heads on the way.
    fn due_level(&mut self, now: Timestamp) -> Option<usize> {
        let mut best: Option<(Timestamp, usize)> = None;
        for (level, list) in self.timers.iter_mut().enumerate() {
            while let Some(head) = list.front() {
                let request = &self.slots[head.slot as usize];
                if request.live && request.generation == head.generation {
                    break;
                }
                list.pop_front();
            }
            if let Some(head) = list.front()
                && head.at <= now
                && best.is_none_or(|(at, _)| head.at < at)
            {
                best = Some((head.at, level));
            }
        }
        best.map(|(_, level)| level)
    }

    /// `tcp_conn_request`, in the kernel's order (module docs).
    fn on_syn(&mut self, now: Timestamp, seg: &Seg, out: &mut Vec<Seg>) {
        if let Some(&slot) = self.requests.get(&seg.src) {
            // A retransmitted SYN for a pending request (`tcp_check_req`): the SYN-ACK again.
            let request = self.slots[slot as usize];
            out.push(self.synack(now, &request));
            return;
        }
        if self.established.contains_key(&seg.src) {
            return;
        }
        let sysctls = self.config.sysctls;
        let max_ack_backlog = self.config.max_ack_backlog();
        let mut want_cookie = false;
        if sysctls.syncookies == 2 || self.qlen >= max_ack_backlog {
            // tcp_syn_flood_action
            if sysctls.syncookies != 0 {
                self.counters.req_q_full_do_cookies += 1;
                want_cookie = true;
            } else {
                self.counters.req_q_full_drop += 1;
                self.counters.listen_drops += 1;
                return;
            }
        }
        if self.accept_queue.len() as u64 > u64::from(max_ack_backlog) {
            // sk_acceptq_is_full
            self.counters.listen_overflows += 1;
            self.counters.listen_drops += 1;
            return;
        }
        let max_syn_backlog = i64::from(sysctls.max_syn_backlog);
        if !want_cookie && sysctls.syncookies == 0 && max_syn_backlog - i64::from(self.qlen) < (max_syn_backlog >> 2) {
            // "Without syncookies last quarter of backlog is filled with destinations, proven to be alive."
            self.counters.listen_drops += 1;
            return;
        }
        let ts_recent = seg.ts.map(|(val, _)| val);
        if want_cookie {
            // cookie_init_sequence: tcp_synq_overflow, then SyncookiesSent.
            self.last_overflow = Some(now);
            self.counters.syncookies_sent += 1;
            let syn = SynOptions {
                mss: seg.handshake_options.then_some(super::segment::MSS),
                wscale: seg.handshake_options.then_some(super::segment::WSCALE),
                sack_permitted: seg.handshake_options,
                tsval: ts_recent,
                ecn: false,
            };
            let issued = self.cookies.issue(now, &self.tuple(seg.src), seg.seq, &syn);
            let mut synack =
                Seg::new(self.config.addr, seg.src, TcpFlags::SYN | TcpFlags::ACK, issued.isn, seg.seq.wrapping_add(1));
            synack.ts = issued.tsval.zip(ts_recent);
            synack.handshake_options = seg.handshake_options;
            out.push(synack);
            return;
        }
        let request = Request {
            client: seg.src,
            client_isn: seg.seq,
            our_isn: self.rng.next_u32(),
            ts_recent,
            handshake_options: seg.handshake_options,
            num_timeout: 0,
            generation: 0,
            live: true,
        };
        let slot = self.insert(request);
        self.arm(now.saturating_add(TIMEOUT_INIT), slot, 0);
        self.stats.requests_queued += 1;
        out.push(self.synack(now, &self.slots[slot as usize]));
    }

    /// The third ACK (`tcp_check_req`), or a cookie's (`cookie_v4_check`).
    fn on_ack(&mut self, now: Timestamp, seg: &Seg, out: &mut Vec<Seg>) {
        let max_ack_backlog = u64::from(self.config.max_ack_backlog());
        if let Some(&slot) = self.requests.get(&seg.src) {
            let request = self.slots[slot as usize];
            if seg.ack != request.our_isn.wrapping_add(1) || seg.seq != request.client_isn.wrapping_add(1) {
                return;
            }
            if self.accept_queue.len() as u64 > max_ack_backlog {
                // tcp_v4_syn_recv_sock's exit_overflow, then tcp_check_req's listen_overflow.
                self.counters.listen_overflows += 1;
                self.counters.listen_drops += 1;
                if self.config.sysctls.abort_on_overflow {
                    self.remove(slot);
                    out.push(Seg::new(self.config.addr, seg.src, TcpFlags::RST, seg.ack, 0));
                }
                return;
            }
            self.remove(slot);
            let ts_recent = seg.ts.map(|(val, _)| val).or(request.ts_recent);
            self.enqueue(
                now,
                Child { client: seg.src, client_isn: request.client_isn, our_isn: request.our_isn, ts_recent },
            );
            return;
        }
        if let Some(child) = self.established.get_mut(&seg.src) {
            if let Some((val, _)) = seg.ts {
                child.ts_recent = Some(val);
            }
            return;
        }
        if self.accept_queue.iter().any(|c| c.client == seg.src) {
            return;
        }
        let recent_overflow = self.last_overflow.is_some_and(|at| now.saturating_since(at) <= SYNCOOKIE_VALID);
        if self.config.sysctls.syncookies != 0 && recent_overflow {
            let tsecr = seg.ts.map(|(_, ecr)| ecr);
            match self.cookies.check(now, &self.tuple(seg.src), seg.seq, seg.ack, tsecr) {
                Ok(_) => {
                    self.counters.syncookies_recv += 1;
                    if self.accept_queue.len() as u64 > max_ack_backlog {
                        self.counters.listen_overflows += 1;
                        self.counters.listen_drops += 1;
                        return;
                    }
                    let child = Child {
                        client: seg.src,
                        client_isn: seg.seq.wrapping_sub(1),
                        our_isn: seg.ack.wrapping_sub(1),
                        ts_recent: seg.ts.map(|(val, _)| val),
                    };
                    self.enqueue(now, child);
                    return;
                }
                Err(_) => self.counters.syncookies_failed += 1,
            }
        }
        // An ACK to a LISTEN socket: <SEQ=SEG.ACK><CTL=RST> (RFC 9293 §3.10.7.2, tcp_v4_send_reset).
        out.push(Seg::new(self.config.addr, seg.src, TcpFlags::RST, seg.ack, 0));
    }

    fn on_rst(&mut self, seg: &Seg) {
        if let Some(&slot) = self.requests.get(&seg.src) {
            // In window: the next sequence number the request expects (RFC 9293 §3.10.7.4, RFC 5961 §3).
            if seg.seq == self.slots[slot as usize].client_isn.wrapping_add(1) {
                self.remove(slot);
            }
            return;
        }
        self.established.remove(&seg.src);
    }

    /// `reqsk_timer_handler` for one request.
    fn on_timer(&mut self, timer: Timer, level: usize, out: &mut Vec<Seg>) {
        let mut max_retries = self.config.sysctls.synack_retries;
        let threshold = u64::from(self.config.max_ack_backlog().max(8));
        let qlen = u64::from(self.qlen);
        if qlen << 1 > threshold {
            // "we reserve half of room for young embrions; and abort old ones without pity"
            let mut young = u64::from(self.young) << 1;
            while max_retries > 2 {
                if qlen < young {
                    break;
                }
                max_retries -= 1;
                young <<= 1;
            }
        }
        let slot = timer.slot;
        let request = self.slots[slot as usize];
        // syn_ack_recalc without TCP_DEFER_ACCEPT: expire once num_timeout reaches the retries; always resend.
        if request.num_timeout >= max_retries {
            self.stats.requests_expired += 1;
            self.remove(slot);
            return;
        }
        out.push(self.synack(timer.at, &request));
        self.stats.synack_retransmits += 1;
        if request.num_timeout == 0 {
            self.young -= 1;
        }
        let num_timeout = request.num_timeout + 1;
        self.slots[slot as usize].num_timeout = num_timeout;
        debug_assert_eq!(level as u32 + 1, num_timeout);
        // reqsk_timeout: min(TCP_TIMEOUT_INIT << num_timeout, TCP_RTO_MAX) from now.
        let backoff = TIMEOUT_INIT.as_nanos().checked_shl(num_timeout).unwrap_or(u64::MAX).min(RTO_MAX.as_nanos());
        self.arm(timer.at.saturating_add(Duration::from_nanos(backoff)), slot, num_timeout as usize);
    }

    fn accept(&mut self, now: Timestamp, out: &mut Vec<Seg>) {
        self.next_accept = None;
        if let Some(child) = self.accept_queue.pop_front() {
            self.stats.accepted += 1;
            // The echo listener greets at once (the seed's server sends `Welcome!` on accept).
            let mut greeting = Seg::new(
                self.config.addr,
                child.client,
                TcpFlags::PSH | TcpFlags::ACK,
                child.our_isn.wrapping_add(1),
                child.client_isn.wrapping_add(1),
            );
            greeting.payload = GREETING.len() as u16;
            greeting.ts = child.ts_recent.map(|ecr| (ts_clock(now), ecr));
            out.push(greeting);
            self.established.insert(child.client, child);
        }
        if !self.accept_queue.is_empty() {
            self.next_accept = Some(now.saturating_add(self.config.accept_cost));
        }
    }

    fn enqueue(&mut self, now: Timestamp, child: Child) {
        self.accept_queue.push_back(child);
        if self.next_accept.is_none() {
            self.next_accept = Some(now.saturating_add(self.config.accept_cost));
        }
    }

    fn synack(&self, now: Timestamp, request: &Request) -> Seg {
        let mut synack = Seg::new(
            self.config.addr,
            request.client,
            TcpFlags::SYN | TcpFlags::ACK,
            request.our_isn,
            request.client_isn.wrapping_add(1),
        );
        synack.ts = request.ts_recent.map(|ecr| (ts_clock(now), ecr));
        synack.handshake_options = request.handshake_options;
        synack
    }

    fn tuple(&self, client: SocketAddrV4) -> Tuple {
        Tuple { client: client.into(), server: self.config.addr.into() }
    }

    fn insert(&mut self, mut request: Request) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => {
                request.generation = self.slots[slot as usize].generation;
                self.slots[slot as usize] = request;
                slot
            }
            None => {
                self.slots.push(request);
                (self.slots.len() - 1) as u32
            }
        };
        self.requests.insert(request.client, slot);
        self.qlen += 1;
        self.young += 1;
        slot
    }

    /// `inet_csk_reqsk_queue_drop` / `reqsk_queue_removed`.
    fn remove(&mut self, slot: u32) {
        let request = &mut self.slots[slot as usize];
        self.requests.remove(&request.client);
        self.qlen -= 1;
        if request.num_timeout == 0 {
            self.young -= 1;
        }
        request.live = false;
        request.generation = request.generation.wrapping_add(1);
        self.free.push(slot);
    }

    fn arm(&mut self, at: Timestamp, slot: u32, level: usize) {
        if self.timers.len() <= level {
            self.timers.resize_with(level + 1, VecDeque::new);
        }
        let generation = self.slots[slot as usize].generation;
        self.timers[level].push_back(Timer { at, slot, generation });
    }
}

/// A TSval clock of milliseconds (Linux's `tcp_clock_ms`, without the per-connection offset).
pub fn ts_clock(now: Timestamp) -> u32 {
    (now.as_nanos() / 1_000_000) as u32
}
