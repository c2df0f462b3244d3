//! The guard's defaults, the one copy: `synscope guard`'s flags default to these (`cmd/guard/`), and the lab's
//! simulation configures the guard the real lab starts, every flag but `--mode` at its default, from them
//! (`lab/sim/setup.rs`). Two more defaults live with what they configure: the listener's options
//! ([`ListenerOptions::default`]) and the cookie tick ([`CookieConfig::default`]); auto mode's watermarks follow
//! the half-open limit ([`watermarks_for`]).

use std::net::SocketAddr;

use super::{GuardConfig, ListenerOptions};
use crate::defense::cookie::CookieConfig;
use crate::defense::half_open::{HalfOpenConfig, Overflow};
use crate::defense::policy::{Mode, watermarks_for};
use crate::time::Duration;

/// `--mode`: the stateful proxy while the half-open table has room, cookies under a flood.
pub const MODE: Mode = Mode::Auto;
/// `--half-open-limit`: half-open connections at once, across all clients.
pub const HALF_OPEN_LIMIT: usize = 1024;
/// `--per-source-limit`: half-open connections of one client address.
pub const PER_SOURCE_LIMIT: usize = 64;
/// `--synrecv-timeout`: how long a connection may stay half-open.
pub const SYNRECV_TIMEOUT: Duration = Duration::from_secs(15);
/// `--synack-retries`: the stateful proxy's SYN-ACK retransmissions.
pub const SYNACK_RETRIES: u32 = 3;
/// `--overflow`: what happens to a SYN when the half-open table is full.
pub const OVERFLOW: Overflow = Overflow::DropNew;
/// Connections the proxy table holds at once (no flag).
pub const MAX_PROXIED: usize = 65_536;
/// How long a proxied connection may be idle before the proxy forgets it (no flag).
pub const PROXY_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// The half-open table `synscope guard` builds when its flags are left at their defaults.
pub fn half_open() -> HalfOpenConfig {
    HalfOpenConfig {
        global_limit: HALF_OPEN_LIMIT,
        per_source_limit: PER_SOURCE_LIMIT,
        synrecv_timeout: SYNRECV_TIMEOUT,
        synack_retries: SYNACK_RETRIES,
        overflow: OVERFLOW,
        ..HalfOpenConfig::default()
    }
}

impl GuardConfig {
    /// What `synscope guard --protect PROTECT` runs with, every other flag at its default.
    pub fn defaults(protect: SocketAddr) -> GuardConfig {
        GuardConfig {
            protect,
            mode: MODE,
            half_open: half_open(),
            watermarks: watermarks_for(HALF_OPEN_LIMIT),
            syn_rate_per_source: None,
            listener: ListenerOptions::default(),
            max_proxied: MAX_PROXIED,
            proxy_idle_timeout: PROXY_IDLE_TIMEOUT,
            cookie_tick: CookieConfig::default().tick,
        }
    }
}
