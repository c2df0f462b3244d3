//! Seeded randomness for the simulation. The stream is the project's own xorshift64* ([`XorShift`]), so a seed
//! means the same trial on every machine and every version of our dependencies. Each component of a trial draws
//! from its own stream, derived from the trial's seed, so the attacker's SYNs are the same whichever defence they
//! meet, and a defence that draws more numbers does not shift the attacker's.

use crate::rng::XorShift;

/// SplitMix64's finaliser (Steele, Lea and Flood 2014): spreads related seeds (1, 2, 3...) over the whole space.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_add(0x9E37_79B9_7F4A_7C15).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a name, to fold scenario names into seeds.
pub fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3))
}

#[derive(Clone, Debug)]
pub struct Rng(XorShift);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(XorShift::new(mix(seed, 0)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    pub fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// Uniform in (0, 1]: 53 random bits, never zero, so its logarithm is finite.
    pub fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// An exponential wait with the given mean, in nanoseconds: the gap between arrivals of a Poisson process.
    pub fn exponential_ns(&mut self, mean_ns: f64) -> u64 {
        (-self.unit().ln() * mean_ns).round() as u64
    }

    /// 32 bytes for a key (the guard's cookie secret and table hashers, the listener's cookie secret).
    pub fn key(&mut self) -> [u8; 32] {
        let mut key = [0u8; 32];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_related_seeds_diverge() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let c: Vec<u64> = (0..4)
            .map({
                let mut r = Rng::new(8);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(mix(1, 2), mix(2, 1));
    }

    #[test]
    fn exponential_waits_average_their_mean() {
        let mut r = Rng::new(1);
        let n = 100_000;
        let total: u64 = (0..n).map(|_| r.exponential_ns(1_000.0)).sum();
        let mean = total as f64 / n as f64;
        assert!((mean - 1_000.0).abs() < 20.0, "{mean}");
        assert!((0..1000).all(|_| r.unit() > 0.0));
    }
}
