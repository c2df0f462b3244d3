//! Network namespaces by name (`ip netns add NAME`), entered without spawning a process: the kernel's SYN-flood
//! sysctls of a namespace ([`sysctl`]) and its listen-queue counters ([`netstat`]), for `synscope harden` and the lab.
//!
//! - [`enter`]: open `/run/netns/NAME`, tell whether it is the initial namespace, and run a closure on a short-lived
//!   thread that has joined it (setns(2) changes the calling thread only, so the rest of the process stays put).
//! - [`sysctl`]: read and apply `tcp_syncookies`, `tcp_max_syn_backlog`, `tcp_synack_retries` and `somaxconn`.
//! - [`netstat`]: parse `/proc/net/netstat` generically and pick the counters a SYN flood moves.
//!
//! The project rule: sysctls are changed only inside the lab's namespaces, never in the initial one (the host's own).
//! [`apply`] enforces it; reading is allowed anywhere.

pub mod enter;
pub mod netstat;
pub mod sysctl;

use std::io;

pub use enter::{Namespace, check_name};
pub use netstat::{ListenCounters, parse_netstat, read_counters, read_netstat};
pub use sysctl::{Changes, Knob, Settings, Sysctls, apply, read_sysctls};

/// What went wrong with a namespace. Each message is one line: what failed and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("'{name}' is not a namespace name: give NAME as `ip netns list` shows it (no '/', not '.' or '..')")]
    BadName { name: String },
    #[error("no network namespace named '{name}'; {}", existing_line(.existing))]
    Unknown { name: String, existing: Vec<String> },
    #[error("/run/netns/{name} is not a network namespace (a leftover file? remove it with `ip netns del {name}`)")]
    NotANamespace { name: String },
    #[error(
        "refusing to change sysctls of '{name}': it is the initial network namespace, the host's own; synscope \
         changes sysctls only inside the lab's namespaces (create one with `ip netns add NAME`)"
    )]
    Initial { name: String },
    #[error(
        "refusing to change sysctls of '{name}': cannot tell whether it is the initial network namespace ({cause}); \
         run synscope as root"
    )]
    Undecided { name: String, cause: String },
    #[error(
        "{action}: permission denied; this needs CAP_SYS_ADMIN (to enter a network namespace) and CAP_NET_ADMIN (to \
         write its sysctls): run synscope with sudo"
    )]
    Privilege { action: String },
    #[error(
        "{name} is not a per-namespace sysctl on this kernel (Linux {release}); tcp_syncookies and \
         tcp_synack_retries need Linux 4.6 or later, tcp_max_syn_backlog 4.15"
    )]
    NotPerNamespace { name: &'static str, release: String },
    #[error("{name} must be in {}..={} (got {value})", .range.start(), .range.end())]
    OutOfRange { name: &'static str, value: i64, range: std::ops::RangeInclusive<i64> },
    #[error("the kernel refused {name}={value} in '{netns}': {cause}{}", rolled_back_note(*.rolled_back))]
    Rejected { netns: String, name: &'static str, value: i64, cause: io::Error, rolled_back: bool },
    #[error("{context}: {detail}")]
    Malformed { context: String, detail: String },
    #[error("{context}: {cause}")]
    Io { context: String, cause: io::Error },
}

impl NetnsError {
    /// The closest [`io::ErrorKind`], for callers that sort errors the std way.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            NetnsError::BadName { .. } | NetnsError::OutOfRange { .. } => io::ErrorKind::InvalidInput,
            NetnsError::Unknown { .. } | NetnsError::NotPerNamespace { .. } => io::ErrorKind::NotFound,
            NetnsError::Initial { .. } | NetnsError::Undecided { .. } | NetnsError::Privilege { .. } => {
                io::ErrorKind::PermissionDenied
            }
            NetnsError::NotANamespace { .. } | NetnsError::Malformed { .. } => io::ErrorKind::InvalidData,
            NetnsError::Rejected { cause, .. } | NetnsError::Io { cause, .. } => cause.kind(),
        }
    }

    /// Whether the caller gave a wrong value (a usage error, exit status 2) rather than the system failing.
    pub fn is_usage(&self) -> bool {
        matches!(self, NetnsError::BadName { .. } | NetnsError::OutOfRange { .. })
    }

    /// An I/O failure while doing `context`: a permission problem becomes [`NetnsError::Privilege`], which says how
    /// to get the privilege.
    pub(crate) fn io(context: impl Into<String>, cause: io::Error) -> NetnsError {
        let context = context.into();
        match cause.raw_os_error() {
            Some(libc::EPERM | libc::EACCES) => NetnsError::Privilege { action: context },
            _ => NetnsError::Io { context, cause },
        }
    }
}

impl From<NetnsError> for io::Error {
    fn from(err: NetnsError) -> io::Error {
        io::Error::new(err.kind(), err)
    }
}

fn existing_line(existing: &[String]) -> String {
    if existing.is_empty() {
        "there are none (create one with `ip netns add NAME`)".into()
    } else {
        format!("the namespaces are: {}", existing.join(", "))
    }
}

fn rolled_back_note(rolled_back: bool) -> &'static str {
    if rolled_back { " (the values already written were put back)" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod messages {
        use super::*;

        fn one_line(err: &NetnsError) -> String {
            let text = err.to_string();
            assert!(!text.contains('\n'), "{text}");
            text
        }

        #[test]
        fn an_unknown_namespace_lists_the_existing_ones() {
            let err = NetnsError::Unknown { name: "lab".into(), existing: vec!["a".into(), "b".into()] };
            assert_eq!(one_line(&err), "no network namespace named 'lab'; the namespaces are: a, b");
        }

        #[test]
        fn an_unknown_namespace_with_none_says_how_to_make_one() {
            let err = NetnsError::Unknown { name: "lab".into(), existing: vec![] };
            assert!(one_line(&err).contains("there are none (create one with `ip netns add NAME`)"));
        }

        #[test]
        fn a_privilege_error_names_the_capabilities_and_sudo() {
            let err = NetnsError::io("entering 'lab'", io::Error::from_raw_os_error(libc::EPERM));
            let text = one_line(&err);
            assert!(
                text.contains("CAP_SYS_ADMIN") && text.contains("CAP_NET_ADMIN") && text.contains("sudo"),
                "{text}"
            );
            assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        }

        #[test]
        fn eacces_is_a_privilege_error_too() {
            let err = NetnsError::io("writing x", io::Error::from_raw_os_error(libc::EACCES));
            assert!(matches!(err, NetnsError::Privilege { .. }));
        }

        #[test]
        fn other_io_errors_keep_their_cause() {
            let err = NetnsError::io("reading x", io::Error::from_raw_os_error(libc::EIO));
            assert!(one_line(&err).starts_with("reading x: "));
        }

        #[test]
        fn out_of_range_shows_the_limits_and_is_a_usage_error() {
            let err = NetnsError::OutOfRange { name: "net.ipv4.tcp_syncookies", value: 3, range: 0..=2 };
            assert_eq!(one_line(&err), "net.ipv4.tcp_syncookies must be in 0..=2 (got 3)");
            assert!(err.is_usage());
        }

        #[test]
        fn the_initial_namespace_refusal_says_why() {
            let text = one_line(&NetnsError::Initial { name: "host".into() });
            assert!(text.starts_with("refusing to change sysctls of 'host': it is the initial"), "{text}");
        }

        #[test]
        fn converts_into_io_error_with_the_same_message() {
            let err: io::Error = NetnsError::Unknown { name: "x".into(), existing: vec![] }.into();
            assert_eq!(err.kind(), io::ErrorKind::NotFound);
            assert!(err.to_string().starts_with("no network namespace named 'x'"));
        }
    }
}
