//! The XDP program's cost per frame, measured by the kernel itself: BPF_PROG_TEST_RUN runs the program on a frame
//! and reports the mean nanoseconds per run (a million runs in one call, or for a SYN, which the program turns into
//! a SYN-ACK, one run in each of 100,000 calls), for the frames it meets: a SYN with MSS only (what
//! floods send), a SYN with Linux's options (what clients send), over IPv4 and IPv6; an ACK with a valid cookie and
//! a forged one; and a data frame it passes. Needs root (loading a BPF program) and a build with XDP support.
//!
//!     sudo cargo bench --bench xdp
//!
//! These machines are shared and noisy: each figure is the median of 7 rounds.

use std::net::SocketAddr;

use synscope::defense::cookie::{CookieCodec, CookieConfig};
use synscope::defense::guard::GuardConfig;
use synscope::defense::policy::Mode;
use synscope::defense::{SynOptions, Tuple};
use synscope::lab::sim::setup::GuardSetup;
use synscope::time::Timestamp;
use synscope::wire::craft::{self, EthernetSpec, IpSpec, TcpSpec};
use synscope::wire::segment::TcpFlags;
use synscope::xdp::{FastPath, XdpConfig};

const REPEAT: u32 = 1_000_000;
/// Calls for a frame the program rewrites, one run each.
const SINGLE_RUNS: u32 = 100_000;
const ROUNDS: usize = 7;
const KEY: [u8; 32] = [0x5c; 32];

/// `synscope guard --mode cookies` with its flag defaults.
fn config(server: SocketAddr) -> GuardConfig {
    GuardSetup::with_defaults(Mode::Cookies).config(server)
}

fn frame(
    client: SocketAddr,
    server: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    craft::tcp_frame(
        &mut out,
        Some(&EthernetSpec { src: [2, 0, 0, 0, 0, 1], dst: [2, 0, 0, 0, 0, 2], vlans: &[] }),
        &IpSpec { src: client.ip(), dst: server.ip(), ttl: 64, id: 1 },
        &TcpSpec {
            src_port: client.port(),
            dst_port: server.port(),
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 64240,
            options,
            payload,
        },
    )
    .expect("a frame");
    out
}

fn main() {
    // SAFETY: geteuid(2) reads a process attribute.
    if unsafe { libc::geteuid() } != 0 || !synscope::xdp::built_in() {
        eprintln!("bench xdp: needs root and a build with XDP support (clang and libbpf-dev); skipped");
        return;
    }
    let now = Timestamp::from_nanos(1_780_315_200_000_000_000);
    println!("{:<34} {:>10}", "frame", "ns/run");
    for (family, client, server) in
        [("IPv4", "198.18.7.9:40123", "10.77.0.2:9999"), ("IPv6", "[2001:db8::9]:40123", "[2001:db8::2]:9999")]
    {
        let (client, server): (SocketAddr, SocketAddr) = (client.parse().unwrap(), server.parse().unwrap());
        let guard = config(server);
        let mut xdp_config = XdpConfig::for_guard(&guard, &KEY);
        xdp_config.now_override_ns = now.as_nanos();
        let fast_path = FastPath::load(xdp_config, 1024).unwrap_or_else(|e| panic!("loading the program: {e}"));
        let codec = CookieCodec::new(KEY, CookieConfig { tick: guard.cookie_tick, ..CookieConfig::default() });
        let syn_options =
            SynOptions { mss: Some(1460), wscale: Some(7), sack_permitted: true, tsval: Some(1), ecn: false };
        let issued = codec.issue(now, &Tuple { client, server }, 1_000, &syn_options);
        let cases = [
            ("SYN, MSS only", frame(client, server, 1_000, 0, TcpFlags::SYN, &[2, 4, 5, 180], b"")),
            (
                "SYN, Linux options",
                frame(client, server, 1_000, 0, TcpFlags::SYN, &craft::linux_syn_options(1460, 1, 0, 7), b""),
            ),
            (
                "SYN, options walked",
                frame(client, server, 1_000, 0, TcpFlags::SYN, &[1, 1, 4, 2, 2, 4, 5, 180, 1, 3, 3, 7], b""),
            ),
            ("ACK, valid cookie", frame(client, server, 1_001, issued.isn.wrapping_add(1), TcpFlags::ACK, &[], b"")),
            ("ACK, forged", frame(client, server, 1_001, 0x1234_5678, TcpFlags::ACK, &[], b"")),
            (
                "data to another port",
                frame(client, SocketAddr::new(server.ip(), 80), 1, 1, TcpFlags::ACK, &[], &[0u8; 1400]),
            ),
            // The same frame timed as the SYNs are, one run per call: what that way of timing adds by itself.
            (
                "SYN-style timing, data frame",
                frame(client, SocketAddr::new(server.ip(), 80), 1, 1, TcpFlags::ACK, &[], &[0u8; 1400]),
            ),
        ];
        for (what, frame) in cases {
            // The kernel repeats a run on the frame as the last run left it, and a SYN leaves as a SYN-ACK: a SYN
            // is timed one run per call, the mean of many calls (each run's timing then includes the timer's own
            // reads, some tens of nanoseconds).
            let rewrites = what.starts_with("SYN");
            let time_once = || {
                if rewrites {
                    let total: u64 = (0..SINGLE_RUNS).map(|_| fast_path.time_on(&frame, 1).unwrap_or(0)).sum();
                    Ok(total / u64::from(SINGLE_RUNS))
                } else {
                    fast_path.time_on(&frame, REPEAT)
                }
            };
            let mut runs: Vec<u64> =
                (0..ROUNDS).map(|_| time_once().unwrap_or_else(|e: std::io::Error| panic!("{what}: {e}"))).collect();
            runs.sort_unstable();
            println!("{:<34} {:>10}", format!("{family} {what}"), runs[ROUNDS / 2]);
        }
    }
}
