//! The legitimate client: the prober's sessions (`connect --count N --rate R --timeout T`), session `n` started
//! `n / R` after the first, each bounded by one timeout for connect and greeting together (as `listener::prober`
//! bounds a session with one budget). Its 64 workers are never the limit at the lab's rates, so they are not
//! modelled.
//!
//! A session is Linux's `connect()` followed by the seed's first read:
//!
//! - **SYN** with Linux's options (MSS, SACK-permitted, timestamps, window scale), retransmitted with the same ISN
//!   after 1 s, then 2 s, 4 s... (`tcp_connect` arms `TCP_TIMEOUT_INIT`, `tcp_retransmit_timer` doubles it;
//!   `tcp_syn_retries` = 6). With a 7 s patience (the default, as the lab's prober) the SYN goes out at 0, 1 and
//!   3 s, and the session gives up at 7 s. With a 1 s patience (older real runs) the first retransmission
//!   coincides with the deadline and is not sent, so a session whose first SYN is dropped fails.
//! - **SYN-ACK** acknowledging our ISN: `connect()` returns (the connect latency is measured here) and the client
//!   ACKs, echoing the SYN-ACK's TSval (RFC 7323 §4.3), which is how a SYN cookie's options come back (Linux
//!   `cookie_init_timestamp`). A retransmitted SYN-ACK is ACKed again, as Linux answers one in ESTABLISHED.
//! - **`Welcome!`** (the seed's greeting, first byte at the server's ISN + 1): success. The exchange of messages
//!   that follows is not simulated: nothing in it touches the handshake the defences act on.
//! - **The end.** After the greeting, or at the timeout once connected, the client aborts with a RST so the
//!   listener and the guard forget the connection (the prober closes with a FIN; the state it leaves behind is
//!   irrelevant to the defences). A RST answering the SYN is `refused`; one after connect is `reset`. A SYN-ACK for
//!   a session already given up is answered with a RST, as the kernel answers a segment for no socket.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::event::EventQueue;
use super::kernel_listener::ts_clock;
use super::random::Rng;
use super::segment::Seg;
use crate::time::{Duration, Timestamp};
use crate::wire::segment::TcpFlags;

/// Linux's `tcp_syn_retries`.
const SYN_RETRIES: u32 = 6;
/// `net.ipv4.ip_local_port_range`.
const EPHEMERAL_PORTS: (u16, u16) = (32_768, 60_999);
const NO_SESSION: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientConfig {
    pub addr: Ipv4Addr,
    pub server: SocketAddrV4,
    /// Sessions started per second: session `n` starts `n / rate` after `start`, as the prober paces `--rate`.
    pub rate: f64,
    pub sessions: u64,
    pub start: Timestamp,
    /// Connect and greeting together must finish within this.
    pub timeout: Duration,
}

/// Why a session failed, in the prober's buckets (`listener::client::Cause`; the simulation has no protocol
/// mismatch and no other errors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Refused,
    Timeout,
    Reset,
}

/// What one session saw, as the prober's `Outcome`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// From the first SYN to the SYN-ACK, when connect succeeded (even if the session failed later).
    pub connect: Option<Duration>,
    pub failure: Option<Failure>,
    /// From the first SYN to the greeting, for a session that succeeded: which patience it needed.
    pub completed: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    SynSent,
    Established { server_isn: u32, connect: Duration },
    Done(Outcome),
}

#[derive(Clone, Copy, Debug)]
struct Session {
    port: u16,
    isn: u32,
    started: Timestamp,
    syns: u32,
    state: State,
}

#[derive(Clone, Copy, Debug)]
enum Timer {
    Start,
    Retransmit(u32),
    Timeout(u32),
}

pub struct Client {
    config: ClientConfig,
    rng: Rng,
    timers: EventQueue<Timer>,
    sessions: Vec<Session>,
    /// Session by local port; a port is reused only after the whole range has been used once.
    by_port: Vec<u32>,
    next_port: u16,
}

impl Client {
    pub fn new(config: ClientConfig, seed: u64) -> Client {
        let mut rng = Rng::new(seed);
        let mut timers = EventQueue::default();
        if config.sessions > 0 && config.rate > 0.0 {
            timers.push(config.start, Timer::Start);
        }
        let span = u32::from(EPHEMERAL_PORTS.1 - EPHEMERAL_PORTS.0) + 1;
        let next_port = EPHEMERAL_PORTS.0 + (rng.next_u32() % span) as u16;
        Client { config, rng, timers, sessions: Vec::new(), by_port: vec![NO_SESSION; 1 << 16], next_port }
    }

    /// When the last session will have ended, at the latest.
    pub fn last_deadline(&self) -> Timestamp {
        let last_start = self.start_of(self.config.sessions.saturating_sub(1));
        last_start.saturating_add(self.config.timeout)
    }

    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.timers.next_at()
    }

    /// Starts sessions, retransmits SYNs and gives up on sessions, as their times come.
    pub fn poll(&mut self, now: Timestamp, out: &mut Vec<Seg>) {
        while let Some((at, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::Start => self.start(at, out),
                Timer::Retransmit(id) => self.retransmit(at, id, out),
                Timer::Timeout(id) => self.give_up(at, id, out),
            }
        }
    }

    pub fn on_segment(&mut self, now: Timestamp, seg: &Seg, out: &mut Vec<Seg>) {
        if *seg.dst.ip() != self.config.addr || seg.src != self.config.server {
            return;
        }
        let id = self.by_port[usize::from(seg.dst.port())];
        if id == NO_SESSION {
            return;
        }
        let session = self.sessions[id as usize];
        let me = SocketAddrV4::new(self.config.addr, session.port);
        let snd_nxt = session.isn.wrapping_add(1);
        match session.state {
            State::SynSent if seg.is_synack() && seg.ack == snd_nxt => {
                let connect = now.saturating_since(session.started);
                self.sessions[id as usize].state = State::Established { server_isn: seg.seq, connect };
                out.push(self.ack(now, me, snd_nxt, seg));
            }
            State::SynSent if seg.flags.rst() && seg.flags.ack() && seg.ack == snd_nxt => {
                self.end(id, None, Some(Failure::Refused), now);
            }
            State::Established { .. } if seg.is_synack() => out.push(self.ack(now, me, snd_nxt, seg)),
            State::Established { connect, .. } if seg.flags.rst() => {
                self.end(id, Some(connect), Some(Failure::Reset), now)
            }
            State::Established { server_isn, connect } if seg.payload > 0 && seg.seq == server_isn.wrapping_add(1) => {
                self.end(id, Some(connect), None, now);
                out.push(Seg::new(me, self.config.server, TcpFlags::RST, snd_nxt, 0));
            }
            State::Done(_) if seg.is_synack() => {
                out.push(Seg::new(me, self.config.server, TcpFlags::RST, seg.ack, 0));
            }
            _ => {}
        }
    }

    /// Every session started so far and how it ended (`None`: still running).
    pub fn outcomes(&self) -> impl Iterator<Item = Option<Outcome>> + '_ {
        self.sessions.iter().map(|s| match s.state {
            State::Done(outcome) => Some(outcome),
            _ => None,
        })
    }

    fn start(&mut self, now: Timestamp, out: &mut Vec<Seg>) {
        let id = self.sessions.len() as u32;
        let port = self.next_port;
        self.next_port = if port == EPHEMERAL_PORTS.1 { EPHEMERAL_PORTS.0 } else { port + 1 };
        let session = Session { port, isn: self.rng.next_u32(), started: now, syns: 1, state: State::SynSent };
        self.sessions.push(session);
        self.by_port[usize::from(port)] = id;
        out.push(self.syn(now, &session));
        // The deadline first: a retransmission due at the same instant is not sent.
        self.timers.push(now.saturating_add(self.config.timeout), Timer::Timeout(id));
        self.timers.push(now.saturating_add(syn_backoff(1)), Timer::Retransmit(id));
        let next = u64::from(id) + 1;
        if next < self.config.sessions {
            self.timers.push(self.start_of(next), Timer::Start);
        }
    }

    fn start_of(&self, n: u64) -> Timestamp {
        let offset = (n as f64 / self.config.rate.max(1e-9) * 1e9).round();
        self.config.start.saturating_add(Duration::from_nanos(offset.min(u64::MAX as f64) as u64))
    }

    fn end(&mut self, id: u32, connect: Option<Duration>, failure: Option<Failure>, now: Timestamp) {
        let session = &mut self.sessions[id as usize];
        let completed = failure.is_none().then(|| now.saturating_since(session.started));
        session.state = State::Done(Outcome { connect, failure, completed });
    }

    fn retransmit(&mut self, now: Timestamp, id: u32, out: &mut Vec<Seg>) {
        let session = &mut self.sessions[id as usize];
        if session.state != State::SynSent || session.syns > SYN_RETRIES {
            return;
        }
        session.syns += 1;
        let (session, started, syns) = (*session, session.started, session.syns);
        out.push(self.syn(now, &session));
        self.timers.push(started.saturating_add(syn_backoff(syns)), Timer::Retransmit(id));
    }

    fn give_up(&mut self, now: Timestamp, id: u32, out: &mut Vec<Seg>) {
        let session = self.sessions[id as usize];
        match session.state {
            State::Done(_) => {}
            State::SynSent => self.end(id, None, Some(Failure::Timeout), now),
            State::Established { connect, .. } => {
                self.end(id, Some(connect), Some(Failure::Timeout), now);
                let me = SocketAddrV4::new(self.config.addr, session.port);
                out.push(Seg::new(me, self.config.server, TcpFlags::RST, session.isn.wrapping_add(1), 0));
            }
        }
    }

    fn syn(&self, now: Timestamp, session: &Session) -> Seg {
        let me = SocketAddrV4::new(self.config.addr, session.port);
        let mut syn = Seg::new(me, self.config.server, TcpFlags::SYN, session.isn, 0);
        syn.ts = Some((ts_clock(now), 0));
        syn.handshake_options = true;
        syn
    }

    fn ack(&self, now: Timestamp, me: SocketAddrV4, snd_nxt: u32, synack: &Seg) -> Seg {
        let mut ack = Seg::new(me, self.config.server, TcpFlags::ACK, snd_nxt, synack.seq.wrapping_add(1));
        ack.ts = synack.ts.map(|(val, _)| (ts_clock(now), val));
        ack
    }
}

/// When the `n`-th SYN goes out, from the first: 1 s, then doubling (1, 3, 7, 15... s).
fn syn_backoff(n: u32) -> Duration {
    Duration::from_secs((1u64 << n.min(20)) - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(timeout_s: u64) -> ClientConfig {
        ClientConfig {
            addr: "10.77.0.1".parse().unwrap(),
            server: "10.77.0.2:9999".parse().unwrap(),
            rate: 50.0,
            sessions: 1,
            start: Timestamp::from_nanos(0),
            timeout: Duration::from_secs(timeout_s),
        }
    }

    fn drive(client: &mut Client, until: Timestamp) -> Vec<(Timestamp, Seg)> {
        let mut sent = Vec::new();
        let mut out = Vec::new();
        while let Some(at) = client.poll_timeout().filter(|&at| at <= until) {
            client.poll(at, &mut out);
            sent.extend(out.drain(..).map(|s| (at, s)));
        }
        sent
    }

    #[test]
    fn syns_are_retransmitted_like_linux_until_the_timeout() {
        let mut client = Client::new(config(10), 1);
        let sent = drive(&mut client, Timestamp::from_nanos(u64::MAX / 2));
        let times: Vec<u64> = sent.iter().map(|(at, _)| at.as_nanos() / 1_000_000_000).collect();
        assert_eq!(times, [0, 1, 3, 7]);
        assert!(sent.iter().all(|(_, s)| s.is_syn() && s.seq == sent[0].1.seq));
        let timeout = Outcome { connect: None, failure: Some(Failure::Timeout), completed: None };
        assert_eq!(client.outcomes().collect::<Vec<_>>(), [Some(timeout)]);
    }

    #[test]
    fn sessions_are_paced_like_the_probers_rate() {
        let mut client = Client::new(ClientConfig { sessions: 3, ..config(1) }, 1);
        let sent = drive(&mut client, Timestamp::from_nanos(u64::MAX / 2));
        let starts: Vec<u64> = sent.iter().map(|(at, _)| at.as_nanos() / 1_000_000).collect();
        assert_eq!(starts, [0, 20, 40]);
        assert_eq!(client.last_deadline(), Timestamp::from_nanos(1_040_000_000));
    }

    #[test]
    fn a_one_second_timeout_sends_one_syn() {
        let mut client = Client::new(config(1), 1);
        assert_eq!(drive(&mut client, Timestamp::from_nanos(u64::MAX / 2)).len(), 1);
    }

    #[test]
    fn synack_then_greeting_is_a_success_measured_at_connect() {
        let mut client = Client::new(config(1), 1);
        let syn = drive(&mut client, Timestamp::from_nanos(1_000))[0];
        let mut synack = Seg::new(syn.1.dst, syn.1.src, TcpFlags::SYN | TcpFlags::ACK, 500, syn.1.seq + 1);
        synack.ts = Some((42, 7));
        let mut out = Vec::new();
        let connected = syn.0.saturating_add(Duration::from_micros(100));
        client.on_segment(connected, &synack, &mut out);
        assert_eq!(out[0].ts.map(|(_, ecr)| ecr), Some(42), "TSecr echoes the SYN-ACK's TSval");
        assert_eq!((out[0].seq, out[0].ack), (syn.1.seq + 1, 501));
        let mut greeting = Seg::new(syn.1.dst, syn.1.src, TcpFlags::PSH | TcpFlags::ACK, 501, syn.1.seq + 1);
        greeting.payload = 8;
        client.on_segment(connected.saturating_add(Duration::from_millis(5)), &greeting, &mut out);
        assert!(out[1].flags.rst());
        let outcome = client.outcomes().next().unwrap();
        let completed = Some(Duration::from_micros(5_100));
        assert_eq!(outcome, Some(Outcome { connect: Some(Duration::from_micros(100)), failure: None, completed }));
    }
}
