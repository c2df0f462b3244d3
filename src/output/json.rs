//! `--format json`: one JSON object per packet (JSON lines). The schema is documented in docs/json.md and is
//! stable: fields are only ever added. Absent layers are left out rather than written as null.

use std::io::{self, Write};

use serde::Serialize;

use super::{PacketRecord, Sink};
use crate::track::TrackerEvent;
use crate::track::annotate::Annotation;
use crate::track::flood_detector::FloodEvent;
use crate::wire::TcpSegment;
use crate::wire::packet::{Net, Transport};
use crate::wire::tcp_options::TcpOption;

#[derive(Serialize)]
struct JsonPacket<'a> {
    n: u64,
    /// Epoch seconds with nine decimals, as a string so no digit is lost to floating point.
    ts: String,
    caplen: usize,
    len: u32,
    link: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    eth: Option<JsonEth>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    vlan: Vec<JsonVlan>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ethertype: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<JsonIp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arp: Option<JsonArp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tcp: Option<JsonTcp<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    udp: Option<JsonUdp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp: Option<JsonIcmp>,
    /// Set for IP payloads we do not decode (other protocols and non-first fragments): their length.
    #[serde(skip_serializing_if = "Option::is_none")]
    ip_payload_len: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    malformed: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<JsonAnnotation<'a>>,
}

/// An annotation as data, plus the text line's wording.
#[derive(Serialize)]
struct JsonAnnotation<'a> {
    #[serde(flatten)]
    annotation: &'a Annotation,
    text: String,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
enum JsonEvent {
    HalfOpen {
        ts: String,
        orig: String,
        resp: String,
        after: f64,
    },
    FloodStarted {
        ts: String,
        target: String,
        syn_per_sec: f64,
        completion: f64,
        half_open: u64,
        text: String,
    },
    FloodEnded {
        ts: String,
        target: String,
        started: String,
        syns: u64,
        distinct_sources: u64,
        peak_syn_per_sec: f64,
        text: String,
    },
}

#[derive(Serialize)]
struct JsonEth {
    src: String,
    dst: String,
    #[serde(rename = "type")]
    ether_type: u16,
}

#[derive(Serialize)]
struct JsonVlan {
    id: u16,
    pcp: u8,
}

#[derive(Serialize)]
struct JsonIp {
    v: u8,
    src: String,
    dst: String,
    /// TTL (IPv4) or hop limit (IPv6).
    ttl: u8,
    proto: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    df: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hlen: Option<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ext: Vec<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frag: Option<JsonFrag>,
}

#[derive(Serialize)]
struct JsonFrag {
    id: u32,
    offset: u16,
    more: bool,
}

#[derive(Serialize)]
struct JsonArp {
    op: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_mac: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_mac: Option<String>,
}

#[derive(Serialize)]
struct JsonTcp<'a> {
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: &'a str,
    flag_bits: u16,
    win: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    urg: Option<u16>,
    hlen: u8,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    options: Vec<JsonTcpOption>,
    payload_len: u32,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum JsonTcpOption {
    Eol,
    Nop,
    Mss {
        value: u16,
    },
    Wscale {
        value: u8,
    },
    #[serde(rename = "sackOK")]
    SackOk,
    Sack {
        blocks: Vec<[u32; 2]>,
    },
    Ts {
        val: u32,
        ecr: u32,
    },
    Unknown {
        code: u8,
        len: usize,
    },
    Malformed {
        code: u8,
        reason: &'static str,
    },
}

#[derive(Serialize)]
struct JsonUdp {
    sport: u16,
    dport: u16,
    len: u16,
    payload_len: u16,
}

#[derive(Serialize)]
struct JsonIcmp {
    v6: bool,
    #[serde(rename = "type")]
    icmp_type: u8,
    code: u8,
    len: u32,
}

fn mac(m: &[u8; 6]) -> String {
    format!("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
}

fn tcp_options(tcp: &TcpSegment<'_>) -> Vec<JsonTcpOption> {
    tcp.options()
        .map(|o| match o {
            TcpOption::EndOfList => JsonTcpOption::Eol,
            TcpOption::Nop => JsonTcpOption::Nop,
            TcpOption::Mss(value) => JsonTcpOption::Mss { value },
            TcpOption::WindowScale(value) => JsonTcpOption::Wscale { value },
            TcpOption::SackPermitted => JsonTcpOption::SackOk,
            TcpOption::Sack(blocks) => {
                JsonTcpOption::Sack { blocks: blocks.as_slice().iter().map(|&(l, r)| [l, r]).collect() }
            }
            TcpOption::Timestamp { val, ecr } => JsonTcpOption::Ts { val, ecr },
            TcpOption::Unknown { kind, data } => JsonTcpOption::Unknown { code: kind, len: data.len() + 2 },
            TcpOption::Malformed { kind, reason } => JsonTcpOption::Malformed { code: kind, reason },
        })
        .collect()
}

pub struct JsonPrinter<W: Write> {
    out: W,
}

impl<W: Write> JsonPrinter<W> {
    pub fn new(out: W) -> Self {
        JsonPrinter { out }
    }
}

impl<W: Write> Sink for JsonPrinter<W> {
    fn packet(&mut self, record: &PacketRecord<'_>) -> io::Result<()> {
        let p = record.packet;
        let letters = p.tcp().map(|t| t.flags.tcpdump_letters());
        let mut json = JsonPacket {
            n: record.number,
            ts: record.frame.ts.to_string(),
            caplen: record.frame.data.len(),
            len: record.frame.orig_len,
            link: p.link.link_type.name(),
            eth: p.link.ethernet.map(|e| JsonEth {
                src: mac(&e.src),
                dst: mac(&e.dst),
                ether_type: e.outer_ether_type,
            }),
            vlan: p.link.vlans.as_slice().iter().map(|v| JsonVlan { id: v.id, pcp: v.priority }).collect(),
            ethertype: None,
            ip: None,
            arp: None,
            tcp: None,
            udp: None,
            icmp: None,
            ip_payload_len: None,
            malformed: p.malformed.as_ref().map(|e| e.to_string()),
            annotations: record
                .annotations
                .iter()
                .map(|a| JsonAnnotation { annotation: a, text: a.to_string() })
                .collect(),
        };
        match &p.net {
            Net::Ipv4(ip) => {
                json.ip = Some(JsonIp {
                    v: 4,
                    src: ip.src.to_string(),
                    dst: ip.dst.to_string(),
                    ttl: ip.ttl,
                    proto: ip.protocol,
                    id: Some(u32::from(ip.id)),
                    df: Some(ip.dont_fragment),
                    hlen: Some(ip.header_len),
                    ext: Vec::new(),
                    frag: ip.is_fragment().then_some(JsonFrag {
                        id: u32::from(ip.id),
                        offset: ip.fragment_offset,
                        more: ip.more_fragments,
                    }),
                })
            }
            Net::Ipv6(ip) => {
                json.ip = Some(JsonIp {
                    v: 6,
                    src: ip.src.to_string(),
                    dst: ip.dst.to_string(),
                    ttl: ip.hop_limit,
                    proto: ip.next_header,
                    id: None,
                    df: None,
                    hlen: None,
                    ext: ip.extensions().to_vec(),
                    frag: ip.fragment.map(|f| JsonFrag { id: f.id, offset: f.offset, more: f.more_fragments }),
                })
            }
            Net::Arp(arp) => {
                let a = arp.ethernet_ipv4;
                json.arp = Some(JsonArp {
                    op: arp.operation,
                    sender_ip: a.map(|a| a.sender_ip.to_string()),
                    sender_mac: a.map(|a| mac(&a.sender_mac)),
                    target_ip: a.map(|a| a.target_ip.to_string()),
                    target_mac: a.map(|a| mac(&a.target_mac)),
                })
            }
            Net::Other { ether_type } => json.ethertype = Some(*ether_type),
            Net::None => {}
        }
        match &p.transport {
            Transport::Tcp(t) => {
                json.tcp = Some(JsonTcp {
                    sport: t.src_port,
                    dport: t.dst_port,
                    seq: t.seq,
                    ack: t.ack,
                    flags: letters.as_ref().map_or("", |l| l.as_str()),
                    flag_bits: t.flags.0,
                    win: t.window,
                    urg: t.flags.has(crate::wire::TcpFlags::URG).then_some(t.urgent),
                    hlen: t.header_len,
                    options: tcp_options(t),
                    payload_len: t.payload_len,
                })
            }
            Transport::Udp(u) => {
                json.udp =
                    Some(JsonUdp { sport: u.src_port, dport: u.dst_port, len: u.length, payload_len: u.payload_len() })
            }
            Transport::Icmp(i) => {
                json.icmp = Some(JsonIcmp { v6: i.v6, icmp_type: i.icmp_type, code: i.code, len: i.len })
            }
            Transport::Fragment { len, .. } | Transport::Other { len, .. } => json.ip_payload_len = Some(*len),
            Transport::None => {}
        }
        serde_json::to_writer(&mut self.out, &json).map_err(io::Error::other)?;
        self.out.write_all(b"\n")
    }

    fn event(&mut self, event: &TrackerEvent) -> io::Result<()> {
        let json = match event {
            TrackerEvent::HalfOpen { ts, orig, resp, after } => JsonEvent::HalfOpen {
                ts: ts.to_string(),
                orig: orig.socket_addr().to_string(),
                resp: resp.socket_addr().to_string(),
                after: after.as_secs_f64(),
            },
            TrackerEvent::Flood(flood) => match flood {
                FloodEvent::Started { target, ts, syn_per_sec, completion, half_open } => JsonEvent::FloodStarted {
                    ts: ts.to_string(),
                    target: target.socket_addr().to_string(),
                    syn_per_sec: *syn_per_sec,
                    completion: *completion,
                    half_open: *half_open,
                    text: flood.to_string(),
                },
                FloodEvent::Ended { target, started, ended, syns, distinct_sources, peak_syn_per_sec } => {
                    JsonEvent::FloodEnded {
                        ts: ended.to_string(),
                        target: target.socket_addr().to_string(),
                        started: started.to_string(),
                        syns: *syns,
                        distinct_sources: *distinct_sources,
                        peak_syn_per_sec: *peak_syn_per_sec,
                        text: flood.to_string(),
                    }
                }
            },
        };
        serde_json::to_writer(&mut self.out, &json).map_err(io::Error::other)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
