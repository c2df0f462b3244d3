//! tcpdump-like filter expressions: a subset of pcap-filter(7), parsed once with [`Filter::parse`] and then matched
//! against every decoded [`Packet`] with [`Filter::matches`]. Matching walks a small AST and never allocates, so a
//! filter can sit in the hot path of a capture.
//!
//! The grammar, keywords lowercase and case-sensitive as in tcpdump:
//!
//! ```text
//! expr      := unary ( ("and" | "&&" | "or" | "||") unary )*     equal precedence, left to right
//! unary     := ("not" | "!") unary | "(" expr ")" | primitive
//! primitive := "tcp" | "udp" | "icmp" | "icmp6" | "ip" | "ip6" | "arp" | "vlan" [ID]
//!            | ["src" | "dst"] ("host" ADDR | "net" CIDR | "port" N | "portrange" A-B)
//!            | ("src" | "dst") ADDR
//!            | ("tcp" | "udp") ["src" | "dst"] ("port" N | "portrange" A-B)
//!            | "syn" | "ack" | "fin" | "rst" | "psh" | "urg"
//! ```
//!
//! As in pcap-filter(7), `not` binds tightest and `and`/`or` have *equal* precedence, associating left to right:
//! `tcp or udp and port 53` means `(tcp or udp) and port 53`. A filter copied from a tcpdump command line selects the
//! same packets here. Use parentheses when in doubt.
//!
//! Where we differ from tcpdump, on purpose:
//!
//! - **VLAN tags are transparent.** tcpdump only looks inside a VLAN tag after a `vlan` primitive has shifted its
//!   offsets; we match the decoded layers, so a tagged IPv4 TCP frame matches `ip`, `tcp` and `port 80` as it is.
//!   `vlan N` matches when *any* tag in the stack has id N (tcpdump's checks only the tag at the current offset).
//! - **`icmp` matches ICMPv6 too**, because "show me the pings" should not depend on the address family;
//!   `icmp6` matches ICMPv6 only.
//! - **Flag words** `syn`, `ack`, `fin`, `rst`, `psh`, `urg` are our shorthand for tcpdump's
//!   `tcp[tcpflags] & tcp-syn != 0` and friends: true when the packet is TCP and that bit is set.
//! - **No names**: hosts, networks and ports are numeric; resolving names would mean I/O, and this module is pure.
//!
//! Like tcpdump, `tcp` and `udp` test the IP protocol number, so a non-first fragment of a TCP datagram matches
//! `tcp`; `port` needs the transport header, which such a fragment does not carry, so it never matches one.

mod eval;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

use crate::wire::Packet;

/// A parsed filter expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    root: Node,
}

impl Filter {
    /// Parses `expr`. An empty or all-whitespace expression gives a filter that matches every packet, the way
    /// tcpdump captures everything when no expression is given.
    ///
    /// # Errors
    ///
    /// A [`FilterError`] naming the column of the first token that does not fit the grammar.
    pub fn parse(expr: &str) -> Result<Filter, FilterError> {
        parse::parse(expr).map(|root| Filter { root })
    }

    /// Whether `packet` passes the filter. Does not allocate.
    #[must_use]
    pub fn matches(&self, packet: &Packet<'_>) -> bool {
        eval::matches(&self.root, packet)
    }
}

/// Why an expression did not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 1-based column, in characters, of the offending token; one past the end when input ran out.
    pub column: usize,
    pub message: String,
    /// The whole expression, so the error can show it with a caret under the column.
    pub expr: String,
}

impl fmt::Display for FilterError {
    /// Three lines: the message, the expression, and a caret under the column. Whitespace in the expression is shown
    /// as plain spaces so that a tab or newline cannot push the caret out of line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "filter error at column {}: {}", self.column, self.message)?;
        for c in self.expr.chars() {
            write!(f, "{}", if c.is_whitespace() { ' ' } else { c })?;
        }
        writeln!(f)?;
        write!(f, "{:width$}^", "", width = self.column.saturating_sub(1))
    }
}

impl std::error::Error for FilterError {}

/// The AST. `And` and `Or` are n-ary so that a long chain stays flat: neither evaluation nor drop recurses along it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
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
enum Proto {
    Tcp,
    Udp,
    Icmp,
    Icmp6,
    Ip,
    Ip6,
    Arp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortProto {
    Tcp,
    Udp,
}

/// Which end of the conversation a `host`, `net` or `port` looks at. Without `src`/`dst` either end will do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    Src,
    Dst,
    Either,
}

impl Dir {
    fn check<T: Copy>(self, (src, dst): (T, T), pred: impl Fn(T) -> bool) -> bool {
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
struct Cidr {
    addr: IpAddr,
    mask: u128,
}

impl Cidr {
    /// `None` when `addr` has bits set past the prefix: like tcpdump ("non-network bits set"), we refuse to guess
    /// whether `10.0.0.1/8` meant the network or a typo.
    fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
        (bits(addr) & !mask == 0).then_some(Cidr { addr, mask })
    }

    fn contains(&self, ip: IpAddr) -> bool {
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
