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

    /// SipHash-1-3 of `bytes` under this key: the same value as `hash_one` of a value whose `Hash` impl makes one
    /// `write(bytes)` (checked against siphasher in the tests below), for a message whose length is known at
    /// compile time. siphasher's streaming `write` buffers each call's bytes through a tail and loads them a byte
    /// range at a time; with the length a constant the message is read as whole little-endian words and the rounds
    /// run straight through: the flow table's 13-byte key went from about 170 instructions (`hash_one` and `write`) to
    /// about 115 (callgrind), most of them the five SipHash rounds themselves.
    #[inline]
    pub fn hash_bytes<const N: usize>(&self, bytes: &[u8; N]) -> u64 {
        let mut state = SipState::new(self.k0, self.k1);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            state.compress(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])));
        }
        // The last block: the bytes left over, then the length's low byte in the top byte (SipHash §2).
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        state.compress(u64::from_le_bytes(last) | ((N as u64) << 56));
        state.finish()
    }
}

/// SipHash's four state words (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012), run with one
/// compression round per block and three finalisation rounds: SipHash-1-3, as siphasher's `SipHasher13` and std's
/// `HashMap` run it.
struct SipState {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
}

impl SipState {
    #[inline(always)]
    fn new(k0: u64, k1: u64) -> SipState {
        SipState {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            v1: k1 ^ 0x646f_7261_6e64_6f6d,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
        }
    }

    #[inline(always)]
    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    #[inline(always)]
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.v0 ^= m;
    }

    #[inline(always)]
    fn finish(mut self) -> u64 {
        self.v2 ^= 0xff;
        self.round();
        self.round();
        self.round();
        self.v0 ^ self.v1 ^ self.v2 ^ self.v3
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

    /// One `write` of the bytes, as `FlowKey`'s and `Endpoint`'s `Hash` impls make.
    struct OneWrite<'a>(&'a [u8]);

    impl std::hash::Hash for OneWrite<'_> {
        fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
            state.write(self.0);
        }
    }

    fn check_against_siphasher<const N: usize>(key: HashKey, state: &mut u64) {
        let mut bytes = [0u8; N];
        for chunk in bytes.chunks_mut(8) {
            let word = splitmix64(state).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        assert_eq!(key.hash_bytes(&bytes), key.hash_one(OneWrite(&bytes)), "{N} bytes {bytes:?} under {key:?}");
    }

    #[test]
    fn hash_bytes_is_siphasher_s_siphash_1_3() {
        let mut state = 1;
        for seed in 0..2_000 {
            let key = HashKey::from_seed(seed);
            check_against_siphasher::<0>(key, &mut state);
            check_against_siphasher::<1>(key, &mut state);
            check_against_siphasher::<7>(key, &mut state);
            check_against_siphasher::<8>(key, &mut state);
            check_against_siphasher::<13>(key, &mut state);
            check_against_siphasher::<16>(key, &mut state);
            check_against_siphasher::<18>(key, &mut state);
            check_against_siphasher::<37>(key, &mut state);
        }
    }

    #[test]
    fn splitmix64_matches_its_reference_sequence() {
        // The first outputs for seed 0, as the algorithm's reference implementation gives them.
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xe220_a839_7b1d_cdaf);
        assert_eq!(splitmix64(&mut state), 0x6e78_9e6a_a1b9_65f4);
    }
}
