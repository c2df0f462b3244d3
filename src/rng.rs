//! A tiny deterministic PRNG (xorshift64*, Vigna 2016), the project's one generator for seeded streams: the bundled
//! and benchmark captures (`synth`), the flood's spoofed fields (`flood`), netem's faults (`impair`), the lab's
//! simulation (`lab::sim`), tests and benchmarks. Their output must be the same on every run and every version of
//! our dependencies (generated captures byte for byte), so we do not borrow a generator whose stream may change
//! between releases. Not for secrets: keys come from [`crate::os_random`].

#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    pub fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// A value in `low..=high`.
    pub fn range(&mut self, low: u32, high: u32) -> u32 {
        low + (self.next_u64() % u64::from(high - low + 1)) as u32
    }
}
