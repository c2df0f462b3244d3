//! The SYN proxy's sequence translation (`defense::proxy::Translation`) on well-formed TCP segments with fuzzed
//! fields and options (SACK blocks, timestamps, window scale, MSS, unknown and malformed options, End), over IPv4
//! (with or without IP options) or IPv6, with zero to two VLAN tags and Ethernet padding, with any deltas and window
//! rescaling, in both directions.
//!
//! Checked on every input, besides "no panic":
//! - exact rewrite: when the options are well-formed, translating gives byte for byte the frame crafted with the
//!   translated numbers (listener → client: seq + delta, every TSval + ts_delta, the window rescaled; client →
//!   listener: ack − delta when ACK is set, every SACK edge − delta, every TSecr − ts_delta; options after an End
//!   untouched), so the incrementally updated checksum is the one a full recomputation gives;
//! - whatever the options: the length never changes, bytes outside the TCP header never change (payload and padding
//!   included), and a valid checksum stays valid; with a partial checksum (`checksum_partial`) the field is left as
//!   it was and every other byte is rewritten as with a complete one;
//! - translating with the inverse deltas undoes a translation exactly (checksum included) when no window is
//!   rescaled;
//! - the two directions agree: the client's answer to a translated listener segment (acknowledging and SACKing
//!   bytes of it, echoing its TSval) comes back to the listener acknowledging, SACKing and echoing the listener's own
//!   numbers.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use synscope::defense::proxy::Translation;
use synscope::wire::TcpFlags;
use synscope::wire::checksum::{checksum, pseudo_header_sum};
use synscope::wire::craft::{self, EthernetSpec, TcpSpec};
use synscope::wire::tcp_frame::TcpFrame;

#[derive(Arbitrary, Debug)]
struct Input {
    seq_delta: u32,
    ts_delta: Option<u32>,
    window_rescale: Option<(u8, u8)>,
    partial: bool,
    link: Link,
    segment: Segment,
    answer: Answer,
}

/// How the frames are carried; shared by a segment and its answer.
#[derive(Arbitrary, Debug)]
struct Link {
    v6: bool,
    vlans: u8,
    /// 4-byte words of IPv4 options (NOPs), 0 to 10.
    ip_option_words: u8,
    /// Ethernet padding after the IP packet.
    padding: Vec<u8>,
}

#[derive(Arbitrary, Debug, Clone)]
struct Segment {
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: Vec<Opt>,
    payload_len: u16,
    payload_byte: u8,
}

/// The client's answer to the translated segment: which of its bytes it acknowledges and SACKs.
#[derive(Arbitrary, Debug)]
struct Answer {
    ack_offset: u16,
    sack: Vec<(u16, u16)>,
    tsval: u32,
    flags: u8,
}

#[derive(Arbitrary, Debug, Clone)]
enum Opt {
    End,
    Nop,
    Mss(u16),
    WindowScale(u8),
    SackPermitted,
    Sack(Vec<(u32, u32)>),
    Timestamps(u32, u32),
    /// Any other kind, well-formed: `kind` is moved off 0, 1, 5 and 8.
    Unknown(u8, Vec<u8>),
    /// A SACK or timestamp option whose length is wrong for its kind, but consistent: skipped, not translated.
    WrongLength(bool, Vec<u8>),
    /// Raw bytes, possibly a broken option: the exact rewrite is no longer predicted after it.
    Raw(Vec<u8>),
}

impl Opt {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Opt::End => vec![0],
            Opt::Nop => vec![1],
            Opt::Mss(m) => [&[2, 4][..], &m.to_be_bytes()].concat(),
            Opt::WindowScale(s) => vec![3, 3, *s],
            Opt::SackPermitted => vec![4, 2],
            Opt::Sack(blocks) => {
                let mut out = vec![5, 2 + 8 * blocks.len() as u8];
                for (left, right) in blocks {
                    out.extend_from_slice(&left.to_be_bytes());
                    out.extend_from_slice(&right.to_be_bytes());
                }
                out
            }
            Opt::Timestamps(val, ecr) => [&[8, 10][..], &val.to_be_bytes(), &ecr.to_be_bytes()].concat(),
            Opt::Unknown(kind, data) => {
                let kind = if matches!(kind, 0 | 1 | 5 | 8) { kind + 20 } else { *kind };
                [&[kind, 2 + data.len() as u8][..], data].concat()
            }
            Opt::WrongLength(sack, data) => {
                // A SACK option is well-formed when its length is 2 + 8n with n >= 1; a timestamp option when it is 10.
                let mut data = data.clone();
                if *sack && data.len().is_multiple_of(8) && !data.is_empty() {
                    data.pop();
                } else if !*sack && data.len() == 8 {
                    data.push(0);
                }
                [&[if *sack { 5 } else { 8 }, 2 + data.len() as u8][..], &data].concat()
            }
            Opt::Raw(bytes) => bytes.clone(),
        }
    }

    /// The option as `translate` must leave it.
    fn translated(&self, t: &Translation, to_client: bool) -> Opt {
        match (self, to_client) {
            (Opt::Timestamps(val, ecr), true) => {
                Opt::Timestamps(t.ts_delta.map_or(*val, |d| val.wrapping_add(d)), *ecr)
            }
            (Opt::Timestamps(val, ecr), false) => {
                Opt::Timestamps(*val, t.ts_delta.map_or(*ecr, |d| ecr.wrapping_sub(d)))
            }
            (Opt::Sack(blocks), false) if !blocks.is_empty() => Opt::Sack(
                blocks.iter().map(|(l, r)| (l.wrapping_sub(t.seq_delta), r.wrapping_sub(t.seq_delta))).collect(),
            ),
            (other, _) => other.clone(),
        }
    }
}

/// The options that fit in 40 bytes (a SACK option carries at most 4 blocks), and whether the exact rewrite can be
/// predicted for them (no raw bytes).
fn fitting(options: &[Opt]) -> (Vec<Opt>, bool) {
    let (mut out, mut len, mut exact) = (Vec::new(), 0, true);
    for opt in options {
        let opt = match opt {
            Opt::Sack(blocks) => Opt::Sack(blocks.iter().copied().take(4).collect()),
            Opt::Unknown(kind, data) => Opt::Unknown(*kind, data.iter().copied().take(36).collect()),
            Opt::WrongLength(sack, data) => Opt::WrongLength(*sack, data.iter().copied().take(30).collect()),
            other => other.clone(),
        };
        let n = opt.bytes().len();
        if len + n > 40 {
            break;
        }
        len += n;
        exact &= !matches!(opt, Opt::Raw(_));
        out.push(opt);
    }
    (out, exact)
}

/// The options translated up to the first End (`translate` stops reading there).
fn translated(options: &[Opt], t: &Translation, to_client: bool) -> Vec<Opt> {
    let mut ended = false;
    options
        .iter()
        .map(|opt| {
            let out = if ended { opt.clone() } else { opt.translated(t, to_client) };
            ended |= matches!(opt, Opt::End);
            out
        })
        .collect()
}

fn option_bytes(options: &[Opt]) -> Vec<u8> {
    let mut out: Vec<u8> = options.iter().flat_map(Opt::bytes).collect();
    while !out.len().is_multiple_of(4) {
        out.push(1);
    }
    out
}

const CLIENT: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
const LISTENER: [u8; 6] = [2, 0, 0, 0, 0, 5];

fn ends(v6: bool) -> (SocketAddr, SocketAddr) {
    if v6 {
        (
            SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x10)), 40000),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20)), 9999),
        )
    } else {
        (
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 40000),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)), 9999),
        )
    }
}

/// The frame of `segment` with `options`, from the listener when `from_listener`, laid out as `link` says.
fn build(link: &Link, from_listener: bool, segment: &Segment, options: &[Opt]) -> Vec<u8> {
    let (client, listener) = ends(link.v6);
    let (from, to, src, dst) =
        if from_listener { (listener, client, LISTENER, CLIENT) } else { (client, listener, CLIENT, LISTENER) };
    let vlans: &[u16] = [&[][..], &[42], &[200, 100]][usize::from(link.vlans % 3)];
    let payload: Vec<u8> = (0..usize::from(segment.payload_len % 1500))
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(segment.payload_byte))
        .collect();
    let options = option_bytes(options);
    let mut out = Vec::new();
    craft::tcp_frame(
        &mut out,
        Some(&EthernetSpec { src, dst, vlans }),
        &craft::ip_between(from, to, 64, 1),
        &TcpSpec {
            src_port: from.port(),
            dst_port: to.port(),
            seq: segment.seq,
            ack: segment.ack,
            flags: TcpFlags(u16::from(segment.flags)),
            window: segment.window,
            options: &options,
            payload: &payload,
        },
    )
    .expect("a valid segment");
    let words = usize::from(link.ip_option_words % 11);
    if !link.v6 && words > 0 {
        // IPv4 options (NOPs) between the IP and TCP headers: the TCP checksum does not cover them.
        let ip = 14 + 4 * vlans.len();
        out.splice(ip + 20..ip + 20, std::iter::repeat_n(1u8, 4 * words));
        out[ip] = 0x40 | (5 + words as u8);
        let total = u16::from_be_bytes([out[ip + 2], out[ip + 3]]) + 4 * words as u16;
        out[ip + 2..ip + 4].copy_from_slice(&total.to_be_bytes());
        out[ip + 10..ip + 12].copy_from_slice(&[0, 0]);
        let sum = checksum(0, &out[ip..ip + 20 + 4 * words]);
        out[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
    }
    out.extend_from_slice(&link.padding[..link.padding.len().min(64)]);
    out
}

/// The checksum recomputed here from the addresses, independently of `TcpFrame`'s own sums.
fn checksum_valid(frame: &[u8]) -> bool {
    let segment = TcpFrame::new_checked(frame).expect("a crafted segment lays out");
    let octets = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let tcp = segment.tcp_segment();
    checksum(pseudo_header_sum(&octets(segment.src_ip()), &octets(segment.dst_ip()), 6, tcp.len() as u32), tcp) == 0
}

fn translate(t: &Translation, frame: &mut TcpFrame<Vec<u8>>, to_client: bool) {
    if to_client { t.to_client(frame) } else { t.to_server(frame) }
}

/// Translates `frame` one way and checks everything that holds whatever its options.
fn translate_checked(t: &Translation, frame: &[u8], to_client: bool, partial: bool) -> Vec<u8> {
    let view = TcpFrame::new_checked(frame).expect("a crafted segment lays out");
    assert!(checksum_valid(frame), "the crafted segment's checksum");
    // The TCP header: its 20 fixed bytes and the options, before the payload.
    let header_end = view.headers_len();
    let tcp = header_end - 20 - view.options().len();
    let mut out = TcpFrame::new_checked(frame.to_vec()).unwrap();
    translate(t, &mut out, to_client);
    let out = out.into_inner();
    assert_eq!(out.len(), frame.len());
    assert_eq!(out[..tcp], frame[..tcp], "bytes before the TCP header changed");
    assert_eq!(out[header_end..], frame[header_end..], "payload or padding changed");
    assert!(checksum_valid(&out), "a valid checksum broke");
    if partial {
        // The same rewrite with the checksum left for the sender to complete: only the field differs.
        let mut lazy = TcpFrame::new_checked(frame.to_vec()).unwrap().with_partial_checksum(true);
        translate(t, &mut lazy, to_client);
        assert_eq!(lazy.checksum(), view.checksum(), "a partial checksum was rewritten");
        lazy.set_checksum(TcpFrame::new_checked(out.as_slice()).unwrap().checksum());
        assert_eq!(lazy.into_inner(), out, "a partial checksum changed more than the checksum field");
    }
    out
}

/// Reads the first timestamp option's (TSval, TSecr) and every SACK edge, walking the options as a receiver would.
fn read_options(frame: &[u8]) -> (Option<(u32, u32)>, Vec<u32>) {
    let options = TcpFrame::new_checked(frame).expect("a crafted segment lays out").into_options();
    let word = |at: usize| u32::from_be_bytes([options[at], options[at + 1], options[at + 2], options[at + 3]]);
    let (mut ts, mut edges, mut at) = (None, Vec::new(), 0);
    while at < options.len() {
        match options[at] {
            0 => break,
            1 => at += 1,
            kind => {
                let Some(&len) = options.get(at + 1) else { break };
                let len = usize::from(len);
                if len < 2 || at + len > options.len() {
                    break;
                }
                if kind == 8 && len == 10 && ts.is_none() {
                    ts = Some((word(at + 2), word(at + 6)));
                }
                if kind == 5 && len >= 10 && (len - 2).is_multiple_of(8) {
                    edges.extend((0..(len - 2) / 4).map(|i| word(at + 2 + 4 * i)));
                }
                at += len;
            }
        }
    }
    (ts, edges)
}

fuzz_target!(|input: Input| {
    let t = Translation { seq_delta: input.seq_delta, ts_delta: input.ts_delta, window_rescale: input.window_rescale };
    let (options, exact) = fitting(&input.segment.options);
    let segment = &input.segment;

    for to_client in [true, false] {
        let frame = build(&input.link, to_client, segment, &options);
        let out = translate_checked(&t, &frame, to_client, input.partial);

        if exact {
            let mut want = segment.clone();
            if to_client {
                want.seq = segment.seq.wrapping_add(t.seq_delta);
                if let Some((listener, advertised)) = t.window_rescale {
                    let window = u32::from(segment.window) << listener.min(14) >> advertised.min(14);
                    want.window = window.min(0xFFFF) as u16;
                }
            } else if TcpFlags(u16::from(segment.flags)).ack() {
                want.ack = segment.ack.wrapping_sub(t.seq_delta);
            }
            let want = build(&input.link, to_client, &want, &translated(&options, &t, to_client));
            assert_eq!(out, want, "not the frame crafted with the translated numbers (to client: {to_client})");
        }

        if t.window_rescale.is_none() || !to_client {
            let inverse = Translation {
                seq_delta: t.seq_delta.wrapping_neg(),
                ts_delta: t.ts_delta.map(u32::wrapping_neg),
                window_rescale: None,
            };
            let back = translate_checked(&inverse, &out, to_client, false);
            assert_eq!(back, frame, "the inverse deltas did not undo the translation (to client: {to_client})");
        }
    }

    // The listener's segment goes to the client translated; the client answers it, and its answer goes back.
    let listener_frame = build(&input.link, true, segment, &options);
    let (listener_ts, _) = read_options(&listener_frame);
    let sent = translate_checked(&t, &listener_frame, true, false);
    let client_seq = TcpFrame::new_checked(sent.as_slice()).expect("a translated segment lays out").seq();
    let (client_ts, _) = read_options(&sent);
    let answer = &input.answer;
    let sacked: Vec<(u16, u16)> = answer.sack.iter().copied().take(3).collect();
    let mut answer_options = Vec::new();
    if let Some((tsval, _)) = client_ts {
        answer_options.push(Opt::Timestamps(answer.tsval, tsval));
    }
    if !sacked.is_empty() {
        let at = |offset: u16| client_seq.wrapping_add(u32::from(offset));
        answer_options.push(Opt::Sack(sacked.iter().map(|&(l, r)| (at(l), at(r))).collect()));
    }
    let reply = Segment {
        seq: segment.ack,
        ack: client_seq.wrapping_add(u32::from(answer.ack_offset)),
        flags: answer.flags | 0x10,
        window: 1000,
        options: answer_options,
        payload_len: 0,
        payload_byte: 0,
    };
    let back = translate_checked(&t, &build(&input.link, false, &reply, &reply.options), false, false);
    let back_ack = TcpFrame::new_checked(back.as_slice()).expect("a translated answer lays out").ack();
    let at = |offset: u16| segment.seq.wrapping_add(u32::from(offset));
    assert_eq!(back_ack, at(answer.ack_offset), "the ack came back in the client's numbers");
    let (back_ts, edges) = read_options(&back);
    let want_edges: Vec<u32> = sacked.iter().flat_map(|&(l, r)| [at(l), at(r)]).collect();
    assert_eq!(edges, want_edges, "SACK edges came back in the client's numbers");
    if let (Some((_, echo)), Some((tsval, _))) = (back_ts, listener_ts) {
        assert_eq!(echo, tsval, "the TSecr does not echo the listener's own TSval");
    }
    assert_eq!(back_ts.is_some(), listener_ts.is_some());
});
