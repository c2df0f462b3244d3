//! `synscope guard`: the SYN-flood guard as a bump in the wire between two interfaces of a gateway namespace. The
//! decisions are all in `defense::guard`; this edge reads frames from both interfaces, hands them over with the
//! clock, and sends what comes back. Each thread serves both sides (`--threads` adds threads, each with its own
//! rings and tables): the work per frame is small, and one owner of the tables needs no locks. The sockets are in
//! `links`, the loop in `bridge`, the XDP fast path in `fast_path`.

pub(crate) mod bridge;
mod fast_path;
mod kernel_forward;
pub(crate) mod links;
mod report;
mod secret_file;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration as StdDuration, Instant};

use anyhow::Context;
use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::parse::{UsageError, parse_duration, parse_socket_addr};
use crate::defense::guard::{Guard, GuardConfig, ListenerOptions, defaults};
use crate::defense::half_open::{HalfOpenConfig, Overflow};
use crate::defense::policy::{Mode, watermarks_for};
use crate::time::Duration;
use bridge::{Board, Served, Snapshot};
use fast_path::{FastPathArg, FastPathReport, XdpFront, XdpModeArg};
use kernel_forward::ForwardArg;
use links::{DataPath, FanoutGroups, RingDrops, Rings, Sender};

const GUARD_EXAMPLES: &str = "\
Examples:
  ip netns exec gw synscope guard --outside g-out --inside g-in --protect 10.77.0.2:9999 --mode cookies
  ip netns exec gw synscope guard --outside g-out --inside g-in --protect 10.77.0.2:9999 --mode limit \\
      --half-open-limit 64 --synrecv-timeout 3s
  ip netns exec gw synscope guard ... --mode auto --stats-json stats.json
  ip netns exec gw synscope guard ... --mode cookies --secret-file /var/lib/synscope/cookie.key   # survives restarts
  ip netns exec gw taskset -c 1-3 synscope guard ... --mode cookies --threads 3   # one thread per CPU

The guard bridges every frame between the two interfaces unchanged, except TCP to and from the protected
ADDR:PORT. limit: SYNs within the half-open limits pass to the listener; a half-open connection that times out or
is evicted gets a RST sent to the listener in the client's name, freeing its SYN-queue slot. cookies: a SYN proxy;
SYNs are answered with SYN cookies and nothing reaches the listener before a valid ACK. auto: stateful proxy below
the high watermark, cookies above it until the table drains below the low one. The interfaces should carry no
addresses and the namespace should not forward (the guard is the only path). Needs CAP_NET_RAW and CAP_NET_ADMIN.

--secret-file keeps the cookie key across restarts: a SYN-ACK sent before a restart is still honoured after it.
The file is two lines, `synscope-cookie-secret v1` and the key in 64 hex digits; one can be made by hand with
  (umask 077; printf 'synscope-cookie-secret v1\n%s\n' \"$(openssl rand -hex 32)\" > KEY)
Connections already proxied when the guard stops do not survive: their translation state is in its memory.";

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

    #[arg(long, value_enum, default_value_t = ModeArg::from(defaults::MODE))]
    pub mode: ModeArg,

    /// Half-open connections allowed at once.
    #[arg(long, value_name = "N", default_value_t = defaults::HALF_OPEN_LIMIT)]
    pub half_open_limit: usize,

    /// Half-open connections allowed per client address.
    #[arg(long, value_name = "N", default_value_t = defaults::PER_SOURCE_LIMIT)]
    pub per_source_limit: usize,

    /// How long a connection may stay half-open.
    #[arg(long, value_name = "DURATION", default_value = SYNRECV_TIMEOUT_FLAG.as_str(), value_parser = parse_duration)]
    pub synrecv_timeout: Duration,

    /// SYN-ACK retransmissions of the stateful proxy (auto mode), 1 s, 2 s, 4 s... apart.
    #[arg(long, value_name = "N", default_value_t = defaults::SYNACK_RETRIES)]
    pub synack_retries: u32,

    /// What to do with a SYN when the half-open table is full.
    #[arg(long, value_enum, default_value_t = OverflowArg::from(defaults::OVERFLOW))]
    pub overflow: OverflowArg,

    /// SYNs per second allowed from one source address (RFC 4987 §3.1 filtering); unlimited when absent.
    #[arg(long, value_name = "R")]
    pub syn_rate_per_source: Option<f64>,

    /// The listener's MSS, as its SYN-ACKs announce it (the proxy promises it to clients).
    #[arg(long, value_name = "BYTES", default_value_t = ListenerOptions::default().mss)]
    pub listener_mss: u16,

    /// The listener's window scale; `none` if it does not scale.
    #[arg(long, value_name = "SHIFT|none", default_value_t = wscale_flag(ListenerOptions::default().wscale))]
    pub listener_wscale: String,

    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Write the final statistics as JSON to this file (they always go to stdout too).
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<String>,

    /// Threads, each with its own rings and tables; the kernel spreads connections over them by a hash of their
    /// addresses and ports (PACKET_FANOUT), both directions to the same thread. Each holds 1/N of every limit.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,

    /// Where SYNs are answered: `xdp`, by an XDP program on the outside interface, in the driver (cookies mode);
    /// `packet`, from the packet rings; `auto`, XDP when it loads and attaches, else the rings, with a line saying
    /// why.
    #[arg(long, value_enum, value_name = "PATH", default_value_t = FastPathArg::Auto)]
    pub fast_path: FastPathArg,

    /// Where the XDP program runs: `native`, in the driver; `skb`, generic XDP, on any interface; `auto`, `skb` on
    /// a veth (whose native XDP_TX needs an XDP program on its peer) and `native` elsewhere.
    #[arg(long, value_enum, value_name = "MODE", default_value_t = XdpModeArg::Auto)]
    pub xdp_mode: XdpModeArg,

    /// Time the XDP program's runs (BPF_ENABLE_STATS while the guard runs, two clock reads a frame): the final
    /// statistics gain `fast_path.xdp_runs` and `xdp_run_ns`, the program's own CPU time.
    #[arg(long)]
    pub xdp_stats: bool,

    /// Keep the cookie key in this file, so that a restarted guard validates the cookies the last run issued:
    /// read it if the file exists, else create it (mode 0600) with a fresh random key. Refused if group or others
    /// may read or write it, if another user (not root) owns it, or if it is not a key in the format
    /// `synscope-cookie-secret v1` newline, 64 hex digits. Without it each start draws a new key.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,

    /// Who moves the frames in `--mode off`: `kernel`, a tc program on both interfaces that bridges every frame
    /// uncopied while the guard counts (TCX links, Linux 6.6); `rings`, the guard's own packet rings, as in the
    /// other modes; `auto`, the kernel where the program attaches, else the rings, with a line saying why.
    #[arg(long, value_enum, value_name = "PATH", default_value_t = ForwardArg::Auto)]
    pub forward: ForwardArg,

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

impl From<Mode> for ModeArg {
    fn from(mode: Mode) -> ModeArg {
        match mode {
            Mode::Off => ModeArg::Off,
            Mode::Limit => ModeArg::Limit,
            Mode::Cookies => ModeArg::Cookies,
            Mode::Auto => ModeArg::Auto,
        }
    }
}

impl From<Overflow> for OverflowArg {
    fn from(overflow: Overflow) -> OverflowArg {
        match overflow {
            Overflow::DropNew => OverflowArg::DropNew,
            Overflow::EvictOldest => OverflowArg::EvictOldest,
            Overflow::Cookies => OverflowArg::Cookies,
        }
    }
}

/// `--synrecv-timeout`'s default as a user would type it (`15s`), from [`defaults::SYNRECV_TIMEOUT`].
static SYNRECV_TIMEOUT_FLAG: LazyLock<String> = LazyLock::new(|| {
    let nanos = defaults::SYNRECV_TIMEOUT.as_nanos();
    if nanos.is_multiple_of(1_000_000_000) { format!("{}s", nanos / 1_000_000_000) } else { format!("{nanos}ns") }
});

/// `--listener-wscale`'s text for a window scale: the shift, or `none`.
fn wscale_flag(wscale: Option<u8>) -> String {
    wscale.map_or_else(|| "none".to_owned(), |shift| shift.to_string())
}

pub fn run(args: &GuardArgs) -> anyhow::Result<ExitCode> {
    let config = config(args)?;
    kernel_forward::check(args.forward, config.mode)?;
    let threads = args.threads;
    let key = cookie_key(args.secret_file.as_deref())?;
    // The XDP program is loaded first: what refuses it must be heard before anything else starts. Dropping `xdp`
    // detaches it, on every way out of this function; the kernel detaches it if the process dies.
    // Room in the program's map for every client every thread's proxy table can hold.
    let held_capacity = u32::try_from(share_of(&config, threads).max_proxied * threads).unwrap_or(u32::MAX);
    let (loaded, why_not_loaded) =
        fast_path::open(args.fast_path, args.xdp_mode, args.xdp_stats, held_capacity, &config, &key, &args.outside)?;
    // Off mode changes nothing: where the kernel can bridge the two interfaces itself, it moves the frames. (After
    // the fast path's checks, so that `--fast-path xdp --mode off` is refused either way.)
    let (kernel_bridge, why_rings) = kernel_forward::open(args.forward, config.mode, &args.outside, &args.inside)?;
    if let Some(bridge) = kernel_bridge {
        return kernel_forward::serve(args, &config, key, bridge);
    }
    // Every thread's sockets, opened one thread after the other so that each fanout group has its members in the
    // same order (links.rs).
    let mut groups = FanoutGroups::default();
    let mut sockets = Vec::with_capacity(threads);
    for _ in 0..threads {
        let rings = Rings::open(&args.outside, &args.inside, (threads > 1).then_some(&mut groups))?;
        let senders = [Sender::open(&args.outside)?, Sender::open(&args.inside)?];
        sockets.push((rings, senders));
    }
    // Attached after the sockets, so that a SIGKILL detaches it first (`XdpLoaded::attach`).
    let (mut xdp, why_packet) = match loaded {
        Some(loaded) => loaded.attach()?,
        None => (None, why_not_loaded),
    };
    // Which clients the proxy holds, mirrored into the program's map by every thread, and the program's settings,
    // which a thread turns SYN answering off in when it sees a frame the program cannot read right.
    let held = match xdp.as_mut() {
        Some(front) => Some((front.take_held()?, front.settings())),
        None => None,
    };
    let mut workers = Vec::with_capacity(threads);
    for (rings, senders) in sockets {
        let mut guard = Guard::new(share_of(&config, threads), key);
        if held.is_some() {
            guard.record_proxy_changes();
        }
        workers.push((guard, rings, senders));
    }
    for (_, rings, _) in &workers {
        rings.start()?;
    }
    // Only now may the program answer SYNs: the ACKs completing them have rings to go to.
    if let Some(front) = xdp.as_mut() {
        front.start_answering()?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
    }
    eprintln!(
        "synscope: guarding {} between {} (outside) and {} (inside), mode {}{}",
        args.protect,
        args.outside,
        args.inside,
        args.mode.name(),
        if threads > 1 { format!(", {threads} threads") } else { String::new() }
    );
    if let Some(why) = &why_rings
        && args.forward == ForwardArg::Auto
    {
        eprintln!("synscope: forwarding: packet rings ({why})");
    }
    match (&xdp, &why_packet) {
        (Some(front), _) => eprintln!("synscope: fast path: {}", front.describe()),
        (None, Some(why)) if args.fast_path == FastPathArg::Auto => {
            eprintln!("synscope: fast path: packet rings ({why})")
        }
        _ => {}
    }
    let deadline = args.duration.map(|d| Instant::now() + StdDuration::from_nanos(d.as_nanos()));
    let started = Instant::now();
    let board: Board = Arc::new(Mutex::new(vec![Snapshot::default(); threads]));
    let mut handles = Vec::with_capacity(threads);
    for (index, (mut guard, mut rings, mut senders)) in workers.into_iter().enumerate() {
        let (stop, board, held) = (Arc::clone(&stop), Arc::clone(&board), held.clone());
        let handle = std::thread::Builder::new()
            .name(format!("guard-{index}"))
            .spawn(move || {
                let xdp = held.as_ref().map(|(held, settings)| bridge::XdpLinks { held, settings });
                bridge::serve(&mut guard, &mut rings, &mut senders, &stop, deadline, (&board, index), xdp)
            })
            .context("starting a guard thread")?;
        handles.push(handle);
    }
    print_lines_until_done(&handles, &board, args.quiet, xdp.as_mut());
    let mut served = Vec::with_capacity(threads);
    for handle in handles {
        served.push(handle.join().map_err(|_| anyhow::anyhow!("a guard thread failed"))?);
    }
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let fast_path = match xdp.as_mut() {
        Some(front) => front.report(),
        None => FastPathReport::packet(why_packet),
    };
    let forwarding = serde_json::json!({"kind": "rings", "why_rings": why_rings});
    print_statistics(args, final_statistics(&served, seconds, &fast_path, forwarding)?)
}

/// The final statistics, on stdout and in `--stats-json`.
fn print_statistics(args: &GuardArgs, statistics: serde_json::Value) -> anyhow::Result<ExitCode> {
    let json = serde_json::to_string_pretty(&statistics).context("encoding the statistics")?;
    println!("{json}");
    if let Some(path) = &args.stats_json {
        std::fs::write(path, format!("{json}\n")).with_context(|| format!("cannot write {path}"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The cookie key: from `--secret-file` (read, or created with a fresh key), or fresh from the kernel for this run
/// only. The threads and the XDP program all get this one key.
fn cookie_key(secret_file: Option<&std::path::Path>) -> anyhow::Result<[u8; 32]> {
    let Some(path) = secret_file else {
        return crate::os_random::os_random_key().context("reading a random cookie secret");
    };
    let (key, origin) = secret_file::load_or_create(path)?;
    match origin {
        secret_file::Origin::Read => eprintln!("synscope: cookie secret read from {}", path.display()),
        secret_file::Origin::Created => {
            eprintln!("synscope: cookie secret created in {} (mode 0600, a fresh random key)", path.display())
        }
    }
    Ok(key)
}

/// A line a second from the threads' snapshots, until every thread has stopped; meanwhile the XDP program, if
/// any, is watched every 50 ms and its clock kept on packet time every second.
fn print_lines_until_done(
    handles: &[std::thread::JoinHandle<Served>],
    board: &Board,
    quiet: bool,
    mut xdp: Option<&mut XdpFront>,
) {
    let snapshot = || board.lock().map(|slots| report::merge(&slots)).unwrap_or_default();
    let mut last = snapshot();
    let mut last_xdp = xdp.as_ref().map(|front| front.counters());
    let mut next_line = Instant::now() + StdDuration::from_secs(1);
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(StdDuration::from_millis(50));
        let second_passed = Instant::now() >= next_line;
        if let Some(front) = xdp.as_deref_mut() {
            front.watch(second_passed);
        }
        if second_passed {
            next_line += StdDuration::from_secs(1);
            let now = snapshot();
            let now_xdp = xdp.as_ref().map(|front| front.counters());
            if !quiet {
                let xdp_rate = now_xdp.zip(last_xdp).map(|(now, last)| now.since(&last));
                report::print_line(&last, &now, xdp_rate.as_ref());
            }
            last = now;
            last_xdp = now_xdp;
        }
    }
}

/// The statistics the guard prints at the end: the threads' counters added up, with the run's averages beside
/// them.
fn final_statistics(
    served: &[Served],
    seconds: f64,
    fast_path: &FastPathReport,
    forwarding: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let threads: Vec<serde_json::Value> = served
        .iter()
        .map(|t| serde_json::to_value(&t.stats))
        .collect::<Result<_, _>>()
        .context("encoding the statistics")?;
    let mut value = report::sum(&threads);
    let mut ring_drops = RingDrops::default();
    for thread in served {
        ring_drops.add(&thread.ring_drops);
    }
    let frames = |key: &str| value.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0) as f64;
    let (pps_in, pps_out) = ((frames("frames_in") / seconds).round(), (frames("frames_out") / seconds).round());
    // How the kernel spread the work: each thread's share.
    let per_thread: Vec<serde_json::Value> = served
        .iter()
        .map(|thread| {
            let c = &thread.stats.counters;
            serde_json::json!({"frames_in": c.frames_in, "syns_seen": c.syns_seen, "synacks_sent": c.synacks_sent})
        })
        .collect();
    if let Some(object) = value.as_object_mut() {
        object.insert("threads".into(), served.len().into());
        object.insert("per_thread".into(), per_thread.into());
        object.insert("duration_s".into(), seconds.into());
        object.insert("pps_in".into(), pps_in.into());
        object.insert("pps_out".into(), pps_out.into());
        object.insert("send_errors".into(), served.iter().map(|s| s.send_errors).sum::<u64>().into());
        let mut data_path = DataPath::default();
        for thread in served {
            data_path.add(&thread.data_path);
        }
        // How GSO super-frames and partial checksums went on (links.rs).
        object.insert("data_path".into(), serde_json::to_value(data_path).context("encoding the statistics")?);
        // Frames the kernel dropped because a ring was full: SYNs the guard never read, under a flood it cannot
        // keep up with (they are in no other counter).
        object.insert("ring_drops".into(), serde_json::to_value(ring_drops).context("encoding the statistics")?);
        // Where SYNs were answered; with XDP, the program's own counters (SYN-ACKs it sent are in no other).
        object.insert("fast_path".into(), serde_json::to_value(fast_path).context("encoding the statistics")?);
        // Who moved the frames: the rings, or in off mode the kernel (`kernel_forward.rs`), with its counters.
        object.insert("forwarding".into(), forwarding);
    }
    Ok(value)
}

/// One thread's share of the limits: each thread holds its own tables, and a client's connections spread over the
/// threads by the hash of their ports, so each holds 1/N of every limit (rounded up).
fn share_of(config: &GuardConfig, threads: usize) -> GuardConfig {
    let share = |n: usize| n.div_ceil(threads).max(1);
    let mut mine = config.clone();
    mine.half_open.global_limit = share(config.half_open.global_limit);
    mine.half_open.per_source_limit = share(config.half_open.per_source_limit);
    mine.watermarks = (share(config.watermarks.0), share(config.watermarks.1));
    mine.max_proxied = share(config.max_proxied);
    mine.syn_rate_per_source = config.syn_rate_per_source.map(|r| r / threads as f64);
    mine
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
    if args.threads == 0 || args.threads > 64 {
        return Err(UsageError(format!("--threads must be from 1 to 64 (got {})", args.threads)).into());
    }
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
    let base = GuardConfig::defaults(args.protect);
    let half_open = HalfOpenConfig {
        global_limit: args.half_open_limit,
        per_source_limit: args.per_source_limit,
        synrecv_timeout: args.synrecv_timeout,
        synack_retries: args.synack_retries,
        overflow,
        ..base.half_open
    };
    Ok(GuardConfig {
        mode,
        half_open,
        watermarks: watermarks_for(args.half_open_limit),
        syn_rate_per_source: args.syn_rate_per_source,
        listener: ListenerOptions { mss: args.listener_mss, wscale: listener_wscale, ..base.listener },
        ..base
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        args: GuardArgs,
    }

    #[test]
    fn flags_at_their_defaults_are_the_cores_defaults() {
        let args = Command::try_parse_from(["guard", "--outside", "o", "--inside", "i", "--protect", "10.77.0.2:9999"])
            .unwrap()
            .args;
        let ours = config(&args).unwrap();
        // GuardConfig has no PartialEq (it holds an f64); its Debug text shows every field.
        assert_eq!(format!("{ours:?}"), format!("{:?}", GuardConfig::defaults(args.protect)));
    }
}
