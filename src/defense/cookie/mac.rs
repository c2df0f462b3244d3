//! The cookie's two keyed hashes: `H0(tuple)` hides the counter and the client ISN, `H1(tuple, counter)`
//! authenticates the MSS index. Linux computes both with `siphash` under two keys (`syncookie_secret[0..2]`,
//! net/ipv4/syncookies.c `cookie_hash`); we do the same with SipHash-1-3 (see the module docs for the choice),
//! except that `H1` hashes `H0`'s digest rather than the tuple again.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher13;

use crate::defense::Tuple;

/// `H0`'s input for one tuple, packed into 64-bit words: client address, server address, then the client port and
/// the server port in one 32-bit word. IPv4 tuples hash 12 bytes and IPv6 tuples 36, so the two families never
/// share an input, even for IPv4-mapped IPv6 addresses.
#[derive(Clone, Copy)]
pub(super) enum Message {
    V4 { addresses: u64, ports: u32 },
    V6 { addresses: [u64; 4], ports: u32 },
}

impl Message {
    /// The family is the client's; a tuple mixing families (no packet carries one) hashes in the IPv6 layout with
    /// IPv4 addresses mapped.
    #[inline]
    pub(super) fn new(tuple: &Tuple) -> Self {
        let ports = u32::from(tuple.client.port()) | u32::from(tuple.server.port()) << 16;
        match (tuple.client.ip(), tuple.server.ip()) {
            (IpAddr::V4(client), IpAddr::V4(server)) => {
                Message::V4 { addresses: u64::from(client.to_bits()) | u64::from(server.to_bits()) << 32, ports }
            }
            (client, server) => {
                let (client, server) = (v6_bits(client), v6_bits(server));
                let addresses = [client as u64, (client >> 64) as u64, server as u64, (server >> 64) as u64];
                Message::V6 { addresses, ports }
            }
        }
    }

    pub(super) fn is_v4(&self) -> bool {
        matches!(self, Message::V4 { .. })
    }

    /// Feeds the message to `hasher`: straight-line code per family, so that the hasher's buffer bookkeeping
    /// folds away.
    #[inline(always)]
    fn write(&self, hasher: &mut SipHasher13) {
        match *self {
            Message::V4 { addresses, ports } => {
                hasher.write_u64(addresses);
                hasher.write_u32(ports);
            }
            Message::V6 { addresses: [a, b, c, d], ports } => {
                hasher.write_u64(a);
                hasher.write_u64(b);
                hasher.write_u64(c);
                hasher.write_u64(d);
                hasher.write_u32(ports);
            }
        }
    }
}

fn v6_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// One cookie secret: the two SipHash keys. A hasher is built afresh from them for each hash rather than copied
/// from a stored one: the compiler then knows its buffer is empty, and the whole hash of a fixed number of words
/// folds into straight-line rounds (about twice as fast as `SipHasher13::hash` on a byte slice, measured).
#[derive(Clone)]
pub(super) struct Secret {
    h0: (u64, u64),
    h1: (u64, u64),
}

impl Secret {
    /// Bytes 0..16 key `H0`, bytes 16..32 key `H1`, each as two little-endian words (`SipHasher13::new_with_key`).
    pub(super) fn new(key: &[u8; 32]) -> Self {
        let word = |i: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&key[i * 8..i * 8 + 8]);
            u64::from_le_bytes(bytes)
        };
        Secret { h0: (word(0), word(1)), h1: (word(2), word(3)) }
    }

    /// `H0(tuple)`: all 64 bits of the SipHash output. The cookie adds the low 32; `H1` hashes all 64.
    #[inline(always)]
    pub(super) fn h0(&self, message: &Message) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.h0.0, self.h0.1);
        message.write(&mut hasher);
        hasher.finish()
    }

    /// `H1(tuple, counter)`, computed as SipHash under the second key of `H0(tuple)`'s 64 bits followed by the
    /// counter's low 32 (Linux hashes its 32-bit count). Linux hashes the tuple again instead; hashing its 64-bit
    /// digest is as good a keyed function of (tuple, counter) unless two tuples collide in `H0`, which nobody
    /// without the key can arrange or observe, and it costs 5 SipHash rounds instead of 6 (IPv4) or 9 (IPv6).
    #[inline(always)]
    pub(super) fn h1(&self, h0: u64, counter: u32) -> u32 {
        let mut hasher = SipHasher13::new_with_keys(self.h1.0, self.h1.1);
        hasher.write_u64(h0);
        hasher.write_u32(counter);
        hasher.finish() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_hash_as_their_little_endian_bytes() {
        // The layout the docs promise, checked against the byte-slice API of the same crate.
        let key: [u8; 32] = std::array::from_fn(|i| i as u8);
        let secret = Secret::new(&key);
        let tuple = Tuple { client: "192.0.2.10:40000".parse().unwrap(), server: "192.0.2.20:9999".parse().unwrap() };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&u32::from_be_bytes([192, 0, 2, 10]).to_le_bytes());
        bytes.extend_from_slice(&u32::from_be_bytes([192, 0, 2, 20]).to_le_bytes());
        bytes.extend_from_slice(&40000u16.to_le_bytes());
        bytes.extend_from_slice(&9999u16.to_le_bytes());
        let k0: &[u8; 16] = key[..16].try_into().unwrap();
        let k1: &[u8; 16] = key[16..].try_into().unwrap();
        let message = Message::new(&tuple);
        let h0 = SipHasher13::new_with_key(k0).hash(&bytes);
        assert_eq!(secret.h0(&message), h0);
        let mut h1_input = h0.to_le_bytes().to_vec();
        h1_input.extend_from_slice(&7u32.to_le_bytes());
        assert_eq!(secret.h1(h0, 7), SipHasher13::new_with_key(k1).hash(&h1_input) as u32);
    }
}
