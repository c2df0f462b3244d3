//! `-e` (the link-level header) line for line against `tcpdump -e -nn`, for every link type synscope reads: Ethernet
//! (with VLAN tags, ARP, an unknown EtherType), raw IP (LINKTYPE_RAW, IPV4, IPV6: `ip: `), BSD NULL and OpenBSD
//! LOOP (`AF IPv4 (2)` in either byte order, the three IPv6 numbers), Linux cooked v1 (packet type, MAC) and v2
//! (interface name as this host numbers it, packet type, ifindex). After the link header tcpdump does not name the
//! network protocol again (`IP `, `IP6 `, `ARP, `). Without `-e`, an Ethernet frame of an unknown EtherType still shows
//! its MACs, type and wire length, and ARP's length counts the Ethernet padding; both are compared too.
//!
//! Frames are crafted here and written with the project's writer, one pcap per link type.
//! Without tcpdump 4.99 the test prints a loud SKIPPED note and passes, unless `SYNSCOPE_REQUIRE_PEERS=1` is set.

mod common;

use std::net::IpAddr;

use common::crafted::write_frames;
use common::tcpdump::{both_lines_with, tcpdump_4_99};
use synscope::wire::craft::{EthernetSpec, IpSpec, TcpSpec, tcp_frame, udp_frame};
use synscope::wire::{LinkType, TcpFlags};

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0x5e, 0, 0, 0x0a];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0x5e, 0, 0, 0x14];

fn ip(v6: bool) -> IpSpec {
    let (src, dst): (IpAddr, IpAddr) = if v6 {
        ("2001:db8::10".parse().unwrap(), "2001:db8::20".parse().unwrap())
    } else {
        ("192.0.2.10".parse().unwrap(), "192.0.2.20".parse().unwrap())
    };
    IpSpec { src, dst, ttl: 64, id: 7 }
}

/// A SYN from the client, starting at the IP header, or behind an Ethernet header with `vlans`.
fn syn(v6: bool, eth: Option<&[u16]>) -> Vec<u8> {
    let mut out = Vec::new();
    let spec = eth.map(|vlans| EthernetSpec { src: CLIENT_MAC, dst: SERVER_MAC, vlans });
    let tcp = TcpSpec {
        src_port: 40000,
        dst_port: 9999,
        seq: 1000,
        ack: 0,
        flags: TcpFlags(TcpFlags::SYN),
        window: 64240,
        options: &[2, 4, 5, 0xb4],
        payload: &[],
    };
    tcp_frame(&mut out, spec.as_ref(), &ip(v6), &tcp).unwrap();
    out
}

fn udp(v6: bool) -> Vec<u8> {
    let mut out = Vec::new();
    udp_frame(&mut out, None, &ip(v6), 40000, 9999, b"twelve bytes").unwrap();
    out
}

fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut frame = SERVER_MAC.to_vec();
    frame.extend_from_slice(&CLIENT_MAC);
    frame.extend_from_slice(&ether_type.to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// Pads to Ethernet's 60-byte minimum (without FCS), as a NIC does.
fn padded(mut frame: Vec<u8>) -> Vec<u8> {
    frame.resize(frame.len().max(60), 0);
    frame
}

/// An RFC 826 ARP request (op 1) or reply (op 2) for Ethernet and IPv4.
fn arp(op: u16) -> Vec<u8> {
    let mut arp = vec![0, 1, 0x08, 0, 6, 4, 0, op as u8];
    arp.extend_from_slice(&CLIENT_MAC);
    arp.extend_from_slice(&[192, 0, 2, 10]);
    arp.extend_from_slice(if op == 1 { &[0; 6] } else { &SERVER_MAC });
    arp.extend_from_slice(&[192, 0, 2, 20]);
    arp
}

fn ethernet_frames() -> Vec<Vec<u8>> {
    vec![
        syn(false, Some(&[])),
        syn(true, Some(&[])),
        syn(false, Some(&[100])),
        syn(true, Some(&[200, 100])),
        padded(ethernet(0x0806, &arp(1))),
        ethernet(0x0806, &arp(2)),
        padded(ethernet(0x0806, &arp(2))),
        // IEEE 802 local experimental EtherType: nothing tcpdump decodes.
        padded(ethernet(0x88b5, b"experiment")),
        ethernet(0x88b6, &[0; 100]),
    ]
}

/// A BSD NULL / OpenBSD LOOP header: the address family as 4 bytes.
fn null(family: [u8; 4], packet: Vec<u8>) -> Vec<u8> {
    let mut frame = family.to_vec();
    frame.extend_from_slice(&packet);
    frame
}

/// A Linux cooked v1 header (struct sll_header) before `packet`.
fn sll(packet_type: u16, with_mac: bool, protocol: u16, packet: &[u8]) -> Vec<u8> {
    let mut frame = packet_type.to_be_bytes().to_vec();
    frame.extend_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
    frame.extend_from_slice(&(if with_mac { 6u16 } else { 0 }).to_be_bytes());
    frame.extend_from_slice(&CLIENT_MAC);
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(&protocol.to_be_bytes());
    frame.extend_from_slice(packet);
    frame
}

/// A Linux cooked v2 header (struct sll2_header) before `packet`.
fn sll2(ifindex: u32, packet_type: u8, protocol: u16, packet: &[u8]) -> Vec<u8> {
    let mut frame = protocol.to_be_bytes().to_vec();
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(&ifindex.to_be_bytes());
    frame.extend_from_slice(&1u16.to_be_bytes());
    frame.extend_from_slice(&[packet_type, 6]);
    frame.extend_from_slice(&CLIENT_MAC);
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(packet);
    frame
}

fn groups() -> Vec<(&'static str, LinkType, Vec<Vec<u8>>)> {
    vec![
        ("ethernet", LinkType::Ethernet, ethernet_frames()),
        ("raw", LinkType::RawIp, vec![syn(false, None), udp(true)]),
        ("ipv4", LinkType::Ipv4, vec![syn(false, None), udp(false)]),
        ("ipv6", LinkType::Ipv6, vec![syn(true, None), udp(true)]),
        (
            "null",
            LinkType::Null,
            vec![
                null([2, 0, 0, 0], syn(false, None)),
                null([0, 0, 0, 2], udp(false)),
                null([24, 0, 0, 0], syn(true, None)),
                null([28, 0, 0, 0], udp(true)),
                null([30, 0, 0, 0], udp(true)),
            ],
        ),
        ("loop", LinkType::Loop, vec![null([0, 0, 0, 2], syn(false, None)), null([0, 0, 0, 24], udp(true))]),
        (
            "sll",
            LinkType::LinuxSll,
            vec![
                sll(0, true, 0x0800, &syn(false, None)),
                sll(4, true, 0x86dd, &udp(true)),
                sll(1, true, 0x0806, &arp(1)),
                sll(2, false, 0x0800, &udp(false)),
                sll(3, true, 0x86dd, &syn(true, None)),
            ],
        ),
        (
            "sll2",
            LinkType::LinuxSll2,
            vec![
                // Index 1 is the loopback interface in every namespace; no host has four billion interfaces.
                sll2(1, 0, 0x0800, &syn(false, None)),
                sll2(4_000_000_000, 4, 0x86dd, &udp(true)),
                sll2(1, 1, 0x0806, &arp(1)),
            ],
        ),
    ]
}

fn compare(name: &str, link_type: LinkType, frames: &[Vec<u8>], flags: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join(format!("{name}.pcap"));
    write_frames(&pcap, link_type, frames);
    let (theirs, ours) = both_lines_with(&pcap, frames.len(), flags);
    let failures: Vec<String> = theirs
        .iter()
        .zip(&ours)
        .enumerate()
        .filter(|(_, (t, o))| t != o)
        .map(|(i, (t, o))| format!("{name} frame {} ({flags:?}):\n  tcpdump:  {t}\n  synscope: {o}", i + 1))
        .collect();
    assert!(failures.is_empty(), "{} lines differ:\n{}", failures.len(), failures.join("\n"));
    ours
}

#[test]
fn link_headers_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the -e link headers") {
        return;
    }
    let mut all = Vec::new();
    for (name, link_type, frames) in groups() {
        all.extend(compare(name, link_type, &frames, &["-e"]));
    }
    let all = all.join("\n") + "\n";
    for needle in [
        "ethertype IPv4 (0x0800), length 58: 192.0.2.10.40000 > 192.0.2.20.9999: Flags [S]",
        "ethertype ARP (0x0806), length 60: Request who-has 192.0.2.20 tell 192.0.2.10, length 46\n",
        "ethertype Unknown (0x88b5), length 60: \n",
        " ip: 2001:db8::10.40000 > 2001:db8::20.9999: UDP, length 12\n",
        " AF IPv4 (2), length 44: 192.0.2.10.40000 > 192.0.2.20.9999: UDP, length 12\n",
        " AF IPv6 (30), length ",
        "  In 02:00:5e:00:00:0a ethertype IPv4 (0x0800), length ",
        " lo    In  ifindex 1 02:00:5e:00:00:0a ethertype IPv4 (0x0800), length ",
        " ?     Out ifindex 4000000000 ",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
    assert!(!all.contains(": IP"), "no IP/IP6 after the link header:\n{all}");
}

#[test]
fn unknown_ether_types_and_arp_padding_print_as_tcpdump_prints_them_without_e() {
    if !tcpdump_4_99("the unknown EtherTypes and ARP lengths") {
        return;
    }
    let all = compare("ethernet", LinkType::Ethernet, &ethernet_frames(), &[]).join("\n") + "\n";
    for needle in [
        " 02:00:5e:00:00:0a > 02:00:5e:00:00:14, ethertype Unknown (0x88b5), length 60: \n",
        " ARP, Request who-has 192.0.2.20 tell 192.0.2.10, length 46\n",
        " ARP, Reply 192.0.2.10 is-at 02:00:5e:00:00:0a, length 28\n",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}

#[test]
fn cooked_v2_names_the_interface_and_direction_without_e() {
    if !tcpdump_4_99("the cooked v2 lines without -e") {
        return;
    }
    let (name, link_type, frames) = groups().into_iter().find(|(name, ..)| *name == "sll2").unwrap();
    let all = compare(name, link_type, &frames, &[]).join("\n") + "\n";
    for needle in [
        " lo    In  IP 192.0.2.10.40000 > 192.0.2.20.9999: Flags [S]",
        " ?     Out IP6 2001:db8::10.40000 > 2001:db8::20.9999: UDP, length 12\n",
        " lo    B   ARP, Request who-has ",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}
