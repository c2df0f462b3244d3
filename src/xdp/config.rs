//! What the guard's XDP program reads from its maps, laid out as `struct guard_config` and `enum counter` in
//! `syn_cookie.bpf.c`. Pure: building the values is separate from writing them into the kernel (`mod.rs`).

use std::net::{IpAddr, SocketAddr};

use crate::defense::Tuple;
use crate::defense::cookie::CookieConfig;
use crate::defense::guard::GuardConfig;

/// `struct guard_config`, field for field: `repr(C)` with the padding spelt out, so both compilers lay it out the
/// same way (a test checks the size the C side assumes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpConfig {
    /// `H0`'s SipHash keys k0 and k1, then `H1`'s: the cookie key's four little-endian words, as
    /// `defense::cookie` splits it.
    pub key: [u64; 4],
    /// The cookie counter's period in nanoseconds.
    pub tick_ns: u64,
    /// `CLOCK_REALTIME - CLOCK_MONOTONIC`: the program's clock is `bpf_ktime_get_ns() + clock_offset_ns`, the
    /// packet time the userspace guard reads from its rings. The guard refreshes it every second.
    pub clock_offset_ns: i64,
    /// When non-zero, the packet time the program uses instead of its clock: how the tests run it on crafted
    /// frames (BPF_PROG_TEST_RUN) at a time of their choosing.
    pub now_override_ns: u64,
    /// The protected address in network order; an IPv4 address fills the first 4 bytes.
    pub addr: [u8; 16],
    pub port: u16,
    pub listener_mss: u16,
    pub listener_window: u16,
    /// 4 or 6.
    pub family: u8,
    /// 1: answer SYNs in XDP; 0: pass every frame to the rings.
    pub enabled: u8,
    /// The listener's window scale, or [`WSCALE_NONE`].
    pub listener_wscale: u8,
    pub listener_sack: u8,
    pub listener_ts: u8,
    /// A cookie is fresh while fewer ticks than this have begun since it was issued (the codec's `max_age_ticks`).
    pub max_age_ticks: u8,
    /// 1: drop ACKs from clients the proxy does not hold whose cookie is not fresh and valid, as the userspace guard
    /// would in cookies mode, so a forged-ACK flood never reaches the rings.
    pub drop_bad_acks: u8,
    pub pad: [u8; 3],
}

/// `listener_wscale` when the listener does not scale its window.
pub const WSCALE_NONE: u8 = 0xFF;

// SAFETY: XdpConfig is repr(C), Copy, and every bit pattern of its integer fields is valid; the padding is explicit.
unsafe impl aya::Pod for XdpConfig {}

impl XdpConfig {
    /// The program's view of a cookies-mode guard with cookie key `key`, answering SYNs (`enabled`).
    pub fn for_guard(config: &GuardConfig, key: &[u8; 32]) -> XdpConfig {
        let word = |i: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&key[i * 8..i * 8 + 8]);
            u64::from_le_bytes(bytes)
        };
        let (family, addr) = address(config.protect);
        let listener = config.listener;
        XdpConfig {
            key: [word(0), word(1), word(2), word(3)],
            tick_ns: config.cookie_tick.as_nanos().max(1),
            clock_offset_ns: 0,
            now_override_ns: 0,
            addr,
            port: config.protect.port(),
            listener_mss: listener.mss,
            listener_window: listener.window,
            family,
            enabled: 1,
            listener_wscale: listener.wscale.unwrap_or(WSCALE_NONE),
            listener_sack: u8::from(listener.sack_permitted),
            listener_ts: u8::from(listener.timestamps),
            max_age_ticks: CookieConfig::default().max_age_ticks.min(255) as u8,
            drop_bad_acks: 1,
            pad: [0; 3],
        }
    }
}

fn address(protect: SocketAddr) -> (u8, [u8; 16]) {
    let mut addr = [0u8; 16];
    match protect.ip() {
        IpAddr::V4(v4) => {
            addr[..4].copy_from_slice(&v4.octets());
            (4, addr)
        }
        IpAddr::V6(v6) => (6, v6.octets()),
    }
}

/// `struct held_key`: a client the proxy holds a connection for. The server side is the protected service.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeldKey {
    /// Network order; an IPv4 address fills the first 4 bytes.
    pub client: [u8; 16],
    pub client_port: u16,
    pub pad: u16,
}

// SAFETY: repr(C), Copy, integers only, padding explicit.
unsafe impl aya::Pod for HeldKey {}

impl HeldKey {
    pub fn of(tuple: &Tuple) -> HeldKey {
        let (_, client) = address(tuple.client);
        HeldKey { client, client_port: tuple.client.port(), pad: 0 }
    }

    /// The key's slot in the program's hint bitmap (`held_slot` in syn_cookie.bpf.c, bit for bit): the first and
    /// last 4 address bytes and the port, mixed by a multiply (Knuth's 2^32/φ), top 12 bits.
    pub fn slot(&self) -> usize {
        let word = |at: usize| {
            u32::from_be_bytes([self.client[at], self.client[at + 1], self.client[at + 2], self.client[at + 3]])
        };
        let port = u32::from(self.client_port);
        let mixed = (word(0) ^ word(12) ^ (port << 16 | port)).wrapping_mul(0x9E37_79B1);
        (mixed >> 20) as usize
    }
}

/// Slots of the hint bitmap (`HELD_SLOTS`).
pub const HELD_SLOTS: usize = 4096;

/// The program's per-CPU counters, summed over CPUs; slots as in `enum counter`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct XdpCounters {
    /// SYNs answered in XDP with a SYN-ACK (`XDP_TX`).
    pub synacks_sent: u64,
    /// SYNs for the protected service left to the rings once the program had read their TCP header: lengths that
    /// do not add up, options it could not read, or a client the proxy holds. (A SYN the program cannot read that
    /// far, VLAN-tagged, with IP options or IPv6 extension headers, counts in `frames_passed`.)
    pub syns_passed: u64,
    /// Every other frame, passed on to the rings.
    pub frames_passed: u64,
    /// SYN-ACKs that could not be written into the frame.
    pub errors: u64,
    /// ACKs from clients the proxy does not hold that carried no fresh, valid cookie: dropped in XDP.
    pub acks_dropped: u64,
    /// Such ACKs whose cookie checked out: passed on to userspace to open the connection.
    pub acks_passed: u64,
}

/// Slots of the counter map, in the order of `enum counter`.
pub const COUNTER_SLOTS: u32 = 6;

impl XdpCounters {
    pub fn from_slots(slots: [u64; COUNTER_SLOTS as usize]) -> XdpCounters {
        XdpCounters {
            synacks_sent: slots[0],
            syns_passed: slots[1],
            frames_passed: slots[2],
            errors: slots[3],
            acks_dropped: slots[4],
            acks_passed: slots[5],
        }
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &XdpCounters) -> XdpCounters {
        XdpCounters {
            synacks_sent: self.synacks_sent.saturating_sub(earlier.synacks_sent),
            syns_passed: self.syns_passed.saturating_sub(earlier.syns_passed),
            frames_passed: self.frames_passed.saturating_sub(earlier.frames_passed),
            errors: self.errors.saturating_sub(earlier.errors),
            acks_dropped: self.acks_dropped.saturating_sub(earlier.acks_dropped),
            acks_passed: self.acks_passed.saturating_sub(earlier.acks_passed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_keys_put_the_client_where_the_program_reads_it() {
        let tuple = Tuple { client: "192.0.2.10:40000".parse().unwrap(), server: "192.0.2.20:80".parse().unwrap() };
        let key = HeldKey::of(&tuple);
        assert_eq!(&key.client[..4], &[192, 0, 2, 10]);
        assert!(key.client[4..].iter().all(|&b| b == 0));
        assert_eq!(key.client_port, 40000);
        assert_eq!(std::mem::size_of::<HeldKey>(), 20);
    }

    #[test]
    fn the_layout_is_the_c_structs() {
        // struct guard_config: 4 keys, 3 clocks (56 bytes), the address (16), three u16 and five u8 (11), 5 pad.
        assert_eq!(std::mem::size_of::<XdpConfig>(), 88);
        assert_eq!(std::mem::align_of::<XdpConfig>(), 8);
        assert_eq!(std::mem::offset_of!(XdpConfig, addr), 56);
        assert_eq!(std::mem::offset_of!(XdpConfig, port), 72);
        assert_eq!(std::mem::offset_of!(XdpConfig, family), 78);
        assert_eq!(std::mem::offset_of!(XdpConfig, listener_ts), 82);
        assert_eq!(std::mem::offset_of!(XdpConfig, drop_bad_acks), 84);
    }
}
