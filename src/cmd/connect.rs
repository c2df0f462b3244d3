//! `synscope connect`: the seed's TCP and UDP clients, printing their transcript exactly as the seed prints it (one
//! line per recv), or, with `--count`, the load prober's report.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::ConnectArgs;
use crate::cli::parse::{Format, UsageError};
use crate::listener::bulk;
use crate::listener::client::{Budget, TcpClient, UdpClient};
use crate::listener::prober::{self, ProbeConfig};
use crate::listener::{DEFAULT_TCP_MESSAGES, DEFAULT_UDP_MESSAGES, RECV_BUFFER, std_duration};

/// Per-step timeout of the TCP client (the seed's has none; its server takes 1 s per reply).
const TCP_STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The seed's UDP client: `settimeout(2)`.
const UDP_REPLY_TIMEOUT: Duration = Duration::from_secs(2);
/// Per session, when probing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest bulk transfer, as the flood's bound.
const BULK_MAX: Duration = Duration::from_secs(300);

pub fn run(args: &ConnectArgs) -> anyhow::Result<ExitCode> {
    let messages = messages(args)?;
    let timeout = args.timeout.map(std_duration);
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(UsageError("--timeout must be more than 0".into()).into());
    }
    if let Some(duration) = args.bulk {
        return bulk_transfer(args, std_duration(duration));
    }
    match args.count {
        Some(count) => probe(args, count, messages, timeout.unwrap_or(PROBE_TIMEOUT)),
        None if args.format == Format::Json => {
            Err(UsageError("--format json is for the prober; add --count N".into()).into())
        }
        None if args.udp => udp(args, &messages, timeout.unwrap_or(UDP_REPLY_TIMEOUT)),
        None => tcp(args, &messages, timeout.unwrap_or(TCP_STEP_TIMEOUT)),
    }
}

/// The messages to send, checked against what the unframed protocol can carry.
fn messages(args: &ConnectArgs) -> Result<Vec<Vec<u8>>, UsageError> {
    let defaults: &[&str] = if args.udp { &DEFAULT_UDP_MESSAGES } else { &DEFAULT_TCP_MESSAGES };
    let messages: Vec<Vec<u8>> = if args.messages.is_empty() {
        defaults.iter().map(|m| m.as_bytes().to_vec()).collect()
    } else {
        args.messages.iter().map(|m| m.as_bytes().to_vec()).collect()
    };
    for m in &messages {
        if m.is_empty() {
            return Err(UsageError("an empty message cannot be sent: the server would read it as EOF".into()));
        }
        if m.len() > RECV_BUFFER {
            return Err(UsageError(format!(
                "a message of {} bytes is longer than the protocol's {RECV_BUFFER}-byte recv (it has no framing)",
                m.len()
            )));
        }
    }
    Ok(messages)
}

/// One line per recv, as the seed's `print(s.recv(1024).decode('utf-8'))`.
fn print_line(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(String::from_utf8_lossy(bytes).as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

fn tcp(args: &ConnectArgs, messages: &[Vec<u8>], step: Duration) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    let (mut client, _) = TcpClient::connect(args.addr, Budget::per_step(step))?;
    print_line(&mut out, &client.recv("greeting")?)?;
    for message in messages {
        print_line(&mut out, &client.exchange(message)?)?;
    }
    client.finish()?;
    Ok(ExitCode::SUCCESS)
}

fn udp(args: &ConnectArgs, messages: &[Vec<u8>], reply_timeout: Duration) -> anyhow::Result<ExitCode> {
    let mut out = io::stdout().lock();
    let mut client = UdpClient::new(args.addr, reply_timeout)?;
    for message in messages {
        print_line(&mut out, &client.exchange(message)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A report on stdout, as its text or as one line of JSON.
fn write_report(format: Format, text: &str, report: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    match format {
        Format::Text => out.write_all(text.as_bytes())?,
        Format::Json => {
            serde_json::to_writer(&mut out, report)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}

fn bulk_transfer(args: &ConnectArgs, duration: Duration) -> anyhow::Result<ExitCode> {
    if duration.is_zero() || duration > BULK_MAX {
        return Err(UsageError("--bulk takes a duration from 1ms to 300s".into()).into());
    }
    let report = bulk::run(args.addr, duration)?;
    write_report(args.format, &report.text(), &report)?;
    Ok(ExitCode::SUCCESS)
}

fn probe(args: &ConnectArgs, count: u64, messages: Vec<Vec<u8>>, timeout: Duration) -> anyhow::Result<ExitCode> {
    if args.udp {
        return Err(UsageError("the prober speaks TCP only; drop --udp or --count".into()).into());
    }
    if count == 0 || args.concurrency == 0 {
        return Err(UsageError("--count and --concurrency must be at least 1".into()).into());
    }
    if args.rate.is_some_and(|r| !(r > 0.0 && r.is_finite())) {
        return Err(UsageError("--rate must be a positive number of sessions per second".into()).into());
    }
    let config =
        ProbeConfig { addr: args.addr, count, concurrency: args.concurrency, timeout, messages, rate: args.rate };
    let report = prober::run(&config);
    write_report(args.format, &report.text(), &report)?;
    if report.failed() > 0 {
        eprintln!("synscope: {} of {} sessions to {} failed", report.failed(), report.sessions, report.target);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
