//! A large capture for benchmarks: many short seed-protocol sessions from distinct clients, interleaved with a
//! spoofed SYN flood, streamed to disk so memory stays flat however many packets are asked for.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::conversation::{Conversation, Peer};
use super::samples::{SEED_MESSAGES, START};
use crate::capture::writer::PcapFileWriter;
use crate::capture::{Frame, Precision};
use crate::rng::XorShift;
use crate::time::Duration;
use crate::wire::craft::{self, EthernetSpec, IpSpec, TcpSpec};
use crate::wire::{LinkType, TcpFlags};

const ETH: EthernetSpec<'static> =
    EthernetSpec { src: [0x02, 0, 0x5e, 0, 1, 1], dst: [0x02, 0, 0x5e, 0, 1, 2], vlans: &[] };

/// Writes at least `packets` frames to `out` and returns how many were written. With `hosts`, the clients are that
/// many fixed addresses (drawn once from the same generator), each session on a fresh port.
pub fn write_bench(out: &Path, packets: u64, flood_percent: u8, hosts: Option<u32>) -> anyhow::Result<u64> {
    let name = out.display().to_string();
    let mut writer = PcapFileWriter::create(&name, Precision::Micro)?;
    let mut rng = XorShift::new(0xbe9c_4001);
    let server = SocketAddr::new(IpAddr::from([10, 0, 0, 1]), 9999);
    let mut now = START;
    let mut written = 0u64;
    let mut syn = Vec::with_capacity(64);
    let pool: Option<Vec<IpAddr>> = hosts.map(|n| (0..n).map(|_| random_client(&mut rng)).collect());
    while written < packets {
        // One session (about 20 frames) from a client anywhere on the unicast internet, as a public server sees
        // them. Diverse addresses matter for peers too: tcpdump interns every address it prints in a hash keyed by
        // the address's first bytes, and clients that share their first octets would all land in one chain.
        let client_ip = match &pool {
            Some(pool) => pool[rng.range(0, pool.len() as u32 - 1) as usize],
            None => random_client(&mut rng),
        };
        let client = SocketAddr::new(client_ip, rng.range(32768, 60999) as u16);
        let mut c = Conversation::new(Some(ETH), client, server, [rng.next_u32(), rng.next_u32()], now);
        c.handshake(Duration::from_micros(60))
            .seed_exchange(&SEED_MESSAGES, Duration::from_micros(60))
            .teardown(Peer::Client, Duration::from_micros(60));
        let session_frames = c.frames.len() as u64;
        for f in &c.frames {
            writer.write(&Frame {
                raw_stamp: None,
                ts: f.ts,
                link_type: LinkType::Ethernet,
                orig_len: f.orig_len,
                data: &f.data,
            })?;
        }
        written += session_frames;
        now = c.now;
        // ... and enough flood SYNs to keep the requested share.
        let percent = u64::from(flood_percent.min(99));
        let flood = session_frames * percent / (100 - percent);
        for _ in 0..flood {
            now = now.saturating_add(Duration::from_micros(2));
            syn.clear();
            let ip = IpSpec {
                src: IpAddr::from(rng.next_u32().to_be_bytes()),
                dst: server.ip(),
                ttl: 64,
                id: rng.next_u32() as u16,
            };
            let spec = TcpSpec {
                src_port: rng.range(1024, 65535) as u16,
                dst_port: server.port(),
                seq: rng.next_u32(),
                ack: 0,
                flags: TcpFlags(TcpFlags::SYN),
                window: 512,
                options: &[],
                payload: &[],
            };
            craft::tcp_frame(&mut syn, Some(&ETH), &ip, &spec)?;
            writer.write(&Frame::whole(now, LinkType::Ethernet, &syn))?;
            written += 1;
        }
        now = now.saturating_add(Duration::from_micros(5));
    }
    writer.finish()?;
    Ok(written)
}

/// A client address anywhere on the unicast internet (first octet 1-223, last not 0 or 255).
fn random_client(rng: &mut XorShift) -> IpAddr {
    IpAddr::from([rng.range(1, 223) as u8, rng.next_u32() as u8, rng.next_u32() as u8, rng.range(1, 254) as u8])
}
