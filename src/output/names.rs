//! Human names for numbers, spelled as tcpdump spells them where it has a spelling.

/// ICMP (RFC 792) message names.
pub fn icmp_name(icmp_type: u8, code: u8) -> Option<&'static str> {
    Some(match (icmp_type, code) {
        (0, _) => "echo reply",
        (3, 0) => "net unreachable",
        (3, 1) => "host unreachable",
        (3, 2) => "protocol unreachable",
        (3, 3) => "port unreachable",
        (3, 4) => "need to frag",
        (3, 13) => "administratively prohibited",
        (3, _) => "destination unreachable",
        (4, _) => "source quench",
        (5, _) => "redirect",
        (8, _) => "echo request",
        (9, _) => "router advertisement",
        (10, _) => "router solicitation",
        (11, 0) => "time exceeded in-transit",
        (11, _) => "ip reassembly time exceeded",
        (12, _) => "parameter problem",
        (13, _) => "time stamp request",
        (14, _) => "time stamp reply",
        _ => return None,
    })
}

/// ICMPv6 (RFC 4443, RFC 4861) message names.
pub fn icmp6_name(icmp_type: u8) -> Option<&'static str> {
    Some(match icmp_type {
        1 => "destination unreachable",
        2 => "packet too big",
        3 => "time exceeded in-transit",
        4 => "parameter problem",
        128 => "echo request",
        129 => "echo reply",
        130 => "multicast listener query",
        131 => "multicast listener report",
        133 => "router solicitation",
        134 => "router advertisement",
        135 => "neighbor solicitation",
        136 => "neighbor advertisement",
        137 => "redirect",
        143 => "multicast listener report v2",
        _ => return None,
    })
}

pub fn ether_type_name(ether_type: u16) -> Option<&'static str> {
    Some(match ether_type {
        0x0800 => "IPv4",
        0x0806 => "ARP",
        0x86dd => "IPv6",
        0x8100 => "802.1Q",
        0x88a8 => "802.1Q-QinQ",
        0x8847 => "MPLS unicast",
        0x8848 => "MPLS multicast",
        0x8863 => "PPPoE D",
        0x8864 => "PPPoE S",
        0x888e => "EAPOL",
        0x88cc => "LLDP",
        0x88e5 => "MACsec",
        0x88f7 => "PTP",
        _ => return None,
    })
}

pub fn ip_protocol_name(protocol: u8) -> Option<&'static str> {
    Some(match protocol {
        1 => "ICMP",
        2 => "IGMP",
        4 => "IPIP",
        6 => "TCP",
        17 => "UDP",
        41 => "IPv6",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        58 => "ICMP6",
        89 => "OSPF",
        103 => "PIM",
        112 => "VRRP",
        132 => "SCTP",
        _ => return None,
    })
}
