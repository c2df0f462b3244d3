//! The pure guard, fed an interleaved script of outside and inside frames with a clock, in every mode and overflow
//! policy. Frames are either raw bytes or well-formed TCP segments with fuzzed fields and options, some of them
//! answering what the guard itself just sent (so cookie ACKs, listener SYN-ACKs and proxied data are reached).
//!
//! Checked on every step, besides "no panic":
//! - a frame the guard forwards keeps its length, and a forwarded TCP frame whose checksum was valid stays valid
//!   (the proxy rewrites seq, ack, SACK, timestamps and windows with incremental checksums); one handed in as
//!   partial (`Checksum::Partial`, a GSO super-frame from a veth) keeps its checksum field as it was;
//! - every frame the guard crafts is a whole TCP segment with a valid checksum.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use synscope::defense::guard::{Checksum, Guard, GuardConfig, ListenerOptions, Outbox, Interface, Verdict};
use synscope::defense::half_open::{HalfOpenConfig, Overflow};
use synscope::defense::policy::Mode;
use synscope::time::{Duration, Timestamp};
use synscope::wire::TcpFlags;
use synscope::wire::checksum::{checksum, pseudo_header_sum};
use synscope::wire::craft::{self, EthernetSpec, TcpSpec};
use synscope::wire::tcp_frame::TcpFrame;

#[derive(Arbitrary, Debug)]
struct Script {
    mode: u8,
    overflow: u8,
    small_tables: bool,
    ops: Vec<Op>,
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// Any bytes, on either side.
    Raw {
        inside: bool,
        bytes: Vec<u8>,
        partial: bool,
    },
    /// A well-formed segment between one of a few clients and the protected service (or another port).
    Segment {
        inside: bool,
        peer: Peer,
        fields: Fields,
        partial: bool,
    },
    /// The client's answer to the last frame the guard sent out of the outside (a SYN-ACK, usually): ACK its ISN,
    /// echo its TSval, with fuzzed flags and payload.
    AnswerOutside {
        fields: Fields,
        ack_offset: i8,
        mirror_syn: bool,
    },
    /// The listener's answer to the last frame the guard sent inside (the proxy's SYN, usually).
    AnswerInside {
        fields: Fields,
        ack_offset: i8,
        mirror_syn: bool,
    },
    Advance {
        millis: u16,
    },
    Timers,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct Peer {
    client: u8,
    v6: bool,
    other_port: bool,
    vlan: bool,
}

#[derive(Arbitrary, Debug, Clone)]
struct Fields {
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: Vec<u8>,
    payload_len: u16,
}

const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
const LISTENER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 5];

fn protected(v6: bool) -> SocketAddr {
    if v6 {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x20)), 9999)
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20)), 9999)
    }
}

fn client(index: u8, v6: bool) -> SocketAddr {
    let port = 40000 + u16::from(index % 4);
    if v6 {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, u16::from(index % 4))), port)
    } else {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10 + index % 4)), port)
    }
}

/// Options padded with NOPs to a multiple of four, at most 40 bytes.
fn padded(options: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = options.iter().copied().take(40).collect();
    while !out.len().is_multiple_of(4) {
        out.push(1);
    }
    out
}

fn build(from: SocketAddr, to: SocketAddr, from_client: bool, vlan: bool, fields: &Fields) -> Option<Vec<u8>> {
    let (src, dst) = if from_client { (CLIENT_MAC, LISTENER_MAC) } else { (LISTENER_MAC, CLIENT_MAC) };
    let options = padded(&fields.options);
    let payload = vec![0x5a; usize::from(fields.payload_len % 2048)];
    let vlans: &[u16] = if vlan { &[42] } else { &[] };
    let mut out = Vec::new();
    craft::tcp_frame(
        &mut out,
        Some(&EthernetSpec { src, dst, vlans }),
        &craft::ip_between(from, to, 64, 1),
        &TcpSpec {
            src_port: from.port(),
            dst_port: to.port(),
            seq: fields.seq,
            ack: fields.ack,
            flags: TcpFlags(u16::from(fields.flags)),
            window: fields.window,
            options: &options,
            payload: &payload,
        },
    )
    .ok()?;
    Some(out)
}

/// The checksum recomputed here from the addresses, independently of `TcpFrame`'s own sums.
fn checksum_valid(segment: &TcpFrame<&[u8]>) -> bool {
    let octets = |ip: IpAddr| match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let tcp = segment.tcp_segment();
    checksum(pseudo_header_sum(&octets(segment.src_ip()), &octets(segment.dst_ip()), 6, tcp.len() as u32), tcp) == 0
}

/// An answer to `last`: its addresses swapped, our fields, its seq acknowledged and its TSval echoed. With
/// `mirror_syn`, a SYN is answered with a SYN-ACK (the listener's side of the proxy's handshake).
fn answer(last: &[u8], fields: &Fields, ack_offset: i8, mirror_syn: bool, from_client: bool) -> Option<Vec<u8>> {
    let last = TcpFrame::new_checked(last).ok()?;
    let (to, from) = (last.src(), last.dst());
    let mut fields = fields.clone();
    let flags = last.flags();
    let consumed = u32::from(flags.syn()) + u32::from(flags.fin()) + last.payload_len() as u32;
    fields.ack = last.seq().wrapping_add(consumed).wrapping_add(ack_offset as i32 as u32);
    fields.flags |= 0x10; // ACK
    if mirror_syn && flags.syn() {
        fields.flags |= 0x02;
    }
    // Echo the TSval, when there is one, as a timestamp option ahead of the fuzzed ones.
    let options = last.into_options();
    let mut at = 0;
    while at + 1 < options.len() {
        match options[at] {
            0 => break,
            1 => at += 1,
            8 if at + 10 <= options.len() => {
                let tsval = &options[at + 2..at + 6];
                let mut ts = vec![1, 1, 8, 10, 0, 0, 0, 1];
                ts.extend_from_slice(tsval);
                ts.extend_from_slice(&fields.options);
                fields.options = ts;
                break;
            }
            _ => at += usize::from(options[at + 1].max(2)),
        }
    }
    build(from, to, from_client, false, &fields)
}

fuzz_target!(|script: Script| {
    let mode = Mode::ALL[usize::from(script.mode) % Mode::ALL.len()];
    let overflow = [Overflow::DropNew, Overflow::EvictOldest, Overflow::Cookies][usize::from(script.overflow) % 3];
    let v6_protected = script.ops.iter().any(|op| matches!(op, Op::Segment { peer: Peer { v6: true, .. }, .. }));
    let mut half_open = HalfOpenConfig { overflow, ..HalfOpenConfig::default() };
    if script.small_tables {
        half_open.global_limit = 4;
        half_open.per_source_limit = 2;
    }
    let config = GuardConfig {
        protect: protected(v6_protected),
        mode,
        half_open,
        watermarks: (3, 1),
        syn_rate_per_source: None,
        listener: ListenerOptions::default(),
        max_proxied: if script.small_tables { 2 } else { 1024 },
        proxy_idle_timeout: Duration::from_secs(30),
        cookie_tick: Duration::from_secs(64),
    };
    let mut guard = Guard::new(config, [9; 32]);
    let mut out = Outbox::default();
    let mut now = Timestamp::from_nanos(1_780_315_200_000_000_000);
    let (mut last_outside, mut last_inside): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);

    for op in script.ops.iter().take(64) {
        let side_of = |inside: bool| if inside { Interface::Inside } else { Interface::Outside };
        let (side, frame, partial) = match op {
            Op::Raw { inside, bytes, partial } => (side_of(*inside), Some(bytes.clone()), *partial),
            Op::Segment { inside, peer, fields, partial } => {
                let (c, s) = (client(peer.client, v6_protected), protected(v6_protected));
                let s = if peer.other_port { SocketAddr::new(s.ip(), 80) } else { s };
                let frame =
                    if *inside { build(s, c, false, peer.vlan, fields) } else { build(c, s, true, peer.vlan, fields) };
                (side_of(*inside), frame, *partial)
            }
            Op::AnswerOutside { fields, ack_offset, mirror_syn } => {
                let frame = last_outside.as_deref().and_then(|l| answer(l, fields, *ack_offset, *mirror_syn, true));
                (Interface::Outside, frame, false)
            }
            Op::AnswerInside { fields, ack_offset, mirror_syn } => {
                let frame = last_inside.as_deref().and_then(|l| answer(l, fields, *ack_offset, *mirror_syn, false));
                (Interface::Inside, frame, false)
            }
            Op::Advance { millis } => {
                now = now.saturating_add(Duration::from_millis(u64::from(*millis)));
                continue;
            }
            Op::Timers => {
                out.clear();
                guard.handle_timeout(now, &mut out);
                check_crafted(&out, &mut last_outside, &mut last_inside);
                continue;
            }
        };
        let Some(mut frame) = frame else { continue };
        let before = TcpFrame::new_checked(frame.as_slice()).map(|s| (checksum_valid(&s), s.checksum())).ok();
        let len = frame.len();
        out.clear();
        let checksum = if partial { Checksum::Partial } else { Checksum::Complete };
        let verdict = guard.handle(now, side, &mut frame, checksum, &mut out);
        if verdict == Verdict::Forward {
            assert_eq!(frame.len(), len);
            if let Some((valid, field)) = before {
                let segment = TcpFrame::new_checked(frame.as_slice()).expect("a forwarded segment still lays out");
                if partial {
                    assert_eq!(segment.checksum(), field, "a partial checksum was rewritten");
                } else if valid {
                    assert!(checksum_valid(&segment), "a forwarded segment's checksum broke: {verdict:?}");
                }
            }
        }
        check_crafted(&out, &mut last_outside, &mut last_inside);
    }
});

fn check_crafted(out: &Outbox, last_outside: &mut Option<Vec<u8>>, last_inside: &mut Option<Vec<u8>>) {
    for (side, crafted) in out.frames() {
        let segment = TcpFrame::new_checked(crafted).expect("the guard crafts whole TCP segments");
        assert!(checksum_valid(&segment), "a crafted segment has a bad checksum");
        match side {
            Interface::Outside => *last_outside = Some(crafted.to_vec()),
            Interface::Inside => *last_inside = Some(crafted.to_vec()),
        }
    }
}
