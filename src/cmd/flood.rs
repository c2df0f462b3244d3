//! `synscope flood --target ADDR:PORT`: a bounded SYN flood with spoofed sources, for the lab and for
//! demonstrations. Other shapes, as hping3 sends them, test a defence's other doors: ACK floods with random
//! cookies (`--flags A`), RST and FIN floods, hostile options (`--tcp-options-hex`), payload sizes (`--data`) and
//! never-completed fragments (`--fragment`). It reports the rate it achieved every second on stderr, and at the end one summary line (or,
//! with `--format json`, one JSON object on stdout).
//!
//! Order of checks: the flags (a usage error costs nothing), then the traffic safety rule on the target
//! ([`crate::safety::check_destination`]) and on where the target's answers go ([`crate::flood::replies`]) before
//! any socket exists, then the route and the interface (checked by the same rule), then the frame itself when it
//! goes to the initial namespace's loopback, and only then the packet socket. Nothing is sent anywhere the rule
//! forbids, whoever runs it.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use clap::Args;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::parse::{Format, UsageError, parse_duration};
use crate::flood::driver::{self, Limits};
use crate::flood::replies::{self, RepliesError};
use crate::flood::report::FloodReport;
use crate::flood::route;
use crate::flood::spec::{Cidr, DEFAULT_SPOOF_V4, DEFAULT_SPOOF_V6, FlagSet, PortRange, RawOptions, Shape, SynOptions};
use crate::flood::template::{SegmentGenerator, SegmentTemplate};
use crate::flood::tx::{self, Method};
use crate::time::Duration;

/// The longest flood: a demonstration or a lab trial, never a traffic source left running. `--count` alone stops
/// here too.
pub const MAX_DURATION: Duration = Duration::from_secs(300);

const EXAMPLES: &str = "\
Examples:
  synscope flood --target 127.0.0.1:9999 --count 100000
  synscope flood --target 127.0.0.1:9999 --rate 2000 --duration 10s --syn-options mss,sack,ts,wscale
  sudo ip netns exec client synscope flood --target 10.77.0.2:9999 --duration 30s --spoof 198.18.0.0/15
  synscope flood --target 127.0.0.1:9999 -c 5000 --source 127.0.0.2 --src-ports 40000-40999 --format json
  synscope flood --target 127.0.0.1:9999 --duration 10s --rate 20000 --flags A      (ACKs with random cookies)
  synscope flood --target 127.0.0.1:9999 -c 1000 --tcp-options-hex 010303ff         (window scale 255)
  synscope flood --target 127.0.0.1:9999 -c 1000 --fragment --data 64               (first fragments only)

A flood is bounded: give --count, --duration (at most 300s), or both; it also stops on Ctrl-C, with the report.
It goes only to loopback, or anywhere from inside a network namespace other than the initial one (the lab's).
IPv6 reaches only this host (::1); from the initial namespace it must come from --source ::1, since Linux would
answer spoofed sources from ::1 by the default route. Without --rate it sends as fast as it can. Needs CAP_NET_RAW.";

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct FloodArgs {
    /// Where the SYNs go, as ADDRESS:PORT (IPv6 in brackets: `[::1]:9999`).
    #[arg(long, value_name = "ADDR:PORT")]
    pub target: SocketAddr,

    /// SYNs per second (default: as fast as possible).
    #[arg(long, value_name = "PPS")]
    pub rate: Option<u64>,

    /// Stop after this long (e.g. 10s, 500ms; at most 300s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Stop after this many SYNs.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Spoof sources at random from this range [default: 198.18.0.0/15, RFC 2544's benchmarking range; for
    /// IPv6 2001:2::/48].
    #[arg(long, value_name = "CIDR", conflicts_with = "source")]
    pub spoof: Option<Cidr>,

    /// Send every SYN from this one address instead.
    #[arg(long, value_name = "ADDR")]
    pub source: Option<IpAddr>,

    /// Source ports, chosen at random in this range.
    #[arg(long, value_name = "A-B", default_value = "1024-65535")]
    pub src_ports: PortRange,

    /// SYN options, in Linux's layout: any of mss, sack, ts, wscale, or none (hping3 sends none). Only frames with
    /// SYN set carry them.
    #[arg(long, value_name = "LIST", default_value = "mss")]
    pub syn_options: SynOptions,

    /// The TCP flags of every frame, as hping3's letters: S (SYN), A (ACK), R (RST), F (FIN), P (PSH), U (URG),
    /// combined as in SA. With A, each frame gets a random acknowledgment number: against SYN cookies, a random
    /// cookie.
    #[arg(long, value_name = "LETTERS", default_value = "S")]
    pub flags: FlagSet,

    /// TCP option bytes in hex, sent as given instead of --syn-options (padded with zeros to a 4-byte boundary,
    /// at most 40 bytes): 02040000 is MSS 0, 010303ff a window scale of 255, 02ff an option running past the
    /// header.
    #[arg(long, value_name = "HEX", conflicts_with = "syn_options")]
    pub tcp_options_hex: Option<RawOptions>,

    /// Payload bytes per frame (zeros), as hping3's -d; at most what the interface's MTU leaves.
    #[arg(short = 'd', long, value_name = "BYTES", default_value_t = 0)]
    pub data: u16,

    /// Send every frame as the first fragment of an IPv4 datagram whose rest never comes (More Fragments set,
    /// offset 0): a flood of the receiver's reassembly queue. IPv4 only.
    #[arg(long)]
    pub fragment: bool,

    /// Send on this interface (default: the one the main routing table picks).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: Option<String>,

    /// Report format: a summary line on stderr, or also one JSON object on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,

    /// How frames reach the kernel: a PACKET_TX_RING (falls back to sendmmsg if refused), sendmmsg on a packet
    /// socket, or sendmmsg on a raw IPv4 socket (127/8 targets only). Auto is the ring, or raw IP for 127/8 when
    /// net.ipv4.conf.lo.route_localnet is 0 (the kernel drops frames injected on lo to 127/8 as martians).
    #[arg(long, value_enum, default_value_t)]
    pub tx: Method,

    /// Sending threads, each with its own socket and share of --count and --rate. On a veth the receiving
    /// namespace's stack runs on the sender's CPU, so more threads than CPUs gains nothing.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub threads: usize,

    /// The frames' source MAC (default: the interface's), as if the SYNs came through an upstream router: a
    /// target then answers that MAC, and its SYN-ACKs to the spoofed sources are discarded at the link layer on
    /// the way back instead of by the sender's IP stack. The lab uses it.
    #[arg(long, value_name = "MAC", value_parser = parse_unicast_mac)]
    pub source_mac: Option<[u8; 6]>,

    /// The next hop's MAC, instead of asking the kernel's neighbour table. Needed, with -i, for IPv6 targets
    /// beyond this host (the kernel shows its IPv6 neighbours through netlink only); `lab --ipv6` gives the
    /// server's.
    #[arg(long, value_name = "MAC", value_parser = parse_unicast_mac)]
    pub dest_mac: Option<[u8; 6]>,

    /// Frames per send.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub batch: usize,

    /// Seed for the random sources, ports and ISNs (default: from the clock), to repeat a flood exactly.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// A MAC that can be a frame's source: well formed ([`crate::wire::mac::parse`]), not a group address, not all
/// zero.
fn parse_unicast_mac(text: &str) -> Result<[u8; 6], String> {
    use crate::wire::mac;
    let mac = mac::parse(text).ok_or_else(|| format!("'{text}' is not a MAC address like 02:00:00:00:00:01"))?;
    if mac::is_group(&mac) || mac == [0; 6] {
        return Err(format!(
            "{text} cannot be a source MAC: it is a group (multicast or broadcast) or all-zero address"
        ));
    }
    Ok(mac)
}

/// What the flags ask for, checked.
struct Plan {
    limits: Limits,
    sources: Cidr,
    shape: Shape,
}

fn usage(message: String) -> anyhow::Error {
    UsageError(message).into()
}

fn plan(args: &FloodArgs) -> anyhow::Result<Plan> {
    if args.count.is_none() && args.duration.is_none() {
        return Err(usage("a flood must be bounded: give --count N or --duration D (at most 300s), or both".into()));
    }
    if args.count == Some(0) {
        return Err(usage("--count must be at least 1".into()));
    }
    let duration = args.duration.unwrap_or(MAX_DURATION);
    if duration > MAX_DURATION {
        return Err(usage(format!("--duration is at most 300s (got {}s)", duration.as_secs_f64())));
    }
    if duration == Duration::ZERO {
        return Err(usage("--duration must be more than 0".into()));
    }
    if args.rate == Some(0) {
        return Err(usage("--rate must be at least 1 SYN per second (leave it out to go as fast as possible)".into()));
    }
    if args.threads == 0 || args.threads > 64 {
        return Err(usage(format!("--threads must be from 1 to 64 (got {})", args.threads)));
    }
    if args.batch == 0 || args.batch > 4096 {
        return Err(usage(format!("--batch must be from 1 to 4096 (got {})", args.batch)));
    }
    if args.target.port() == 0 {
        return Err(usage(format!("{}: the target port must be from 1 to 65535", args.target)));
    }
    let v4 = args.target.is_ipv4();
    if args.tx == Method::Raw && !(v4 && args.target.ip().is_loopback()) {
        return Err(usage(format!("--tx raw is for IPv4 loopback targets (127.0.0.0/8), not {}", args.target.ip())));
    }
    let family = |v4: bool| if v4 { "IPv4" } else { "IPv6" };
    let sources = match (args.spoof, args.source) {
        (Some(spoof), _) => spoof,
        (None, Some(source)) => Cidr::host(source),
        (None, None) => (if v4 { DEFAULT_SPOOF_V4 } else { DEFAULT_SPOOF_V6 }).parse().map_err(|e: String| usage(e))?,
    };
    if sources.is_ipv4() != v4 {
        return Err(usage(format!(
            "the sources {sources} are {} but the target {} is {}; give sources of the same family",
            family(sources.is_ipv4()),
            args.target.ip(),
            family(v4)
        )));
    }
    if args.fragment && !v4 {
        return Err(usage(format!(
            "--fragment is for IPv4 targets; {} is IPv6, whose fragments need an extension header",
            args.target.ip()
        )));
    }
    let shape = Shape {
        flags: args.flags,
        options: args.syn_options,
        raw: args.tcp_options_hex.clone(),
        data: args.data,
        fragment: args.fragment,
    };
    let limits = Limits {
        count: args.count,
        duration: std::time::Duration::from_nanos(duration.as_nanos()),
        rate: args.rate,
        batch: args.batch,
        unit: if shape.flags == FlagSet::default() { "SYN" } else { "frame" },
    };
    Ok(Plan { limits, sources, shape })
}

pub fn run(args: &FloodArgs) -> anyhow::Result<ExitCode> {
    let plan = plan(args)?;
    // The safety rule, before any socket is opened or any interface looked at: where the SYNs go, and where the
    // target's answers to their sources go.
    crate::safety::check_destination(args.target.ip())?;
    replies::check(args.target.ip(), &plan.sources, crate::safety::in_initial_netns).map_err(|err| match err {
        RepliesError::Mapped { .. } => usage(err.to_string()),
        other => other.into(),
    })?;
    let hop = route::resolve(args.target.ip(), args.interface.as_deref(), args.dest_mac)?;
    crate::safety::check_interface(&hop.interface)?;
    let template = SegmentTemplate::new(args.source_mac.unwrap_or(hop.src_mac), hop.dst_mac, args.target, &plan.shape)
        .context("crafting the flood's frame")?;
    check_fits_mtu(template.len(), &hop.interface.name, args.data)?;
    if hop.interface.is_loopback() && !matches!(crate::safety::in_initial_netns(), Ok(false)) {
        // The initial namespace's loopback hands frames to this host's stack; every frame of the flood has the
        // template's destination, so checking the template checks them all.
        let own = hop.interface.mac.map(|mac| mac.octets()).unwrap_or_default();
        crate::safety::check_loopback_frame(template.frame(), own)?;
    }
    let seed = args.seed.unwrap_or_else(clock_seed);
    // No more threads than SYNs to send, or than SYN/s to pace: each must have a share.
    let threads = [Some(args.threads as u64), args.count, args.rate].into_iter().flatten().min().unwrap_or(1) as usize;
    let mut workers = Vec::with_capacity(threads);
    for index in 0..threads {
        // Seeds far apart in the sequence, so the threads' sources do not repeat each other's.
        let seed = seed.wrapping_add((index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let generator = SegmentGenerator::new(template.clone(), plan.sources, args.src_ports, seed);
        let tx = tx::open(args.tx, &hop.interface, args.target.ip(), template.len(), args.batch)?;
        workers.push(driver::Worker { tx, generator });
    }
    let method = workers[0].tx.method();

    // A first Ctrl-C asks the loop to stop and report; a second one, if the loop is stuck, exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .context("installing the Ctrl-C handler")?;
    }

    let via = match hop.gateway {
        Some(gateway) => format!("via {gateway} "),
        None => String::new(),
    };
    let seconds = plan.limits.duration.as_secs_f64();
    let bound = match args.count {
        Some(count) => format!("{count} SYNs or {seconds} s"),
        None => format!("{seconds} s"),
    };
    let shape_text = match (&plan.shape.flags, args.data, args.fragment) {
        (flags, 0, false) if *flags == FlagSet::default() => String::new(),
        (flags, data, fragment) => {
            format!(
                " flags {flags}{}{},",
                if data > 0 { format!(", {data} data bytes") } else { String::new() },
                if fragment { ", first fragments only" } else { "" }
            )
        }
    };
    eprintln!(
        "synscope: flooding {}{shape_text} {via}on {} ({}) from {}, ports {}, options {}, {}, {}; until {bound}",
        args.target,
        hop.interface.name,
        mac_text(hop.dst_mac),
        plan.sources,
        args.src_ports,
        plan.shape.options_text(),
        args.rate.map_or("as fast as possible".to_string(), |rate| format!("{rate} {}/s", plan.limits.unit)),
        if threads > 1 { format!("{method} × {threads} threads") } else { method.to_string() },
    );

    let outcome = driver::run(workers, &plan.limits, &stop, |line| eprintln!("synscope: {line}"))
        .context("starting the flood's threads")?;
    let report = FloodReport {
        sent: outcome.sent,
        failed: outcome.failed,
        duration_s: outcome.elapsed.as_secs_f64(),
        rate: 0.0,
        rate_requested: args.rate,
        target: args.target.to_string(),
        interface: hop.interface.name.clone(),
        sources: plan.sources.to_string(),
        src_ports: args.src_ports.to_string(),
        flags: plan.shape.flags.to_string(),
        syn_options: plan.shape.options_text(),
        data: args.data,
        fragment: args.fragment,
        method,
        threads,
        retries: outcome.retries,
        stopped: outcome.stop,
        error: outcome.fatal.as_ref().map(ToString::to_string).or(outcome.first_retry),
    }
    .with_rate();
    eprintln!("synscope: {}", report.line());
    if args.format == Format::Json {
        println!("{}", serde_json::to_string(&report).context("writing the JSON report")?);
    }
    match outcome.fatal {
        Some(err) => Err(err.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}

/// A frame longer than the interface's MTU plus its Ethernet header is refused by the kernel (EMSGSIZE) on every
/// send; say so once, before any socket is opened.
fn check_fits_mtu(frame_len: usize, interface: &str, data: u16) -> anyhow::Result<()> {
    let path = format!("/sys/class/net/{interface}/mtu");
    let Some(mtu) = std::fs::read_to_string(&path).ok().and_then(|text| text.trim().parse::<usize>().ok()) else {
        return Ok(());
    };
    // Loopback's frames carry an Ethernet header too (ARPHRD_LOOPBACK with a 14-byte header).
    if frame_len > mtu + 14 {
        let room = (mtu + 14 + usize::from(data)).saturating_sub(frame_len);
        return Err(usage(format!(
            "--data {data} makes {frame_len}-byte frames, more than {interface}'s MTU of {mtu} allows; use --data {room} or less"
        )));
    }
    Ok(())
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A seed that differs between runs: the clock's nanoseconds mixed with the process id.
fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: FloodArgs,
    }

    fn args(line: &[&str]) -> FloodArgs {
        let mut full = vec!["flood"];
        full.extend_from_slice(line);
        Wrapper::try_parse_from(full).unwrap().args
    }

    fn refusal(line: &[&str]) -> String {
        let err = plan(&args(line)).err().expect("refused");
        assert!(err.downcast_ref::<UsageError>().is_some(), "{err}");
        let text = err.to_string();
        assert!(!text.contains('\n'), "{text}");
        text
    }

    #[test]
    fn a_source_mac_must_be_a_unicast_address() {
        assert_eq!(parse_unicast_mac("02:00:00:5b:f0:02"), Ok([2, 0, 0, 0x5b, 0xf0, 2]));
        assert_eq!(parse_unicast_mac("02-00-00-5B-F0-02"), Ok([2, 0, 0, 0x5b, 0xf0, 2]));
        for bad in ["02:00:00:5b:f0", "02:00:00:5b:f0:02:03", "2:0:0:5b:f0:2", "zz:00:00:00:00:01", ""] {
            assert!(parse_unicast_mac(bad).unwrap_err().contains("is not a MAC address"), "{bad}");
        }
        for group in ["01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"] {
            assert!(parse_unicast_mac(group).unwrap_err().contains("cannot be a source MAC"), "{group}");
        }
        let parsed = args(&["--target", "127.0.0.1:80", "-c", "1", "--source-mac", "02:00:00:00:00:09"]);
        assert_eq!(parsed.source_mac, Some([2, 0, 0, 0, 0, 9]));
    }

    #[test]
    fn a_flood_must_be_bounded() {
        assert!(refusal(&["--target", "127.0.0.1:80"]).contains("give --count N or --duration D"));
        assert!(refusal(&["--target", "127.0.0.1:80", "--duration", "301s"]).contains("at most 300s"));
        assert!(refusal(&["--target", "127.0.0.1:80", "-c", "0"]).contains("at least 1"));
        assert!(refusal(&["--target", "127.0.0.1:80", "--duration", "0s"]).contains("more than 0"));
        let count_only = plan(&args(&["--target", "127.0.0.1:80", "-c", "5"])).unwrap();
        assert_eq!(count_only.limits.duration, std::time::Duration::from_secs(300), "--count alone is capped too");
    }

    #[test]
    fn sources_default_to_the_benchmarking_range_of_the_target_family() {
        let v4 = plan(&args(&["--target", "127.0.0.1:80", "-c", "1"])).unwrap();
        assert_eq!(v4.sources.to_string(), DEFAULT_SPOOF_V4);
        let v6 = plan(&args(&["--target", "[::1]:80", "-c", "1"])).unwrap();
        assert_eq!(v6.sources.to_string(), DEFAULT_SPOOF_V6);
        let one = plan(&args(&["--target", "127.0.0.1:80", "-c", "1", "--source", "127.0.0.9"])).unwrap();
        assert_eq!(one.sources.to_string(), "127.0.0.9/32");
    }

    #[test]
    fn mixed_families_rates_and_ports_are_refused() {
        let text = refusal(&["--target", "127.0.0.1:80", "-c", "1", "--spoof", "2001:db8::/32"]);
        assert!(text.contains("are IPv6 but the target 127.0.0.1 is IPv4"), "{text}");
        assert!(refusal(&["--target", "127.0.0.1:80", "-c", "1", "--rate", "0"]).contains("--rate"));
        assert!(refusal(&["--target", "127.0.0.1:0", "-c", "1"]).contains("target port"));
        assert!(refusal(&["--target", "127.0.0.1:80", "-c", "1", "--batch", "0"]).contains("--batch"));
        assert!(refusal(&["--target", "127.0.0.1:80", "-c", "1", "--threads", "0"]).contains("--threads"));
        assert!(refusal(&["--target", "[::1]:80", "-c", "1", "--tx", "raw"]).contains("--tx raw is for IPv4"));
        assert!(refusal(&["--target", "[::1]:80", "-c", "1", "--fragment"]).contains("--fragment is for IPv4"));
    }

    #[test]
    fn shapes_are_read_from_hping3_style_flags() {
        let plain = plan(&args(&["--target", "127.0.0.1:80", "-c", "1"])).unwrap();
        assert_eq!(plain.shape, Shape { options: "mss".parse().unwrap(), ..Shape::default() });
        assert_eq!(plain.limits.unit, "SYN");
        let line = ["--target", "127.0.0.1:80", "-c", "1", "--flags", "A", "-d", "1", "--tcp-options-hex", "02ff"];
        let hostile = plan(&args(&line)).unwrap();
        assert_eq!(hostile.shape.flags.to_string(), "A");
        assert_eq!(hostile.shape.raw, Some(RawOptions(vec![2, 0xff, 0, 0])));
        assert_eq!(hostile.shape.data, 1);
        assert_eq!(hostile.limits.unit, "frame");
        assert!(Wrapper::try_parse_from(["flood", "--target", "127.0.0.1:80", "--flags", "Q"]).is_err());
        let both = ["flood", "--target", "127.0.0.1:80", "--syn-options", "ts", "--tcp-options-hex", "0101"];
        assert!(Wrapper::try_parse_from(both).is_err(), "Linux options and raw bytes are one or the other");
    }

    #[test]
    fn a_frame_beyond_the_mtu_is_refused_before_any_socket() {
        // Loopback's MTU is 65536 on Linux; a frame under it passes, one over it is refused in one line.
        assert!(check_fits_mtu(1514, "lo", 1460).is_ok());
        let err = check_fits_mtu(65536 + 15, "lo", 65000).unwrap_err().to_string();
        assert!(err.contains("MTU of 65536") && err.contains("--data 64999 or less") && !err.contains('\n'), "{err}");
    }
}
