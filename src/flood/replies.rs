//! Where the target's answers go. The traffic safety rule ([`crate::safety`]) looks at where the SYNs go; a flood
//! also makes the target answer every spoofed source, with a SYN-ACK or a RST, and those answers must not leave
//! the host either when the flood runs in the initial namespace.
//!
//! - IPv4: an answer from a 127/8 address can only leave by `lo`: `__mkroute_output` refuses a loopback source on
//!   any other device (-EINVAL, counted as IpOutNoRoutes), so spoofed sources at 127.0.0.1 are safe.
//! - IPv6 has no such check: an answer from ::1 to a spoofed 2001:2::x takes the default route and leaves by a
//!   real interface (seen on this kernel: SYN-ACKs from ::1 on the veth of the default route). So from the initial
//!   namespace an IPv6 flood of ::1 may come only from ::1 itself.
//! - An IPv4-mapped IPv6 target (::ffff:127.0.0.1) is neither, and is refused: use the IPv4 address.

use std::net::IpAddr;

use super::spec::Cidr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RepliesError {
    #[error(
        "refusing to spoof IPv6 sources ({sources}) at {target} from the initial network namespace: Linux sends its \
         answers from ::1 out by the default route, onto a real network (it keeps 127/8 answers on lo, not ::1 \
         ones); use --source ::1, an IPv4 target such as 127.0.0.1, or run it inside a namespace: `ip netns exec \
         NAME synscope ...`"
    )]
    Ipv6Loopback { target: IpAddr, sources: Cidr },
    #[error("{target} is an IPv4 address written as IPv6; give it as IPv4 ({ipv4})")]
    Mapped { target: IpAddr, ipv4: IpAddr },
    #[error(
        "refusing to spoof IPv6 sources at {target}: cannot tell whether this is the initial network namespace \
         ({cause}); use --source ::1, or run it inside `ip netns exec NAME`"
    )]
    Undecided { target: IpAddr, cause: String },
}

/// Checks that the target's answers to `sources` stay on this host; `in_initial` is
/// [`crate::safety::in_initial_netns`], asked only when it matters.
pub fn check(
    target: IpAddr,
    sources: &Cidr,
    in_initial: impl FnOnce() -> std::io::Result<bool>,
) -> Result<(), RepliesError> {
    let IpAddr::V6(v6) = target else { return Ok(()) };
    if let Some(ipv4) = v6.to_ipv4_mapped() {
        return Err(RepliesError::Mapped { target, ipv4: ipv4.into() });
    }
    let only_loopback = sources.prefix() == 128 && sources.base().is_loopback();
    if !v6.is_loopback() || only_loopback {
        return Ok(());
    }
    match in_initial() {
        Ok(false) => Ok(()),
        Ok(true) => Err(RepliesError::Ipv6Loopback { target, sources: *sources }),
        Err(err) => Err(RepliesError::Undecided { target, cause: err.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv4_answers_from_loopback_never_leave_so_any_source_goes() {
        assert_eq!(check(ip("127.0.0.1"), &cidr("0.0.0.0/0"), || Ok(true)), Ok(()));
    }

    #[test]
    fn ipv6_spoofing_at_loopback_is_refused_from_the_initial_namespace_only() {
        let err = check(ip("::1"), &cidr("2001:2::/48"), || Ok(true)).unwrap_err().to_string();
        assert!(err.starts_with("refusing to spoof IPv6 sources (2001:2::/48) at ::1"), "{err}");
        assert!(!err.contains('\n'));
        assert_eq!(check(ip("::1"), &cidr("2001:2::/48"), || Ok(false)), Ok(()));
        assert_eq!(check(ip("::1"), &cidr("::1"), || Ok(true)), Ok(()));
        let unsure = check(ip("::1"), &cidr("::/0"), || Err(std::io::ErrorKind::PermissionDenied.into()));
        assert!(matches!(unsure, Err(RepliesError::Undecided { .. })));
        // Beyond loopback the destination rule has already decided: only a lab namespace gets this far.
        assert_eq!(check(ip("2001:db8::2"), &cidr("2001:2::/48"), || Ok(true)), Ok(()));
    }

    #[test]
    fn mapped_addresses_are_sent_back_to_ipv4() {
        let err = check(ip("::ffff:127.0.0.1"), &cidr("::1"), || Ok(false)).unwrap_err();
        assert_eq!(err, RepliesError::Mapped { target: ip("::ffff:127.0.0.1"), ipv4: ip("127.0.0.1") });
    }
}
