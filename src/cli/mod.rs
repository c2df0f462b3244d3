//! Command-line flags as the user types them (clap derive), and their validation into configs.

pub mod parse;

use clap::{Args, Parser, Subcommand, ValueEnum};

use self::parse::{Format, UsageError, parse_duration, parse_socket_addr};

#[derive(Parser, Debug)]
#[command(name = "synscope", version, about = "See TCP: a packet inspector that annotates handshakes and teardowns")]
#[command(propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read pcap/pcapng files and print one line (or JSON object) per packet.
    Read(ReadArgs),
    /// Generate the bundled sample captures, or a large synthetic capture for benchmarks.
    Gen(GenArgs),
    /// Run the companion echo listener: the seed tutorial's TCP and UDP servers, without their 1 s sleep.
    Listen(ListenArgs),
    /// Talk to an echo listener as the seed's clients do, or probe it with many sessions (--count).
    Connect(ConnectArgs),
    /// Capture live on one or more interfaces (needs CAP_NET_RAW), with the same output and tracking as `read`.
    Sniff(SniffArgs),
    /// Send the frames of a capture file out of an interface: loopback, or one inside a lab network namespace.
    Replay(ReplayArgs),
    /// Apply the kernel's SYN-flood defences (syncookies, SYN backlog, SYN-ACK retries, somaxconn) to a lab namespace.
    Harden(crate::cmd::harden::HardenArgs),
    /// Guard a listener against SYN floods from between two interfaces: SYN cookies, half-open limits, a SYN proxy.
    Guard(crate::cmd::guard::GuardArgs),
    /// Send a bounded SYN flood (spoofed sources) at loopback or into a lab namespace.
    Flood(crate::cmd::flood::FloodArgs),
    /// Bridge two interfaces of a lab namespace through a bad link: loss, duplication, delay, jitter, reordering.
    Impair(crate::cmd::impair::ImpairArgs),
    /// The SYN-flood lab: each defence under floods of rising rate, with a report and charts (--sim without root).
    Lab(crate::cmd::lab::LabArgs),
}

const READ_EXAMPLES: &str = "\
Examples:
  synscope read captures/seed-session.pcap
  synscope read -r capture.pcapng 'tcp and port 9999'
  synscope read a.pcap b.pcapng -c 20 -e syn and not ack
  synscope read --format json trace.pcap | jq .tcp.flags
  tcpdump -w - -U -i lo | synscope read - tcp
  synscope read big.pcap -q                 # summary only
  synscope read trace.pcap -w syns.pcap syn and not ack

Files are told apart from the filter by position: the first argument is a file, and so is each following one that
exists or ends in .pcap/.pcapng/.cap; the rest is the filter. With -r, every argument is the filter.";

#[derive(Args, Debug)]
#[command(after_help = READ_EXAMPLES)]
pub struct ReadArgs {
    /// Capture file to read (repeatable); `-` reads standard input.
    #[arg(short = 'r', value_name = "FILE")]
    pub read: Vec<String>,

    /// Files, then a tcpdump-like filter expression.
    #[arg(value_name = "FILE... [FILTER]")]
    pub args: Vec<String>,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub track: TrackArgs,
}

/// What to print and write for the packets a source delivers: shared by `read` and `sniff`.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Stop after this many packets have matched.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,

    /// Write the matching packets to a capture file, with their original timestamps and link types: pcapng when
    /// the name ends in .pcapng, each packet's annotations kept as its packet comment (Wireshark's
    /// frame.comment); otherwise pcap, which has no place for comments.
    #[arg(short = 'w', value_name = "OUT.pcap|OUT.pcapng")]
    pub write: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,

    /// Print no packets, only the summary.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Print absolute TCP sequence numbers (default: relative per direction, as tcpdump does).
    #[arg(short = 'S', long = "absolute-tcp-sequence-numbers")]
    pub absolute_seq: bool,

    /// Print the link-level header: MAC addresses, EtherType and VLAN tags.
    #[arg(short = 'e')]
    pub link_header: bool,

    /// Timestamps as tcpdump: -t none, -tt epoch, -ttt delta, -tttt date and time, -ttttt since first packet.
    #[arg(short = 't', action = clap::ArgAction::Count)]
    pub time_format: u8,

    /// Print timestamps with nanosecond precision.
    #[arg(long)]
    pub nano: bool,

    /// Accepted for tcpdump compatibility: synscope never resolves names.
    #[arg(short = 'n', action = clap::ArgAction::Count)]
    pub numeric: u8,
}

/// Connection tracking options, shared by every command that reads packets.
#[derive(Args, Debug, Clone)]
pub struct TrackArgs {
    /// Do not track connections: no annotations, no connection log, no flood detection (fastest).
    #[arg(long)]
    pub no_track: bool,

    /// Write one record per connection, as Zeek's conn.log.
    #[arg(long, value_name = "FILE")]
    pub conn_log: Option<String>,

    /// Connection log format: Zeek's tab-separated log, or JSON lines.
    #[arg(long, value_enum, default_value_t = ConnLogFormatArg::Zeek)]
    pub conn_log_format: ConnLogFormatArg,

    /// Connections tracked at once; beyond it the oldest half-open ones are evicted first.
    #[arg(long, value_name = "N", default_value_t = crate::track::DEFAULT_MAX_FLOWS)]
    pub max_flows: usize,

    /// Report a SYN without SYN-ACK as half-open after this long (e.g. 5s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub syn_timeout: crate::time::Duration,

    /// SYN-flood alert threshold, in SYNs per second to one destination.
    #[arg(long, value_name = "SYN/S", default_value_t = 1000)]
    pub flood_syn_rate: u32,

    /// SYN-flood alert only while fewer than this share of handshakes complete (0..1).
    #[arg(long, value_name = "RATIO", default_value_t = 0.1)]
    pub flood_max_completion: f64,

    /// Exit with status 3 when one of these holds: rst, refused, half-open, incomplete-handshake,
    /// retransmission, flood, malformed (comma-separated).
    #[arg(long, value_name = "LIST", value_enum, value_delimiter = ',')]
    pub fail_on: Vec<crate::engine::fail_on::Condition>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ConnLogFormatArg {
    Zeek,
    Json,
}

impl ReadArgs {
    /// Splits the positional arguments into capture files and the filter expression.
    pub fn files_and_filter(&self) -> Result<(Vec<String>, String), UsageError> {
        if !self.read.is_empty() {
            return Ok((self.read.clone(), self.args.join(" ")));
        }
        let mut files = Vec::new();
        let mut rest = self.args.iter().peekable();
        if let Some(first) = rest.next() {
            files.push(first.clone());
        }
        while let Some(arg) = rest.peek() {
            if looks_like_capture_file(arg) {
                files.push(rest.next().cloned().unwrap_or_default());
            } else {
                break;
            }
        }
        if files.is_empty() {
            return Err(UsageError("no capture file given; usage: synscope read FILE... [FILTER] (or -r FILE)".into()));
        }
        Ok((files, rest.cloned().collect::<Vec<_>>().join(" ")))
    }
}

fn looks_like_capture_file(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    arg == "-"
        || std::path::Path::new(arg).is_file()
        || [".pcap", ".pcapng", ".cap"].iter().any(|ext| lower.ends_with(ext))
}

const LISTEN_EXAMPLES: &str = "\
Examples:
  synscope listen                                  # TCP on 127.0.0.1:9999, as the seed's server
  synscope listen --tcp 0.0.0.0:9999 --udp 0.0.0.0:9999
  synscope listen --udp 127.0.0.1:9999             # UDP only
  synscope listen --tcp 127.0.0.1:8000 --backlog 16 --max-conns 100 --idle-timeout 5s

Protocol (the seed's, byte for byte): on accept the server sends `Welcome!`, answers each message M with
`Hello, M!`, and closes on `exit` or EOF; UDP answers each datagram M with `Hello, M!`. There is no framing: one
recv of up to 1024 bytes is one message. Each TCP connection gets a thread; beyond --max-conns a connection is
accepted and closed at once (the client reads EOF without a greeting) and counted as refused. Ctrl-C or SIGTERM
stops the listener; it then prints its counters on stderr. ADDR may be HOST:PORT or a bare PORT (127.0.0.1).";

#[derive(Args, Debug)]
#[command(after_help = LISTEN_EXAMPLES)]
pub struct ListenArgs {
    /// Serve TCP on this address (default 127.0.0.1:9999 when neither --tcp nor --udp is given).
    #[arg(long, value_name = "ADDR", value_parser = parse_socket_addr)]
    pub tcp: Option<std::net::SocketAddr>,

    /// Serve UDP on this address.
    #[arg(long, value_name = "ADDR", value_parser = parse_socket_addr)]
    pub udp: Option<std::net::SocketAddr>,

    /// Length of the kernel's accept queue, passed to listen(2) (capped by net.core.somaxconn).
    #[arg(long, value_name = "N", default_value_t = 128, value_parser = clap::value_parser!(i32).range(0..))]
    pub backlog: i32,

    /// TCP connections served at once; more are accepted, closed and counted as refused.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_conns: usize,

    /// Close a TCP connection whose client sends nothing (or reads nothing) for this long.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub idle_timeout: crate::time::Duration,

    /// Also serve the Discard Protocol (RFC 863) on this TCP address: read everything, answer nothing, close when
    /// the client does. `synscope connect --bulk` measures bulk throughput against it.
    #[arg(long, value_name = "ADDR", value_parser = parse_socket_addr)]
    pub discard: Option<std::net::SocketAddr>,
}

const CONNECT_EXAMPLES: &str = "\
Examples:
  synscope connect 127.0.0.1:9999                  # the seed's TCP client: Lambda, Bond, alpha
  synscope connect 127.0.0.1:9999 hi there
  synscope connect --udp 127.0.0.1:9999            # the seed's UDP client: Michael, Tracy, Sarah
  synscope connect 127.0.0.1:9999 --count 1000 --concurrency 20 --timeout 2s
  synscope connect 127.0.0.1:9999 --count 100 --format json | jq .success_ratio
  synscope connect 127.0.0.1:9009 --bulk 5s       # bulk rate to `synscope listen --discard 127.0.0.1:9009`

With --count the prober runs N sessions, K at a time, each bounded by --timeout for connect and exchange together,
checks every byte, and prints the success ratio, connect latency p50/p99/max and failures by cause (refused,
timeout, reset, protocol mismatch, other). Exit status: 0 when every session succeeded, 1 otherwise (for the
prober too, after its report). Without --count, --timeout bounds each step (default 10s for TCP, 2s per UDP reply,
as the seed's client).";

#[derive(Args, Debug)]
#[command(after_help = CONNECT_EXAMPLES)]
pub struct ConnectArgs {
    /// The listener, HOST:PORT or a bare PORT (127.0.0.1).
    #[arg(value_name = "ADDR", value_parser = parse_socket_addr)]
    pub addr: std::net::SocketAddr,

    /// Messages to send, one per exchange (default: the seed client's).
    #[arg(value_name = "MSG")]
    pub messages: Vec<String>,

    /// Speak UDP, as the seed's udp_client.py.
    #[arg(long)]
    pub udp: bool,

    /// Probe: run this many sessions and report instead of printing a transcript.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Probe: sessions at once.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub concurrency: usize,

    /// Probe: start this many sessions per second, steadily (default: as fast as the K workers go).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,

    /// Time allowed: per session when probing (default 5s), else per step.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<crate::time::Duration>,

    /// Bulk: send as much as the path takes for this long to a discard service (`listen --discard`, RFC 863),
    /// then report the rate.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, conflicts_with_all = ["count", "udp"])]
    pub bulk: Option<crate::time::Duration>,

    /// Probe (and bulk) report format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    #[command(subcommand)]
    pub what: GenWhat,
}

#[derive(Subcommand, Debug)]
pub enum GenWhat {
    /// Regenerate the bundled sample captures, byte for byte.
    Captures {
        /// Directory to write them to.
        #[arg(default_value = "captures")]
        dir: String,
    },
    /// Write a large synthetic capture: many short seed-protocol sessions plus a spoofed SYN flood.
    Bench {
        /// Output pcap file.
        out: String,
        /// Total packets to write, at least.
        #[arg(long, default_value_t = 1_000_000)]
        packets: u64,
        /// Share of the packets that are flood SYNs, in percent.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(0..=100))]
        flood_percent: u8,
        /// Draw the clients from this many hosts instead of the whole unicast internet (tcpdump's best case: it
        /// interns every address it prints, and few hosts keep its tables short). Ports still vary per session.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        hosts: Option<u32>,
    },
}

const SNIFF_EXAMPLES: &str = "\
Examples:
  sudo synscope sniff -i lo 'tcp port 9999'
  sudo synscope sniff -i lo -i eth0 -w both.pcap
  sudo synscope sniff -i eth0 -q --duration 10s --conn-log conn.log
  sudo synscope sniff -i lo --format json -c 100 syn
  synscope sniff --list-interfaces

Live capture needs CAP_NET_RAW: run it with sudo, or once `sudo setcap cap_net_raw+ep $(command -v synscope)`.
On loopback each frame is seen once (the outgoing copy is skipped, as libpcap does). Frames carry the kernel's
nanosecond timestamps. Ctrl-C or SIGTERM stops cleanly: output is flushed, open connections get their conn-log
records, and the summary shows frames dropped by the kernel and by synscope itself. -w writes as it goes: the file
is valid pcap up to the last complete batch even if synscope is killed.";

#[derive(Args, Debug)]
#[command(after_help = SNIFF_EXAMPLES)]
pub struct SniffArgs {
    /// Interface to capture on (repeatable).
    #[arg(short = 'i', long = "interface", value_name = "IFACE", required_unless_present = "list_interfaces")]
    pub interfaces: Vec<String>,

    /// List the interfaces of this network namespace and exit.
    #[arg(short = 'D', long)]
    pub list_interfaces: bool,

    /// A tcpdump-like filter expression.
    #[arg(value_name = "FILTER")]
    pub filter: Vec<String>,

    /// Bytes kept of each frame.
    #[arg(short = 's', long, value_name = "BYTES", default_value_t = 262_144,
          value_parser = clap::value_parser!(u32).range(64..=262_144))]
    pub snaplen: u32,

    /// Put the interfaces in promiscuous mode (off by default).
    #[arg(long)]
    pub promisc: bool,

    /// Stop after this long.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<crate::time::Duration>,

    /// Print capture statistics this often on stderr while frames are being dropped.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub stats_interval: crate::time::Duration,

    /// Kernel ring buffer per interface, in MiB (tcpdump -B takes KiB; libpcap's default is 2 MiB).
    #[arg(short = 'B', long, value_name = "MIB", default_value_t = 32,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub buffer_size: u32,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub track: TrackArgs,
}

const REPLAY_EXAMPLES: &str = "\
Examples:
  sudo synscope replay captures/seed-session.pcap -i lo
  sudo ip netns exec lab synscope replay captures/syn-flood.pcap -i veth0 --top-speed --loop 10
  sudo synscope replay trace.pcap -i lo --speed 4 --count 1000

Frames are sent as they are in the file, paced by their timestamps (scaled by --speed), at a fixed --pps, or as
fast as possible with --top-speed. Safety: only loopback, or an interface inside a network namespace other than the
initial one, is accepted; replay never puts traffic on a real network. A replay stops after --duration (at most
300s) whatever the pacing.";

#[derive(Args, Debug)]
#[command(after_help = REPLAY_EXAMPLES)]
pub struct ReplayArgs {
    /// The capture file (pcap or pcapng).
    #[arg(value_name = "FILE")]
    pub file: String,

    /// The interface to send on.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interface: String,

    /// Replay X times faster than recorded (0.5 is half speed).
    #[arg(long, value_name = "X", group = "pace")]
    pub speed: Option<f64>,

    /// Send at a fixed rate, in frames per second.
    #[arg(long, value_name = "N", group = "pace", value_parser = clap::value_parser!(u64).range(1..))]
    pub pps: Option<u64>,

    /// Send as fast as possible.
    #[arg(long, group = "pace")]
    pub top_speed: bool,

    /// Replay the file this many times.
    #[arg(long = "loop", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub loops: u32,

    /// Stop after sending this many frames.
    #[arg(short = 'c', long, value_name = "N")]
    pub count: Option<u64>,

    /// Stop after this long (at most 300s).
    #[arg(long, value_name = "DURATION", default_value = "300s", value_parser = parse_duration)]
    pub duration: crate::time::Duration,
}
