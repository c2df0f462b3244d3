//! One trial: the hosts, the links between them and, in the guard scenarios, the real guard, on one virtual clock.
//!
//! ```text
//!  client ──hop── gateway ──hop── listener        kernel scenarios: the gateway only routes
//!  attacker ─────┘ (guard)                         guard scenarios: `defense::guard::Guard` bridges frames
//! ```
//!
//! Each link takes a quarter of the round-trip time one way; the attacker's SYNs are stamped with their arrival at
//! the gateway, in the flood's batches. On top of that every packet waits for a CPU where the real one does, for a
//! service time from [`super::calibration`] drawn around its mean: what arrives from the client namespace at the
//! gateway's [`Station`] (the bridge, the guard's XDP program answering a SYN, or the copy into the guard's rings),
//! what arrives at the server's (the listener's SYN handling), and in the guard scenarios the guard's thread
//! ([`GuardThread`]: three bounded rings served in `bridge.rs`'s order; what the guard sends waits in its transmit
//! ring until the pass ends or 256 frames are queued on that side, as `links.rs` sends them). The timeline is `lab/trial.rs`'s: the flood lasts `duration`, the prober
//! starts half a second in and starts sessions for `duration - 1 s`, and SYN-RECV is sampled every 100 ms until
//! the last session has ended.
//!
//! Every component keeps its own timers and says when it next needs the clock (sans-IO, DESIGN.md); the loop
//! always serves the earliest, and on a tie the first in this order: packets in flight, listener, guard timers,
//! guard thread, client, attacker, sampler. Nothing else decides an order, so a seed replays a trial exactly.
//!
//! The guard is driven as `cmd/guard/` drives it: each segment for it is crafted into an Ethernet frame, handed
//! to [`Guard::handle`] with the side it arrived on, and the verdict and the outbox are read back into segments
//! (frames to spoofed sources are only looked at for their destination). Its timers run at
//! [`Guard::poll_timeout`] and with every SYN-RECV sample, where its proxy table also ages.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};

use super::attacker::Attacker;
use super::calibration::Costs;
use super::client::{Client, ClientConfig, Outcome};
use super::event::EventQueue;
use super::guard_thread::{GuardThread, Ring, Step, Waiting};
use super::kernel_listener::KernelListener;
use super::random::{Rng, mix};
use super::segment::{Seg, SynFrames};
use super::setup::SimSetup;
use super::station::Station;
use crate::defense::guard::{Checksum, Guard, GuardStats, Interface, Outbox, Verdict};
use crate::defense::policy::Mode;
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
    /// What each packet costs the CPUs it crosses ([`super::calibration`]).
    pub costs: Costs,
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
    /// The guard thread's busy time and its rings' drops, in guard scenarios.
    pub guard_thread: Option<ThreadFigures>,
}

/// What the guard's thread did, in the real guard's terms (`guard_cpu_s`, `ring_drops`).
#[derive(Clone, Copy, Debug)]
pub struct ThreadFigures {
    pub busy: Duration,
    /// Outside, inside, outside SYNs.
    pub ring_drops: [u64; 3],
}

#[derive(Clone, Copy, Debug)]
enum Hop {
    /// Reaching the gateway from the client namespace, before the kernel's delivery there.
    Gateway,
    /// Delivered at the gateway: to the guard (its rings, or its XDP program), or routed on to the listener.
    GatewayDone,
    /// Reaching the server namespace, before the kernel's delivery there.
    KernelListener,
    /// Delivered to the listening socket.
    ListenerDone,
    Client,
    /// Reaching the guard's inside interface.
    GuardInside,
}

struct GuardBox {
    guard: Guard,
    thread: GuardThread,
    /// SYNs to the protected service are answered in XDP, before the rings (`guard-cookies`).
    xdp: bool,
    mode: Mode,
    outbox: Outbox,
    tx: TxRings,
    frame: Vec<u8>,
    /// The attacker's SYNs, patched rather than crafted.
    syns: Option<SynFrames>,
}

/// Links and where each kind of packet goes next.
struct Network {
    in_flight: EventQueue<(Hop, Seg)>,
    hop: Duration,
    guarded: bool,
    costs: Costs,
    /// The kernel's delivery at the gateway of what comes from the client namespace, and at the server.
    gateway: Station,
    server: Station,
    /// Draws each service time around its mean.
    jitter: Rng,
}

impl Network {
    fn later(&self, now: Timestamp, hops: u64) -> Timestamp {
        now.saturating_add(Duration::from_nanos(self.hop.as_nanos() * hops))
    }

    /// A service time drawn uniformly from half to one and a half times `mean`. Identical fixed costs would move
    /// packets in lockstep (two CPUs finishing together, a ring's free slot always going to the first of a pair),
    /// which real CPUs, with caches and interrupts, never do.
    fn jittered(&mut self, mean: Duration) -> Duration {
        Duration::from_nanos((mean.as_nanos() as f64 * (0.5 + self.jitter.unit())).round() as u64)
    }

    fn send_from_client(&mut self, now: Timestamp, seg: Seg) {
        self.in_flight.push(self.later(now, 1), (Hop::Gateway, seg));
    }

    /// A segment reaching the gateway from the client namespace at `now` waits for a CPU there: the bridge's
    /// forwarding, the guard's XDP program, or the copy into the guard's rings.
    fn reach_gateway(&mut self, now: Timestamp, seg: Seg, xdp: bool) {
        let cost = if !self.guarded {
            self.costs.gateway_bridge
        } else if xdp && seg.is_syn() {
            self.costs.gateway_xdp
        } else {
            self.costs.gateway_rings
        };
        let cost = self.jittered(cost);
        if let Some(done) = self.gateway.offer(now, cost) {
            self.in_flight.push(done, (Hop::GatewayDone, seg));
        }
    }

    /// A segment reaching the server namespace waits for a CPU there; a SYN the listener will answer costs more.
    fn reach_listener(&mut self, now: Timestamp, seg: Seg, answered: bool) {
        let cost = self.jittered(if answered { self.costs.listener_synack } else { self.costs.listener_segment });
        if let Some(done) = self.server.offer(now, cost) {
            self.in_flight.push(done, (Hop::ListenerDone, seg));
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
        if let Some(seg) = guard_output(side, frame) {
            self.deliver_from_guard(now, side, seg);
        }
    }

    fn deliver_from_guard(&mut self, now: Timestamp, side: Interface, seg: Seg) {
        let hop = match side {
            Interface::Inside => Hop::KernelListener,
            Interface::Outside => Hop::Client,
        };
        self.in_flight.push(self.later(now, 1), (hop, seg));
    }
}

/// The segment a frame the guard sends out of `side` carries, if it goes anywhere simulated: everything to the
/// listener, and to the client only what is addressed to it (answers to spoofed sources die in its namespace).
fn guard_output(side: Interface, frame: &[u8]) -> Option<Seg> {
    match side {
        Interface::Inside => Seg::from_frame(frame),
        Interface::Outside if Seg::frame_destination(frame) == Some(IpAddr::V4(CLIENT_IP)) => Seg::from_frame(frame),
        Interface::Outside => None,
    }
}

/// The guard thread's transmit rings (`cmd/guard/links.rs`): what it sends waits in a ring until the pass ends or
/// [`SEND_BATCH`] frames are queued on that side, then goes out in one send.
#[derive(Default)]
struct TxRings {
    /// Per side (outside, inside): frames queued, and the segments among them that go somewhere simulated.
    queued: [usize; 2],
    pending: [Vec<Seg>; 2],
}

/// Frames handed to the kernel per send (`links.rs`'s `SEND_BATCH`).
const SEND_BATCH: usize = 256;

fn side_index(side: Interface) -> usize {
    match side {
        Interface::Outside => 0,
        Interface::Inside => 1,
    }
}

impl TxRings {
    /// Queues a frame; true when its side has a batch's worth and must be flushed.
    fn push(&mut self, side: Interface, frame: &[u8]) -> bool {
        let i = side_index(side);
        self.queued[i] += 1;
        if let Some(seg) = guard_output(side, frame) {
            self.pending[i].push(seg);
        }
        self.queued[i] >= SEND_BATCH
    }

    fn flush(&mut self, net: &mut Network, now: Timestamp, side: Interface) {
        let i = side_index(side);
        self.queued[i] = 0;
        for seg in self.pending[i].drain(..) {
            net.deliver_from_guard(now, side, seg);
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
    let costs = setup.costs;
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
        thread: GuardThread::new(costs.ring_slots, costs.guard_pass, costs.guard_wakeup),
        xdp: g.xdp,
        mode: g.mode,
        outbox: Outbox::default(),
        tx: TxRings::default(),
        frame: Vec::with_capacity(128),
        syns: attack_template().and_then(|syn| SynFrames::new(syn, SERVER).ok()),
    });
    let backlog = costs.backlog * costs.cpus.max(1);
    let mut world = World {
        net: Network {
            in_flight: EventQueue::default(),
            hop: Duration::from_nanos(setup.rtt.as_nanos() / 4),
            guarded: guard.is_some(),
            costs,
            gateway: Station::new(costs.cpus, backlog),
            server: Station::new(costs.cpus, backlog),
            jitter: Rng::new(mix(setup.seed, 5)),
        },
        listener: KernelListener::new(listener, mix(setup.seed, 3)),
        client: Client::new(client, mix(setup.seed, 2)),
        attacker: Attacker::new(SERVER, setup.rate, start, flood_end, mix(setup.seed, 1)).batched(costs.flood_period),
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
            world.guard.as_ref().and_then(|g| g.thread.next_at()),
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
            3 => world.guard_step(now),
            4 => {
                world.client.poll(now, &mut world.scratch);
                for seg in world.scratch.drain(..) {
                    world.net.send_from_client(now, seg);
                }
            }
            5 => {
                if let Some(syn) = world.attacker.fire() {
                    world.reach_gateway(now, syn);
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
        guard_thread: world.guard.as_ref().map(|g| ThreadFigures {
            busy: g.thread.busy(),
            ring_drops: [Ring::Outside, Ring::Inside, Ring::OutsideSyns].map(|r| g.thread.dropped(r)),
        }),
    }
}

/// The shape of every spoofed SYN (the attacker varies the source and sequence number only).
fn attack_template() -> Option<Seg> {
    let mut attacker = Attacker::new(SERVER, 1, EPOCH, Timestamp::from_nanos(u64::MAX), 0);
    attacker.fire()
}

/// The attacker's segments come from spoofed sources; only the prober's come from the client's address.
fn spoofed(seg: &Seg) -> bool {
    *seg.src.ip() != CLIENT_IP
}

impl World {
    fn deliver(&mut self, now: Timestamp) {
        let Some((_, (hop, seg))) = self.net.in_flight.pop_due(now) else { return };
        match hop {
            Hop::Gateway => self.reach_gateway(now, seg),
            Hop::GatewayDone => match self.guard.as_mut() {
                None => self.net.in_flight.push(self.net.later(now, 1), (Hop::KernelListener, seg)),
                Some(g) if g.xdp && seg.is_syn() => {
                    // Answered in XDP with the SYN-ACK the guard's userspace would send, byte for byte.
                    self.through_guard(now, Interface::Outside, &seg);
                }
                Some(g) => {
                    let ring = Ring::of(Interface::Outside, &seg);
                    g.thread.arrive(now, ring, Waiting { seg, attack: spoofed(&seg) });
                }
            },
            Hop::KernelListener => {
                let answered = seg.is_syn()
                    && (self.listener.config().sysctls.syncookies != 0
                        || self.listener.syn_queue_len() < self.listener.config().syn_queue_limit());
                self.net.reach_listener(now, seg, answered);
            }
            Hop::ListenerDone => {
                self.listener.on_segment(now, &seg, &mut self.scratch);
                self.route_from_listener(now);
            }
            Hop::Client => {
                self.client.on_segment(now, &seg, &mut self.scratch);
                for seg in self.scratch.drain(..) {
                    self.net.send_from_client(now, seg);
                }
            }
            Hop::GuardInside => {
                if let Some(g) = self.guard.as_mut() {
                    g.thread.arrive(now, Ring::Inside, Waiting { seg, attack: false });
                }
            }
        }
    }

    fn reach_gateway(&mut self, now: Timestamp, seg: Seg) {
        let xdp = self.guard.as_ref().is_some_and(|g| g.xdp);
        self.net.reach_gateway(now, seg, xdp);
    }

    fn route_from_listener(&mut self, now: Timestamp) {
        for seg in self.scratch.drain(..) {
            self.net.send_from_listener(now, seg);
        }
    }

    /// The guard's thread at `now`: the next frame from its rings through the guard, what it sends leaving when
    /// the frame's cost has been paid.
    fn guard_step(&mut self, now: Timestamp) {
        let Some(g) = self.guard.as_mut() else { return };
        let Step::Frame(ring, waiting) = g.thread.step(now) else {
            // The pass is over (or the thread sleeps): its transmit rings are flushed.
            for side in [Interface::Outside, Interface::Inside] {
                g.tx.flush(&mut self.net, now, side);
            }
            return;
        };
        let side = ring.side();
        let cost = match (ring, g.mode) {
            (Ring::OutsideSyns, Mode::Limit) => self.net.costs.guard_syn_limit,
            (Ring::OutsideSyns, Mode::Auto) => self.net.costs.guard_syn_auto,
            (Ring::OutsideSyns, _) => self.net.costs.guard_syn_cookies,
            _ => self.net.costs.guard_frame,
        };
        let cost = self.net.jittered(cost);
        g.thread.handled(now, cost);
        let done = now.saturating_add(cost);
        match (&g.syns, waiting.attack && waiting.seg.is_syn()) {
            (Some(syns), true) => syns.write(&waiting.seg, &mut g.frame),
            _ => {
                if waiting.seg.write_frame(SERVER, &mut g.frame).is_err() {
                    return;
                }
            }
        }
        if g.guard.handle(now, side, &mut g.frame, Checksum::Complete, &mut g.outbox) == Verdict::Forward
            && g.tx.push(side.other(), &g.frame)
        {
            g.tx.flush(&mut self.net, done, side.other());
        }
        for (out_side, frame) in g.outbox.frames() {
            if g.tx.push(out_side, frame) {
                g.tx.flush(&mut self.net, done, out_side);
            }
        }
        g.outbox.clear();
    }

    /// A segment handled by the guard at once, outside its thread (the XDP program's answer to a SYN).
    fn through_guard(&mut self, now: Timestamp, side: Interface, seg: &Seg) {
        let Some(g) = self.guard.as_mut() else { return };
        let written = match (&g.syns, spoofed(seg)) {
            (Some(syns), true) => {
                syns.write(seg, &mut g.frame);
                true
            }
            _ => seg.write_frame(SERVER, &mut g.frame).is_ok(),
        };
        if !written {
            return;
        }
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
