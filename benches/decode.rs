//! Decoder micro-benchmarks: `wire::decode` on single crafted frames, and on a whole bundled capture read from
//! memory through `CaptureReader` (which adds the pcap record parsing).
//!
//!     cargo bench --bench decode -- --warm-up-time 1 --measurement-time 3

use std::hint::black_box;
use std::net::IpAddr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use synscope::capture::CaptureReader;
use synscope::wire::craft::{EthernetSpec, IpSpec, TcpSpec, linux_syn_options, tcp_frame, timestamp_option};
use synscope::wire::{LinkType, TcpFlags, decode};

const CLIENT_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x0a];
const SERVER_MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x00, 0x00, 0x14];

fn ip(src: &str, dst: &str) -> IpSpec {
    IpSpec { src: src.parse::<IpAddr>().unwrap(), dst: dst.parse::<IpAddr>().unwrap(), ttl: 64, id: 4711 }
}

fn frame(vlans: &[u16], ip: &IpSpec, tcp: &TcpSpec<'_>) -> Vec<u8> {
    let eth = EthernetSpec { src: CLIENT_MAC, dst: SERVER_MAC, vlans };
    let mut out = Vec::new();
    tcp_frame(&mut out, Some(&eth), ip, tcp).expect("a valid frame");
    out
}

/// The frames benchmarked one by one: (name, Ethernet frame).
fn frames() -> Vec<(&'static str, Vec<u8>)> {
    let v4 = ip("192.0.2.10", "192.0.2.20");
    let v6 = ip("2001:db8::10", "2001:db8::20");
    let syn_options = linux_syn_options(1460, 3_141_592, 0, 7);
    let syn = TcpSpec {
        src_port: 40000,
        dst_port: 9999,
        seq: 1_000_000,
        ack: 0,
        flags: TcpFlags(TcpFlags::SYN),
        window: 64240,
        options: &syn_options,
        payload: &[],
    };
    let ts = timestamp_option(3_141_700, 2_718_281);
    let data = TcpSpec {
        seq: 1_000_001,
        ack: 2_000_001,
        flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
        window: 502,
        options: &ts,
        payload: b"Lambda\n",
        ..syn
    };
    vec![
        ("syn_linux_options", frame(&[], &v4, &syn)),
        ("data_timestamps", frame(&[], &v4, &data)),
        ("vlan_data", frame(&[100], &v4, &data)),
        ("ipv6_data", frame(&[], &v6, &data)),
    ]
}

fn single_frames(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    for (name, bytes) in frames() {
        // Make sure each frame decodes cleanly, or the benchmark would time an error path.
        let packet = decode(LinkType::Ethernet, &bytes);
        assert!(packet.malformed.is_none() && packet.tcp().is_some(), "{name}: {:?}", packet.malformed);
        group.bench_function(name, |b| b.iter(|| black_box(decode(LinkType::Ethernet, black_box(&bytes)))));
    }
    group.finish();
}

/// Reads every frame of an in-memory capture and decodes it; returns the packet count.
fn read_and_decode(name: &str, file: &[u8]) -> u64 {
    let mut reader = CaptureReader::new(name, file).expect("a capture");
    let mut packets = 0;
    while let Some(frame) = reader.next_frame().expect("a good record") {
        black_box(decode(frame.link_type, frame.data));
        packets += 1;
    }
    packets
}

fn whole_capture(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/captures/syn-flood.pcap");
    let file = std::fs::read(path).expect("captures/syn-flood.pcap");
    let packets = read_and_decode("syn-flood.pcap", &file);
    let mut group = c.benchmark_group("capture");
    group.throughput(Throughput::Elements(packets));
    group.bench_function("syn-flood.pcap", |b| b.iter(|| read_and_decode("syn-flood.pcap", black_box(&file))));
    group.finish();
}

criterion_group! {
    name = benches;
    // No plots: criterion would draw them with plotters, which here has no system fonts (see lab/charts.rs).
    config = Criterion::default().without_plots();
    targets = single_frames, whole_capture
}
criterion_main!(benches);
