//! Time as the packets tell it. Every layer takes timestamps from frames (the kernel's when live, the record's when
//! read from a file); nothing in the core reads a clock. Nanoseconds since the Unix epoch fit a `u64` until 2554.

use std::fmt;

/// A point in packet time: nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// A span of packet time in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Timestamp {
    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    /// Builds a timestamp from whole seconds and a nanosecond fraction, saturating rather than overflowing.
    pub fn from_secs_nanos(secs: u64, nanos: u32) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(u64::from(nanos)))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub const fn secs(self) -> u64 {
        self.0 / 1_000_000_000
    }

    pub const fn subsec_nanos(self) -> u32 {
        (self.0 % 1_000_000_000) as u32
    }

    /// Time elapsed since `earlier`; zero when packets arrive out of order.
    pub fn saturating_since(self, earlier: Timestamp) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    pub fn saturating_sub(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_sub(d.as_nanos()))
    }

    pub fn saturating_add(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.0))
    }
}

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        Duration(nanos)
    }

    pub const fn from_micros(micros: u64) -> Self {
        Duration(micros * 1_000)
    }

    pub const fn from_millis(millis: u64) -> Self {
        Duration(millis * 1_000_000)
    }

    pub const fn from_secs(secs: u64) -> Self {
        Duration(secs * 1_000_000_000)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl serde::Serialize for Duration {
    /// Seconds as a number, the unit Zeek's intervals and JSON consumers expect.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_secs_f64())
    }
}

impl fmt::Display for Timestamp {
    /// Epoch seconds with nine decimals, as tshark's `frame.time_epoch` prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs(), self.subsec_nanos())
    }
}

impl fmt::Display for Duration {
    /// Seconds with microsecond precision, the precision a reader of a capture usually wants.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.0 / 1_000_000_000, (self.0 % 1_000_000_000) / 1_000)
    }
}

/// Civil date and time of day in UTC for a timestamp (Howard Hinnant's days-from-civil inverse).
pub fn utc_civil(ts: Timestamp) -> (i64, u32, u32, u32, u32, u32) {
    let secs = ts.secs() as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, sod / 3600, (sod / 60) % 60, sod % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_match_known_instants() {
        assert_eq!(utc_civil(Timestamp::from_secs_nanos(0, 0)), (1970, 1, 1, 0, 0, 0));
        // 2000-02-29T12:34:56Z, a leap day in a century leap year.
        assert_eq!(utc_civil(Timestamp::from_secs_nanos(951_827_696, 0)), (2000, 2, 29, 12, 34, 56));
        assert_eq!(utc_civil(Timestamp::from_secs_nanos(1_700_000_000, 5)), (2023, 11, 14, 22, 13, 20));
    }

    #[test]
    fn display_keeps_every_nanosecond() {
        assert_eq!(Timestamp::from_secs_nanos(12, 3).to_string(), "12.000000003");
        assert_eq!(Duration::from_micros(1_500_250).to_string(), "1.500250");
    }

    #[test]
    fn since_saturates_on_reordered_packets() {
        let a = Timestamp::from_nanos(10);
        let b = Timestamp::from_nanos(4);
        assert_eq!(b.saturating_since(a), Duration::ZERO);
        assert_eq!(a.saturating_since(b).as_nanos(), 6);
    }
}
