//! The kernel's SYN-flood defences as sysctls of one network namespace: read them, apply new values, read them back.
//!
//! All four are per-namespace on current kernels, and a new namespace starts from the kernel defaults, not from the
//! initial namespace's values: `somaxconn` since Linux 2.6.24, `tcp_syncookies` and `tcp_synack_retries` since 4.6,
//! `tcp_max_syn_backlog` since 4.15. On an older kernel the file is absent outside the initial namespace, which is
//! reported as [`NetnsError::NotPerNamespace`].
//!
//! The limits below are those the kernel itself enforces (or, for `tcp_syncookies`, the values it gives a meaning
//! to; see Documentation/networking/ip-sysctl.rst), tightened to at least 1 where 0 disables the defence.

use std::io::{self, Write};
use std::ops::RangeInclusive;

use serde::Serialize;

use super::{Namespace, NetnsError};

/// One of the SYN-flood sysctls.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Knob {
    /// `net.ipv4.tcp_syncookies`: 0 never send cookies, 1 send them when a listener's SYN queue overflows, 2 always.
    Syncookies,
    /// `net.ipv4.tcp_max_syn_backlog`: with cookies off, a listener drops new SYNs from unproven peers once its
    /// request queue is ¾ of this (`tcp_conn_request`). The queue is also capped by the listener's accept backlog.
    MaxSynBacklog,
    /// `net.ipv4.tcp_synack_retries`: SYN-ACK retransmissions before a half-open request is dropped (1 s, 2 s, 4 s,
    /// ... exponential backoff, so 5 retries keep a request about 63 s).
    SynackRetries,
    /// `net.core.somaxconn`: the cap on every listen(2) backlog, which the kernel truncates silently.
    Somaxconn,
}

impl Knob {
    pub const ALL: [Knob; 4] = [Knob::Syncookies, Knob::MaxSynBacklog, Knob::SynackRetries, Knob::Somaxconn];

    /// The name as sysctl(8) spells it.
    pub fn name(self) -> &'static str {
        match self {
            Knob::Syncookies => "net.ipv4.tcp_syncookies",
            Knob::MaxSynBacklog => "net.ipv4.tcp_max_syn_backlog",
            Knob::SynackRetries => "net.ipv4.tcp_synack_retries",
            Knob::Somaxconn => "net.core.somaxconn",
        }
    }

    /// The file under /proc/sys, resolved in the namespace of the thread that opens it.
    pub fn path(self) -> &'static str {
        match self {
            Knob::Syncookies => "/proc/sys/net/ipv4/tcp_syncookies",
            Knob::MaxSynBacklog => "/proc/sys/net/ipv4/tcp_max_syn_backlog",
            Knob::SynackRetries => "/proc/sys/net/ipv4/tcp_synack_retries",
            Knob::Somaxconn => "/proc/sys/net/core/somaxconn",
        }
    }

    /// The values synscope accepts.
    ///
    /// - `tcp_syncookies` is a u8 the kernel accepts up to 255, but only 0, 1 and 2 mean something.
    /// - `tcp_max_syn_backlog` is an int written with `proc_dointvec`, with no bounds of its own: 1..=INT_MAX.
    /// - `tcp_synack_retries` is a u8 (`proc_dou8vec_minmax`; 256 is refused with EINVAL): 1..=255.
    /// - `somaxconn` is an int with a floor of 0 (`proc_dointvec_minmax`): 1..=INT_MAX.
    pub fn range(self) -> RangeInclusive<i64> {
        match self {
            Knob::Syncookies => 0..=2,
            Knob::SynackRetries => 1..=i64::from(u8::MAX),
            Knob::MaxSynBacklog | Knob::Somaxconn => 1..=i64::from(i32::MAX),
        }
    }

    /// Checks `value` against [`Knob::range`].
    pub fn check(self, value: i64) -> Result<i64, NetnsError> {
        let range = self.range();
        if range.contains(&value) { Ok(value) } else { Err(NetnsError::OutOfRange { name: self.name(), value, range }) }
    }
}

/// The four values as the kernel holds them in one namespace. JSON keys are the sysctl(8) names.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Sysctls {
    #[serde(rename = "net.ipv4.tcp_syncookies")]
    pub syncookies: i64,
    #[serde(rename = "net.ipv4.tcp_max_syn_backlog")]
    pub max_syn_backlog: i64,
    #[serde(rename = "net.ipv4.tcp_synack_retries")]
    pub synack_retries: i64,
    #[serde(rename = "net.core.somaxconn")]
    pub somaxconn: i64,
}

impl Sysctls {
    pub fn get(&self, knob: Knob) -> i64 {
        match knob {
            Knob::Syncookies => self.syncookies,
            Knob::MaxSynBacklog => self.max_syn_backlog,
            Knob::SynackRetries => self.synack_retries,
            Knob::Somaxconn => self.somaxconn,
        }
    }
}

/// What to change: `None` leaves a sysctl as it is.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    pub syncookies: Option<i64>,
    pub max_syn_backlog: Option<i64>,
    pub synack_retries: Option<i64>,
    pub somaxconn: Option<i64>,
}

impl Settings {
    pub fn get(&self, knob: Knob) -> Option<i64> {
        match knob {
            Knob::Syncookies => self.syncookies,
            Knob::MaxSynBacklog => self.max_syn_backlog,
            Knob::SynackRetries => self.synack_retries,
            Knob::Somaxconn => self.somaxconn,
        }
    }

    pub fn is_empty(&self) -> bool {
        Knob::ALL.iter().all(|&knob| self.get(knob).is_none())
    }

    /// Checks every given value against its [`Knob::range`].
    pub fn validate(&self) -> Result<(), NetnsError> {
        for knob in Knob::ALL {
            if let Some(value) = self.get(knob) {
                knob.check(value)?;
            }
        }
        Ok(())
    }
}

/// The values before and after [`apply`]; `after` is read back from the kernel, not assumed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub before: Sysctls,
    pub after: Sysctls,
}

/// Reads the four sysctls of the namespace `/run/netns/NETNS`.
pub fn read_sysctls(netns: &str) -> Result<Sysctls, NetnsError> {
    Namespace::open(netns)?.run(read_here)
}

/// Writes the given values into the namespace `/run/netns/NETNS` and reads all four back.
///
/// Refuses the initial namespace (the project rule: sysctls change only inside the lab's namespaces). Values are
/// checked before anything is written; if the kernel still refuses one, those already written are put back, so a
/// failed call changes nothing.
pub fn apply(netns: &str, settings: &Settings) -> Result<Changes, NetnsError> {
    settings.validate()?;
    let namespace = Namespace::open(netns)?;
    namespace.run(|| {
        // Checked once inside, so that without privilege the first error is the one that says how to get it.
        namespace.refuse_initial()?;
        let before = read_here()?;
        let mut written = Vec::new();
        for knob in Knob::ALL {
            let Some(value) = settings.get(knob) else { continue };
            if let Err(err) = write(knob, value) {
                let rolled_back = !written.is_empty();
                for &done in written.iter().rev() {
                    let _ = write(done, before.get(done));
                }
                return Err(match err {
                    WriteError::Open(err) => err,
                    WriteError::Refused(cause) => {
                        NetnsError::Rejected { netns: netns.into(), name: knob.name(), value, cause, rolled_back }
                    }
                });
            }
            written.push(knob);
        }
        Ok(Changes { before, after: read_here()? })
    })
}

/// Reads the four sysctls of the namespace this thread is in.
fn read_here() -> Result<Sysctls, NetnsError> {
    Ok(Sysctls {
        syncookies: read(Knob::Syncookies)?,
        max_syn_backlog: read(Knob::MaxSynBacklog)?,
        synack_retries: read(Knob::SynackRetries)?,
        somaxconn: read(Knob::Somaxconn)?,
    })
}

fn read(knob: Knob) -> Result<i64, NetnsError> {
    let text = std::fs::read_to_string(knob.path()).map_err(|err| open_error(knob, "reading", err))?;
    parse_value(&text).ok_or_else(|| NetnsError::Malformed {
        context: format!("reading {}", knob.path()),
        detail: format!("expected an integer, found {:?}", text.trim()),
    })
}

enum WriteError {
    /// The file could not be opened: missing, or no privilege.
    Open(NetnsError),
    /// The kernel refused the value itself (EINVAL from the proc handler).
    Refused(io::Error),
}

fn write(knob: Knob, value: i64) -> Result<(), WriteError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(knob.path())
        .map_err(|err| WriteError::Open(open_error(knob, "writing", err)))?;
    // One write(2) holding the whole number: the proc handler parses each write from the start of its buffer.
    file.write_all(format!("{value}\n").as_bytes()).map_err(|err| match err.raw_os_error() {
        Some(libc::EPERM | libc::EACCES) => WriteError::Open(NetnsError::io(format!("writing {}", knob.name()), err)),
        _ => WriteError::Refused(err),
    })
}

/// A sysctl that cannot be opened: absent means not per-namespace on this kernel; the rest keep their cause.
fn open_error(knob: Knob, doing: &str, err: io::Error) -> NetnsError {
    if err.kind() == io::ErrorKind::NotFound {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        return NetnsError::NotPerNamespace { name: knob.name(), release: release.trim().into() };
    }
    NetnsError::io(format!("{doing} {}", knob.name()), err)
}

/// A sysctl file holds one integer and a newline.
fn parse_value(text: &str) -> Option<i64> {
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    mod limits {
        use super::*;

        #[test]
        fn syncookies_take_only_the_three_modes() {
            for ok in 0..=2 {
                assert_eq!(Knob::Syncookies.check(ok).unwrap(), ok);
            }
            assert!(Knob::Syncookies.check(3).unwrap_err().is_usage());
            assert!(Knob::Syncookies.check(-1).is_err());
        }

        #[test]
        fn the_others_need_at_least_one() {
            for knob in [Knob::MaxSynBacklog, Knob::SynackRetries, Knob::Somaxconn] {
                assert!(knob.check(0).is_err(), "{knob:?}");
                assert!(knob.check(1).is_ok(), "{knob:?}");
            }
        }

        #[test]
        fn the_upper_limits_are_the_kernels() {
            assert!(Knob::SynackRetries.check(255).is_ok());
            assert!(Knob::SynackRetries.check(256).is_err());
            assert!(Knob::Somaxconn.check(i64::from(i32::MAX)).is_ok());
            assert!(Knob::Somaxconn.check(i64::from(i32::MAX) + 1).is_err());
            assert!(Knob::MaxSynBacklog.check(i64::from(i32::MAX) + 1).is_err());
        }

        #[test]
        fn names_and_paths_agree() {
            for knob in Knob::ALL {
                let from_name = format!("/proc/sys/{}", knob.name().replace('.', "/"));
                assert_eq!(knob.path(), from_name);
            }
        }
    }

    mod settings {
        use super::*;

        #[test]
        fn empty_settings_change_nothing() {
            assert!(Settings::default().is_empty());
            assert!(Settings::default().validate().is_ok());
        }

        #[test]
        fn validation_names_the_first_bad_sysctl() {
            let settings = Settings { syncookies: Some(1), synack_retries: Some(0), ..Settings::default() };
            let text = settings.validate().unwrap_err().to_string();
            assert_eq!(text, "net.ipv4.tcp_synack_retries must be in 1..=255 (got 0)");
        }

        #[test]
        fn apply_checks_values_before_touching_any_namespace() {
            let settings = Settings { somaxconn: Some(0), ..Settings::default() };
            let err = apply("synscope-surely-not-a-namespace", &settings).unwrap_err();
            assert!(matches!(err, NetnsError::OutOfRange { name: "net.core.somaxconn", .. }), "{err:?}");
        }
    }

    mod values {
        use super::*;

        #[test]
        fn a_sysctl_file_is_one_integer() {
            assert_eq!(parse_value("4096\n"), Some(4096));
            assert_eq!(parse_value("-1\n"), Some(-1));
            assert_eq!(parse_value("1 2\n"), None);
            assert_eq!(parse_value(""), None);
        }

        #[test]
        fn json_keys_are_sysctl_names() {
            let values = Sysctls { syncookies: 1, max_syn_backlog: 2, synack_retries: 3, somaxconn: 4 };
            let json = serde_json::to_value(values).unwrap();
            for knob in Knob::ALL {
                assert_eq!(json[knob.name()], values.get(knob), "{}", knob.name());
            }
        }
    }
}
