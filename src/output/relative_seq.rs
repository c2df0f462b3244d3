//! Relative sequence numbers as tcpdump prints them (print-tcp.c): the first segment with ACK set on a connection
//! records both directions' bases and is printed absolute; later segments print seq and ack minus those bases. A SYN
//! starts the bookkeeping afresh, so a reused port pair is numbered from its new ISNs.

use hashbrown::HashMap;

use crate::wire::Packet;
use crate::wire::flow::{Direction, Endpoint, FlowKey};

/// Connections remembered at most. Past this the table is cleared and numbering restarts from the next segment of
/// each connection, which keeps memory bounded when printing a flood.
const MAX_CONNECTIONS: usize = 1 << 20;

#[derive(Default)]
pub struct RelativeSeq {
    /// Keyed by the lower endpoint first; the value holds the seq base of the lower→higher direction, then of the
    /// higher→lower direction.
    /// hashbrown's default hasher is seeded per process: the tuples come off the wire.
    /// The key is the tracker's direction-free flow key, whose hash is cheap for IPv4 (printing every packet looks
    /// it up).
    bases: HashMap<FlowKey, (u32, u32)>,
    pub resets: u64,
}

impl RelativeSeq {
    /// How to print this segment's numbers; `None` for a segment printed absolute throughout.
    pub fn relative(&mut self, packet: &Packet<'_>) -> Option<Relative> {
        let tcp = packet.tcp()?;
        if !tcp.flags.ack() {
            return None;
        }
        let src = Endpoint::new(packet.src_ip()?, tcp.src_port);
        let dst = Endpoint::new(packet.dst_ip()?, tcp.dst_port);
        let (key, direction, _, _) = FlowKey::between(src, dst, 6);
        let reversed = direction == Direction::HighToLow;
        if !tcp.flags.syn()
            && let Some(&(lower_base, higher_base)) = self.bases.get(&key)
        {
            let (own, peer) = if reversed { (higher_base, lower_base) } else { (lower_base, higher_base) };
            return Some(Relative {
                seq_ack: Some((tcp.seq.wrapping_sub(own), tcp.ack.wrapping_sub(peer))),
                peer_base: peer,
            });
        }
        if self.bases.len() >= MAX_CONNECTIONS {
            self.bases.clear();
            self.resets += 1;
        }
        let own_base = tcp.seq;
        let peer_base = tcp.ack.wrapping_sub(1);
        let value = if reversed { (peer_base, own_base) } else { (own_base, peer_base) };
        self.bases.insert(key, value);
        Some(Relative { seq_ack: None, peer_base })
    }
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
