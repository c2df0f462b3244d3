//! The lab's scenarios as the simulation sets them up. The definitions are the real lab's
//! ([`crate::lab::scenario::Scenario`]: the server namespace's sysctls, the listen backlog, the guard's mode), so
//! both labs always run the same scenarios; this module only translates them into the listener model's knobs and
//! the guard's configuration.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use super::kernel_listener::{ListenerConfig, Sysctls};
use crate::defense::guard::{GuardConfig, defaults};
use crate::defense::half_open::HalfOpenConfig;
use crate::defense::policy::{Mode, watermarks_for};
use crate::lab::scenario as lab;
use crate::time::Duration;

/// Every scenario, in the order the lab runs them.
pub const SCENARIOS: [&str; 7] = lab::ALL;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimSetup {
    pub name: &'static str,
    /// The listener's listen(2) backlog.
    pub backlog: u32,
    pub sysctls: Sysctls,
    pub guard: Option<GuardSetup>,
}

impl SimSetup {
    /// The listener model for this scenario.
    pub fn listener(&self, addr: SocketAddrV4, accept_cost: Duration) -> ListenerConfig {
        ListenerConfig { addr, backlog: self.backlog, sysctls: self.sysctls, accept_cost }
    }

    /// The most requests the listener's SYN queue can hold ([`ListenerConfig::syn_queue_limit`]).
    pub fn syn_queue_limit(&self) -> u32 {
        self.listener(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0), Duration::ZERO).syn_queue_limit()
    }
}

/// The guard in a guard scenario: the lab starts `synscope guard --mode MODE` with every other flag at its default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardSetup {
    pub mode: Mode,
    pub half_open: HalfOpenConfig,
    /// SYNs answered by the XDP program before the rings: cookies mode with the default `--fast-path auto`, on a
    /// machine where the program loads (the real lab's `guard-cookies`; `guard-cookies-rings` asks for the rings).
    pub xdp: bool,
}

impl GuardSetup {
    /// `synscope guard`'s defaults ([`crate::defense::guard::defaults`], which its flags take too).
    pub fn with_defaults(mode: Mode) -> GuardSetup {
        GuardSetup { mode, half_open: defaults::half_open(), xdp: false }
    }

    /// The configuration `synscope guard` builds from these flags (`cmd/guard/`: auto's watermarks from
    /// [`watermarks_for`] the half-open limit).
    pub fn config(&self, protect: SocketAddr) -> GuardConfig {
        GuardConfig {
            mode: self.mode,
            half_open: self.half_open,
            watermarks: watermarks_for(self.half_open.global_limit),
            ..GuardConfig::defaults(protect)
        }
    }
}

/// The scenario called `name`, as the real lab defines it; `None` for a name it does not know.
pub fn scenario(name: &str) -> Option<SimSetup> {
    let real = lab::Scenario::named(name)?;
    let linux = Sysctls::default();
    let knob = |value: Option<i64>, default: u32| value.map_or(default, |v| v.clamp(0, i64::from(u32::MAX)) as u32);
    let sysctls = Sysctls {
        syncookies: knob(real.sysctls.syncookies, u32::from(linux.syncookies)).min(2) as u8,
        max_syn_backlog: knob(real.sysctls.max_syn_backlog, linux.max_syn_backlog),
        somaxconn: knob(real.sysctls.somaxconn, linux.somaxconn),
        synack_retries: knob(real.sysctls.synack_retries, linux.synack_retries),
        abort_on_overflow: false,
    };
    let guard = match real.guard_mode {
        None => None,
        Some(mode) => {
            let mut setup = GuardSetup::with_defaults(mode.parse().ok()?);
            if let Some(limits) = real.guard_limits {
                setup.half_open.global_limit = limits.half_open_limit;
                setup.half_open.synrecv_timeout = Duration::from_secs(limits.synrecv_timeout_s);
                setup.half_open.overflow = limits.overflow.parse().ok()?;
            }
            setup.xdp = setup.mode == Mode::Cookies && real.guard_fast_path != Some("packet");
            Some(setup)
        }
    };
    Some(SimSetup { name: real.name, backlog: real.backlog, sysctls, guard })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cmd::guard::{GuardArgs, OverflowArg};
    use crate::defense::half_open::Overflow;

    #[derive(Parser)]
    struct Guard {
        #[command(flatten)]
        args: GuardArgs,
    }

    #[test]
    fn every_scenario_translates() {
        for name in SCENARIOS {
            let s = scenario(name).unwrap();
            assert_eq!(s.name, name);
            assert_eq!(s.guard.is_some(), name.starts_with("guard-"));
            assert_eq!(s.guard.is_some_and(|g| g.xdp), name == "guard-cookies", "{name}");
        }
        assert!(scenario("bogus").is_none());
        assert_eq!(scenario("none").unwrap().sysctls.syncookies, 0);
        assert_eq!(scenario("kernel-cookies").unwrap().sysctls.syncookies, 1);
    }

    #[test]
    fn guard_defaults_are_the_commands() {
        let parsed = Guard::try_parse_from([
            "guard",
            "--outside",
            "o",
            "--inside",
            "i",
            "--protect",
            "10.77.0.2:9999",
            "--mode",
            "limit",
        ])
        .unwrap()
        .args;
        let ours = GuardSetup::with_defaults(Mode::Limit).half_open;
        assert_eq!(ours.global_limit, parsed.half_open_limit);
        assert_eq!(ours.per_source_limit, parsed.per_source_limit);
        assert_eq!(ours.synrecv_timeout, parsed.synrecv_timeout);
        assert_eq!(ours.synack_retries, parsed.synack_retries);
        assert_eq!((ours.overflow, parsed.overflow), (Overflow::DropNew, OverflowArg::DropNew));
        assert_eq!(parsed.syn_rate_per_source, None);
    }
}
