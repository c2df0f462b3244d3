//! `synscope impair --between A B`: a two-port bridge that loses, duplicates, delays and reorders frames as
//! `tc netem` does ([`crate::impair`]), in both directions. It is how `scripts/faults.sh` and `tests/faults.rs`
//! put a bad link in front of the guard on kernels without `sch_netem`, and how a user can on any kernel.
//!
//! It reads and sends with the guard's sockets (`cmd/guard/links.rs`): receive rings with `PACKET_VNET_HDR`, so a
//! GSO super-frame is held and released whole with its virtio header, as netem holds a GSO skb whole; and senders
//! that pass that header on, so the kernel segments on egress. Like the guard, it runs only on interfaces outside
//! the initial namespace (or on loopback): it is for the lab's links, not for the host's.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};

use super::guard::bridge::{PACKET_OUTGOING, now as wall_clock, restore_tag};
use super::guard::links::{Rings, Sender};
use crate::capture::interfaces;
use crate::capture::live::frame_ring::FrameRing;
use crate::cli::parse::parse_duration;
use crate::impair::{DEFAULT_LIMIT, ImpairStats, Impairer, Percent, Spec};
use crate::time::{Duration, Timestamp};
use crate::wire::vnet::VnetHeader;

/// Frames taken from one ring before looking at the queue again.
const BURST: usize = 256;

const EXAMPLES: &str = "\
Examples:
  ip netns exec wan synscope impair --between wan0 wan1 --loss 5% --duration 60s
  ip netns exec wan synscope impair --between wan0 wan1 --delay 50ms --jitter 20ms --reorder 5% --duplicate 5%

Each option means what it means to tc-netem(8), applied to both directions: --loss and --duplicate are independent
per frame; --delay D --jitter J holds a frame for D ± J (uniform), releasing frames in time order, so jitter
reorders; --reorder P sends P of the frames at once, ahead of the others, which wait for --delay (10 ms if not
given, as in netem's own example). At most --limit frames are held per direction; more are dropped and counted.
At the end it prints one JSON object of counters per direction. It runs only in a network namespace (or on lo).";

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct ImpairArgs {
    /// The two interfaces to bridge: frames from the first leave by the second, and back.
    #[arg(long, num_args = 2, value_names = ["A", "B"], required = true)]
    pub between: Vec<String>,

    /// Share of frames lost, as a percentage (5% or 5).
    #[arg(long, value_name = "PERCENT", default_value = "0")]
    pub loss: Percent,

    /// Share of frames sent twice.
    #[arg(long, value_name = "PERCENT", default_value = "0")]
    pub duplicate: Percent,

    /// Share of frames sent at once, overtaking the delayed ones.
    #[arg(long, value_name = "PERCENT", default_value = "0")]
    pub reorder: Percent,

    /// How long each frame is held (e.g. 50ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub delay: Duration,

    /// Plus or minus this much, uniformly (e.g. 20ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "0s")]
    pub jitter: Duration,

    /// Frames held at most, per direction (netem's default: 1000).
    #[arg(long, value_name = "FRAMES", default_value_t = DEFAULT_LIMIT)]
    pub limit: usize,

    /// Seed for the random choices, to repeat a run's faults (default: from the clock).
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Stop after this long (default: until Ctrl-C or SIGTERM).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
}

/// What one direction carried, for the closing report.
#[derive(serde::Serialize)]
struct Direction {
    from: String,
    to: String,
    #[serde(flatten)]
    stats: ImpairStats,
    ring_drops: u64,
    send_errors: u64,
    /// Tagged frames whose virtio header could not take the tag back.
    unsendable: u64,
}

/// A frame waiting in the queue keeps the virtio header it came with.
type Queue = Impairer<VnetHeader>;

pub fn run(args: &ImpairArgs) -> anyhow::Result<ExitCode> {
    let [a, b] = [&args.between[0], &args.between[1]];
    if a == b {
        return Err(
            crate::cli::parse::UsageError(format!("--between needs two different interfaces, not {a} twice")).into()
        );
    }
    if args.jitter > args.delay && args.delay > Duration::ZERO {
        return Err(crate::cli::parse::UsageError("--jitter must not be more than --delay".into()).into());
    }
    for name in [a, b] {
        crate::safety::check_interface(&interfaces::find(name)?)?;
    }
    let spec = Spec {
        loss: args.loss,
        duplicate: args.duplicate,
        reorder: args.reorder,
        delay: args.delay,
        jitter: args.jitter,
        limit: args.limit,
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    // The rings' "outside" is A and "inside" B; A's ring is split in two by the guard's SYN filter, which costs
    // nothing here: both halves are drained alike.
    let mut rings = Rings::open(a, b, None)?;
    let mut senders = [Sender::open(a)?, Sender::open(b)?];
    rings.start()?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
    }
    eprintln!("synscope: impairing {a} <-> {b}: {} (seed {seed})", spec.describe());
    // Separate queues and random streams per direction, as two netem qdiscs would be.
    let mut towards_b = Queue::new(spec, seed);
    let mut towards_a = Queue::new(spec, seed.wrapping_add(0x9e37_79b9_7f4a_7c15));
    let deadline = args.duration.map(|d| Instant::now() + StdDuration::from_nanos(d.as_nanos()));
    let mut scratch = Vec::with_capacity(1 << 16);
    // Per direction, indexed as the senders are: towards A, towards B.
    let mut unsendable = [0u64; 2];
    while !stop.load(Ordering::Relaxed) && deadline.is_none_or(|d| Instant::now() < d) {
        let mut busy = take(&mut rings.outside, &mut towards_b, &mut scratch, &mut unsendable[1]);
        busy += take(&mut rings.outside_syns, &mut towards_b, &mut scratch, &mut unsendable[1]);
        busy += take(&mut rings.inside, &mut towards_a, &mut scratch, &mut unsendable[0]);
        let now = wall_clock();
        let [to_a, to_b] = &mut senders;
        busy += release(&mut towards_b, to_b, now);
        busy += release(&mut towards_a, to_a, now);
        if busy == 0 {
            // Sleep until a frame arrives or the next held one is due (poll(2) counts in milliseconds).
            let due = [towards_a.poll_timeout(), towards_b.poll_timeout()].into_iter().flatten().min();
            let wait_ms = due.map_or(10, |due| due.saturating_since(now).as_nanos().div_ceil(1_000_000).min(10));
            rings.wait(wait_ms as i32);
        }
    }
    let mut drops = Default::default();
    rings.add_drops(&mut drops);
    let [to_a, to_b] = &senders;
    let report = [
        Direction {
            from: a.clone(),
            to: b.clone(),
            stats: towards_b.stats(),
            ring_drops: drops.outside + drops.outside_syns,
            send_errors: to_b.send_errors,
            unsendable: unsendable[1],
        },
        Direction {
            from: b.clone(),
            to: a.clone(),
            stats: towards_a.stats(),
            ring_drops: drops.inside,
            send_errors: to_a.send_errors,
            unsendable: unsendable[0],
        },
    ];
    println!("{}", serde_json::to_string_pretty(&report).context("encoding the counters")?);
    Ok(ExitCode::SUCCESS)
}

/// Up to a burst of frames from one ring into a direction's queue.
/// A tagged frame whose virtio header cannot take the tag's 4 bytes is counted in `unsendable`.
fn take(ring: &mut FrameRing, queue: &mut Queue, scratch: &mut Vec<u8>, unsendable: &mut u64) -> usize {
    ring.drain(BURST, |received| {
        if received.packet_type == PACKET_OUTGOING {
            return;
        }
        match received.vlan {
            // The tag the driver took out goes back in, and the virtio header's offsets move with it.
            Some(_) => {
                let Some(vnet) = received.vnet.shifted(4) else {
                    *unsendable += 1;
                    return;
                };
                restore_tag(&received, scratch);
                queue.push(received.ts, scratch, vnet);
            }
            None => queue.push(received.ts, received.data, received.vnet),
        }
    })
}

/// Sends every frame of a queue that is due by `now`.
fn release(queue: &mut Queue, sender: &mut Sender, now: Timestamp) -> usize {
    let mut sent = 0;
    while let Some(held) = queue.pop_due(now) {
        sender.push_with(&held.bytes, held.meta);
        sent += 1;
    }
    sender.flush();
    sent
}
