//! `synscope listen`: the companion echo listener. Binds everything first (so a busy port fails before anything is
//! printed), then serves TCP and UDP on their own threads until SIGINT/SIGTERM, then prints its counters on stderr.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::ListenArgs;
use crate::cli::parse::UsageError;
use crate::listener::tcp_server::{self, TcpConfig};
use crate::listener::{Stats, discard, say, std_duration, udp_server};

/// The seed's address.
pub const DEFAULT_TCP: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9999);

pub fn run(args: &ListenArgs) -> anyhow::Result<ExitCode> {
    if args.max_conns == 0 {
        return Err(UsageError("--max-conns must be at least 1".into()).into());
    }
    if args.idle_timeout.as_nanos() == 0 {
        return Err(UsageError("--idle-timeout must be more than 0".into()).into());
    }
    let tcp_addr =
        if args.tcp.is_none() && args.udp.is_none() && args.discard.is_none() { Some(DEFAULT_TCP) } else { args.tcp };
    let tcp = match tcp_addr {
        Some(addr) => {
            let config = TcpConfig {
                addr,
                backlog: args.backlog,
                max_conns: args.max_conns,
                idle_timeout: std_duration(args.idle_timeout),
            };
            Some((tcp_server::bind(&config)?, config))
        }
        None => None,
    };
    let udp = args.udp.map(udp_server::bind).transpose()?;
    let discard = match args.discard {
        Some(addr) => Some(tcp_server::bind(&TcpConfig {
            addr,
            backlog: args.backlog,
            max_conns: args.max_conns,
            idle_timeout: std_duration(args.idle_timeout),
        })?),
        None => None,
    };

    // Registered before the first line is printed, so a supervisor that signals on "Waiting for connection..." is
    // always heard.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop)).context("installing the Ctrl-C handler")?;
    }
    let stats = Arc::new(Stats::default());
    std::thread::scope(|scope| -> anyhow::Result<()> {
        if let Some(socket) = udp {
            let port = socket.local_addr().map(|a| a.port()).unwrap_or_default();
            say(format_args!("Bind UDP on {port}..."));
            let (stop, stats) = (&stop, &stats);
            std::thread::Builder::new()
                .name("udp".into())
                .spawn_scoped(scope, move || udp_server::serve(socket, stop, stats))
                .context("starting the UDP server thread")?;
        }
        if let Some(socket) = discard {
            let port = socket.local_addr().map(|a| a.port()).unwrap_or_default();
            say(format_args!("Discarding on {port}..."));
            let (stop, stats) = (&stop, &stats);
            std::thread::Builder::new()
                .name("discard".into())
                .spawn_scoped(scope, move || discard::serve(socket, stop, stats))
                .context("starting the discard thread")?;
        }
        if let Some((listener, config)) = tcp {
            say(format_args!("Waiting for connection..."));
            tcp_server::serve(listener, config, &stop, &stats);
        }
        Ok(())
    })?;
    eprintln!("synscope: listen stopped: {stats}");
    Ok(ExitCode::SUCCESS)
}
