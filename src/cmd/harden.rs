//! `synscope harden --netns NAME`: applies the kernel's SYN-flood defences to a listener's network namespace and
//! prints each sysctl before and after; `--show` prints them with the counters that tell how listeners fared.
//!
//! The work is in [`crate::netns`], which the lab calls directly. Order of checks: the values (clap, against the
//! kernel's limits in [`Knob::range`]), then the namespace by name, then the rule that the initial namespace is never
//! tuned, then the privilege to enter it and write.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::cli::parse::{Format, UsageError};
use crate::netns::{self, Changes, Knob, ListenCounters, NetnsError, Settings, Sysctls};

const EXAMPLES: &str = "\
Examples:
  sudo synscope harden --netns lab-server --syncookies 1
  sudo synscope harden --netns lab-server --syncookies 0 --max-syn-backlog 128 --synack-retries 2 --somaxconn 64
  sudo synscope harden --netns lab-server --show
  sudo synscope harden --netns lab-server --show --format json | jq '.counters.TcpExtListenDrops'

NAME is a namespace made by `ip netns add NAME` (a file in /run/netns). The sysctls are per namespace, so the host's
own values do not change; the initial namespace itself is refused. Needs CAP_SYS_ADMIN to enter the namespace and
CAP_NET_ADMIN to write its sysctls: run it with sudo.

Limits: --syncookies 0 (never), 1 (when a listener's SYN queue overflows) or 2 (always); --synack-retries 1..=255;
--max-syn-backlog and --somaxconn 1..=2147483647. With --syncookies 0 the kernel drops SYNs from unproven peers once
a listener's SYN queue is 3/4 of --max-syn-backlog; every listen(2) backlog is capped by --somaxconn.";

#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct HardenArgs {
    /// The network namespace, as `ip netns list` names it.
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub netns: String,

    /// net.ipv4.tcp_syncookies: 0 never, 1 when the SYN queue overflows, 2 always.
    #[arg(long, value_name = "0|1|2", value_parser = clap::value_parser!(i64).range(Knob::Syncookies.range()))]
    pub syncookies: Option<i64>,

    /// net.ipv4.tcp_max_syn_backlog: with cookies off, SYNs are dropped once a listener has 3/4 this many half-open.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(Knob::MaxSynBacklog.range()))]
    pub max_syn_backlog: Option<i64>,

    /// net.ipv4.tcp_synack_retries: SYN-ACK retransmissions before a half-open request is dropped.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(Knob::SynackRetries.range()))]
    pub synack_retries: Option<i64>,

    /// net.core.somaxconn: the cap on every listen(2) backlog.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(Knob::Somaxconn.range()))]
    pub somaxconn: Option<i64>,

    /// Change nothing: print the current values and the kernel's SYN-flood counters.
    #[arg(long, conflicts_with_all = ["syncookies", "max_syn_backlog", "synack_retries", "somaxconn"])]
    pub show: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

impl HardenArgs {
    fn settings(&self) -> Settings {
        Settings {
            syncookies: self.syncookies,
            max_syn_backlog: self.max_syn_backlog,
            synack_retries: self.synack_retries,
            somaxconn: self.somaxconn,
        }
    }
}

fn parse_name(text: &str) -> Result<String, String> {
    netns::check_name(text).map(|()| text.to_string()).map_err(|err| err.to_string())
}

pub fn run(args: &HardenArgs) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    if args.show {
        let values = netns::read_sysctls(&args.netns).map_err(command_error)?;
        let counters = netns::read_counters(&args.netns).map_err(command_error)?;
        match args.format {
            Format::Text => out.write_all(show_table(&args.netns, &values, &counters).as_bytes())?,
            Format::Json => {
                let report = ShowReport { netns: &args.netns, sysctls: values, counters };
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            }
        }
    } else {
        let settings = args.settings();
        if settings.is_empty() {
            return Err(UsageError(
                "nothing to change: give at least one of --syncookies, --max-syn-backlog, --synack-retries, \
                 --somaxconn (or --show to see the current values)"
                    .into(),
            )
            .into());
        }
        let changes = netns::apply(&args.netns, &settings).map_err(command_error)?;
        match args.format {
            Format::Text => out.write_all(changes_table(&args.netns, &changes).as_bytes())?,
            Format::Json => {
                let report = ChangesReport { netns: &args.netns, changes };
                writeln!(out, "{}", serde_json::to_string(&report)?)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// A wrong value is a usage error (exit status 2); the rest are runtime errors with their own one-line message.
fn command_error(err: NetnsError) -> anyhow::Error {
    if err.is_usage() { UsageError(err.to_string()).into() } else { err.into() }
}

#[derive(Serialize)]
struct ChangesReport<'a> {
    netns: &'a str,
    #[serde(flatten)]
    changes: Changes,
}

#[derive(Serialize)]
struct ShowReport<'a> {
    netns: &'a str,
    sysctls: Sysctls,
    counters: ListenCounters,
}

/// Width of the name column, shared by both tables so `--show` lines up.
fn name_width() -> usize {
    let sysctls = Knob::ALL.iter().map(|knob| knob.name().len());
    sysctls.chain(ListenCounters::NAMES.iter().map(|name| name.len())).max().unwrap_or(0)
}

fn changes_table(netns: &str, changes: &Changes) -> String {
    let numbers = Knob::ALL.iter().flat_map(|&knob| [changes.before.get(knob), changes.after.get(knob)]);
    let width = numbers.map(|n| n.to_string().len()).chain(["before".len()]).max().unwrap_or(0);
    let names = name_width();
    let mut text = format!("netns {netns}\n{:<names$}  {:>width$}  {:>width$}\n", "sysctl", "before", "after");
    for knob in Knob::ALL {
        let (before, after) = (changes.before.get(knob), changes.after.get(knob));
        text += &format!("{:<names$}  {before:>width$}  {after:>width$}\n", knob.name());
    }
    text
}

fn show_table(netns: &str, values: &Sysctls, counters: &ListenCounters) -> String {
    let numbers = Knob::ALL.iter().map(|&knob| values.get(knob).to_string().len());
    let numbers = numbers.chain(counters.entries().into_iter().map(|(_, n)| n.to_string().len()));
    let width = numbers.chain(["value".len()]).max().unwrap_or(0);
    let names = name_width();
    let mut text = format!("netns {netns}\n{:<names$}  {:>width$}\n", "sysctl", "value");
    for knob in Knob::ALL {
        text += &format!("{:<names$}  {:>width$}\n", knob.name(), values.get(knob));
    }
    text += &format!("\n{:<names$}  {:>width$}\n", "counter", "value");
    for (name, value) in counters.entries() {
        text += &format!("{name:<names$}  {value:>width$}\n");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sysctls(base: i64) -> Sysctls {
        Sysctls { syncookies: base, max_syn_backlog: base + 1, synack_retries: base + 2, somaxconn: base + 3 }
    }

    mod tables {
        use super::*;

        #[test]
        fn before_and_after_line_up() {
            let changes = Changes { before: sysctls(1), after: sysctls(1000) };
            let text = changes_table("lab", &changes);
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], "netns lab");
            assert_eq!(lines[1], "sysctl                        before   after");
            assert_eq!(lines[2], "net.ipv4.tcp_syncookies            1    1000");
            assert_eq!(lines[5], "net.core.somaxconn                 4    1003");
            assert!(lines[1..].iter().all(|line| line.len() == lines[1].len()), "{text}");
        }

        #[test]
        fn show_prints_values_then_counters() {
            let counters = ListenCounters { listen_drops: 123_456_789, ..ListenCounters::default() };
            let text = show_table("lab", &sysctls(1), &counters);
            let (values, counters) = text.split_once("\n\n").expect("two tables");
            assert!(values.lines().nth(2).is_some_and(|l| l.split_whitespace().eq(["net.ipv4.tcp_syncookies", "1"])));
            let drops = counters.lines().find(|l| l.starts_with("TcpExtListenDrops ")).expect("a ListenDrops row");
            assert!(drops.ends_with("  123456789"), "{text}");
            let widths: Vec<usize> = text.lines().skip(1).filter(|l| !l.is_empty()).map(str::len).collect();
            assert!(widths.iter().all(|&w| w == widths[0]), "{text}");
        }
    }

    mod arguments {
        use super::*;
        use crate::cli::{Cli, Command};
        use clap::Parser;

        fn parse(args: &[&str]) -> Result<HardenArgs, clap::Error> {
            let cli = Cli::try_parse_from(["synscope", "harden"].iter().chain(args))?;
            match cli.command {
                Command::Harden(args) => Ok(args),
                other => panic!("parsed as {other:?}"),
            }
        }

        #[test]
        fn values_within_the_kernels_limits_parse() {
            let args = parse(&["--netns", "lab", "--syncookies", "2", "--synack-retries", "255"]).unwrap();
            assert_eq!(
                args.settings(),
                Settings { syncookies: Some(2), synack_retries: Some(255), ..Settings::default() }
            );
        }

        #[test]
        fn out_of_range_values_are_usage_errors() {
            for bad in
                [["--syncookies", "3"], ["--max-syn-backlog", "0"], ["--synack-retries", "256"], ["--somaxconn", "-1"]]
            {
                let err = parse(&["--netns", "lab", bad[0], bad[1]]).unwrap_err();
                assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
            }
        }

        #[test]
        fn a_path_is_not_a_namespace_name() {
            let err = parse(&["--netns", "../../proc/1/ns/net", "--syncookies", "1"]).unwrap_err();
            assert_eq!(err.exit_code(), 2);
        }

        #[test]
        fn show_does_not_mix_with_changes() {
            let err = parse(&["--netns", "lab", "--show", "--syncookies", "1"]).unwrap_err();
            assert_eq!(err.exit_code(), 2);
        }
    }
}
