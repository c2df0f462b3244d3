//! What the top-level flags and the subcommands' own `Args` (beside each `run()` in `cmd`) share: the value parsers
//! clap calls, the output format, and the error for flags that pass clap's checks but not ours. A leaf: it imports
//! nothing from `cli` or `cmd`, so both can use it without an import cycle.

use clap::ValueEnum;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
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

/// Parses `HOST:PORT` (names resolved, first address wins) or a bare `PORT` meaning 127.0.0.1, the seed's host.
pub fn parse_socket_addr(text: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    if let Ok(port) = text.parse::<u16>() {
        return Ok((std::net::Ipv4Addr::LOCALHOST, port).into());
    }
    match text.to_socket_addrs() {
        Ok(mut addrs) => addrs.next().ok_or_else(|| format!("'{text}' resolves to no address")),
        Err(err) => Err(format!("'{text}' is not HOST:PORT or PORT ({err})")),
    }
}
