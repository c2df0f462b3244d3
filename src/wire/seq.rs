//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4, serial-number arithmetic of RFC 1982).
//! `a < b` means "b is ahead of a by less than 2^31".

use std::cmp::Ordering;
use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    pub fn plus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    pub fn minus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }

    /// How far `self` is ahead of `earlier` (negative when behind).
    pub fn diff(self, earlier: SeqNumber) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// The bytes from `start` up to `self`, counted forward modulo 2^32: the width of a range `[start, self)` even
    /// when it is 2^31 or more wide (where `diff` would turn negative).
    pub fn since(self, start: SeqNumber) -> u32 {
        self.0.wrapping_sub(start.0)
    }

    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if other > self { other } else { self }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SeqNumber {
    /// Not a total order over all of u32 (no wrapping comparison is), but consistent for numbers within 2^31 of each
    /// other, which is all a live connection ever compares.
    fn cmp(&self, other: &Self) -> Ordering {
        self.diff(*other).cmp(&0)
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap_around_zero() {
        let near_top = SeqNumber(u32::MAX - 5);
        let wrapped = near_top.plus(10);
        assert_eq!(wrapped, SeqNumber(4));
        assert!(wrapped > near_top);
        assert_eq!(wrapped.diff(near_top), 10);
        assert_eq!(near_top.diff(wrapped), -10);
        assert_eq!(near_top.max(wrapped), wrapped);
    }
}
