//! Link-layer header types as pcap and pcapng record them (https://www.tcpdump.org/linktypes.html).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, a 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_SLIP (8): a 16-byte BSD SLIP header (direction, compressed-header bytes), then IP.
    Slip,
    /// LINKTYPE_PPP (9): PPP (RFC 1661), with or without the HDLC address and control bytes.
    Ppp,
    /// LINKTYPE_FDDI (10): FDDI frame control, two MAC addresses, then 802.2 LLC.
    Fddi,
    /// Link type 12: DLT_RAW on every system but OpenBSD. libpcap passes the value through from files
    /// (pcap-common.c's linktype_to_dlt), so tcpdump reads it as raw IP; 101 is what writers should use.
    RawDlt12,
    /// Link type 14: DLT_RAW on OpenBSD only. tcpdump elsewhere refuses it ("unknown data link type 14").
    RawDlt14,
    /// LINKTYPE_PPP_HDLC (50): PPP in HDLC-like framing (RFC 1662), or Cisco HDLC when the address byte says so.
    PppSerial,
    /// LINKTYPE_RAW (101): raw IPv4 or IPv6, told apart by the version nibble.
    RawIp,
    /// LINKTYPE_C_HDLC (104): Cisco HDLC, address, control, then an EtherType.
    CiscoHdlc,
    /// LINKTYPE_IEEE802_11 (105): 802.11 frames without a radio header.
    Ieee80211,
    /// LINKTYPE_FRELAY (107): Frame Relay, a Q.922 address then RFC 2427 (NLPID) or Cisco encapsulation.
    FrameRelay,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, the address family in network byte order.
    Loop,
    /// LINKTYPE_LINUX_SLL (113): Linux "cooked" capture, version 1.
    LinuxSll,
    /// LINKTYPE_PFLOG (117): OpenBSD pf's log header, then IP.
    Pflog,
    /// LINKTYPE_IEEE802_11_RADIOTAP (127): a radiotap header, then an 802.11 frame.
    Radiotap,
    /// LINKTYPE_PPI (192): a Per-Packet Information header naming the link type that follows.
    Ppi,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_NFLOG (239): Linux netfilter log messages, the packet in a TLV.
    Nflog,
    /// LINKTYPE_LINUX_SLL2 (276).
    LinuxSll2,
}

impl LinkType {
    /// Every link type we decode, for the fuzz target and for tests that go through them all.
    pub const ALL: [LinkType; 21] = [
        LinkType::Null,
        LinkType::Ethernet,
        LinkType::Slip,
        LinkType::Ppp,
        LinkType::Fddi,
        LinkType::RawDlt12,
        LinkType::RawDlt14,
        LinkType::PppSerial,
        LinkType::RawIp,
        LinkType::CiscoHdlc,
        LinkType::Ieee80211,
        LinkType::FrameRelay,
        LinkType::Loop,
        LinkType::LinuxSll,
        LinkType::Pflog,
        LinkType::Radiotap,
        LinkType::Ppi,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::Nflog,
        LinkType::LinuxSll2,
    ];

    /// Maps a LINKTYPE_ value; `None` for link types we do not decode.
    pub fn from_linktype(value: u32) -> Option<LinkType> {
        LinkType::ALL.into_iter().find(|link| link.linktype_value() == value)
    }

    pub fn linktype_value(self) -> u32 {
        match self {
            LinkType::Null => 0,
            LinkType::Ethernet => 1,
            LinkType::Slip => 8,
            LinkType::Ppp => 9,
            LinkType::Fddi => 10,
            LinkType::RawDlt12 => 12,
            LinkType::RawDlt14 => 14,
            LinkType::PppSerial => 50,
            LinkType::RawIp => 101,
            LinkType::CiscoHdlc => 104,
            LinkType::Ieee80211 => 105,
            LinkType::FrameRelay => 107,
            LinkType::Loop => 108,
            LinkType::LinuxSll => 113,
            LinkType::Pflog => 117,
            LinkType::Radiotap => 127,
            LinkType::Ppi => 192,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::Nflog => 239,
            LinkType::LinuxSll2 => 276,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkType::Null => "null",
            LinkType::Ethernet => "ethernet",
            LinkType::Slip => "slip",
            LinkType::Ppp => "ppp",
            LinkType::Fddi => "fddi",
            LinkType::RawDlt12 | LinkType::RawDlt14 => "raw",
            LinkType::PppSerial => "ppp-hdlc",
            LinkType::RawIp => "raw",
            LinkType::CiscoHdlc => "c-hdlc",
            LinkType::Ieee80211 => "802.11",
            LinkType::FrameRelay => "frame-relay",
            LinkType::Loop => "loop",
            LinkType::LinuxSll => "linux-sll",
            LinkType::Pflog => "pflog",
            LinkType::Radiotap => "802.11-radiotap",
            LinkType::Ppi => "ppi",
            LinkType::Ipv4 => "ipv4",
            LinkType::Ipv6 => "ipv6",
            LinkType::Nflog => "nflog",
            LinkType::LinuxSll2 => "linux-sll2",
        }
    }
}

impl LinkType {
    /// libpcap's DLT_ name and description, as tcpdump prints them ("EN10MB (Ethernet)").
    pub fn dlt_description(self) -> &'static str {
        match self {
            LinkType::Null => "NULL (BSD loopback)",
            LinkType::Ethernet => "EN10MB (Ethernet)",
            LinkType::Slip => "SLIP (SLIP)",
            LinkType::Ppp => "PPP (PPP)",
            LinkType::Fddi => "FDDI (FDDI)",
            // What an OpenBSD tcpdump prints for 14, and any other for 12.
            LinkType::RawDlt12 | LinkType::RawDlt14 => "RAW (Raw IP)",
            LinkType::PppSerial => "PPP_SERIAL (PPP over serial)",
            LinkType::RawIp => "RAW (Raw IP)",
            LinkType::CiscoHdlc => "C_HDLC (Cisco HDLC)",
            LinkType::Ieee80211 => "IEEE802_11 (802.11)",
            LinkType::FrameRelay => "FRELAY (Frame Relay)",
            LinkType::Loop => "LOOP (OpenBSD loopback)",
            LinkType::LinuxSll => "LINUX_SLL (Linux cooked v1)",
            LinkType::Pflog => "PFLOG (OpenBSD pflog file)",
            LinkType::Radiotap => "IEEE802_11_RADIO (802.11 plus radiotap header)",
            LinkType::Ppi => "PPI (Per-Packet Information)",
            LinkType::Ipv4 => "IPV4 (Raw IPv4)",
            LinkType::Ipv6 => "IPV6 (Raw IPv6)",
            LinkType::Nflog => "NFLOG (Linux netfilter log messages)",
            LinkType::LinuxSll2 => "LINUX_SLL2 (Linux cooked v2)",
        }
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.linktype_value())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_type_round_trips_through_its_value() {
        for link in LinkType::ALL {
            assert_eq!(LinkType::from_linktype(link.linktype_value()), Some(link), "{link}");
        }
        assert_eq!(LinkType::from_linktype(2), None);
    }
}
