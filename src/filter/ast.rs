//! The parsed filter: the tree `parse.rs` builds and `eval.rs` walks. A leaf of `filter`, so that neither of them
//! reaches back into `mod.rs`.

use std::net::IpAddr;

/// The AST. `And` and `Or` are n-ary so that a long chain stays flat: neither evaluation nor drop recurses along it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Node {
    /// The empty expression.
    Any,
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Proto(Proto),
    /// `vlan` (any tag) or `vlan N`.
    Vlan(Option<u16>),
    Host(Dir, IpAddr),
    Net(Dir, Cidr),
    /// `port N` is the range N..=N; `proto` is set by the `tcp port` / `udp port` forms.
    Port {
        proto: Option<PortProto>,
        dir: Dir,
        low: u16,
        high: u16,
    },
    /// A `TcpFlags` bit.
    TcpFlag(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmp6,
    Ip,
    Ip6,
    Arp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PortProto {
    Tcp,
    Udp,
}

/// Which end of the conversation a `host`, `net` or `port` looks at. Without `src`/`dst` either end will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    Src,
    Dst,
    Either,
}

impl Dir {
    pub(super) fn check<T: Copy>(self, (src, dst): (T, T), pred: impl Fn(T) -> bool) -> bool {
        match self {
            Dir::Src => pred(src),
            Dir::Dst => pred(dst),
            Dir::Either => pred(src) || pred(dst),
        }
    }
}

/// An IPv4 or IPv6 network. Addresses are kept as 128-bit numbers, IPv4 in the top 32 bits, so one mask works for
/// both families.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cidr {
    addr: IpAddr,
    mask: u128,
}

impl Cidr {
    /// `None` when `addr` has bits set past the prefix: like tcpdump ("non-network bits set"), we refuse to guess
    /// whether `10.0.0.1/8` meant the network or a typo.
    pub(super) fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        (bits(addr) & !mask == 0).then_some(Cidr { addr, mask })
    }

    pub(super) fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && (bits(ip) ^ bits(self.addr)) & self.mask == 0
    }
}

/// The address as a number, IPv4 shifted to the top so that prefixes line up with IPv6.
fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
        IpAddr::V6(v6) => u128::from(v6),
    }
}
