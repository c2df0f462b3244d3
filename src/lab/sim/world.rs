//! One trial: the hosts, the links between them and, in the guard scenarios, the real guard, on one virtual clock.
//!
//! ```text
//!  client ──hop── gateway ──hop── listener        kernel scenarios: the gateway only routes
//!  attacker ─────┘ (guard)                         guard scenarios: `defense::guard::Guard` bridges frames
//! ```
//!
//! Each link takes a quarter of the round-trip time one way; the attacker's SYNs are stamped with their arrival at
//! the gateway. The timeline is `lab/trial.rs`'s: the flood lasts `duration`, the prober starts half a second in
//! and starts sessions for `duration - 1 s`, and SYN-RECV is sampled every 100 ms until the last session has ended.
//!
//! Every component keeps its own timers and says when it next needs the clock (sans-IO, DESIGN.md); the loop
//! always serves the earliest, and on a tie the first in this order: packets in flight, listener, guard, client,
//! attacker, sampler. Nothing else decides an order, so a seed replays a trial exactly.
//!
//! The guard is driven as `cmd/guard/` drives it: each segment for it is crafted into an Ethernet frame, handed
//! to [`Guard::handle`] with the side it arrived on, and the verdict and the outbox are read back into segments
//! (frames to spoofed sources are only looked at for their destination). Its timers run at
//! [`Guard::poll_timeout`] and with every SYN-RECV sample, where its proxy table also ages.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use super::attacker::Attacker;
use super::client::{Client, ClientConfig, Outcome};
use super::event::EventQueue;
use super::kernel_listener::KernelListener;
use super::random::{Rng, mix};
use super::segment::{Seg, SynFrames};
use super::setup::SimSetup;
use crate::defense::guard::{Checksum, Guard, GuardStats, Interface, Outbox, Verdict};
use crate::netns::ListenCounters;
use crate::time::{Duration, Timestamp};

/// The virtual clock starts here (2023-11-14, on a boundary of the cookie codec's 64 s ticks).
pub const EPOCH: Timestamp = Timestamp::from_nanos(1_700_000_000 * 1_000_000_000);
/// SYN-RECV is sampled this often, as the real lab polls `ss`.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// The lab's addresses (`lab/topology.rs`): the client namespace and the protected listener.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
pub const SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 2), 9999);
/// Time the echo listener spends per accept().
const ACCEPT_COST: Duration = Duration::from_micros(20);

/// The prober starts this long after the flood (`lab/trial.rs`).
pub const PROBE_DELAY: Duration = Duration::from_millis(500);

/// What a trial needs to know.
#[derive(Clone, Copy, Debug)]
pub struct Setup<'a> {
    pub scenario: &'a SimSetup,
    /// Spoofed SYNs per second.
    pub rate: u64,
    /// How long the flood lasts. As in the real lab, the prober starts [`PROBE_DELAY`] in and starts sessions for
    /// `duration - 1 s` (at least 1 s); SYN-RECV is sampled until the last session has ended.
    pub duration: Duration,
    pub legit_rate: f64,
    pub session_timeout: Duration,
    pub rtt: Duration,
    pub seed: u64,
}

/// What a trial saw, for [`super::measure`].
pub struct Observed {
    pub outcomes: Vec<Option<Outcome>>,
    /// Spoofed SYNs sent.
    pub attack_syns: u64,
    /// (seconds since the start, SYN-RECV).
    pub syn_recv: Vec<(f64, u64)>,
    pub counters: ListenCounters,
    pub guard: Option<GuardStats>,
}

#[derive(Clone, Copy, Debug)]
enum Hop {
    KernelListener,
    Client,
    GuardOutside,
    GuardInside,
}

struct GuardBox {
    guard: Guard,
    outbox: Outbox,
    frame: Vec<u8>,
    /// The attacker's SYNs, patched rather than crafted.
    syns: Option<SynFrames>,
}

/// Links and where each kind of packet goes next.
struct Network {
    in_flight: EventQueue<(Hop, Seg)>,
    hop: Duration,
    guarded: bool,
}

impl Network {
    fn later(&self, now: Timestamp, hops: u64) -> Timestamp {
        now.saturating_add(Duration::from_nanos(self.hop.as_nanos() * hops))
    }

    fn send_from_client(&mut self, now: Timestamp, seg: Seg) {
        if self.guarded {
            self.in_flight.push(self.later(now, 1), (Hop::GuardOutside, seg));
        } else {
            self.in_flight.push(self.later(now, 2), (Hop::KernelListener, seg));
        }
    }

    fn send_from_listener(&mut self, now: Timestamp, seg: Seg) {
        if self.guarded {
            self.in_flight.push(self.later(now, 1), (Hop::GuardInside, seg));
        } else if *seg.dst.ip() == CLIENT_IP {
            self.in_flight.push(self.later(now, 2), (Hop::Client, seg));
        }
        // Anything else answers a spoofed source and dies in the client namespace.
    }

    /// A frame the guard sends (or forwards) out of `side`.
    fn send_from_guard(&mut self, now: Timestamp, side: Interface, frame: &[u8]) {
        match side {
            Interface::Inside => {
                if let Some(seg) = Seg::from_frame(frame) {
                    self.in_flight.push(self.later(now, 1), (Hop::KernelListener, seg));
                }
            }
            Interface::Outside => {
                if Seg::frame_destination(frame) == Some(IpAddr::V4(CLIENT_IP))
                    && let Some(seg) = Seg::from_frame(frame)
                {
                    self.in_flight.push(self.later(now, 1), (Hop::Client, seg));
                }
            }
        }
    }
}

struct World {
    net: Network,
    listener: KernelListener,
    client: Client,
    attacker: Attacker,
    guard: Option<GuardBox>,
    scratch: Vec<Seg>,
}

/// The prober's sessions for a flood of `duration` at `rate` per second (`lab/trial.rs`).
pub fn session_count(duration: Duration, rate: f64) -> u64 {
    let window = duration.as_secs_f64() - 1.0;
    ((rate * window.max(1.0)).round() as u64).max(1)
}

/// Runs one trial to its end.
pub fn run(setup: &Setup<'_>) -> Observed {
    let start = EPOCH;
    let flood_end = start.saturating_add(setup.duration);
    let scenario = setup.scenario;
    let listener = scenario.listener(SERVER, ACCEPT_COST);
    let client = ClientConfig {
        addr: CLIENT_IP,
        server: SERVER,
        rate: setup.legit_rate,
        sessions: session_count(setup.duration, setup.legit_rate),
        start: start.saturating_add(PROBE_DELAY),
        timeout: setup.session_timeout,
    };
    let guard = scenario.guard.map(|g| GuardBox {
        guard: Guard::new(g.config(SocketAddr::V4(SERVER)), Rng::new(mix(setup.seed, 4)).key()),
        outbox: Outbox::default(),
        frame: Vec::with_capacity(128),
        syns: attack_template().and_then(|syn| SynFrames::new(syn, SERVER).ok()),
    });
    let mut world = World {
        net: Network {
            in_flight: EventQueue::default(),
            hop: Duration::from_nanos(setup.rtt.as_nanos() / 4),
            guarded: guard.is_some(),
        },
        listener: KernelListener::new(listener, mix(setup.seed, 3)),
        client: Client::new(client, mix(setup.seed, 2)),
        attacker: Attacker::new(SERVER, setup.rate, start, flood_end, mix(setup.seed, 1)),
        guard,
        scratch: Vec::new(),
    };
    let end = world.client.last_deadline().max(flood_end);

    let mut syn_recv = Vec::new();
    let mut next_sample = Some(start);
    loop {
        let due = [
            world.net.in_flight.next_at(),
            world.listener.poll_timeout(),
            world.guard.as_ref().and_then(|g| g.guard.poll_timeout()),
            world.client.poll_timeout(),
            world.attacker.next_at(),
            next_sample,
        ];
        let earliest = due.iter().enumerate().filter_map(|(i, at)| Some((i, (*at)?))).min_by_key(|&(i, at)| (at, i));
        let Some((source, now)) = earliest.filter(|&(_, now)| now <= end) else { break };
        match source {
            0 => world.deliver(now),
            1 => {
                world.listener.poll(now, &mut world.scratch);
                world.route_from_listener(now);
            }
            2 => world.poll_guard(now),
            3 => {
                world.client.poll(now, &mut world.scratch);
                for seg in world.scratch.drain(..) {
                    world.net.send_from_client(now, seg);
                }
            }
            4 => {
                if let Some(syn) = world.attacker.fire() {
                    world.attack(now, syn);
                }
            }
            _ => {
                let k = syn_recv.len() as u64;
                let seconds = (k * SAMPLE_EVERY.as_nanos()) as f64 / 1e9;
                syn_recv.push((seconds, u64::from(world.listener.syn_queue_len())));
                world.poll_guard(now);
                let next = start.saturating_add(Duration::from_nanos(SAMPLE_EVERY.as_nanos() * (k + 1)));
                next_sample = (next <= end).then_some(next);
            }
        }
    }
    Observed {
        outcomes: world.client.outcomes().collect(),
        attack_syns: world.attacker.sent(),
        syn_recv,
        counters: *world.listener.counters(),
        guard: world.guard.as_ref().map(|g| g.guard.stats()),
    }
}

/// The shape of every spoofed SYN (the attacker varies the source and sequence number only).
fn attack_template() -> Option<Seg> {
    let mut attacker = Attacker::new(SERVER, 1, EPOCH, Timestamp::from_nanos(u64::MAX), 0);
    attacker.fire()
}

impl World {
    fn deliver(&mut self, now: Timestamp) {
        let Some((_, (hop, seg))) = self.net.in_flight.pop_due(now) else { return };
        match hop {
            Hop::KernelListener => {
                self.listener.on_segment(now, &seg, &mut self.scratch);
                self.route_from_listener(now);
            }
            Hop::Client => {
                self.client.on_segment(now, &seg, &mut self.scratch);
                for seg in self.scratch.drain(..) {
                    self.net.send_from_client(now, seg);
                }
            }
            Hop::GuardOutside => self.through_guard(now, Interface::Outside, &seg),
            Hop::GuardInside => self.through_guard(now, Interface::Inside, &seg),
        }
    }

    /// A spoofed SYN reaching the gateway.
    fn attack(&mut self, now: Timestamp, syn: Seg) {
        if let Some(g) = self.guard.as_mut() {
            match &g.syns {
                Some(syns) => {
                    syns.write(&syn, &mut g.frame);
                    self.guard_frame(now, Interface::Outside);
                }
                None => self.through_guard(now, Interface::Outside, &syn),
            }
        } else {
            self.listener.on_segment(now, &syn, &mut self.scratch);
            self.route_from_listener(now);
        }
    }

    fn route_from_listener(&mut self, now: Timestamp) {
        for seg in self.scratch.drain(..) {
            self.net.send_from_listener(now, seg);
        }
    }

    /// A segment arriving at the guard on `side`, as a frame.
    fn through_guard(&mut self, now: Timestamp, side: Interface, seg: &Seg) {
        let Some(g) = self.guard.as_mut() else { return };
        if seg.write_frame(SERVER, &mut g.frame).is_ok() {
            self.guard_frame(now, side);
        }
    }

    /// The frame in the guard's buffer, arriving on `side`.
    fn guard_frame(&mut self, now: Timestamp, side: Interface) {
        let Some(g) = self.guard.as_mut() else { return };
        if g.guard.handle(now, side, &mut g.frame, Checksum::Complete, &mut g.outbox) == Verdict::Forward {
            self.net.send_from_guard(now, side.other(), &g.frame);
        }
        for (out_side, frame) in g.outbox.frames() {
            self.net.send_from_guard(now, out_side, frame);
        }
        g.outbox.clear();
    }

    fn poll_guard(&mut self, now: Timestamp) {
        let Some(g) = self.guard.as_mut() else { return };
        g.guard.handle_timeout(now, &mut g.outbox);
        for (side, frame) in g.outbox.frames() {
            self.net.send_from_guard(now, side, frame);
        }
        g.outbox.clear();
    }
}
