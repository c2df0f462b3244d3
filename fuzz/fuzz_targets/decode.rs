//! Frame decode for every link type, then everything a frame goes through in `read`: the tracker, the text
//! printer and the JSON printer. The first byte picks the link type (and a few output options); the rest is the
//! frame. Bytes from beyond the frame must never reach the output: the JSON's lists are checked against the frame.

#![no_main]

use libfuzzer_sys::fuzz_target;
use synscope::capture::Frame;
use synscope::output::json::JsonPrinter;
use synscope::output::text::{TextOptions, TextPrinter};
use synscope::output::{PacketRecord, Sink};
use synscope::time::Timestamp;
use synscope::track::{Tracker, TrackerConfig};
use synscope::wire::packet::Net;
use synscope::wire::{LinkType, decode};

const _: () = assert!(LINK_TYPES.len() == LinkType::ALL.len(), "the fuzz target covers every link type");

/// Every link type the decoder knows. The first eight keep the order the seed corpus's selector bytes (0 to 7)
/// were written for.
const LINK_TYPES: [LinkType; 21] = [
    LinkType::Ethernet,
    LinkType::RawIp,
    LinkType::Null,
    LinkType::Loop,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Slip,
    LinkType::Ppp,
    LinkType::Fddi,
    LinkType::RawDlt12,
    LinkType::RawDlt14,
    LinkType::PppSerial,
    LinkType::CiscoHdlc,
    LinkType::Ieee80211,
    LinkType::FrameRelay,
    LinkType::Pflog,
    LinkType::Radiotap,
    LinkType::Ppi,
    LinkType::Nflog,
];

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else { return };
    // The low five bits pick the link type (0x40 and 0x80 are output options below).
    let link_type = LINK_TYPES[usize::from(selector & 0x1f) % LINK_TYPES.len()];
    let packet = decode(link_type, data);

    // Every slice the packet holds lies inside the frame.
    if let Some(tcp) = packet.tcp() {
        assert!(tcp.payload.len() <= data.len());
        assert!(tcp.options_raw.len() <= 40);
    }
    // At most one extension header per 8 bytes of the frame: none are invented.
    if let Net::Ipv6(ip) = &packet.net {
        assert!(ip.extensions().len() * 8 <= data.len().saturating_sub(40));
    }

    let frame = Frame { raw_stamp: None, ts: Timestamp::from_nanos(1_000_000_000), link_type, orig_len: data.len() as u32, data };
    // A small table: the default one is sized for millions of flows and would dominate each run.
    let config = TrackerConfig { max_flows: 64, ..TrackerConfig::default() };
    let mut tracker = Tracker::new(config, synscope::hash_key::HashKey::from_seed(1));
    let annotations = tracker.handle_packet(frame.ts, &packet).to_vec();
    let record = PacketRecord { number: 1, frame: &frame, packet: &packet, annotations: &annotations };
    let options =
        TextOptions { link_header: selector & 0x80 != 0, absolute_seq: selector & 0x40 != 0, ..Default::default() };
    let mut text = TextPrinter::new(Vec::new(), options);
    text.packet(&record).unwrap();
    let mut json = JsonPrinter::new(Vec::new());
    json.packet(&record).unwrap();
    tracker.finish();
    while tracker.poll_record().is_some() {}
});
