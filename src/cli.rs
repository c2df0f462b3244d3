//! Command-line flags as the user types them (clap derive), and their validation into configs.

use clap::{Args, Parser, Subcommand, ValueEnum};

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
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
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

    /// Stop after this many packets have matched.
    #[arg(short = 'c', value_name = "COUNT")]
    pub count: Option<u64>,

    /// Write the matching packets to a pcap file, with their original timestamps and link type.
    #[arg(short = 'w', value_name = "OUT.pcap")]
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

    #[command(flatten)]
    pub track: TrackArgs,
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

/// Parses `5`, `5s`, `500ms`, `250us`, `2m`, `1.5s` into a duration.
pub fn parse_duration(text: &str) -> Result<crate::time::Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("'{text}' is not a duration (try 5s or 500ms)"))?;
    let scale = match unit {
        "" | "s" => 1e9,
        "ms" => 1e6,
        "us" | "µs" => 1e3,
        "ns" => 1.0,
        "m" | "min" => 60e9,
        "h" => 3600e9,
        other => return Err(format!("unknown unit '{other}' in '{text}' (use ns, us, ms, s, m or h)")),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(format!("'{text}' is not a duration"));
    }
    Ok(crate::time::Duration::from_nanos((value * scale) as u64))
}

/// A usage error found after clap's own checks (bad filter, no input). Exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

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
    },
}
