//! `synscope replay FILE -i IFACE`: sends a capture file's frames out of an interface, paced as recorded, at a
//! fixed rate, or as fast as possible, then reports what was sent on stderr.
//!
//! Order of checks: arguments, the file, the interface, the safety rule ([`crate::safety`]), then the socket. So a
//! typo costs no privileges, and nothing is sent anywhere the rule forbids, whoever runs it. On the initial
//! namespace's loopback each frame is checked too, since the host receives it
//! ([`crate::safety::check_loopback_frame`]); what fails is skipped and counted.

use std::fmt;
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::capture::inject::Injector;
use crate::capture::pacing::{Pace, Pacer};
use crate::capture::{CaptureError, CaptureReader, interfaces};
use crate::cli::ReplayArgs;
use crate::cli::parse::UsageError;
use crate::time::Duration;
use crate::wire::LinkType;

/// The longest `--duration`: a replay is a demonstration or a test, never a traffic source left running.
const MAX_DURATION: Duration = Duration::from_secs(300);
/// The longest sleep between two looks at the stop flag, so Ctrl-C is obeyed promptly during long gaps.
const NAP: std::time::Duration = std::time::Duration::from_millis(50);
const ETHERNET_HEADER: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;

pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let pace = pace(args)?;
    if args.duration > MAX_DURATION {
        return Err(UsageError(format!("--duration is at most 300s (got {}s)", args.duration.as_secs_f64())).into());
    }
    if args.duration == Duration::ZERO {
        return Err(UsageError("--duration must be more than 0".into()).into());
    }
    if args.file == "-" && args.loops > 1 {
        return Err(UsageError("--loop needs a file: standard input can be read only once".into()).into());
    }
    let reader = CaptureReader::open(&args.file)?;
    let iface = interfaces::find(&args.interface)?;
    crate::safety::check_interface(&iface)?;
    if !iface.is_up() {
        anyhow::bail!("{0} is down; bring it up first (`ip link set {0} up`)", iface.name);
    }
    if !iface.is_running() {
        eprintln!("synscope: warning: {} has no carrier; its driver may drop the frames without an error", iface.name);
    }
    // Loopback of the initial namespace hands every frame to this host's stack: each is checked on the way out.
    let host_guard = (iface.is_loopback() && !matches!(crate::safety::in_initial_netns(), Ok(false)))
        .then(|| iface.mac.map(|mac| mac.octets()).unwrap_or_default());
    let mut out = Out { injector: Injector::open(&iface)?, host_guard };

    // A first Ctrl-C asks the loop to stop and report; a second one, if the loop is stuck, exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .context("installing the Ctrl-C handler")?;
    }

    let mut tally = Tally::default();
    let start = Instant::now();
    let outcome = replay(args, pace, reader, &mut out, &stop, &mut tally, start);
    let elapsed = start.elapsed();
    eprintln!("synscope: {}", tally.report(&iface.name, elapsed, outcome.as_ref().ok().copied(), args.duration));
    if let Some(first) = &tally.first_skip {
        eprintln!("synscope: skipped {}; the first: {first}", Frames(tally.skipped));
    }
    if let Some(first) = &tally.first_failure {
        eprintln!("synscope: {} failed to send; the first: {first}", Frames(tally.failed));
    }
    outcome?;
    Ok(if tally.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The pacing the flags ask for; clap keeps them mutually exclusive.
fn pace(args: &ReplayArgs) -> Result<Pace, UsageError> {
    if args.top_speed {
        return Ok(Pace::TopSpeed);
    }
    if let Some(rate) = args.pps {
        return Ok(Pace::Pps(rate));
    }
    match args.speed {
        Some(speed) if !(speed.is_finite() && speed > 0.0) => {
            Err(UsageError(format!("--speed must be a number above 0, such as 2 or 0.5 (got {speed})")))
        }
        Some(speed) => Ok(Pace::Original { speed }),
        None => Ok(Pace::Original { speed: 1.0 }),
    }
}

/// Why the replay ended before the last frame of the last loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Finished,
    Count,
    Duration,
    Signal,
}

/// Where frames go.
struct Out {
    injector: Injector,
    /// The interface's MAC address when it is the initial namespace's loopback, whose frames must stay on the host
    /// ([`crate::safety::check_loopback_frame`]).
    host_guard: Option<[u8; 6]>,
}

/// Sends every loop's frames on schedule. Returns why it stopped; a damaged file ends it with the reader's error.
fn replay(
    args: &ReplayArgs,
    pace: Pace,
    first: CaptureReader<Box<dyn Read + Send>>,
    out: &mut Out,
    stop: &AtomicBool,
    tally: &mut Tally,
    start: Instant,
) -> Result<Stop, CaptureError> {
    let mut pacer = Pacer::new(pace);
    let mut converted = Vec::new();
    let mut next = Some(first);
    for round in 0..args.loops {
        let mut reader = match next.take() {
            Some(reader) => reader,
            None => CaptureReader::open(&args.file)?,
        };
        if round > 0 {
            pacer.restart();
        }
        let mut number = 0u64;
        while let Some(frame) = reader.next_frame()? {
            number += 1;
            if args.count.is_some_and(|count| tally.sent + tally.failed >= count) {
                return Ok(Stop::Count);
            }
            let due = pacer.next_due(frame.ts);
            if due >= args.duration {
                return Ok(Stop::Duration);
            }
            if let Err(stopped) = wait_until(start, due, args.duration, stop) {
                return Ok(stopped);
            }
            let bytes = match as_ethernet(frame.link_type, frame.data, &mut converted) {
                Ok(bytes) => bytes,
                Err(why) => {
                    tally.skip(number, why);
                    continue;
                }
            };
            if let Some(own_mac) = out.host_guard
                && let Err(why) = crate::safety::check_loopback_frame(bytes, own_mac)
            {
                tally.skip(number, why);
                continue;
            }
            match out.injector.send(bytes) {
                Ok(()) => {
                    tally.sent += 1;
                    if frame.data.len() < frame.orig_len as usize {
                        tally.truncated += 1;
                    }
                }
                Err(err) => {
                    tally.failed += 1;
                    tally.first_failure.get_or_insert_with(|| describe_failure(number, bytes.len(), &err));
                }
            }
        }
    }
    Ok(Stop::Finished)
}

/// Sleeps until `due` after `start`, in naps short enough to notice Ctrl-C and the `--duration` limit.
fn wait_until(start: Instant, due: Duration, limit: Duration, stop: &AtomicBool) -> Result<(), Stop> {
    let due = std::time::Duration::from_nanos(due.as_nanos());
    let limit = std::time::Duration::from_nanos(limit.as_nanos());
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(Stop::Signal);
        }
        let now = start.elapsed();
        if now >= limit {
            return Err(Stop::Duration);
        }
        if now >= due {
            return Ok(());
        }
        std::thread::sleep((due - now).min(NAP));
    }
}

fn describe_failure(number: u64, len: usize, err: &std::io::Error) -> String {
    let hint = match err.raw_os_error() {
        Some(libc::EMSGSIZE) => " (larger than the interface's MTU allows)",
        Some(libc::ENOBUFS) | Some(libc::EAGAIN) => " (the device queue was full; try a lower --pps or --speed)",
        Some(libc::ENETDOWN) => " (the interface went down)",
        _ => "",
    };
    format!("frame {number} ({len} bytes): {err}{hint}")
}

/// What the replay did, for the closing report.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    failed: u64,
    skipped: u64,
    /// Frames sent as captured although the capture cut them short (snap length).
    truncated: u64,
    first_failure: Option<String>,
    first_skip: Option<String>,
}

impl Tally {
    fn skip(&mut self, number: u64, why: impl fmt::Display) {
        self.skipped += 1;
        self.first_skip.get_or_insert_with(|| format!("frame {number}: {why}"));
    }

    fn report(&self, iface: &str, elapsed: std::time::Duration, stop: Option<Stop>, limit: Duration) -> String {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 { self.sent as f64 / secs } else { 0.0 };
        let why = match stop {
            Some(Stop::Duration) => format!("; stopped after --duration {}s", limit.as_secs_f64()),
            Some(Stop::Signal) => "; interrupted".to_string(),
            _ => String::new(),
        };
        format!(
            "replayed {} ({} failed, {} skipped, {} truncated) on {iface} in {secs:.2} s ({rate:.0} frames/s){why}",
            Frames(self.sent),
            self.failed,
            self.skipped,
            self.truncated,
        )
    }
}

/// "1 frame", "2 frames".
struct Frames(u64);

impl fmt::Display for Frames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} frame{}", self.0, if self.0 == 1 { "" } else { "s" })
    }
}

/// Why a frame has no Ethernet form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
enum Unsendable {
    #[error("{0} bytes, shorter than an Ethernet header")]
    ShortEthernet(usize),
    #[error("{link} frame whose link header cannot be read: {reason}")]
    Link { link: LinkType, reason: String },
    #[error("{link} frame that holds no IPv4 or IPv6 packet")]
    NotIp { link: LinkType },
    #[error("{link} frame whose protocol 0x{protocol:04x} is not an EtherType")]
    NotEtherType { link: LinkType, protocol: u16 },
}

/// The frame as an Ethernet frame: as it is when it is one, otherwise its network-layer payload behind a synthetic
/// Ethernet header (zero MAC addresses). Where the payload starts is the decoder's business (`Link::header_len`), so
/// replay and `read` agree on every link type. The EtherType comes from the IP version nibble for link types that
/// carry bare IP (raw, BSD loopback, whose address family has no portable AF_INET6 value), and from the protocol
/// field of Linux cooked headers, which is an EtherType already.
fn as_ethernet<'a>(link: LinkType, data: &'a [u8], buf: &'a mut Vec<u8>) -> Result<&'a [u8], Unsendable> {
    if link == LinkType::Ethernet {
        return if data.len() >= ETHERNET_HEADER { Ok(data) } else { Err(Unsendable::ShortEthernet(data.len())) };
    }
    let packet = crate::wire::decode(link, data);
    let Some(protocol) = packet.link.ether_type else {
        let reason = packet.malformed.map(|e| e.to_string()).unwrap_or_else(|| "no protocol".into());
        return Err(Unsendable::Link { link, reason });
    };
    let payload = data.get(usize::from(packet.link.header_len)..).unwrap_or_default();
    // No catch-all: a new link type must choose its rule here.
    let ether_type = match link {
        LinkType::Ethernet | LinkType::LinuxSll | LinkType::LinuxSll2 => protocol,
        // The other link types' payload (after PPP, 802.11's SNAP, a log header...) is what `decode` found IP in.
        LinkType::RawIp
        | LinkType::Ipv4
        | LinkType::Ipv6
        | LinkType::Null
        | LinkType::Loop
        | LinkType::Slip
        | LinkType::Ppp
        | LinkType::Fddi
        | LinkType::RawDlt12
        | LinkType::RawDlt14
        | LinkType::PppSerial
        | LinkType::CiscoHdlc
        | LinkType::Ieee80211
        | LinkType::FrameRelay
        | LinkType::Pflog
        | LinkType::Radiotap
        | LinkType::Ppi
        | LinkType::Nflog => match payload.first().map(|b| b >> 4) {
            Some(4) => ETHERTYPE_IPV4,
            Some(6) => ETHERTYPE_IPV6,
            _ => return Err(Unsendable::NotIp { link }),
        },
    };
    // Below 0x0600 the field is an 802.3 length or a cooked pseudo-protocol (0x0004 for 802.2 LLC), not a type.
    if ether_type < 0x0600 {
        return Err(Unsendable::NotEtherType { link, protocol: ether_type });
    }
    buf.clear();
    buf.extend_from_slice(&[0; 12]);
    buf.extend_from_slice(&ether_type.to_be_bytes());
    buf.extend_from_slice(payload);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4 header's first bytes and an IPv6 header's, enough for the version nibble.
    const IPV4: [u8; 20] = [0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 10, 192, 0, 2, 20];
    const IPV6_START: [u8; 4] = [0x60, 0, 0, 0];

    fn ethernet_of(ether_type: u16, payload: &[u8]) -> Vec<u8> {
        let mut frame = vec![0; 12];
        frame.extend_from_slice(&ether_type.to_be_bytes());
        frame.extend_from_slice(payload);
        frame
    }

    fn convert(link: LinkType, data: &[u8]) -> Result<Vec<u8>, Unsendable> {
        let mut buf = Vec::new();
        as_ethernet(link, data, &mut buf).map(<[u8]>::to_vec)
    }

    mod ethernet_frames {
        use super::*;

        #[test]
        fn go_out_unchanged() {
            let frame = ethernet_of(0x0806, &[1, 2, 3]);
            assert_eq!(convert(LinkType::Ethernet, &frame), Ok(frame));
        }

        #[test]
        fn without_a_whole_header_are_skipped() {
            assert_eq!(convert(LinkType::Ethernet, &[0; 13]), Err(Unsendable::ShortEthernet(13)));
        }
    }

    mod raw_ip {
        use super::*;

        #[test]
        fn gets_the_ethertype_of_its_version() {
            for link in [LinkType::RawIp, LinkType::Ipv4] {
                assert_eq!(convert(link, &IPV4), Ok(ethernet_of(ETHERTYPE_IPV4, &IPV4)), "{link}");
            }
            for link in [LinkType::RawIp, LinkType::Ipv6] {
                assert_eq!(convert(link, &IPV6_START), Ok(ethernet_of(ETHERTYPE_IPV6, &IPV6_START)), "{link}");
            }
        }

        #[test]
        fn of_another_version_or_none_is_skipped() {
            assert_eq!(convert(LinkType::RawIp, &[0x50, 0, 0, 0]), Err(Unsendable::NotIp { link: LinkType::RawIp }));
            assert!(matches!(convert(LinkType::RawIp, &[]), Err(Unsendable::Link { .. })));
            assert!(matches!(convert(LinkType::Ipv4, &IPV6_START), Err(Unsendable::Link { .. })));
        }

        #[test]
        fn cut_short_is_still_sent() {
            assert_eq!(convert(LinkType::RawIp, &IPV4[..8]), Ok(ethernet_of(ETHERTYPE_IPV4, &IPV4[..8])));
        }
    }

    mod loopback_headers {
        use super::*;

        #[test]
        fn lose_their_family_and_keep_the_packet() {
            let mut little = 2u32.to_le_bytes().to_vec();
            little.extend_from_slice(&IPV4);
            assert_eq!(convert(LinkType::Null, &little), Ok(ethernet_of(ETHERTYPE_IPV4, &IPV4)));
            // OpenBSD's AF_INET6 (24), in network byte order as LINKTYPE_LOOP records it.
            let mut big = 24u32.to_be_bytes().to_vec();
            big.extend_from_slice(&IPV6_START);
            assert_eq!(convert(LinkType::Loop, &big), Ok(ethernet_of(ETHERTYPE_IPV6, &IPV6_START)));
        }

        #[test]
        fn of_an_unknown_family_are_skipped() {
            let mut frame = 99u32.to_le_bytes().to_vec();
            frame.extend_from_slice(&IPV4);
            let err = convert(LinkType::Null, &frame).unwrap_err();
            assert!(err.to_string().contains("family 99"), "{err}");
        }
    }

    mod cooked_headers {
        use super::*;

        fn sll(protocol: u16, payload: &[u8]) -> Vec<u8> {
            // Packet type, ARPHRD, address length, 8 address bytes, then the protocol (LINKTYPE_LINUX_SLL).
            let mut frame = vec![0, 0, 0, 1, 0, 6, 2, 0, 0x5e, 0, 0, 0x0a, 0, 0];
            frame.extend_from_slice(&protocol.to_be_bytes());
            frame.extend_from_slice(payload);
            frame
        }

        fn sll2(protocol: u16, payload: &[u8]) -> Vec<u8> {
            // Protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes (LINKTYPE_LINUX_SLL2).
            let mut frame = protocol.to_be_bytes().to_vec();
            frame.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0x5e, 0, 0, 0x0a, 0, 0]);
            frame.extend_from_slice(payload);
            frame
        }

        #[test]
        fn keep_their_protocol_as_the_ethertype() {
            assert_eq!(convert(LinkType::LinuxSll, &sll(0x0800, &IPV4)), Ok(ethernet_of(0x0800, &IPV4)));
            assert_eq!(convert(LinkType::LinuxSll2, &sll2(0x0806, &[1, 2])), Ok(ethernet_of(0x0806, &[1, 2])));
        }

        #[test]
        fn with_a_pseudo_protocol_or_cut_short_are_skipped() {
            assert_eq!(
                convert(LinkType::LinuxSll, &sll(0x0004, &[0xaa])),
                Err(Unsendable::NotEtherType { link: LinkType::LinuxSll, protocol: 4 })
            );
            assert!(matches!(convert(LinkType::LinuxSll2, &[0; 19]), Err(Unsendable::Link { .. })));
        }
    }

    mod the_report {
        use super::*;

        #[test]
        fn counts_everything_on_one_line() {
            let tally = Tally { sent: 19, failed: 1, skipped: 2, truncated: 3, ..Tally::default() };
            let line = tally.report("veth0", std::time::Duration::from_millis(500), Some(Stop::Finished), MAX_DURATION);
            assert_eq!(line, "replayed 19 frames (1 failed, 2 skipped, 3 truncated) on veth0 in 0.50 s (38 frames/s)");
        }

        #[test]
        fn says_why_it_stopped_early() {
            let tally = Tally { sent: 1, ..Tally::default() };
            let line = tally.report("lo", std::time::Duration::ZERO, Some(Stop::Signal), MAX_DURATION);
            assert_eq!(
                line,
                "replayed 1 frame (0 failed, 0 skipped, 0 truncated) on lo in 0.00 s (0 frames/s); interrupted"
            );
            let line = tally.report("lo", std::time::Duration::ZERO, Some(Stop::Duration), Duration::from_secs(2));
            assert!(line.ends_with("; stopped after --duration 2s"), "{line}");
        }
    }
}
