//! The token bucket that paces `--rate`: tokens accrue at the rate, each SYN spends one, and a bucket holds at
//! most a few milliseconds' worth. Pure: it is told the time (nanoseconds since the flood started) and never reads
//! a clock, so its arithmetic is tested to the token.
//!
//! Credit is kept in token-nanoseconds (one token is `1e9` of them, and each nanosecond adds `rate`), so no
//! rounding accumulates: after T seconds exactly ⌊rate × T⌋ tokens have accrued, whatever the call pattern. The
//! cap lets a sender that overslept catch up by a burst (so the average holds) without letting an idle spell
//! turn into an unbounded burst later.

const NANOS: u128 = 1_000_000_000;
/// How much time the bucket may hold: long enough to cover a coarse `sleep`, short enough to keep bursts small.
const HOLD_NANOS: u128 = 5_000_000;

#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: u128,
    /// Credit in token-nanoseconds.
    credit: u128,
    cap: u128,
    last: u64,
}

impl TokenBucket {
    /// A bucket filling at `rate` tokens per second (at least 1), holding one token at time 0 so the first SYN
    /// leaves at once.
    pub fn new(rate: u64) -> TokenBucket {
        let rate = u128::from(rate.max(1));
        // At least two tokens, however slow the rate: with one, the fraction accrued beyond a whole token would be
        // cut off whenever a look comes late, and slow rates would run slow.
        let cap = (rate * HOLD_NANOS).max(2 * NANOS);
        TokenBucket { rate, credit: NANOS, cap, last: 0 }
    }

    fn refill(&mut self, now: u64) {
        let elapsed = u128::from(now.saturating_sub(self.last));
        self.last = self.last.max(now);
        self.credit = (self.credit + elapsed * self.rate).min(self.cap);
    }

    /// Takes up to `want` tokens at time `now` and returns how many were taken.
    pub fn take(&mut self, now: u64, want: u64) -> u64 {
        self.refill(now);
        let taken = (self.credit / NANOS).min(u128::from(want));
        self.credit -= taken * NANOS;
        taken as u64
    }

    /// Gives back `tokens` taken but not spent (the sender had no room for them), within the cap.
    pub fn refund(&mut self, tokens: u64) {
        self.credit = (self.credit + u128::from(tokens) * NANOS).min(self.cap);
    }

    /// Nanoseconds from `now` until the next token is there (0 when one is).
    pub fn wait(&self, now: u64) -> u64 {
        let elapsed = u128::from(now.saturating_sub(self.last));
        let credit = self.credit + elapsed * self.rate;
        if credit >= NANOS { 0 } else { ((NANOS - credit).div_ceil(self.rate)) as u64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn the_first_token_is_there_at_once_then_they_come_at_the_rate() {
        let mut bucket = TokenBucket::new(1000);
        assert_eq!(bucket.take(0, 10), 1);
        assert_eq!(bucket.take(0, 10), 0);
        assert_eq!(bucket.wait(0), MS);
        assert_eq!(bucket.wait(MS / 2), MS / 2);
        assert_eq!(bucket.take(MS - 1, 10), 0);
        assert_eq!(bucket.take(MS, 10), 1);
    }

    #[test]
    fn no_tokens_are_lost_to_rounding_over_many_small_steps() {
        // 3 tokens per second, looked at every 7 ms for 10 s: 1 at the start plus exactly 30.
        let mut bucket = TokenBucket::new(3);
        let mut total = 0;
        let mut now = 0;
        while now <= 10_000 * MS {
            total += bucket.take(now, u64::MAX);
            now += 7 * MS;
        }
        assert_eq!(total, 1 + 29, "9.996 s of accrual at 3/s");
        assert_eq!(bucket.take(10_000 * MS, u64::MAX), 1);
    }

    #[test]
    fn a_late_sender_catches_up_within_the_cap_only() {
        let mut bucket = TokenBucket::new(100_000);
        assert_eq!(bucket.take(0, u64::MAX), 1);
        // 2 ms late: 200 tokens owed, all given (the cap is 5 ms).
        assert_eq!(bucket.take(2 * MS, u64::MAX), 200);
        // A second idle: only the cap's 500.
        assert_eq!(bucket.take(1002 * MS, u64::MAX), 500);
        // The batch limit is respected and the rest kept.
        assert_eq!(bucket.take(1010 * MS, 256), 256);
        assert_eq!(bucket.take(1010 * MS, u64::MAX), 500 - 256);
        bucket.refund(44);
        assert_eq!(bucket.take(1010 * MS, u64::MAX), 44);
    }

    #[test]
    fn slow_rates_hold_two_tokens_and_time_never_goes_back() {
        let mut bucket = TokenBucket::new(1);
        assert_eq!(bucket.take(0, 5), 1);
        assert_eq!(bucket.take(5_000 * MS, 5), 2);
        assert_eq!(bucket.take(1_000 * MS, 5), 0);
        assert_eq!(bucket.wait(1_000 * MS), 1_000 * MS);
        assert_eq!(TokenBucket::new(0).wait(0), 0);
    }
}
