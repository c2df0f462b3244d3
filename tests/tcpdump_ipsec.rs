//! IPsec headers in the text output, line for line against `tcpdump -nn` (4.99, without `-v`): ESP
//! (`ESP(spi=0x00001234,seq=0x7), length 32`) and the authentication header (`AH(spi=..,seq=..,icv=0x..): `) with
//! what it protects after it (TCP and UDP by their ports alone, ICMP, ESP), over IPv4 and IPv6 (behind a
//! hop-by-hop header too), and headers cut short by the snap length (`[|ah]`, `[|esp]`). The tracker sees the TCP
//! segment behind an authentication header as any other.
//!
//! Frames are crafted byte by byte here and written with the project's writer.
//! Without tcpdump 4.99 the test prints a loud SKIPPED note and passes, unless `SYNSCOPE_REQUIRE_PEERS=1` is set.

mod common;

use common::crafted::{Case, assert_same_as_tcpdump, case, ethernet, write_capture};
use common::tcpdump::tcpdump_4_99;
use common::{stdout, synscope};
use synscope::wire::checksum::checksum;

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ESP: u8 = 50;
const AH: u8 = 51;

/// An IPv4 packet 192.0.2.1 > 192.0.2.2 (RFC 5737) carrying `protocol`.
fn ipv4(protocol: u8, payload: &[u8]) -> Vec<u8> {
    let mut header = vec![0x45, 0];
    header.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    header.extend_from_slice(&[0, 1, 0x40, 0, 64, protocol, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
    let sum = checksum(0, &header);
    header[10..12].copy_from_slice(&sum.to_be_bytes());
    header.extend_from_slice(payload);
    ethernet(0x0800, &header)
}

/// An IPv6 packet 2001:db8::1 > 2001:db8::2 (RFC 3849) whose first next header is `first`.
fn ipv6(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[first, 64]);
    for last in [1, 2] {
        packet.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last]);
    }
    packet.extend_from_slice(payload);
    ethernet(0x86dd, &packet)
}

/// An authentication header (RFC 4302 §2) with a 12-byte ICV before `payload`.
fn ah(next: u8, reserved: u16, payload: &[u8]) -> Vec<u8> {
    let mut header = vec![next, 4];
    header.extend_from_slice(&reserved.to_be_bytes());
    header.extend_from_slice(&0x5678u32.to_be_bytes());
    header.extend_from_slice(&9u32.to_be_bytes());
    header.extend_from_slice(&[0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab]);
    header.extend_from_slice(payload);
    header
}

/// An ESP header (RFC 4303 §2) and 24 bytes of ciphertext.
fn esp(spi: u32, seq: u32) -> Vec<u8> {
    let mut packet = spi.to_be_bytes().to_vec();
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(&[0x5a; 24]);
    packet
}

fn syn() -> Vec<u8> {
    vec![0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0]
}

fn udp() -> Vec<u8> {
    vec![0x13, 0x88, 0x17, 0x70, 0, 12, 0, 0, b'a', b'b', b'c', b'd']
}

fn echo_request() -> Vec<u8> {
    vec![8, 0, 0, 0, 0, 1, 0, 1]
}

fn cases() -> Vec<Case> {
    let mut cases = vec![
        case("ESP over IPv4", ipv4(ESP, &esp(0x1234, 7))),
        case("ESP with a large SPI", ipv4(ESP, &esp(0xdead_beef, 0xffff_ffff))),
        case("AH over TCP", ipv4(AH, &ah(TCP, 0, &syn()))),
        case("AH over UDP", ipv4(AH, &ah(UDP, 0, &udp()))),
        case("AH over ICMP", ipv4(AH, &ah(ICMP, 0, &echo_request()))),
        case("AH over ESP", ipv4(AH, &ah(ESP, 0, &esp(0x42, 1)))),
        case("AH with reserved bits", ipv4(AH, &ah(TCP, 0x0102, &syn()))),
        case("ESP over IPv6", ipv6(ESP, &esp(0x1234, 7))),
        case("AH over TCP over IPv6", ipv6(AH, &ah(TCP, 0, &syn()))),
        case("hop-by-hop, AH, UDP over IPv6", ipv6(0, &[&[AH, 0, 1, 4, 0, 0, 0, 0][..], &ah(UDP, 0, &udp())].concat())),
    ];
    // Cut by the snap length inside the headers.
    let esp_frame = ipv4(ESP, &esp(0x1234, 7));
    let ah_frame = ipv4(AH, &ah(TCP, 0, &syn()));
    let ah6_frame = ipv6(AH, &ah(TCP, 0, &syn()));
    for (what, frame, cut) in [
        ("ESP cut to its SPI and sequence", &esp_frame, 24),
        ("ESP cut to one byte past them", &esp_frame, 23),
        ("AH cut in its sequence number", &ah_frame, 20 + 14),
        ("AH cut in its ICV", &ah_frame, 20 + 6),
        ("AH cut after its next header", &ah_frame, 20 + 23),
        ("AH over IPv6 cut in its SPI", &ah6_frame, 20 + 18),
    ] {
        let mut c = case(what, frame.clone());
        c.cut = cut;
        cases.push(c);
    }
    cases
}

#[test]
fn ipsec_headers_print_as_tcpdump_prints_them() {
    if !tcpdump_4_99("the IPsec headers") {
        return;
    }
    let all = assert_same_as_tcpdump(&cases(), "ipsec.pcap");
    for needle in [
        "IP 192.0.2.1 > 192.0.2.2: ESP(spi=0x00001234,seq=0x7), length 32\n",
        ": AH(spi=0x00005678,seq=0x9,icv=0xa0a1a2a3a4a5a6a7a8a9aaab): 40000 > 80: Flags [S], seq 1,",
        "icv=0xa0a1a2a3a4a5a6a7a8a9aaab): 5000 > 6000: UDP, length 4\n",
        "icv=0xa0a1a2a3a4a5a6a7a8a9aaab): ICMP echo request",
        "icv=0xa0a1a2a3a4a5a6a7a8a9aaab): ESP(spi=0x00000042,seq=0x1), length 32\n",
        "AH(reserved=0x102[MustBeZero],spi=",
        "IP6 2001:db8::1 > 2001:db8::2: ESP(spi=0x00001234,seq=0x7), length 32\n",
        "IP6 2001:db8::1 > 2001:db8::2: HBH AH(spi=",
        " [|esp]\n",
        "AH(spi=0x00005678, [|ah]\n",
    ] {
        assert!(all.contains(needle), "no line has {needle:?}:\n{all}");
    }
}

#[test]
fn the_tracker_sees_tcp_behind_an_authentication_header() {
    let cases = [case("AH over TCP", ipv4(AH, &ah(TCP, 0, &syn())))];
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("ah.pcap");
    write_capture(&pcap, &cases);
    let out = synscope(["read", pcap.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("[handshake 1/3 SYN]"), "{}", stdout(&out));
}
