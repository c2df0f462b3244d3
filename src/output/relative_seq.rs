//! Relative sequence numbers as tcpdump prints them (print-tcp.c): the first segment with ACK set on a connection
//! records both directions' bases and is printed absolute; later segments print seq and ack minus those bases. A SYN
//! starts the bookkeeping afresh, so a reused port pair is numbered from its new ISNs.

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr};

use hashbrown::HashMap;

use crate::wire::flow::{Direction, Endpoint, FlowKey};
use crate::wire::{Packet, TcpSegment};

/// Connections remembered at most. Past this the table is cleared and numbering restarts from the next segment of
/// each connection, which keeps memory bounded when printing a flood.
const MAX_CONNECTIONS: usize = 1 << 20;

/// The seq base of the lower→higher direction, then of the higher→lower direction.
type Bases = (u32, u32);

/// hashbrown's default hasher is seeded per process: the tuples come off the wire.
#[derive(Default)]
pub struct RelativeSeq {
    /// IPv4 connections, keyed by their two endpoints packed as `address << 16 | port`, the lower first. Printing
    /// looks up every segment, and hashing two words instead of the flow key's bytes cut 160 instr/pkt
    /// (callgrind, `gen bench` file). IPv4-mapped IPv6 addresses are here too, as the flow key, which
    /// stores IPv4 as mapped IPv6, merged them with IPv4.
    v4: HashMap<(u64, u64), Bases>,
    /// Other IPv6 connections, by the tracker's direction-free flow key.
    v6: HashMap<FlowKey, Bases>,
    pub resets: u64,
}

impl RelativeSeq {
    /// How to print this segment's numbers; `None` for a segment printed absolute throughout.
    pub fn relative(&mut self, packet: &Packet<'_>) -> Option<Relative> {
        let tcp = packet.tcp()?;
        if !tcp.flags.ack() {
            return None;
        }
        let (src, dst) = (packet.src_ip()?, packet.dst_ip()?);
        Some(match (ipv4_of(src), ipv4_of(dst)) {
            (Some(src), Some(dst)) => {
                let (src, dst) = (packed(src, tcp.src_port), packed(dst, tcp.dst_port));
                // The flow key's order too: address (after the same mapped prefix), then port.
                let (key, reversed) = if src <= dst { ((src, dst), false) } else { ((dst, src), true) };
                if let Some(known) = known(&self.v4, &key, reversed, tcp) {
                    return Some(known);
                }
                self.make_room();
                remember(&mut self.v4, key, reversed, tcp)
            }
            _ => {
                let src = Endpoint::new(src, tcp.src_port);
                let dst = Endpoint::new(dst, tcp.dst_port);
                let (key, direction, _, _) = FlowKey::between(src, dst, 6);
                let reversed = direction == Direction::HighToLow;
                if let Some(known) = known(&self.v6, &key, reversed, tcp) {
                    return Some(known);
                }
                self.make_room();
                remember(&mut self.v6, key, reversed, tcp)
            }
        })
    }

    /// Clears both maps, one table of `MAX_CONNECTIONS` between them, when they are full.
    fn make_room(&mut self) {
        if self.v4.len() + self.v6.len() >= MAX_CONNECTIONS {
            self.v4.clear();
            self.v6.clear();
            self.resets += 1;
        }
    }
}

/// The address as IPv4 when it is IPv4 or IPv4-mapped IPv6.
fn ipv4_of(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

fn packed(ip: Ipv4Addr, port: u16) -> u64 {
    (u64::from(u32::from(ip)) << 16) | u64::from(port)
}

/// The numbers of a segment on a connection whose bases are set; `None` for a SYN, which sets them afresh.
fn known<K: Hash + Eq>(map: &HashMap<K, Bases>, key: &K, reversed: bool, tcp: &TcpSegment<'_>) -> Option<Relative> {
    if tcp.flags.syn() {
        return None;
    }
    let &(lower_base, higher_base) = map.get(key)?;
    let (own, peer) = if reversed { (higher_base, lower_base) } else { (lower_base, higher_base) };
    Some(Relative { seq_ack: Some((tcp.seq.wrapping_sub(own), tcp.ack.wrapping_sub(peer))), peer_base: peer })
}

/// Sets the connection's bases from this segment, which is printed absolute.
fn remember<K: Hash + Eq>(map: &mut HashMap<K, Bases>, key: K, reversed: bool, tcp: &TcpSegment<'_>) -> Relative {
    let own_base = tcp.seq;
    let peer_base = tcp.ack.wrapping_sub(1);
    map.insert(key, if reversed { (peer_base, own_base) } else { (own_base, peer_base) });
    Relative { seq_ack: None, peer_base }
}

/// The relative view of one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relative {
    /// Relative (seq, ack); `None` on the segment that set the bases, which tcpdump prints absolute.
    pub seq_ack: Option<(u32, u32)>,
    /// The peer's sequence base. SACK blocks acknowledge the peer's data, so tcpdump prints them relative to it,
    /// already on the segment that set the bases.
    pub peer_base: u32,
}
