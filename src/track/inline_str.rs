//! A short string stored inline: a connection record's uid and history, written for every connection a flood
//! ends, without two heap allocations each.

use std::fmt;
use std::ops::Deref;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct InlineStr<const N: usize> {
    len: u8,
    bytes: [u8; N],
}

impl<const N: usize> InlineStr<N> {
    /// Copies `s`, cut at the last character boundary that fits.
    pub fn new(s: &str) -> Self {
        let mut end = s.len().min(N).min(u8::MAX as usize);
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; N];
        bytes[..end].copy_from_slice(&s.as_bytes()[..end]);
        InlineStr { len: end as u8, bytes }
    }

    /// Copies ASCII `bytes`, cut at `N`: every ASCII byte is a whole character, so no UTF-8 validation is needed.
    /// A connection record's history goes through here: `new(history.as_str())` validated the letters as UTF-8
    /// first, about 115 instructions per connection, 6 per packet of `read -q` (callgrind, 100k bench file).
    /// Bytes that are not all ASCII give the empty string, as `as_str` would on invalid UTF-8.
    pub fn from_ascii(bytes: &[u8]) -> Self {
        if !bytes.is_ascii() {
            return Self::default();
        }
        let end = bytes.len().min(N).min(u8::MAX as usize);
        let mut out = [0u8; N];
        out[..end].copy_from_slice(&bytes[..end]);
        InlineStr { len: end as u8, bytes: out }
    }

    pub fn as_str(&self) -> &str {
        // Only whole UTF-8 characters are ever copied in (see `new`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl<const N: usize> Default for InlineStr<N> {
    fn default() -> Self {
        InlineStr { len: 0, bytes: [0; N] }
    }
}

impl<const N: usize> Deref for InlineStr<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> From<&str> for InlineStr<N> {
    fn from(s: &str) -> Self {
        InlineStr::new(s)
    }
}

impl<const N: usize> PartialEq<&str> for InlineStr<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<const N: usize> fmt::Display for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> serde::Serialize for InlineStr<N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_ascii_equals_new_on_ascii_and_refuses_anything_else() {
        for s in ["", "ShAd", "ShAdF", "^dD"] {
            assert_eq!(InlineStr::<4>::from_ascii(s.as_bytes()), InlineStr::<4>::new(s));
        }
        assert!(InlineStr::<4>::from_ascii("a€".as_bytes()).is_empty());
    }

    #[test]
    fn keeps_what_fits_and_cuts_on_a_character_boundary() {
        let s: InlineStr<4> = "ShAd".into();
        assert_eq!(s, "ShAd");
        let cut: InlineStr<4> = "ShAdF".into();
        assert_eq!(cut.as_str(), "ShAd");
        let wide: InlineStr<4> = "ab€".into();
        assert_eq!(wide.as_str(), "ab", "the euro sign's three bytes do not fit in the two left");
        assert!(InlineStr::<4>::default().is_empty());
        assert_eq!(format!("{s} {s:?}"), "ShAd \"ShAd\"");
    }
}
