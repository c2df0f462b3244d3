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

mod ast;
mod eval;
mod parse;
#[cfg(test)]
mod tests;

use self::ast::Node;
pub use self::parse::FilterError;
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
    #[inline]
    pub fn matches(&self, packet: &Packet<'_>) -> bool {
        eval::matches(&self.root, packet)
    }
}
