//! Where a flood's frames go: the interface, and the Ethernet address of the next hop. We build whole Ethernet
//! frames, so the kernel's routing and neighbour resolution are not applied to them; we ask the kernel for both
//! answers instead, without netlink:
//!
//! 1. Loopback targets, and targets that are addresses of this host, go out of `lo` (the kernel delivers local
//!    traffic there too), with all-zero MAC addresses, which is what `lo` carries.
//! 2. Otherwise the interface is `-i IFACE`, or the longest-prefix match in the main routing table as
//!    `/proc/net/route` lists it (lowest metric on ties). Policy routing (`ip rule`) is not consulted: give `-i`
//!    when it matters. The next hop is the route's gateway, or the target itself for an on-link route.
//! 3. The next hop's MAC comes from the ARP table, `/proc/net/arp`, entries with ATF_COM (resolved). When it is
//!    not there yet, one empty UDP datagram to the target's discard port (9, RFC 863) makes the kernel resolve it,
//!    and the table is read again every 10 ms for up to a second. The datagram is the only packet sent before the
//!    safety rule's checks have all passed, and it goes to the same target.
//!
//! 4. `--dest-mac` names the next hop's MAC instead, and no ARP is asked. IPv6 beyond this host needs it, with
//!    `-i`: the kernel shows its IPv6 routes in `/proc/net/ipv6_route` but its neighbour table through netlink
//!    alone, which synscope does not speak. The lab, which made both ends, knows the MAC (`lab --ipv6`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use crate::capture::interfaces::{self, NetworkInterface, UnknownInterface};

/// How long to wait for the next hop to answer ARP.
const ARP_WAIT: Duration = Duration::from_secs(1);
const ARP_POLL: Duration = Duration::from_millis(10);
/// RTF_UP, RTF_GATEWAY and RTF_REJECT (include/uapi/linux/route.h).
const RTF_UP: u32 = 0x1;
const RTF_GATEWAY: u32 = 0x2;
const RTF_REJECT: u32 = 0x200;
/// ATF_COM: the entry is complete, its hardware address known (include/uapi/linux/if_arp.h).
const ATF_COM: u32 = 0x2;
/// The discard service (RFC 863): whatever the answer, it is no more than an ICMP port unreachable.
const DISCARD_PORT: u16 = 9;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    UnknownInterface(#[from] UnknownInterface),
    #[error("{target} is a loopback address, which only lo reaches; drop -i {interface} (or use -i lo)")]
    LoopbackElsewhere { target: IpAddr, interface: String },
    #[error("{target} is an address of this host, which the kernel reaches through lo; drop -i {interface}")]
    LocalElsewhere { target: IpAddr, interface: String },
    #[error("{target} is not an address of this host, so {interface} does not reach it; drop -i {interface}")]
    NotLocal { target: IpAddr, interface: String },
    #[error("this network namespace has no loopback interface to reach {target} on")]
    NoLoopback { target: IpAddr },
    #[error("no route to {target} in this namespace's main routing table (see `ip route`); add one, or give -i IFACE")]
    NoRoute { target: IpAddr },
    #[error(
        "{target} is beyond this host: an IPv6 neighbour's MAC address is known only through netlink, which \
         synscope does not speak; give -i IFACE and --dest-mac MAC (the next hop's), or use an IPv4 target"
    )]
    Ipv6Neighbour { target: IpAddr },
    #[error("{interface} is down; bring it up first (`ip link set {interface} up`)")]
    Down { interface: String },
    #[error(
        "{interface} has link type {hatype} (see ARPHRD_* in if_arp.h); the flood builds Ethernet frames, so it \
         sends only on Ethernet interfaces (veth included) and loopback"
    )]
    NotEthernet { interface: String, hatype: u16 },
    #[error(
        "no ARP answer from {next_hop} on {interface} within {}s: is that address up at the other end? (see \
         `ip neigh show dev {interface}`)", ARP_WAIT.as_secs()
    )]
    Unresolved { next_hop: IpAddr, interface: String },
    #[error("cannot read {path}: {source}")]
    Read { path: &'static str, source: io::Error },
}

/// Where the frames go and with which Ethernet addresses.
#[derive(Clone, Debug)]
pub struct NextHop {
    pub interface: NetworkInterface,
    /// The router the frames go to, when the target is not on-link.
    pub gateway: Option<IpAddr>,
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
}

/// One line of `/proc/net/route`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub interface: String,
    pub destination: Ipv4Addr,
    pub gateway: Option<Ipv4Addr>,
    pub mask: Ipv4Addr,
    pub metric: u32,
}

/// The kernel prints each address as the `%08X` of its network-order bytes read as a native integer
/// (`fib_route_seq_show`), so the native-endian bytes of the parsed number are the address.
fn proc_ipv4(hex: &str) -> Option<Ipv4Addr> {
    u32::from_str_radix(hex, 16).ok().map(|n| Ipv4Addr::from(n.to_ne_bytes()))
}

/// Parses `/proc/net/route`: usable routes only (up, not reject).
pub fn parse_routes(text: &str) -> Vec<Route> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            if flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
                return None;
            }
            let gateway = proc_ipv4(f.get(2)?)?;
            Some(Route {
                interface: f.first()?.to_string(),
                destination: proc_ipv4(f.get(1)?)?,
                gateway: (flags & RTF_GATEWAY != 0).then_some(gateway),
                mask: proc_ipv4(f.get(7)?)?,
                metric: f.get(6)?.parse().ok()?,
            })
        })
        .collect()
}

/// The longest-prefix match for `target`, lowest metric among equals; only routes through `interface` if given.
pub fn best_route<'a>(routes: &'a [Route], target: Ipv4Addr, interface: Option<&str>) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| interface.is_none_or(|name| r.interface == name))
        .filter(|r| u32::from(target) & u32::from(r.mask) == u32::from(r.destination) & u32::from(r.mask))
        .min_by_key(|r| (std::cmp::Reverse(u32::from(r.mask).count_ones()), r.metric))
}

/// Parses `/proc/net/arp` into (address, MAC, interface) for the resolved entries.
pub fn parse_arp(text: &str) -> Vec<(Ipv4Addr, [u8; 6], String)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(2)?.trim_start_matches("0x"), 16).ok()?;
            if flags & ATF_COM == 0 {
                return None;
            }
            let mac = crate::wire::mac::parse(f.get(3)?)?;
            Some((f.first()?.parse().ok()?, mac, f.get(5)?.to_string()))
        })
        .collect()
}

fn read(path: &'static str) -> Result<String, RouteError> {
    std::fs::read_to_string(path).map_err(|source| RouteError::Read { path, source })
}

fn arp_lookup(next_hop: Ipv4Addr, interface: &str) -> Result<Option<[u8; 6]>, RouteError> {
    Ok(parse_arp(&read("/proc/net/arp")?)
        .into_iter()
        .find(|(ip, _, dev)| *ip == next_hop && dev == interface)
        .map(|(_, mac, _)| mac))
}

/// Sends one empty datagram to the target's discard port out of `interface`, so the kernel resolves the next hop.
fn provoke_arp(target: IpAddr, interface: &str) {
    let Ok(socket) = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)) else { return };
    // SO_BINDTODEVICE, so the datagram (and the ARP request it causes) leaves where the flood will; without the
    // privilege for it the route's interface is used, which is the same unless -i says otherwise.
    // SAFETY: setsockopt(2) reads `interface.len()` bytes of the name, which outlives the call.
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&socket),
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            interface.as_ptr().cast(),
            interface.len() as libc::socklen_t,
        );
    }
    let _ = socket.send_to(&[], SocketAddr::new(target, DISCARD_PORT));
}

/// Resolves the interface and the Ethernet addresses for frames to `target`; `interface` is `-i` and `dest_mac`
/// `--dest-mac`, if given.
pub fn resolve(target: IpAddr, interface: Option<&str>, dest_mac: Option<[u8; 6]>) -> Result<NextHop, RouteError> {
    let all = interfaces::all();
    let named = interface.map(interfaces::find).transpose()?;
    let local = all.iter().any(|i| i.ips.iter().any(|net| net.ip() == target));
    if target.to_canonical().is_loopback() || local {
        let lo = match named {
            Some(named) if named.is_loopback() => named,
            Some(named) if local && !target.to_canonical().is_loopback() => {
                return Err(RouteError::LocalElsewhere { target, interface: named.name });
            }
            Some(named) => return Err(RouteError::LoopbackElsewhere { target, interface: named.name }),
            None => all.into_iter().find(|i| i.is_loopback()).ok_or(RouteError::NoLoopback { target })?,
        };
        check_up(&lo)?;
        return Ok(NextHop { interface: lo, gateway: None, src_mac: [0; 6], dst_mac: [0; 6] });
    }
    let target4 = match (target, &named, dest_mac) {
        (IpAddr::V4(target4), _, _) => target4,
        (IpAddr::V6(_), Some(named), Some(dst_mac)) => {
            if named.is_loopback() {
                return Err(RouteError::NotLocal { target, interface: named.name.clone() });
            }
            let iface = ethernet(named.clone())?;
            let src_mac = iface.mac.map(|m| m.octets()).unwrap_or_default();
            return Ok(NextHop { interface: iface, gateway: None, src_mac, dst_mac });
        }
        (IpAddr::V6(_), _, _) => return Err(RouteError::Ipv6Neighbour { target }),
    };
    let routes = parse_routes(&read("/proc/net/route")?);
    let route = best_route(&routes, target4, interface);
    let iface = match named {
        Some(named) => named,
        None => {
            let route = route.ok_or(RouteError::NoRoute { target })?;
            all.into_iter().find(|i| i.name == route.interface).ok_or(RouteError::NoRoute { target })?
        }
    };
    if iface.is_loopback() {
        return Err(RouteError::NotLocal { target, interface: iface.name });
    }
    let iface = ethernet(iface)?;
    let gateway = route.and_then(|r| r.gateway);
    let next_hop = gateway.unwrap_or(target4);
    let dst_mac = match dest_mac.map_or_else(|| arp_lookup(next_hop, &iface.name), |mac| Ok(Some(mac)))? {
        Some(mac) => mac,
        None => {
            provoke_arp(target, &iface.name);
            let deadline = Instant::now() + ARP_WAIT;
            loop {
                std::thread::sleep(ARP_POLL);
                if let Some(mac) = arp_lookup(next_hop, &iface.name)? {
                    break mac;
                }
                if Instant::now() >= deadline {
                    return Err(RouteError::Unresolved { next_hop: next_hop.into(), interface: iface.name });
                }
            }
        }
    };
    let src_mac = iface.mac.map(|m| m.octets()).unwrap_or_default();
    Ok(NextHop { interface: iface, gateway: gateway.map(IpAddr::V4), src_mac, dst_mac })
}

/// Whether the kernel accepts frames to 127/8 arriving on `interface` (`IN_DEV_NET_ROUTE_LOCALNET`: the `all`
/// setting or the interface's own).
pub fn route_localnet(interface: &str) -> bool {
    ["all", interface].iter().any(|conf| {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/conf/{conf}/route_localnet")).is_ok_and(|v| v.trim() == "1")
    })
}

/// An interface the flood can send its Ethernet frames on: up, and Ethernet (veth included).
fn ethernet(iface: NetworkInterface) -> Result<NetworkInterface, RouteError> {
    check_up(&iface)?;
    let hatype = crate::capture::live::socket::hardware_type(&iface.name).unwrap_or(0);
    if hatype != libc::ARPHRD_ETHER {
        return Err(RouteError::NotEthernet { interface: iface.name.clone(), hatype });
    }
    Ok(iface)
}

fn check_up(iface: &NetworkInterface) -> Result<(), RouteError> {
    if iface.is_up() { Ok(()) } else { Err(RouteError::Down { interface: iface.name.clone() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `/proc/net/route` line as this machine's kernel would print it.
    fn line(interface: &str, dest: &str, gateway: &str, flags: u32, metric: u32, mask: &str) -> String {
        let hex = |ip: &str| format!("{:08X}", u32::from_ne_bytes(ip.parse::<Ipv4Addr>().unwrap().octets()));
        format!(
            "{interface}\t{}\t{}\t{flags:04X}\t0\t0\t{metric}\t{}\t0\t0\t0   \n",
            hex(dest),
            hex(gateway),
            hex(mask)
        )
    }

    fn table() -> String {
        let mut text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n".to_string();
        text += &line("eth0", "0.0.0.0", "192.0.2.1", 0x3, 100, "0.0.0.0");
        text += &line("eth0", "192.0.2.0", "0.0.0.0", 0x1, 100, "255.255.255.0");
        text += &line("veth1", "10.77.0.0", "0.0.0.0", 0x1, 0, "255.255.255.0");
        text += &line("veth2", "10.77.0.0", "0.0.0.0", 0x1, 5, "255.255.0.0");
        text += &line("wg0", "10.78.0.0", "0.0.0.0", 0x201, 0, "255.255.0.0");
        text
    }

    #[test]
    fn the_longest_prefix_wins_then_the_lowest_metric() {
        let routes = parse_routes(&table());
        assert_eq!(routes.len(), 4, "the reject route is left out");
        let pick = |ip: &str, dev| best_route(&routes, ip.parse().unwrap(), dev).map(|r| r.interface.as_str());
        assert_eq!(pick("10.77.0.2", None), Some("veth1"));
        assert_eq!(pick("10.77.1.2", None), Some("veth2"));
        assert_eq!(pick("10.77.0.2", Some("veth2")), Some("veth2"));
        assert_eq!(pick("10.78.0.1", None), Some("eth0"), "past the reject route, the default");
        assert_eq!(pick("10.77.0.2", Some("eth9")), None);
        let default = best_route(&routes, "8.8.8.8".parse().unwrap(), None).unwrap();
        assert_eq!(default.gateway, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(best_route(&routes, "192.0.2.9".parse().unwrap(), None).unwrap().gateway, None);
    }

    #[test]
    fn only_resolved_neighbours_are_read() {
        let text = "IP address       HW type     Flags       HW address            Mask     Device\n\
                    10.77.0.2        0x1         0x2         aa:bb:cc:00:11:22     *        veth1\n\
                    10.77.0.3        0x1         0x0         00:00:00:00:00:00     *        veth1\n\
                    10.77.0.4        0x1         0x6         02:00:00:00:00:04     *        veth2\n\
                    garbage\n";
        let entries = parse_arp(text);
        assert_eq!(
            entries,
            vec![
                ("10.77.0.2".parse().unwrap(), [0xaa, 0xbb, 0xcc, 0, 0x11, 0x22], "veth1".to_string()),
                ("10.77.0.4".parse().unwrap(), [2, 0, 0, 0, 0, 4], "veth2".to_string()),
            ]
        );
    }

    #[test]
    fn loopback_targets_go_out_of_lo_with_zero_addresses() {
        let hop = resolve("127.0.0.1".parse().unwrap(), None, None).unwrap();
        assert!(hop.interface.is_loopback());
        assert_eq!((hop.src_mac, hop.dst_mac, hop.gateway), ([0; 6], [0; 6], None));
        let err = resolve("::1".parse().unwrap(), Some("nosuch0"), None).unwrap_err();
        assert!(err.to_string().contains("'nosuch0'"), "{err}");
    }

    #[test]
    fn ipv6_beyond_this_host_is_refused_in_one_line() {
        let err = resolve("2001:db8::1".parse().unwrap(), None, None).unwrap_err().to_string();
        assert!(err.contains("give -i IFACE and --dest-mac MAC") && !err.contains('\n'), "{err}");
        // A MAC without the interface, or the interface without the MAC, is not enough.
        let mac = Some([2, 0, 0, 0, 0, 2]);
        let err = resolve("2001:db8::1".parse().unwrap(), None, mac).unwrap_err().to_string();
        assert!(err.contains("--dest-mac"), "{err}");
        let err = resolve("2001:db8::1".parse().unwrap(), Some("lo"), None).unwrap_err().to_string();
        assert!(err.contains("--dest-mac"), "{err}");
        // lo never reaches beyond this host.
        let err = resolve("2001:db8::1".parse().unwrap(), Some("lo"), mac).unwrap_err().to_string();
        assert!(err.contains("does not reach it"), "{err}");
    }
}
