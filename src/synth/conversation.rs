//! A scripted TCP or UDP conversation between a client and a server: each call emits one frame with the sequence
//! and acknowledgement numbers a real stack would use (RFC 9293 §3.4: SYN and FIN each take one sequence number).

use std::net::SocketAddr;

use crate::time::{Duration, Timestamp};
use crate::wire::TcpFlags;
use crate::wire::craft::{self, EthernetSpec, IpSpec, TcpSpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    Client,
    Server,
}

impl Peer {
    fn index(self) -> usize {
        match self {
            Peer::Client => 0,
            Peer::Server => 1,
        }
    }

    fn other(self) -> Peer {
        match self {
            Peer::Client => Peer::Server,
            Peer::Server => Peer::Client,
        }
    }
}

/// One crafted frame and when it was "seen".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthFrame {
    pub ts: Timestamp,
    pub data: Vec<u8>,
    /// Length on the wire; more than `data.len()` for a frame cut short by a snap length.
    pub orig_len: u32,
}

impl SynthFrame {
    pub fn new(ts: Timestamp, data: Vec<u8>) -> Self {
        let orig_len = data.len() as u32;
        SynthFrame { ts, data, orig_len }
    }
}

pub const F_SYN: u16 = TcpFlags::SYN;
pub const F_ACK: u16 = TcpFlags::ACK;
pub const F_FIN: u16 = TcpFlags::FIN;
pub const F_RST: u16 = TcpFlags::RST;
pub const F_PSH: u16 = TcpFlags::PSH;

pub struct Conversation<'a> {
    /// The client's view of the link; `None` for raw IP frames.
    eth: Option<EthernetSpec<'a>>,
    endpoints: [SocketAddr; 2],
    next_seq: [u32; 2],
    ip_id: [u16; 2],
    window: [u16; 2],
    /// RFC 7323 timestamp clocks, ticking once per millisecond like Linux's.
    ts_clock: [u32; 2],
    last_ts_val: [u32; 2],
    pub now: Timestamp,
    pub frames: Vec<SynthFrame>,
}

impl<'a> Conversation<'a> {
    pub fn new(
        eth: Option<EthernetSpec<'a>>,
        client: SocketAddr,
        server: SocketAddr,
        isn: [u32; 2],
        start: Timestamp,
    ) -> Self {
        Conversation {
            eth,
            endpoints: [client, server],
            next_seq: isn,
            ip_id: [0x1c46, 0x0000],
            window: [64240, 65160],
            ts_clock: [isn[0] >> 8, isn[1] >> 8],
            last_ts_val: [0, 0],
            now: start,
            frames: Vec::new(),
        }
    }

    pub fn wait(&mut self, d: Duration) -> &mut Self {
        self.now = self.now.saturating_add(d);
        self
    }

    fn link(&self, from: Peer) -> Option<EthernetSpec<'a>> {
        self.eth.map(|e| if from == Peer::Client { e } else { e.reversed() })
    }

    fn ip(&mut self, from: Peer) -> IpSpec {
        let i = from.index();
        let id = self.ip_id[i];
        self.ip_id[i] = id.wrapping_add(1);
        craft::ip_between(self.endpoints[i], self.endpoints[from.other().index()], 64, id)
    }

    fn ts_val(&self, from: Peer) -> u32 {
        let ms = (self.now.as_nanos() / 1_000_000) as u32;
        self.ts_clock[from.index()].wrapping_add(ms)
    }

    /// Sends a segment with explicit numbers, without moving the sender's sequence (retransmissions, resets).
    pub fn raw(&mut self, from: Peer, flags: u16, seq: u32, ack: u32, payload: &[u8], after: Duration) -> &mut Self {
        self.wait(after);
        let i = from.index();
        let ts_val = self.ts_val(from);
        let ts_ecr = self.last_ts_val[from.other().index()];
        self.last_ts_val[i] = ts_val;
        let options: Vec<u8> = if flags & F_RST != 0 {
            Vec::new()
        } else if flags & F_SYN != 0 {
            craft::linux_syn_options(1460, ts_val, if flags & F_ACK != 0 { ts_ecr } else { 0 }, 7).to_vec()
        } else {
            craft::timestamp_option(ts_val, ts_ecr).to_vec()
        };
        let window = if flags & F_RST != 0 && flags & F_ACK != 0 && payload.is_empty() { 0 } else { self.window[i] };
        let spec = TcpSpec {
            src_port: self.endpoints[i].port(),
            dst_port: self.endpoints[from.other().index()].port(),
            seq,
            ack: if flags & F_ACK != 0 { ack } else { 0 },
            flags: TcpFlags(flags),
            window,
            options: &options,
            payload,
        };
        let ip = self.ip(from);
        let link = self.link(from);
        let mut data = Vec::with_capacity(128 + payload.len());
        craft::tcp_frame(&mut data, link.as_ref(), &ip, &spec).expect("scripted segments are well-formed");
        self.frames.push(SynthFrame::new(self.now, data));
        self
    }

    /// Sends a segment in sequence: seq is the sender's next, ack the peer's next; SYN and FIN take one number.
    pub fn send(&mut self, from: Peer, flags: u16, payload: &[u8], after: Duration) -> &mut Self {
        let i = from.index();
        let seq = self.next_seq[i];
        let ack = self.next_seq[from.other().index()];
        self.raw(from, flags, seq, ack, payload, after);
        let used = payload.len() as u32 + u32::from(flags & F_SYN != 0) + u32::from(flags & F_FIN != 0);
        self.next_seq[i] = seq.wrapping_add(used);
        self
    }

    /// The client's initial sequence number as sent, for retransmitting a SYN.
    pub fn next_seq(&self, side: Peer) -> u32 {
        self.next_seq[side.index()]
    }

    /// Three-way handshake (RFC 9293 §3.5), one round trip `rtt` apart.
    pub fn handshake(&mut self, rtt: Duration) -> &mut Self {
        self.send(Peer::Client, F_SYN, b"", Duration::ZERO).send(Peer::Server, F_SYN | F_ACK, b"", half(rtt)).send(
            Peer::Client,
            F_ACK,
            b"",
            half(rtt),
        )
    }

    /// The seed's exchange: the server's greeting, then each message answered with `Hello, M!`, then `exit`.
    pub fn seed_exchange(&mut self, messages: &[&str], rtt: Duration) -> &mut Self {
        self.send(Peer::Server, F_PSH | F_ACK, b"Welcome!", Duration::from_micros(80)).send(
            Peer::Client,
            F_ACK,
            b"",
            half(rtt),
        );
        for message in messages {
            let reply = format!("Hello, {message}!");
            self.send(Peer::Client, F_PSH | F_ACK, message.as_bytes(), Duration::from_micros(150))
                .send(Peer::Server, F_PSH | F_ACK, reply.as_bytes(), half(rtt))
                .send(Peer::Client, F_ACK, b"", half(rtt));
        }
        self.send(Peer::Client, F_PSH | F_ACK, b"exit", Duration::from_micros(150))
    }

    /// Four-way teardown started by `first` (RFC 9293 §3.6): FIN, ACK, FIN, ACK.
    pub fn teardown(&mut self, first: Peer, rtt: Duration) -> &mut Self {
        let second = first.other();
        self.send(first, F_FIN | F_ACK, b"", Duration::from_micros(20))
            .send(second, F_ACK, b"", half(rtt))
            .send(second, F_FIN | F_ACK, b"", Duration::from_micros(300))
            .send(first, F_ACK, b"", half(rtt))
    }

    /// A UDP datagram from one side to the other.
    pub fn datagram(&mut self, from: Peer, payload: &[u8], after: Duration) -> &mut Self {
        self.wait(after);
        let i = from.index();
        let ip = self.ip(from);
        let link = self.link(from);
        let (sport, dport) = (self.endpoints[i].port(), self.endpoints[from.other().index()].port());
        let mut data = Vec::with_capacity(64 + payload.len());
        craft::udp_frame(&mut data, link.as_ref(), &ip, sport, dport, payload)
            .expect("scripted datagrams are well-formed");
        self.frames.push(SynthFrame::new(self.now, data));
        self
    }
}

fn half(d: Duration) -> Duration {
    Duration::from_nanos(d.as_nanos() / 2)
}
