//! `synscope guard`: the SYN-flood guard as a bump in the wire between two interfaces of a gateway namespace. The
//! decisions are all in `defense::guard`; this edge reads frames from both interfaces, hands them over with the
//! clock, and sends what comes back. One thread serves both sides: the work per frame is small, and one owner of
//! the tables needs no locks. The sockets are in `links`, the loop in `bridge`.

mod bridge;
mod links;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::{UsageError, parse_duration, parse_socket_addr};
use crate::defense::guard::{Guard, GuardConfig, ListenerOptions};
use crate::defense::half_open::{HalfOpenConfig, Overflow};
use crate::defense::policy::Mode;
use crate::time::Duration;
use links::{Rings, Sender};

const GUARD_EXAMPLES: &str = "\
Examples:
  ip netns exec gw synscope guard --outside g-out --inside g-in --protect 10.77.0.2:9999 --mode cookies
  ip netns exec gw synscope guard --outside g-out --inside g-in --protect 10.77.0.2:9999 --mode limit \\
      --half-open-limit 64 --synrecv-timeout 3s
  ip netns exec gw synscope guard ... --mode auto --stats-json stats.json

The guard bridges every frame between the two interfaces unchanged, except TCP to and from the protected
ADDR:PORT. limit: SYNs within the half-open limits pass to the listener; a half-open connection that times out or
is evicted gets a RST sent to the listener in the client's name, freeing its SYN-queue slot. cookies: a SYN proxy;
SYNs are answered with SYN cookies and nothing reaches the listener before a valid ACK. auto: stateful proxy below
the high watermark, cookies above it until the table drains below the low one. The interfaces should carry no
addresses and the namespace should not forward (the guard is the only path). Needs CAP_NET_RAW and CAP_NET_ADMIN.";

/// `synscope guard` flags.
#[derive(Args, Debug)]
#[command(after_help = GUARD_EXAMPLES)]
pub struct GuardArgs {
    /// The interface towards the clients.
    #[arg(long, value_name = "IFACE")]
    pub outside: String,

    /// The interface towards the listener.
    #[arg(long, value_name = "IFACE")]
    pub inside: String,

    /// The listener to protect, ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_socket_addr)]
    pub protect: SocketAddr,

    #[arg(long, value_enum, default_value_t = ModeArg::Auto)]
    pub mode: ModeArg,

    /// Half-open connections allowed at once.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub half_open_limit: usize,

    /// Half-open connections allowed per client address.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub per_source_limit: usize,

    /// How long a connection may stay half-open.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub synrecv_timeout: Duration,

    /// SYN-ACK retransmissions of the stateful proxy (auto mode), 1 s, 2 s, 4 s... apart.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub synack_retries: u32,

    /// What to do with a SYN when the half-open table is full.
    #[arg(long, value_enum, default_value_t = OverflowArg::DropNew)]
    pub overflow: OverflowArg,

    /// SYNs per second allowed from one source address (RFC 4987 §3.1 filtering); unlimited when absent.
    #[arg(long, value_name = "R")]
    pub syn_rate_per_source: Option<f64>,

    /// The listener's MSS, as its SYN-ACKs announce it (the proxy promises it to clients).
    #[arg(long, value_name = "BYTES", default_value_t = 1460)]
    pub listener_mss: u16,

    /// The listener's window scale; `none` if it does not scale.
    #[arg(long, value_name = "SHIFT|none", default_value = "7")]
    pub listener_wscale: String,

    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Write the final statistics as JSON to this file (they always go to stdout too).
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<String>,

    /// Print no per-second line.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ModeArg {
    Off,
    Limit,
    Cookies,
    Auto,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OverflowArg {
    DropNew,
    EvictOldest,
    Cookies,
}

pub fn run(args: &GuardArgs) -> anyhow::Result<ExitCode> {
    let config = config(args)?;
    let mut rings = Rings::open(&args.outside, &args.inside)?;
    let mut senders = [Sender::open(&args.outside)?, Sender::open(&args.inside)?];
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
    }
    let key = crate::os_random::os_random_key().context("reading a random cookie secret")?;
    let mut guard = Guard::new(config, key);
    eprintln!(
        "synscope: guarding {} between {} (outside) and {} (inside), mode {}",
        args.protect,
        args.outside,
        args.inside,
        args.mode.name()
    );
    let deadline = args.duration.map(|d| Instant::now() + StdDuration::from_nanos(d.as_nanos()));
    let started = Instant::now();
    let served = bridge::serve(&mut guard, &mut rings, &mut senders, &stop, deadline, args.quiet);
    let report = served.stats;
    let mut value = serde_json::to_value(&report).context("encoding the statistics")?;
    // The run's averages, beside the counters they come from.
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    if let Some(object) = value.as_object_mut() {
        object.insert("duration_s".into(), seconds.into());
        object.insert("pps_in".into(), (report.counters.frames_in as f64 / seconds).round().into());
        object.insert("pps_out".into(), (report.counters.frames_out as f64 / seconds).round().into());
        let sent = senders.iter().map(|s| s.send_errors).sum::<u64>();
        object.insert("send_errors".into(), sent.into());
        // Frames the kernel dropped because a ring was full: SYNs the guard never read, under a flood it cannot
        // keep up with (they are in no other counter).
        let ring_drops = serde_json::to_value(served.ring_drops).context("encoding the statistics")?;
        object.insert("ring_drops".into(), ring_drops);
    }
    let json = serde_json::to_string_pretty(&value).context("encoding the statistics")?;
    println!("{json}");
    if let Some(path) = &args.stats_json {
        std::fs::write(path, format!("{json}\n")).with_context(|| format!("cannot write {path}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

impl ModeArg {
    fn name(self) -> &'static str {
        match self {
            ModeArg::Off => "off",
            ModeArg::Limit => "limit",
            ModeArg::Cookies => "cookies",
            ModeArg::Auto => "auto",
        }
    }
}

fn config(args: &GuardArgs) -> anyhow::Result<GuardConfig> {
    if args.outside == args.inside {
        return Err(UsageError("--outside and --inside must be two different interfaces".into()).into());
    }
    if args.half_open_limit == 0 || args.per_source_limit == 0 {
        return Err(UsageError("--half-open-limit and --per-source-limit must be at least 1".into()).into());
    }
    if args.syn_rate_per_source.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(UsageError("--syn-rate-per-source must be a positive number".into()).into());
    }
    let listener_wscale = match args.listener_wscale.as_str() {
        "none" => None,
        text => match text.parse::<u8>() {
            Ok(shift) if shift <= 14 => Some(shift),
            _ => return Err(UsageError(format!("--listener-wscale {text}: use 0..14 or none")).into()),
        },
    };
    let mode = match args.mode {
        ModeArg::Off => Mode::Off,
        ModeArg::Limit => Mode::Limit,
        ModeArg::Cookies => Mode::Cookies,
        ModeArg::Auto => Mode::Auto,
    };
    let overflow = match args.overflow {
        OverflowArg::DropNew => Overflow::DropNew,
        OverflowArg::EvictOldest => Overflow::EvictOldest,
        OverflowArg::Cookies => Overflow::Cookies,
    };
    let half_open = HalfOpenConfig {
        global_limit: args.half_open_limit,
        per_source_limit: args.per_source_limit,
        synrecv_timeout: args.synrecv_timeout,
        synack_retries: args.synack_retries,
        overflow,
        ..HalfOpenConfig::default()
    };
    // Auto mode leaves the stateful table at three quarters full, and comes back at three eighths.
    let high = (args.half_open_limit * 3 / 4).max(1);
    Ok(GuardConfig {
        protect: args.protect,
        mode,
        half_open,
        watermarks: (high, high / 2),
        syn_rate_per_source: args.syn_rate_per_source,
        listener: ListenerOptions { mss: args.listener_mss, wscale: listener_wscale, ..ListenerOptions::default() },
        max_proxied: 65_536,
        proxy_idle_timeout: Duration::from_secs(300),
        cookie_tick: Duration::from_secs(64),
    })
}
