//! The traffic safety rule (DESIGN.md, "Traffic safety"): synscope puts crafted or replayed traffic only on
//! loopback, or on interfaces inside a network namespace other than the initial one, such as the namespaces its tests
//! and lab build. Interfaces of the initial namespace are the ones cabled to a real network, so they are refused.
//!
//! `replay` checks the interface it is given; the flood generator will check its destination address. Both ask the
//! same question, [`in_initial_netns`], which compares namespace identities the way namespaces(7) prescribes: two
//! processes are in the same namespace when the device and inode numbers of their `/proc/PID/ns/net` links match.
//!
//! Loopback of the initial namespace needs one more look, frame by frame ([`check_loopback_frame`]): a frame sent
//! there is received by this host, and one the host takes as addressed to itself but bound elsewhere would be
//! routed out of a real interface whenever IP forwarding is on.

use std::io;
use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;

use crate::capture::interfaces::NetworkInterface;
use crate::wire::packet::Net;
use crate::wire::{LinkType, decode};

/// PF_KTHREAD in the `flags` field of `/proc/PID/stat` (include/linux/sched.h).
const PF_KTHREAD: u64 = 0x0020_0000;

/// A send the safety rule refuses. Each message is one line: what was refused, why, and what to do instead.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    #[error(
        "refusing to send on {name}: synscope sends only on loopback or inside a network namespace other than the \
         initial one, so that its traffic never reaches a real network (use -i lo, or run it inside a namespace: \
         `ip netns exec NAME synscope ...`)"
    )]
    Interface { name: String },
    #[error(
        "refusing to send to {ip}: synscope sends only to loopback addresses, or from inside a network namespace \
         other than the initial one (use 127.0.0.1 or ::1, or run it inside a namespace: `ip netns exec NAME \
         synscope ...`)"
    )]
    Destination { ip: IpAddr },
    #[error(
        "on the initial namespace's loopback this frame would reach this host's IP stack, which may route \
         {destination} to a real network; frames addressed to lo are sent only with a loopback destination \
         (127.0.0.0/8, ::1)"
    )]
    HostBound { destination: String },
    #[error(
        "refusing to send {target}: cannot tell whether this is the initial network namespace ({cause}); use \
         loopback, or run as root inside `ip netns exec NAME`"
    )]
    Undecided { target: String, cause: String },
}

/// Whether this process shares the network namespace of the initial one.
///
/// The initial namespace is the one of pid 1. Reading `/proc/1/ns/net` takes a ptrace access check (proc(5),
/// PTRACE_MODE_READ_FSCREDS), which some sandboxes deny even to root; then kthreadd (pid 2 in the initial pid
/// namespace) answers instead, since kernel threads always live in `init_net`. It is recognised by PF_KTHREAD, which
/// no user process can have, so inside a container's pid namespace the fallback finds nothing and the error stands.
pub fn in_initial_netns() -> io::Result<bool> {
    Ok(netns_id("self")? == initial_netns_id()?)
}

/// The initial network namespace's identity (see [`in_initial_netns`] for how it is found).
pub fn initial_netns_id() -> io::Result<(u64, u64)> {
    match netns_id("1") {
        Ok(init) => Ok(init),
        Err(first) => kthreadd_netns().ok_or_else(|| io::Error::new(first.kind(), format!("/proc/1/ns/net: {first}"))),
    }
}

/// The namespace identity: device and inode of the nsfs file the link points to (namespaces(7)).
pub fn netns_id(pid: &str) -> io::Result<(u64, u64)> {
    let meta = std::fs::metadata(format!("/proc/{pid}/ns/net"))?;
    Ok((meta.dev(), meta.ino()))
}

fn kthreadd_netns() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/2/stat").ok()?;
    if !is_kernel_thread(&stat) {
        return None;
    }
    netns_id("2").ok()
}

/// Whether a `/proc/PID/stat` line belongs to a kernel thread. The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted from the last `)`; `flags` is field 9 (proc(5)).
fn is_kernel_thread(stat: &str) -> bool {
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    // After the name: state (3), ppid (4), pgrp (5), session (6), tty_nr (7), tpgid (8), flags (9).
    let flags = stat[close + 1..].split_whitespace().nth(6).and_then(|f| f.parse::<u64>().ok());
    flags.is_some_and(|f| f & PF_KTHREAD != 0)
}

/// Accepts loopback (IFF_LOOPBACK, which stays inside the host) or any interface outside the initial namespace.
pub fn check_interface(iface: &NetworkInterface) -> Result<(), SafetyError> {
    if iface.is_loopback() {
        return Ok(());
    }
    decide(format!("on {}", iface.name), in_initial_netns(), || SafetyError::Interface { name: iface.name.clone() })
}

/// Accepts loopback addresses (127.0.0.0/8, ::1, and 127/8 mapped into IPv6), or any address when this process is
/// outside the initial namespace: the rule's premise is that such a namespace, and where its links lead, is ours.
pub fn check_destination(ip: IpAddr) -> Result<(), SafetyError> {
    if ip.to_canonical().is_loopback() {
        return Ok(());
    }
    decide(format!("to {ip}"), in_initial_netns(), || SafetyError::Destination { ip })
}

/// Whether a frame sent on the initial namespace's loopback (whose MAC address is `own_mac`) stays on this host.
///
/// Loopback hands each frame straight back to the host, and `eth_type_trans` marks it PACKET_OTHERHOST unless its
/// destination MAC is the device's own or a group address. IPv4 and IPv6 drop PACKET_OTHERHOST frames on receipt
/// (`ip_rcv`, `ipv6_rcv`), so those are safe whatever they carry. A frame addressed to the host, though, is routed:
/// with forwarding on, one bound for 192.0.2.20 would leave by the default route. Such a frame is accepted only
/// when it is ARP, or IP to a loopback destination, which the kernel never routes off the host (a martian anywhere
/// else). Anything host-bound that cannot be read that far is refused: not knowing refuses.
pub fn check_loopback_frame(frame: &[u8], own_mac: [u8; 6]) -> Result<(), SafetyError> {
    let Some(dst) = frame.get(..6) else {
        return Err(SafetyError::HostBound { destination: "a frame without an Ethernet header".into() });
    };
    let group = dst[0] & 1 == 1;
    if !group && dst != own_mac {
        return Ok(());
    }
    match decode(LinkType::Ethernet, frame).net {
        Net::Ipv4(ip) if ip.dst.is_loopback() => Ok(()),
        // Linux answers ::1 from ::1 whatever the source, and routes the answer to a foreign source out of the
        // default route: only ::1 to ::1 stays on the host (IPv4 has no such hole: a 127/8 source never leaves lo,
        // and a foreign source to 127/8 is dropped as a martian).
        Net::Ipv6(ip) if ip.dst.is_loopback() && ip.src.is_loopback() => Ok(()),
        Net::Ipv6(ip) if ip.dst.is_loopback() => {
            Err(SafetyError::HostBound { destination: format!("the answers to {}", ip.src) })
        }
        Net::Arp(_) => Ok(()),
        Net::Ipv4(ip) => Err(SafetyError::HostBound { destination: ip.dst.to_string() }),
        Net::Ipv6(ip) => Err(SafetyError::HostBound { destination: ip.dst.to_string() }),
        Net::Other { ether_type } => {
            Err(SafetyError::HostBound { destination: format!("its EtherType 0x{ether_type:04x} payload") })
        }
        Net::None => Err(SafetyError::HostBound { destination: "an unreadable network layer".into() }),
    }
}

/// The rule once the target is known not to be loopback: allowed only when we are sure the namespace is not the
/// initial one. Not knowing refuses, the safe side.
fn decide(
    target: String,
    in_initial: io::Result<bool>,
    refusal: impl FnOnce() -> SafetyError,
) -> Result<(), SafetyError> {
    match in_initial {
        Ok(false) => Ok(()),
        Ok(true) => Err(refusal()),
        Err(err) => Err(SafetyError::Undecided { target, cause: err.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> SafetyError {
        SafetyError::Interface { name: "eth0".into() }
    }

    mod deciding {
        use super::*;

        #[test]
        fn another_namespace_is_accepted() {
            assert!(decide("on veth0".into(), Ok(false), refused).is_ok());
        }

        #[test]
        fn the_initial_namespace_is_refused_with_what_to_do() {
            let err = decide("on eth0".into(), Ok(true), refused).unwrap_err();
            let text = err.to_string();
            assert!(text.starts_with("refusing to send on eth0: "), "{text}");
            assert!(text.contains("ip netns exec NAME"), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }

        #[test]
        fn not_knowing_is_refused() {
            let err = decide("on eth0".into(), Err(io::Error::from(io::ErrorKind::PermissionDenied)), refused);
            let text = err.unwrap_err().to_string();
            assert!(text.starts_with("refusing to send on eth0: cannot tell"), "{text}");
            assert!(text.contains("permission denied"), "{text}");
        }
    }

    mod destinations {
        use super::*;

        #[test]
        fn loopback_addresses_are_accepted_anywhere() {
            for ip in ["127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.1"] {
                let ip: IpAddr = ip.parse().unwrap();
                assert!(check_destination(ip).is_ok(), "{ip}");
            }
        }

        #[test]
        fn the_refusal_names_the_address() {
            let err = SafetyError::Destination { ip: "192.0.2.1".parse().unwrap() };
            assert!(err.to_string().starts_with("refusing to send to 192.0.2.1: "));
        }
    }

    mod frames_on_the_initial_loopback {
        use super::*;

        const LO: [u8; 6] = [0; 6];
        const ELSEWHERE: [u8; 6] = [0x02, 0, 0x5e, 0, 0, 0x14];

        fn udp4(dst_mac: [u8; 6], dst: [u8; 4]) -> Vec<u8> {
            let mut frame = Vec::new();
            etherparse::PacketBuilder::ethernet2([0; 6], dst_mac)
                .ipv4([192, 0, 2, 10], dst, 64)
                .udp(1000, 9999)
                .write(&mut frame, b"hi")
                .unwrap();
            frame
        }

        fn udp6(dst_mac: [u8; 6], dst: std::net::Ipv6Addr) -> Vec<u8> {
            udp6_from(dst_mac, "2001:db8::10".parse().unwrap(), dst)
        }

        fn udp6_from(dst_mac: [u8; 6], src: std::net::Ipv6Addr, dst: std::net::Ipv6Addr) -> Vec<u8> {
            let mut frame = Vec::new();
            etherparse::PacketBuilder::ethernet2([0; 6], dst_mac)
                .ipv6(src.octets(), dst.octets(), 64)
                .udp(1000, 9999)
                .write(&mut frame, b"hi")
                .unwrap();
            frame
        }

        #[test]
        fn frames_for_another_mac_are_dropped_by_the_host_and_so_are_safe() {
            assert!(check_loopback_frame(&udp4(ELSEWHERE, [192, 0, 2, 20]), LO).is_ok());
            assert!(check_loopback_frame(&[0x02, 0, 0, 0, 0, 1, 0, 0], LO).is_ok());
        }

        #[test]
        fn frames_for_this_host_must_stay_on_loopback_addresses() {
            assert!(check_loopback_frame(&udp4(LO, [127, 0, 0, 1]), LO).is_ok());
            let localhost = std::net::Ipv6Addr::LOCALHOST;
            assert!(check_loopback_frame(&udp6_from(LO, localhost, localhost), LO).is_ok());
            // To ::1 from a foreign source, the host's answer would leave by the default route.
            let err = check_loopback_frame(&udp6(LO, localhost), LO).unwrap_err().to_string();
            assert!(err.contains("the answers to 2001:db8::10"), "{err}");
            let err = check_loopback_frame(&udp4(LO, [192, 0, 2, 20]), LO).unwrap_err().to_string();
            assert!(err.contains("may route 192.0.2.20 to a real network"), "{err}");
            let err = check_loopback_frame(&udp6(LO, "2001:db8::20".parse().unwrap()), LO).unwrap_err();
            assert!(err.to_string().contains("2001:db8::20"), "{err}");
        }

        #[test]
        fn group_addresses_count_as_this_host() {
            let broadcast = [0xff; 6];
            assert!(check_loopback_frame(&udp4(broadcast, [192, 0, 2, 20]), LO).is_err());
            assert!(check_loopback_frame(&udp4(broadcast, [127, 0, 0, 1]), LO).is_ok());
        }

        #[test]
        fn the_device_address_is_the_one_that_counts() {
            let own = [0x02, 0, 0, 0, 0, 0x77];
            assert!(check_loopback_frame(&udp4(LO, [192, 0, 2, 20]), own).is_ok());
            assert!(check_loopback_frame(&udp4(own, [192, 0, 2, 20]), own).is_err());
        }

        #[test]
        fn host_bound_frames_that_cannot_be_read_are_refused() {
            let mut arp = vec![0xff; 6];
            arp.extend_from_slice(&[0; 6]);
            arp.extend_from_slice(&[0x08, 0x06]);
            arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
            arp.extend_from_slice(&[0; 20]);
            assert!(check_loopback_frame(&arp, LO).is_ok());
            let mut lldp = vec![0x01, 0x80, 0xc2, 0, 0, 0x0e, 0, 0, 0, 0, 0, 0, 0x88, 0xcc];
            lldp.extend_from_slice(&[0; 10]);
            assert!(check_loopback_frame(&lldp, LO).is_err());
            let cut = &udp4(LO, [127, 0, 0, 1])[..20];
            assert!(check_loopback_frame(cut, LO).is_err());
            assert!(check_loopback_frame(&[0; 4], LO).is_err());
        }
    }

    mod kernel_threads {
        use super::*;

        #[test]
        fn kthreadd_is_recognised_by_its_flags() {
            let kthreadd = "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0";
            assert!(is_kernel_thread(kthreadd));
        }

        #[test]
        fn a_user_process_is_not_one_even_with_a_tricky_name() {
            let user = "2 (evil) S 0 0 0 0 2129984) S 0 0 0 0 -1 4194560 0 0";
            assert!(!is_kernel_thread(user));
            assert!(!is_kernel_thread("garbage"));
            assert!(!is_kernel_thread("2 (x) S 0"));
        }
    }
}
