//! ICMP and ICMPv6 messages in the text output, line for line against `tcpdump -nn`.
//!
//! Every ICMP error names what it says about the datagram it quotes (`ICMP 198.51.100.7 udp port 53 unreachable`,
//! `ICMP6, destination unreachable, unreachable port, 2001:db8::99 udp port 53`): each unreachable code, need to
//! frag with and without an MTU, redirects, time exceeded, parameter problems, and the ICMPv6 equivalents, with the
//! quoted TCP or UDP header found behind IPv4 options and IPv6 extension headers. So are the informational messages
//! tcpdump words in its own way (timestamps, masks, router advertisements, neighbour discovery, MLD), and the
//! quoted datagrams cut short by the snap length or by the IP length (with Ethernet padding behind it), where
//! tcpdump prints `[|icmp]` or `[|icmp6]`. Frames are crafted byte by byte here and written with the project's
//! writer; both tools read the file.
//!
//! Without tcpdump 4.99 the test prints a loud SKIPPED note and passes, unless `SYNSCOPE_REQUIRE_PEERS=1` is set.

mod common;

use common::crafted::{Case, assert_same_as_tcpdump, case, ethernet};
use common::tcpdump::tcpdump_4_99;
use synscope::wire::checksum::checksum;

/// An IPv4 header with `options` (a multiple of 4 bytes), then `payload`.
fn ipv4_with(protocol: u8, src: [u8; 4], dst: [u8; 4], options: &[u8], payload: &[u8]) -> Vec<u8> {
    let header_len = 20 + options.len();
    let mut header = vec![0x40 | (header_len / 4) as u8, 0];
    header.extend_from_slice(&((header_len + payload.len()) as u16).to_be_bytes());
    header.extend_from_slice(&[0x12, 0x34, 0, 0, 64, protocol, 0, 0]);
    header.extend_from_slice(&src);
    header.extend_from_slice(&dst);
    header.extend_from_slice(options);
    let sum = checksum(0, &header);
    header[10..12].copy_from_slice(&sum.to_be_bytes());
    header.extend_from_slice(payload);
    header
}

const HOST: [u8; 4] = [192, 0, 2, 1];
const ROUTER: [u8; 4] = [192, 0, 2, 2];
const FAR: [u8; 4] = [198, 51, 100, 7];

/// The router's ICMP message to the host (RFC 792), frame and all.
fn icmp4(icmp_type: u8, code: u8, word: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut message = vec![icmp_type, code, 0, 0];
    message.extend_from_slice(&word);
    message.extend_from_slice(body);
    let sum = checksum(0, &message);
    message[2..4].copy_from_slice(&sum.to_be_bytes());
    ethernet(0x0800, &ipv4_with(1, ROUTER, HOST, &[], &message))
}

/// The datagram the host sent to FAR, as an error quotes it: its IP header and the first 8 bytes of its payload.
fn quoted4(protocol: u8, options: &[u8]) -> Vec<u8> {
    // Source port 40000, destination port 53, and 4 more bytes (UDP length and checksum, or the TCP sequence).
    let mut packet = ipv4_with(protocol, HOST, FAR, options, &[0x9c, 0x40, 0, 53, 0, 20, 0xab, 0xcd]);
    // The quoted total length is the original datagram's, longer than what is quoted.
    packet[2..4].copy_from_slice(&((options.len() + 20 + 100) as u16).to_be_bytes());
    packet
}

fn icmp4_error(icmp_type: u8, code: u8, word: [u8; 4]) -> Vec<u8> {
    icmp4(icmp_type, code, word, &quoted4(17, &[]))
}

fn icmpv4_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for code in 0..=16 {
        cases.push(case(&format!("unreachable code {code}"), icmp4_error(3, code, [0; 4])));
    }
    cases.push(case("port unreachable, TCP quoted", icmp4(3, 3, [0; 4], &quoted4(6, &[]))));
    cases.push(case("port unreachable, GRE quoted", icmp4(3, 3, [0; 4], &quoted4(47, &[]))));
    cases.push(case("port unreachable, quoted header with options", icmp4(3, 3, [0; 4], &quoted4(17, &[1, 1, 1, 0]))));
    cases.push(case("need to frag, mtu 1400", icmp4_error(3, 4, [0, 0, 0x05, 0x78])));
    for code in 0..=4 {
        cases.push(case(&format!("redirect code {code}"), icmp4_error(5, code, [192, 0, 2, 254])));
    }
    for code in 0..=2 {
        cases.push(case(&format!("time exceeded code {code}"), icmp4_error(11, code, [0; 4])));
    }
    cases.push(case("parameter problem at octet 8", icmp4_error(12, 0, [8, 0, 0, 0])));
    cases.push(case("parameter problem code 1", icmp4_error(12, 1, [0; 4])));
    cases.push(case("source quench", icmp4_error(4, 0, [0; 4])));
    cases.push(case("echo request", icmp4(8, 0, [0, 7, 0, 1], b"abcdefgh")));
    cases.push(case("echo reply", icmp4(0, 0, [0, 7, 0, 1], b"abcdefgh")));
    let stamps = [0x02, 0x9b, 0x7d, 0x2a, 0x02, 0x9b, 0x7d, 0x2b, 0x05, 0x26, 0x5c, 0x00];
    cases.push(case("timestamp request", icmp4(13, 0, [0, 9, 0, 2], &stamps)));
    cases.push(case("timestamp reply", icmp4(14, 0, [0, 9, 0, 2], &stamps)));
    cases.push(case("timestamp reply cut short", icmp4(14, 0, [0, 9, 0, 2], &stamps[..8])));
    cases.push(case("information request", icmp4(15, 0, [0, 1, 0, 1], &[])));
    cases.push(case("information reply", icmp4(16, 0, [0, 1, 0, 1], &[])));
    cases.push(case("address mask request", icmp4(17, 0, [0, 1, 0, 1], &[0; 4])));
    cases.push(case("address mask reply", icmp4(18, 0, [0, 1, 0, 1], &[255, 255, 255, 0])));
    cases.push(case("router solicitation", icmp4(10, 0, [0; 4], &[])));
    let adverts = [192, 0, 2, 2, 0, 0, 0, 5, 192, 0, 2, 3, 0xff, 0xff, 0xff, 0xff];
    cases.push(case("router advertisement, 30 minutes", icmp4(9, 0, [2, 2, 0x07, 0x08], &adverts)));
    cases.push(case("router advertisement, 45 s", icmp4(9, 0, [1, 2, 0, 45], &adverts[..8])));
    cases.push(case("router advertisement, 2 h", icmp4(9, 0, [1, 2, 0x1c, 0x2a], &adverts[..8])));
    cases.push(case("router advertisement, odd size", icmp4(9, 0, [1, 4, 0, 45], &adverts[..8])));
    cases.push(case("router advertisement, entries missing", icmp4(9, 0, [3, 2, 0, 45], &adverts)));
    cases.push(case("unknown type 42", icmp4(42, 0, [0; 4], &[])));

    // A quote cut off before the quoted UDP ports: by the IP length, then by the snap length.
    cases.push(case("port unreachable quoting the IP header only", icmp4(3, 3, [0; 4], &quoted4(17, &[])[..20])));
    let mut snapped = case("port unreachable cut by the snap length", icmp4_error(3, 3, [0; 4]));
    snapped.cut = 6;
    cases.push(snapped);
    // A quote too short to hold the destination, padded to Ethernet's minimum with bytes that would hold it: the
    // padding is not part of the message.
    let mut padded = icmp4(11, 0, [0; 4], &quoted4(17, &[])[..8]);
    padded.extend_from_slice(&[198, 51, 100, 9, 0, 0, 0, 0, 0, 0]);
    cases.push(case("time exceeded quoting 8 bytes, padded", padded));
    cases
}

const HOST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const ROUTER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const FAR6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99];

fn ipv6(next_header: u8, src: [u8; 16], dst: [u8; 16], payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[next_header, 64]);
    packet.extend_from_slice(&src);
    packet.extend_from_slice(&dst);
    packet.extend_from_slice(payload);
    packet
}

/// The router's ICMPv6 message to the host (RFC 4443); the checksum is left 0 (tcpdump checks it only under -v).
fn icmp6(icmp_type: u8, code: u8, word: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut message = vec![icmp_type, code, 0, 0];
    message.extend_from_slice(&word);
    message.extend_from_slice(body);
    ethernet(0x86dd, &ipv6(58, ROUTER6, HOST6, &message))
}

/// The host's datagram to FAR6 as quoted: the IPv6 header, `extensions` (already chained), then 8 bytes of a TCP or
/// UDP header from port 40000 to 53.
fn quoted6(first: u8, extensions: &[u8]) -> Vec<u8> {
    let mut payload = extensions.to_vec();
    payload.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 20, 0xab, 0xcd]);
    let mut packet = ipv6(first, HOST6, FAR6, &payload);
    packet[4..6].copy_from_slice(&200u16.to_be_bytes());
    packet
}

fn icmp6_error(icmp_type: u8, code: u8, word: [u8; 4]) -> Vec<u8> {
    icmp6(icmp_type, code, word, &quoted6(17, &[]))
}

fn icmpv6_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for code in 0..=4 {
        cases.push(case(&format!("ICMPv6 unreachable code {code}"), icmp6_error(1, code, [0; 4])));
    }
    cases.push(case("ICMPv6 port unreachable, TCP quoted", icmp6(1, 4, [0; 4], &quoted6(6, &[]))));
    // Hop-by-hop (8 bytes of padding options) then destination options (16 bytes), then UDP.
    let mut chain = vec![60, 0, 1, 4, 0, 0, 0, 0];
    chain.extend_from_slice(&[17, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    cases.push(case("ICMPv6 port unreachable behind HBH and DSTOPT", icmp6(1, 4, [0; 4], &quoted6(0, &chain))));
    // A first fragment's header, then TCP.
    let first_fragment = [6, 0, 0, 1, 0, 0, 0, 9];
    cases.push(case(
        "ICMPv6 port unreachable behind a first fragment",
        icmp6(1, 4, [0; 4], &quoted6(44, &first_fragment)),
    ));
    let later_fragment = [6, 0, 0, 0x41, 0, 0, 0, 9];
    cases.push(case(
        "ICMPv6 port unreachable behind a later fragment",
        icmp6(1, 4, [0; 4], &quoted6(44, &later_fragment)),
    ));
    cases.push(case("ICMPv6 port unreachable, SCTP quoted", icmp6(1, 4, [0; 4], &quoted6(132, &[]))));
    cases.push(case(
        "ICMPv6 port unreachable quoting the IPv6 header only",
        icmp6(1, 4, [0; 4], &quoted6(17, &[])[..40]),
    ));
    let mut snapped = case("ICMPv6 address unreachable cut by the snap length", icmp6_error(1, 3, [0; 4]));
    snapped.cut = 30;
    cases.push(snapped);
    cases.push(case("packet too big", icmp6_error(2, 0, [0, 0, 0x05, 0x00])));
    for code in 0..=2 {
        cases.push(case(&format!("ICMPv6 time exceeded code {code}"), icmp6_error(3, code, [0; 4])));
    }
    for code in 0..=4 {
        cases.push(case(&format!("ICMPv6 parameter problem code {code}"), icmp6_error(4, code, [0, 0, 0, 6])));
    }
    cases.push(case("ICMPv6 echo request", icmp6(128, 0, [0, 7, 0, 1], b"abcdefgh")));
    cases.push(case("ICMPv6 echo reply", icmp6(129, 0, [0, 7, 0, 1], b"abcdefgh")));
    let mut target = FAR6.to_vec();
    cases.push(case("neighbor solicitation", icmp6(135, 0, [0; 4], &target)));
    cases.push(case("neighbor advertisement", icmp6(136, 0, [0x60, 0, 0, 0], &target)));
    target.extend_from_slice(&HOST6);
    cases.push(case("redirect", icmp6(137, 0, [0; 4], &target)));
    cases.push(case("router solicitation", icmp6(133, 0, [0; 4], &[])));
    cases.push(case("router advertisement", icmp6(134, 0, [64, 0, 7, 8], &[0; 8])));
    let group = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb];
    cases.push(case("MLD query", icmp6(130, 0, [0, 100, 0, 0], &group)));
    cases.push(case("MLD report", icmp6(131, 0, [0, 0, 0, 0], &group)));
    cases.push(case("MLD done", icmp6(132, 0, [0, 0, 0, 0], &group)));
    let mut query2 = group.to_vec();
    query2.extend_from_slice(&[2, 125, 0, 0]);
    cases.push(case("MLDv2 query", icmp6(130, 0, [0, 100, 0, 0], &query2)));
    query2[19] = 3;
    cases.push(case("MLDv2 query with sources missing", icmp6(130, 0, [0, 100, 0, 0], &query2)));
    cases.push(case("MLD query of an odd length", icmp6(130, 0, [0, 100, 0, 0], &group[..10])));
    cases.push(case("MLDv2 report", icmp6(143, 0, [0, 0, 0, 2], &[])));
    cases.push(case("home agent discovery request", icmp6(144, 0, [0x12, 0x34, 0, 0], &[])));
    cases
}

#[test]
fn icmp_messages_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the ICMP messages") {
        return;
    }
    let all = assert_same_as_tcpdump(&icmpv4_cases(), "icmp.pcap");
    // The spellings this test exists for did come out (a guard against crafting that silently missed them).
    for needle in [
        "IP 192.0.2.2 > 192.0.2.1: ICMP 198.51.100.7 udp port 53 unreachable, length 36\n",
        "IP 192.0.2.2 > 192.0.2.1: ICMP 198.51.100.7 tcp port 53 unreachable, length 36\n",
        "ICMP 198.51.100.7 protocol 47 port 53 unreachable, length 36\n",
        "ICMP host 198.51.100.7 unreachable, length 36\n",
        "ICMP 198.51.100.7 unreachable - need to frag (mtu 1400), length 36\n",
        "ICMP redirect 198.51.100.7 to host 192.0.2.254, length 36\n",
        "ICMP time exceeded in-transit, length 36\n",
        "ICMP parameter problem - octet 8, length 36\n",
        "IP 192.0.2.2 > 192.0.2.1:  [|icmp]\n",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}

#[test]
fn icmpv6_messages_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the ICMPv6 messages") {
        return;
    }
    let all = assert_same_as_tcpdump(&icmpv6_cases(), "icmp6.pcap");
    for needle in [
        "IP6 2001:db8::2 > 2001:db8::1: ICMP6, destination unreachable, unreachable port, 2001:db8::99 udp port 53, \
         length 56\n",
        "ICMP6, destination unreachable, unreachable port, 2001:db8::99 tcp port 53, length 56\n",
        "ICMP6, packet too big, mtu 1280, length 56\n",
        "ICMP6, time exceeded in-transit for 2001:db8::99, length 56\n",
        "ICMP6, neighbor solicitation, who has 2001:db8::99, length 24\n",
        "ICMP6, destination unreachable, unreachable port [|icmp6]\n",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}
