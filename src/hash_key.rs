//! One hashing policy for every table whose keys an attacker chooses.
//!
//! A SYN flood picks its spoofed sources and ports freely, and a capture can hold anything. A table indexed by an
//! unkeyed hash, or by one whose key the attacker can learn or guess, lets a flood aim every entry at one bucket and
//! turn each O(1) lookup into an O(n) scan (hash flooding, "HashDoS"). So:
//!
//! - **Every table keyed by attacker-chosen data hashes with SipHash-1-3 under a 128-bit [`HashKey`]**: the tracker's
//!   flow table and flood detector (and the detector's distinct-source estimate), and the guard's half-open table,
//!   per-source rate limiter and proxy table. SipHash-1-3 is the keyed PRF std's `HashMap` uses for exactly this;
//!   hashbrown's default (foldhash) is faster but documents only "minimal" DoS resistance.
//! - **The key comes in from the edge.** The core never draws randomness (it is sans-IO, and a replay or a
//!   simulation with the same key behaves the same): `read` and `sniff` take a fresh key from the kernel
//!   ([`crate::os_random::os_random_hash_key`]), the guard derives its tables' keys from its cookie secret under a
//!   label each ([`HashKey::derive`]), and tests, fuzzing and the simulation use [`HashKey::from_seed`].
//! - **No `Default`.** A constructor that needs a key takes one, so no table can be built unkeyed by omission.
//!
//! `tests/hash_policy.rs` checks that it holds: every such table's constructor takes a `HashKey`, and different keys
//! order the same keys differently.

use std::hash::BuildHasher;

use siphasher::sip::SipHasher13;

/// A SipHash-1-3 key; also the `BuildHasher` of a table that hashes under it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HashKey {
    k0: u64,
    k1: u64,
}

impl HashKey {
    /// A key from 16 random bytes (what the edge reads from the kernel).
    pub const fn from_bytes(bytes: [u8; 16]) -> HashKey {
        let [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p] = bytes;
        HashKey { k0: u64::from_le_bytes([a, b, c, d, e, f, g, h]), k1: u64::from_le_bytes([i, j, k, l, m, n, o, p]) }
    }

    /// A key spread from a 64-bit seed with splitmix64, so small or sequential seeds still give unrelated keys: for
    /// tests, fuzzing and the deterministic simulation, never for a table facing real traffic.
    pub fn from_seed(seed: u64) -> HashKey {
        let mut state = seed;
        HashKey { k0: splitmix64(&mut state), k1: splitmix64(&mut state) }
    }

    /// A key for one purpose, derived from a longer secret: SipHash-1-3 of `label` under two halves of the secret,
    /// so each table's key is independent of the others and reveals nothing of the secret (the guard's cookie key,
    /// whose bytes must never serve directly as a table key).
    pub fn derive(secret: &[u8; 32], label: &str) -> HashKey {
        let half = |at: usize| HashKey::from_bytes(secret[at..at + 16].try_into().unwrap_or([0; 16]));
        HashKey { k0: half(0).hash_one(("k0", label)), k1: half(16).hash_one(("k1", label)) }
    }
}

impl BuildHasher for HashKey {
    type Hasher = SipHasher13;

    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// splitmix64 (Steele, Lea and Flood 2014): a counter-based generator whose output step is a well-mixed 64-bit
/// finaliser. Advances `state` and returns the next value.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_key_the_hash() {
        let tuple = ("192.0.2.1", 40000u16, "192.0.2.20", 9999u16);
        assert_eq!(HashKey::from_seed(7).hash_one(tuple), HashKey::from_seed(7).hash_one(tuple));
        assert_ne!(HashKey::from_seed(7).hash_one(tuple), HashKey::from_seed(8).hash_one(tuple));
        assert_ne!(HashKey::from_seed(0), HashKey::from_seed(1), "sequential seeds give unrelated keys");
    }

    #[test]
    fn derived_keys_differ_by_label_and_by_secret_and_are_not_the_secret() {
        let secret = [0x5a; 32];
        let flows = HashKey::derive(&secret, "half-open");
        assert_eq!(flows, HashKey::derive(&secret, "half-open"));
        assert_ne!(flows, HashKey::derive(&secret, "proxy"));
        assert_ne!(flows, HashKey::derive(&[0x5b; 32], "half-open"));
        let raw = HashKey::from_bytes(secret[..16].try_into().unwrap());
        assert_ne!(flows, raw, "a table's key is never the secret's own bytes");
    }

    #[test]
    fn splitmix64_matches_its_reference_sequence() {
        // The first outputs for seed 0, as the algorithm's reference implementation gives them.
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut state), 0x6e78_9e6a_a1b9_65f4);
    }
}
