//! Regression for issue 17: IPv6 extension chains that make etherparse's lax parser stop early. Its extension
//! iterator then walked past the validated bytes (a segfault in `read`, and bytes from beyond the frame in the JSON).
//! Each frame here is crafted by this test; each must read with exit 0, print as malformed where it is, and list
//! only the extension headers the frame really holds.

mod common;

use common::{stdout, synscope};
use synscope::synth::conversation::SynthFrame;
use synscope::time::Timestamp;
use synscope::wire::LinkType;
use synscope::wire::ipv6_ext::{DESTINATION_OPTIONS, FRAGMENT, HOP_BY_HOP, ROUTING};

const TCP: u8 = 6;

/// A raw IPv6 packet (LINKTYPE_RAW) from 2001:db8::1 to 2001:db8::2 (RFC 3849) whose payload is `payload`.
fn ipv6(first_next_header: u8, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    packet.extend_from_slice(&[first_next_header, 64]);
    let mut src = [0u8; 16];
    src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    let mut dst = src;
    src[15] = 1;
    dst[15] = 2;
    packet.extend_from_slice(&src);
    packet.extend_from_slice(&dst);
    packet.extend_from_slice(payload);
    packet
}

/// An 8-byte option header (hop-by-hop, routing or destination options) naming `next`, padded with PadN.
fn option_header(next: u8) -> [u8; 8] {
    [next, 0, 1, 4, 0, 0, 0, 0]
}

/// A minimal TCP SYN header: ports 40000 → 9999, no options (checksum not checked by the decoder).
fn tcp_syn() -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0..2].copy_from_slice(&40000u16.to_be_bytes());
    h[2..4].copy_from_slice(&9999u16.to_be_bytes());
    h[12] = 5 << 4;
    h[13] = 0x02;
    h[14..16].copy_from_slice(&64240u16.to_be_bytes());
    h
}

/// Writes the packets to a pcap with synscope's own writer and reads it back as text and as JSON.
fn read_both(packets: &[Vec<u8>]) -> (std::process::Output, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile-ipv6.pcap");
    let frames: Vec<SynthFrame> = packets
        .iter()
        .map(|p| SynthFrame { ts: Timestamp::from_nanos(1_000_000_000), orig_len: p.len() as u32, data: p.clone() })
        .collect();
    synscope::synth::write_pcap(&path, LinkType::RawIp, &frames).unwrap();
    let text = synscope(["read", path.to_str().unwrap()]);
    let json = synscope(["read", "--format", "json", path.to_str().unwrap()]);
    assert_eq!(json.status.code(), Some(0), "json read failed: {}", String::from_utf8_lossy(&json.stderr));
    let records = stdout(&json).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (text, records)
}

/// The record's `ext` list; the JSON leaves the field out when there are none.
fn extensions(record: &serde_json::Value) -> Vec<u64> {
    assert!(record["ip"].is_object(), "no IP layer in {record}");
    let Some(list) = record["ip"].get("ext") else { return Vec::new() };
    list.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()
}

#[test]
fn destination_options_naming_hop_by_hop_is_malformed_and_lists_one_header() {
    // The fuzzer's trigger: 48 bytes, a destination-options header whose next header is hop-by-hop, which
    // RFC 8200 §4.1 allows only directly after the IPv6 header.
    let packet = ipv6(DESTINATION_OPTIONS, &option_header(HOP_BY_HOP));
    assert_eq!(packet.len(), 48);
    let (text, json) = read_both(&[packet]);
    assert_eq!(text.status.code(), Some(0), "read failed: {}", String::from_utf8_lossy(&text.stderr));
    let line = stdout(&text);
    assert!(line.contains("IP6 2001:db8::1 > 2001:db8::2"), "{line}");
    assert!(line.contains("[malformed: bad IPv6 hop-by-hop header: not directly after the IPv6 header"), "{line}");
    assert_eq!(json.len(), 1);
    assert_eq!(extensions(&json[0]), vec![u64::from(DESTINATION_OPTIONS)]);
    assert!(json[0]["malformed"].is_string());
}

#[test]
fn a_chain_cut_short_lists_only_the_headers_that_fit() {
    // Hop-by-hop, routing, then a fragment header cut to 4 of its 8 bytes.
    let mut payload = option_header(ROUTING).to_vec();
    payload.extend_from_slice(&option_header(FRAGMENT));
    payload.extend_from_slice(&[TCP, 0, 0, 0]);
    // Routing naming hop-by-hop again, after two headers.
    let mut late_hop = option_header(ROUTING).to_vec();
    late_hop.extend_from_slice(&option_header(HOP_BY_HOP));
    late_hop.extend_from_slice(&option_header(TCP));
    // A destination-options header claiming 2 KB (length 255) in an 8-byte packet.
    let oversized = [TCP, 255, 1, 4, 0, 0, 0, 0];
    let (text, json) =
        read_both(&[ipv6(HOP_BY_HOP, &payload), ipv6(HOP_BY_HOP, &late_hop), ipv6(DESTINATION_OPTIONS, &oversized)]);
    assert_eq!(text.status.code(), Some(0));
    let lines: Vec<String> = stdout(&text).lines().map(String::from).collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    // The first two show tcpdump's objection to the routing header before the damage, so synscope's note follows;
    // the third shows the damage in tcpdump's own notation for a header longer than the packet.
    assert!(lines[..2].iter().all(|l| l.contains("[malformed: ")), "{lines:?}");
    assert!(lines[2].ends_with("IP6 2001:db8::1 > 2001:db8::2:  [|dstopt]"), "{lines:?}");
    assert!(json.iter().all(|r| r["malformed"].is_string()), "{json:?}");
    assert_eq!(extensions(&json[0]), vec![u64::from(HOP_BY_HOP), u64::from(ROUTING)]);
    assert_eq!(extensions(&json[1]), vec![u64::from(HOP_BY_HOP), u64::from(ROUTING)]);
    assert_eq!(extensions(&json[2]), Vec::<u64>::new());
}

#[test]
fn a_valid_chain_still_decodes_its_tcp_segment() {
    let mut payload = option_header(ROUTING).to_vec();
    payload.extend_from_slice(&option_header(DESTINATION_OPTIONS));
    payload.extend_from_slice(&option_header(TCP));
    payload.extend_from_slice(&tcp_syn());
    let (text, json) = read_both(&[ipv6(HOP_BY_HOP, &payload)]);
    assert_eq!(text.status.code(), Some(0));
    let line = stdout(&text);
    // The text is tcpdump's, which stops at the routing header's type 1 (`(invalid)`); the segment behind it was
    // still decoded, and tracked.
    assert!(
        line.contains("IP6 2001:db8::1 > 2001:db8::2: HBH RT6 (len=0, type=1, segleft=4 (unknown type) (invalid)"),
        "{line}"
    );
    assert!(line.contains("[handshake 1/3 SYN]"), "{line}");
    assert!(!line.contains("malformed"), "{line}");
    assert_eq!(extensions(&json[0]), vec![u64::from(HOP_BY_HOP), u64::from(ROUTING), u64::from(DESTINATION_OPTIONS)]);
    assert_eq!(json[0]["ip"]["proto"], 6);
}
