//! Filter tests on hand-built packets: every primitive both ways, directions, precedence, and every error with its
//! column.

use std::net::Ipv4Addr;

use super::{Filter, FilterError};
use crate::wire::packet::{
    ArpEthIpv4, ArpInfo, IcmpInfo, Ipv4Info, Ipv6Info, Link, Net, Transport, UdpInfo, VlanTag, Vlans,
};
use crate::wire::{LinkType, Packet, TcpFlags, TcpSegment};

fn link(ether_type: u16) -> Link {
    Link {
        link_type: LinkType::Ethernet,
        ethernet: None,
        vlans: Vlans::default(),
        encaps: Default::default(),
        ether_type: Some(ether_type),
        header_len: 14,
    }
}

fn ipv4(src: [u8; 4], dst: [u8; 4], protocol: u8) -> Ipv4Info {
    Ipv4Info {
        src: Ipv4Addr::from(src),
        dst: Ipv4Addr::from(dst),
        ttl: 64,
        tos: 0,
        id: 1,
        protocol,
        header_len: 20,
        total_len: 60,
        dont_fragment: false,
        more_fragments: false,
        fragment_offset: 0,
        checksum: 0,
    }
}

fn ipv6(protocol: u8) -> Ipv6Info {
    let mut ip = Ipv6Info::new("2001:db8::1".parse().unwrap(), "2001:db8:1::2".parse().unwrap());
    ip.next_header = protocol;
    ip
}

fn segment(src_port: u16, dst_port: u16, flags: u16) -> TcpSegment<'static> {
    TcpSegment {
        src_port,
        dst_port,
        seq: 1000,
        ack: 0,
        flags: TcpFlags(flags),
        window: 65535,
        urgent: 0,
        checksum: 0,
        header_len: 20,
        options_raw: &[],
        payload_len: 0,
        payload: &[],
    }
}

/// IPv4 TCP SYN 10.0.0.1:40000 -> 10.0.0.2:9999.
fn tcp_syn() -> Packet<'static> {
    Packet {
        link: link(0x0800),
        net: Net::Ipv4(ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6)),
        transport: Transport::Tcp(segment(40000, 9999, TcpFlags::SYN)),
        malformed: None,
        partial: None,
    }
}

/// IPv6 UDP [2001:db8::1]:5353 -> [2001:db8:1::2]:53.
fn udp6() -> Packet<'static> {
    Packet {
        link: link(0x86dd),
        net: Net::Ipv6(ipv6(17)),
        transport: Transport::Udp(UdpInfo { src_port: 5353, dst_port: 53, length: 40, checksum: 0 }),
        malformed: None,
        partial: None,
    }
}

/// IPv4 TCP ACK|PSH 192.168.1.10:80 -> 172.16.5.4:51000 inside VLAN 100 and QinQ outer tag 7.
fn vlan_tcp() -> Packet<'static> {
    let mut vlans = Vlans::default();
    vlans.push(VlanTag { id: 7, priority: 0, inner_ether_type: 0x8100 });
    vlans.push(VlanTag { id: 100, priority: 0, inner_ether_type: 0x0800 });
    Packet {
        link: Link { vlans, ..link(0x0800) },
        net: Net::Ipv4(ipv4([192, 168, 1, 10], [172, 16, 5, 4], 6)),
        transport: Transport::Tcp(segment(80, 51000, TcpFlags::ACK | TcpFlags::PSH)),
        malformed: None,
        partial: None,
    }
}

/// ARP who-has 10.0.0.2 tell 10.0.0.1.
fn arp() -> Packet<'static> {
    let addrs = ArpEthIpv4 {
        sender_mac: [2, 0, 0, 0, 0, 1],
        sender_ip: Ipv4Addr::new(10, 0, 0, 1),
        target_mac: [0; 6],
        target_ip: Ipv4Addr::new(10, 0, 0, 2),
    };
    let info = ArpInfo { operation: 1, hardware_type: 1, protocol_type: 0x0800, ethernet_ipv4: Some(addrs), len: 28 };
    Packet { link: link(0x0806), net: Net::Arp(info), transport: Transport::None, malformed: None, partial: None }
}

/// A non-first fragment of a TCP datagram 10.0.0.1 -> 10.0.0.2: no ports.
fn fragment() -> Packet<'static> {
    let ip = Ipv4Info { fragment_offset: 1480, ..ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6) };
    Packet {
        link: link(0x0800),
        net: Net::Ipv4(ip),
        transport: Transport::Fragment { protocol: 6, len: 40 },
        malformed: None,
        partial: None,
    }
}

fn icmp(v6: bool) -> Packet<'static> {
    let info = IcmpInfo { v6, icmp_type: if v6 { 128 } else { 8 }, code: 0, rest: [0; 4], len: 64 };
    let net = if v6 { Net::Ipv6(ipv6(58)) } else { Net::Ipv4(ipv4([10, 0, 0, 1], [8, 8, 8, 8], 1)) };
    Packet {
        link: link(if v6 { 0x86dd } else { 0x0800 }),
        net,
        transport: Transport::Icmp(info),
        malformed: None,
        partial: None,
    }
}

/// All test packets, in the order the tables below list their expectations.
fn packets() -> [(&'static str, Packet<'static>); 7] {
    [
        ("tcp_syn", tcp_syn()),
        ("udp6", udp6()),
        ("vlan_tcp", vlan_tcp()),
        ("arp", arp()),
        ("fragment", fragment()),
        ("icmp4", icmp(false)),
        ("icmp6", icmp(true)),
    ]
}

fn filter(expr: &str) -> Filter {
    Filter::parse(expr).unwrap_or_else(|e| panic!("{expr:?} should parse:\n{e}"))
}

fn err(expr: &str) -> FilterError {
    Filter::parse(expr).expect_err(expr)
}

/// Checks each expression against every packet; `expected` holds one letter per packet of `packets()`:
/// `y` must match, `.` must not.
fn check_table(table: &[(&str, &str)]) {
    let packets = packets();
    for (expr, expected) in table {
        let f = filter(expr);
        assert_eq!(expected.len(), packets.len(), "table row for {expr:?}");
        for ((name, packet), want) in packets.iter().zip(expected.chars()) {
            assert_eq!(f.matches(packet), want == 'y', "{expr:?} on {name}");
        }
    }
}

#[test]
fn empty_expression_matches_everything() {
    for expr in ["", "   ", "\t\n"] {
        check_table(&[(expr, "yyyyyyy")]);
    }
}

#[test]
fn protocol_primitives() {
    // Packets: tcp_syn, udp6, vlan_tcp, arp, fragment, icmp4, icmp6.
    check_table(&[
        ("tcp", "y.y.y.."),
        ("udp", ".y....."),
        ("icmp", ".....yy"),
        ("icmp6", "......y"),
        ("ip", "y.y.yy."),
        ("ip6", ".y....y"),
        ("arp", "...y..."),
        ("vlan", "..y...."),
    ]);
}

#[test]
fn vlan_id_matches_any_tag_in_the_stack() {
    check_table(&[("vlan 100", "..y...."), ("vlan 7", "..y...."), ("vlan 8", "......."), ("vlan 0", ".......")]);
}

#[test]
fn vlan_tagged_packets_match_inner_layers() {
    check_table(&[("vlan and ip and tcp and port 80 and host 172.16.5.4", "..y....")]);
}

#[test]
fn host_either_direction_and_src_dst() {
    check_table(&[
        ("host 10.0.0.1", "y..yyy."),
        ("host 10.0.0.2", "y..yy.."),
        ("src host 10.0.0.1", "y..yyy."),
        ("dst host 10.0.0.1", "......."),
        ("dst host 10.0.0.2", "y..yy.."),
        ("src 10.0.0.2", "......."),
        ("dst 10.0.0.2", "y..yy.."),
        ("host 2001:db8::1", ".y....y"),
        ("dst host 2001:db8:1::2", ".y....y"),
        ("src host 2001:db8:1::2", "......."),
        ("host 10.9.9.9", "......."),
    ]);
}

#[test]
fn net_cidr_v4_and_v6() {
    check_table(&[
        ("net 10.0.0.0/8", "y..yyy."),
        ("net 10.0.0.0/31", "y..yyy."),
        ("net 10.0.0.4/30", "......."),
        ("net 10.0.0.2/31", "y..yy.."),
        ("dst net 8.0.0.0/8", ".....y."),
        ("src net 8.0.0.0/8", "......."),
        ("net 192.168.0.0/16", "..y...."),
        ("net 0.0.0.0/0", "y.yyyy."),
        ("net 10.0.0.2", "y..yy.."),
        ("net 2001:db8::/32", ".y....y"),
        ("src net 2001:db8:1::/48", "......."),
        ("dst net 2001:db8:1::/48", ".y....y"),
        ("net ::/0", ".y....y"),
        ("dst 172.16.0.0/12", "..y...."),
    ]);
}

#[test]
fn ports_and_ranges() {
    check_table(&[
        ("port 9999", "y......"),
        ("port 40000", "y......"),
        ("src port 40000", "y......"),
        ("dst port 40000", "......."),
        ("port 53", ".y....."),
        ("dst port 53", ".y....."),
        ("src port 53", "......."),
        ("port 80", "..y...."),
        ("portrange 50-60", ".y....."),
        ("portrange 9999-9999", "y......"),
        ("src portrange 5000-6000", ".y....."),
        ("dst portrange 50000-52000", "..y...."),
        ("dst portrange 0-65535", "yyy...."),
        ("port 0", "......."),
    ]);
}

#[test]
fn protocol_qualified_ports() {
    check_table(&[
        ("tcp port 9999", "y......"),
        ("udp port 9999", "......."),
        ("udp port 53", ".y....."),
        ("tcp port 53", "......."),
        ("tcp src port 80", "..y...."),
        ("tcp dst port 80", "......."),
        ("udp dst portrange 50-60", ".y....."),
        ("udp src portrange 50-60", "......."),
        ("tcp portrange 1-65535", "y.y...."),
    ]);
}

#[test]
fn fragments_count_as_tcp_but_have_no_ports() {
    let frag = fragment();
    assert!(filter("tcp").matches(&frag));
    assert!(!filter("port 9999 or portrange 0-65535").matches(&frag));
    assert!(!filter("tcp port 9999").matches(&frag));
    assert!(!filter("syn").matches(&frag));
}

#[test]
fn tcp_flags() {
    check_table(&[
        ("syn", "y......"),
        ("ack", "..y...."),
        ("psh", "..y...."),
        ("fin", "......."),
        ("rst", "......."),
        ("urg", "......."),
        ("syn and not ack", "y......"),
    ]);
}

#[test]
fn and_and_or_have_equal_precedence_left_to_right_as_in_tcpdump() {
    // pcap-filter(7): tcp or udp and port 53 is (tcp or udp) and port 53, which does not match the SYN to 9999.
    assert!(!filter("tcp or udp and port 53").matches(&tcp_syn()));
    assert!(filter("tcp or (udp and port 53)").matches(&tcp_syn()));
    assert_eq!(filter("tcp or udp and port 53"), filter("(tcp or udp) and port 53"));
    assert_eq!(filter("udp and port 53 or tcp"), filter("(udp and port 53) or tcp"));
    assert_eq!(filter("not tcp and udp"), filter("(not tcp) and udp"));
    assert_eq!(filter("tcp && udp || arp"), filter("tcp and udp or arp"));
}

#[test]
fn negation() {
    check_table(&[
        ("not tcp", ".y.y.yy"),
        ("!tcp", ".y.y.yy"),
        ("! ! tcp", "y.y.y.."),
        ("not not tcp", "y.y.y.."),
        ("not port 53", "y.yyyyy"),
        ("!(tcp or udp)", "...y.yy"),
    ]);
}

#[test]
fn parentheses_group() {
    check_table(&[
        ("(tcp or udp) and (port 53 or port 80)", ".yy...."),
        ("((arp))", "...y..."),
        ("ip and (syn or psh) and not vlan", "y......"),
        ("(tcp)&&(vlan)", "..y...."),
    ]);
}

#[test]
fn host_matches_arp_addresses() {
    let packet = arp();
    assert!(filter("src host 10.0.0.1 and dst host 10.0.0.2").matches(&packet));
    assert!(!filter("dst host 10.0.0.1").matches(&packet));
    assert!(filter("arp and net 10.0.0.0/24").matches(&packet));
}

#[test]
fn long_chains_stay_flat() {
    let expr = vec!["tcp"; 10_000].join(" and ");
    assert!(filter(&expr).matches(&tcp_syn()));
    let expr = vec!["udp"; 10_000].join(" || ");
    assert!(!filter(&expr).matches(&tcp_syn()));
}

/// (expression, column, message): every error kind the parser has.
const ERRORS: &[(&str, usize, &str)] = &[
    ("hots 10.0.0.1", 1, "unknown word 'hots'"),
    ("tcp hots", 5, "unknown word 'hots'"),
    ("(tcp hots)", 6, "unknown word 'hots'"),
    ("src hots", 5, "unknown word 'hots' after 'src' (expected 'host', 'net', 'port', 'portrange' or an address)"),
    ("TCP", 1, "unknown word 'TCP' (keywords are lowercase: 'tcp')"),
    ("tcp and", 8, "expected a primitive after 'and'"),
    ("tcp or ", 8, "expected a primitive after 'or'"),
    ("not", 4, "expected a primitive after 'not'"),
    ("tcp and )", 9, "expected a primitive after 'and', found ')'"),
    ("and tcp", 1, "expected a primitive, found 'and'"),
    ("()", 2, "expected a primitive after '(', found ')'"),
    ("tcp udp", 5, "expected 'and' or 'or' before 'udp'"),
    ("port 80 80", 9, "expected 'and' or 'or' before '80'"),
    ("(tcp udp)", 6, "expected 'and', 'or' or ')' before 'udp'"),
    ("(tcp or udp", 1, "unmatched '('"),
    ("tcp and ((udp)", 9, "unmatched '('"),
    ("tcp)", 4, "unmatched ')'"),
    ("(tcp)) or udp", 6, "unmatched ')'"),
    ("tcp & udp", 5, "unexpected '&' (did you mean '&&'?)"),
    ("tcp | udp", 5, "unexpected '|' (did you mean '||'?)"),
    ("port", 5, "expected a port number after 'port'"),
    ("port and tcp", 6, "expected a port number after 'port', found 'and'"),
    ("port 65536", 6, "bad port number '65536' (expected 0-65535)"),
    ("port http", 6, "bad port number 'http' (expected 0-65535)"),
    ("dst port +80", 10, "bad port number '+80' (expected 0-65535)"),
    ("portrange 80", 11, "bad port range '80' (expected A-B)"),
    ("portrange 1-99999", 13, "bad port number '99999' (expected 0-65535)"),
    ("portrange x-80", 11, "bad port number 'x' (expected 0-65535)"),
    ("portrange 90-80", 11, "bad port range '90-80': 90 is above 80"),
    ("tcp src host 10.0.0.1", 9, "expected 'port' or 'portrange' after 'src', found 'host'"),
    ("udp dst", 8, "expected 'port' or 'portrange' after 'dst'"),
    ("host", 5, "expected an address after 'host'"),
    ("host 10.0.0.256", 6, "bad address '10.0.0.256'"),
    ("src host 2001:db8::g", 10, "bad address '2001:db8::g'"),
    ("dst 10.0.0", 5, "bad address '10.0.0'"),
    ("src", 4, "expected 'host', 'net', 'port', 'portrange' or an address after 'src'"),
    ("net 10.0.0.1/8", 5, "non-network bits set in 10.0.0.1/8"),
    ("net 2001:db8::1/32", 5, "non-network bits set in 2001:db8::1/32"),
    ("net 10.0.0.0/33", 14, "bad prefix length '33' (expected 0-32)"),
    ("net ::/129", 8, "bad prefix length '129' (expected 0-128)"),
    ("net 10.0.0.0/", 14, "bad prefix length '' (expected 0-32)"),
    ("net 10.x/8", 5, "bad address '10.x'"),
    ("net", 4, "expected a network after 'net'"),
    ("vlan 4096", 6, "bad VLAN id '4096' (expected 0-4095)"),
    ("vlan 1x", 6, "bad VLAN id '1x' (expected 0-4095)"),
];

#[test]
fn errors_name_the_offending_column() {
    for &(expr, column, message) in ERRORS {
        let e = err(expr);
        assert_eq!((e.column, e.message.as_str()), (column, message), "{expr:?}");
        assert_eq!(e.expr, expr);
    }
}

#[test]
fn nesting_is_limited_instead_of_overflowing_the_stack() {
    let e = err(&"!".repeat(100_000));
    assert!(e.message.starts_with("expression nested more than"), "{e}");
    let e = err(&format!("{}tcp{}", "(".repeat(5_000), ")".repeat(5_000)));
    assert!(e.message.starts_with("expression nested more than"), "{e}");
    assert!(filter(&format!("{}tcp{}", "(".repeat(50), ")".repeat(50))).matches(&tcp_syn()));
}

#[test]
fn display_shows_expression_and_caret() {
    let e = err("host hots");
    assert_eq!(e.to_string(), "filter error at column 6: bad address 'hots'\nhost hots\n     ^");
    let e = err("src hots");
    assert_eq!(
        e.to_string().lines().next(),
        Some(
            "filter error at column 5: unknown word 'hots' after 'src' (expected 'host', 'net', 'port', 'portrange' or an address)"
        )
    );
    assert_eq!(
        err("tcp and").to_string(),
        "filter error at column 8: expected a primitive after 'and'\ntcp and\n       ^"
    );
    // A tab is shown as a space so the caret stays under the token.
    assert_eq!(
        err("tcp\tudp").to_string(),
        "filter error at column 5: expected 'and' or 'or' before 'udp'\ntcp udp\n    ^"
    );
    assert_eq!(err("tcp hots").to_string(), "filter error at column 5: unknown word 'hots'\ntcp hots\n    ^");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().starts_with("filter error at column 5:"));
}

#[test]
fn columns_count_characters_not_bytes() {
    let e = err("hőst ½");
    assert_eq!((e.column, e.message.as_str()), (1, "unknown word 'hőst'"));
    let e = err("tcp and ½");
    assert_eq!((e.column, e.message.as_str()), (9, "unknown word '½'"));
    assert_eq!(e.to_string().lines().nth(2), Some("        ^"));
}

#[test]
fn garbage_never_panics_and_columns_stay_in_range() {
    let garbage = [
        "hőst ½",
        "½",
        "((((",
        "))))",
        "&&",
        "||||",
        "!",
        "& |",
        "port -",
        "portrange -",
        "portrange --",
        "net /",
        "net //",
        "net ::/",
        "host :",
        "src dst src",
        "vlan vlan 1 2",
        "tcp port port",
        "not ( not ( not",
        "日本語 and 🦀",
        "tcp\u{0}udp",
        "port 80 and (host 1.2.3.4 or",
        "src net 10.0.0.0/8 \u{2028} or",
        "0",
        "65535",
    ];
    for expr in garbage {
        let e = err(expr);
        let len = expr.chars().count();
        assert!((1..=len + 1).contains(&e.column), "{expr:?}: column {} of {len}", e.column);
        assert!(!e.message.is_empty());
        assert_eq!(e.to_string().lines().count(), 3, "{expr:?}");
    }
}
