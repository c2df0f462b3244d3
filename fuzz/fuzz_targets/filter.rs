//! The filter-expression parser on any UTF-8 text, and the matcher on a fixed set of crafted frames (TCP over IPv4
//! and IPv6, with and without VLAN tags, UDP, ICMP, ICMPv6, ARP, a non-first fragment, a truncated frame). A NUL
//! splits the input into two expressions, `A` and `B`.
//!
//! Checked on every input, besides "no panic":
//! - parsing is deterministic, and an error names a column inside the expression (or one past its end) and prints
//!   as three lines: the message, the expression with whitespace shown as spaces (so as many characters as the
//!   input), and a caret under that column;
//! - a blank expression matches every frame;
//! - when `A` parses, on every frame: `(A)`, `(A) and (A)` and `(A) or (A)` match as `A` does; `not (A)` and
//!   `! (A)` match the opposite, `not not (A)` the same; `(A) and not (A)` matches nothing and `(A) or not (A)`
//!   everything. Wrapping may only fail by going past the nesting limit;
//! - when `B` parses too: `(A) and (B)`, `(A) && (B)`, `(A) or (B)` and `(A) || (B)` are the conjunction and
//!   disjunction of the two, and `not (A) or not (B)` is `not ((A) and (B))` (De Morgan).

#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use synscope::filter::{Filter, FilterError};
use synscope::wire::craft::{self, EthernetSpec, TcpSpec};
use synscope::wire::{LinkType, Packet, TcpFlags, decode};

const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a literal address")
}

fn tcp(eth: Option<&EthernetSpec<'_>>, from: &str, to: &str, flags: u16, payload: &[u8]) -> Vec<u8> {
    let (from, to) = (addr(from), addr(to));
    let mut out = Vec::new();
    let spec = TcpSpec {
        src_port: from.port(),
        dst_port: to.port(),
        seq: 1000,
        ack: if flags & TcpFlags::ACK != 0 { 2000 } else { 0 },
        flags: TcpFlags(flags),
        window: 64240,
        options: &craft::linux_syn_options(1460, 1, 0, 7),
        payload,
    };
    craft::tcp_frame(&mut out, eth, &craft::ip_between(from, to, 64, 1), &spec).expect("a valid segment");
    out
}

fn udp(eth: Option<&EthernetSpec<'_>>, from: &str, to: &str) -> Vec<u8> {
    let (from, to) = (addr(from), addr(to));
    let mut out = Vec::new();
    craft::udp_frame(&mut out, eth, &craft::ip_between(from, to, 64, 1), from.port(), to.port(), b"query")
        .expect("a valid datagram");
    out
}

/// The frames every parsed filter is matched against, with their link types.
static FRAMES: LazyLock<Vec<(LinkType, Vec<u8>)>> = LazyLock::new(|| {
    let plain = EthernetSpec { src: MAC_A, dst: MAC_B, vlans: &[] };
    let tagged = EthernetSpec { vlans: &[42], ..plain };
    let qinq = EthernetSpec { vlans: &[200, 100], ..plain };
    let syn = tcp(Some(&plain), "192.0.2.10:40000", "192.0.2.20:80", TcpFlags::SYN, b"");
    // ICMP echo request: a UDP datagram with its protocol changed (decoding does not check the IP checksum); the
    // UDP ports' bytes become the ICMP type and code.
    let mut icmp = udp(Some(&plain), "10.9.8.7:2048", "10.9.8.1:7");
    icmp[14 + 9] = 1;
    let mut icmp6 = udp(Some(&plain), "[2001:db8::7]:32768", "[2001:db8::1]:7");
    icmp6[14 + 6] = 58;
    // A non-first fragment of a TCP datagram: offset 185 (1480 bytes), no transport header to read.
    let mut fragment = syn.clone();
    fragment[14 + 6] = 0x00;
    fragment[14 + 7] = 0xb9;
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&MAC_A);
    arp.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    arp.extend_from_slice(&MAC_A);
    arp.extend_from_slice(&[192, 0, 2, 10]);
    arp.extend_from_slice(&[0; 6]);
    arp.extend_from_slice(&[192, 0, 2, 20]);
    vec![
        (LinkType::Ethernet, syn.clone()),
        (
            LinkType::Ethernet,
            tcp(Some(&tagged), "10.0.0.1:443", "10.1.2.3:51000", TcpFlags::ACK | TcpFlags::PSH, b"data"),
        ),
        (
            LinkType::Ethernet,
            tcp(Some(&qinq), "[2001:db8::1]:22", "[2001:db8:1::2]:6000", TcpFlags::RST | TcpFlags::ACK, b""),
        ),
        (
            LinkType::Ethernet,
            tcp(Some(&plain), "192.0.2.20:80", "192.0.2.10:40000", TcpFlags::FIN | TcpFlags::URG | TcpFlags::ACK, b""),
        ),
        (LinkType::Ethernet, udp(Some(&plain), "10.0.0.53:53", "192.168.1.9:5353")),
        (LinkType::RawIp, udp(None, "[fe80::1]:546", "[ff02::1:2]:547")),
        (LinkType::Ethernet, udp(Some(&tagged), "172.16.0.1:1000", "172.16.255.255:2000")),
        (LinkType::Ethernet, icmp),
        (LinkType::Ethernet, icmp6),
        (LinkType::Ethernet, fragment),
        (LinkType::Ethernet, arp),
        (LinkType::Ethernet, syn[..30].to_vec()),
        (LinkType::Ethernet, Vec::new()),
    ]
});

fn packets() -> Vec<Packet<'static>> {
    FRAMES.iter().map(|(link, frame)| decode(*link, frame)).collect()
}

/// What `expr` matches on each frame, or why it does not parse.
fn matches(expr: &str, packets: &[Packet<'_>]) -> Result<Vec<bool>, FilterError> {
    let filter = Filter::parse(expr)?;
    Ok(packets.iter().map(|p| filter.matches(p)).collect())
}

/// Parses a composite built around expressions that parsed; only the nesting limit may refuse it.
fn composite(expr: &str, packets: &[Packet<'_>]) -> Option<Vec<bool>> {
    match matches(expr, packets) {
        Ok(m) => Some(m),
        Err(e) => {
            assert!(e.message.contains("nested more than"), "{expr:?} did not parse: {e}");
            None
        }
    }
}

fn check_error(expr: &str, e: &FilterError) {
    let chars = expr.chars().count();
    assert_eq!(e.expr, expr);
    assert!((1..=chars + 1).contains(&e.column), "column {} of a {chars}-character expression", e.column);
    let text = e.to_string();
    let lines: Vec<&str> = text.split('\n').collect();
    assert_eq!(lines.len(), 3, "{text:?}");
    assert_eq!(lines[1].chars().count(), chars, "the expression line is not the expression: {text:?}");
    assert_eq!(lines[2], format!("{}^", " ".repeat(e.column - 1)), "the caret is not under the column");
}

/// Checks `expr` alone; returns what it matches when it parses.
fn check_one(expr: &str, packets: &[Packet<'_>]) -> Option<Vec<bool>> {
    let parsed = Filter::parse(expr);
    assert_eq!(parsed, Filter::parse(expr), "parsing is not deterministic");
    let m = match matches(expr, packets) {
        Ok(m) => m,
        Err(e) => {
            check_error(expr, &e);
            return None;
        }
    };
    if expr.trim().is_empty() {
        assert!(m.iter().all(|&b| b), "a blank filter refused a frame");
        // Nothing to wrap: `not ()` is not an expression.
        return None;
    }
    let not = |v: &[bool]| v.iter().map(|b| !b).collect::<Vec<_>>();
    let same = [format!("( {expr} )"), format!("( {expr} ) and ( {expr} )"), format!("( {expr} ) or ( {expr} )")];
    for wrapped in same.iter().chain([&format!("not not ( {expr} )")]) {
        if let Some(w) = composite(wrapped, packets) {
            assert_eq!(w, m, "{wrapped:?} differs from {expr:?}");
        }
    }
    for negated in [format!("not ( {expr} )"), format!("! ( {expr} )")] {
        if let Some(w) = composite(&negated, packets) {
            assert_eq!(w, not(&m), "{negated:?} is not the negation of {expr:?}");
        }
    }
    if let Some(w) = composite(&format!("( {expr} ) and not ( {expr} )"), packets) {
        assert!(w.iter().all(|&b| !b), "A and not A matched");
    }
    if let Some(w) = composite(&format!("( {expr} ) or not ( {expr} )"), packets) {
        assert!(w.iter().all(|&b| b), "A or not A refused");
    }
    Some(m)
}

fuzz_target!(|input: &[u8]| {
    let Ok(text) = std::str::from_utf8(input) else { return };
    let packets = packets();
    let (a, b) = match text.split_once('\0') {
        Some((a, b)) => (a, Some(b)),
        None => (text, None),
    };
    let Some(ma) = check_one(a, &packets) else { return };
    let Some(b) = b else { return };
    let Some(mb) = check_one(b, &packets) else { return };
    let and: Vec<bool> = ma.iter().zip(&mb).map(|(x, y)| *x && *y).collect();
    let or: Vec<bool> = ma.iter().zip(&mb).map(|(x, y)| *x || *y).collect();
    for (expr, want) in [
        (format!("( {a} ) and ( {b} )"), &and),
        (format!("( {a} ) && ( {b} )"), &and),
        (format!("( {a} ) or ( {b} )"), &or),
        (format!("( {a} ) || ( {b} )"), &or),
    ] {
        if let Some(got) = composite(&expr, &packets) {
            assert_eq!(&got, want, "{expr:?}");
        }
    }
    let de_morgan = (
        composite(&format!("not ( {a} ) or not ( {b} )"), &packets),
        composite(&format!("not ( ( {a} ) and ( {b} ) )"), &packets),
    );
    if let (Some(x), Some(y)) = de_morgan {
        assert_eq!(x, y, "De Morgan fails for {a:?} and {b:?}");
    }
});
