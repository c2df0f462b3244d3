//! The time column, as tcpdump 4.99's `ts_print` (util-print.c) writes it for each `-t` count.
//!
//! tcpdump holds a stamp as seconds and a fraction in the unit it prints (microseconds, or nanoseconds under
//! `--nano`; libpcap scales a file's stamps to that unit, truncating when it scales down). Deltas (`-ttt`, `-ttttt`)
//! subtract those truncated stamps, are printed after a sign column (` ` or `-` when the packet is older than the
//! reference) and through gmtime, so their hours wrap at 24. Seconds with the top bit of 32 set print as
//! `[Error converting time]`, as tcpdump's check of `(unsigned)sec & 0x80000000` does; and since libpcap reads a
//! pcap record's seconds as a signed 32-bit number, a stamp past 2038 is before 1970 to a delta (`-ttt` prints
//! `-[Error converting time]` for it).

use std::fmt::Write as _;

use super::fast::push_padded;
use crate::capture::RawStamp;
use crate::time::{Timestamp, utc_civil};

/// How the time column is shown, after tcpdump's `-t` family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeFormat {
    /// `HH:MM:SS.ffffff` (UTC; tcpdump uses local time, but UTC keeps captures and CI output comparable).
    #[default]
    TimeOfDay,
    /// `-t`: no time.
    None,
    /// `-tt`: seconds since the epoch.
    Epoch,
    /// `-ttt`: delta since the previous printed packet.
    Delta,
    /// `-tttt`: date and time of day.
    DateTime,
    /// `-ttttt`: since the first printed packet.
    SinceFirst,
}

impl TimeFormat {
    /// Maps the number of `-t` flags, as tcpdump counts them.
    pub fn from_t_count(count: u8) -> TimeFormat {
        match count {
            0 => TimeFormat::TimeOfDay,
            1 => TimeFormat::None,
            2 => TimeFormat::Epoch,
            3 => TimeFormat::Delta,
            4 => TimeFormat::DateTime,
            _ => TimeFormat::SinceFirst,
        }
    }
}

/// Writes the time column of successive packets; remembers the first and the previous stamp for the deltas.
#[derive(Debug, Default)]
pub struct TimeColumn {
    format: TimeFormat,
    nano: bool,
    first: Option<TimeVal>,
    previous: Option<TimeVal>,
    /// The time of day (and date under `-tttt`) of the second in `clock_of`, with the fraction's `.`: packets come
    /// many to a second, so the civil-time conversion and its six zero-padded fields run once a second instead of
    /// once a packet (330 instr/pkt for the column before, measured with callgrind on a `gen bench` file).
    clock: String,
    clock_of: Option<i64>,
}

/// A stamp as tcpdump holds it when it prints: libpcap's `struct timeval` at the printing precision. The seconds
/// are a pcap record's signed 32-bit field (`struct pcap_timeval`'s `bpf_int32`), so a stamp past 2038 is negative;
/// the fraction is in printed units (µs, or ns under `--nano`) and is whatever the record held, scaled: a damaged
/// record can leave it at a second or more, or negative, and tcpdump prints it anyway (`%06u` of the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TimeVal {
    secs: i64,
    frac: i64,
}

impl TimeVal {
    /// netdissect_timevalcmp(self, other, <): seconds first, then the fraction, each as it is.
    fn before(self, other: TimeVal) -> bool {
        (self.secs, self.frac) < (other.secs, other.frac)
    }

    /// netdissect_timevalsub: one borrow of a second when the fraction goes negative, and no more, so an
    /// out-of-range fraction stays out of range in the difference.
    fn minus(self, other: TimeVal, per_second: i64) -> TimeVal {
        let (mut secs, mut frac) = (self.secs - other.secs, self.frac - other.frac);
        if frac < 0 {
            secs -= 1;
            frac += per_second;
        }
        TimeVal { secs, frac }
    }
}

const ERROR: &str = "[Error converting time]";

impl TimeColumn {
    pub fn new(format: TimeFormat, nano: bool) -> Self {
        TimeColumn { format, nano, first: None, previous: None, clock: String::new(), clock_of: None }
    }

    /// Units per second in the printed fraction.
    fn per_second(&self) -> u64 {
        if self.nano { 1_000_000_000 } else { 1_000_000 }
    }

    /// The stamp as tcpdump would hold it. From a valid stamp: truncated to the printed unit as libpcap truncates
    /// nanoseconds read at microsecond precision. From a record's raw fields (kept only when its fraction is out of
    /// range): both read as signed 32-bit numbers, the fraction scaled as libpcap scales it between a file's
    /// precision and the printed one (x1000, or /1000 rounding toward zero, as C divides).
    fn timeval(&self, ts: Timestamp, raw: Option<RawStamp>) -> TimeVal {
        match raw {
            None => {
                let per_second = self.per_second();
                let units = if self.nano { ts.as_nanos() } else { ts.as_nanos() / 1_000 };
                TimeVal { secs: i64::from((units / per_second) as u32 as i32), frac: (units % per_second) as i64 }
            }
            Some(raw) => {
                let frac = i64::from(raw.fraction as i32);
                let frac = match (raw.nanos, self.nano) {
                    (true, false) => frac / 1_000,
                    (false, true) => frac * 1_000,
                    _ => frac,
                };
                TimeVal { secs: i64::from(raw.secs as i32), frac }
            }
        }
    }

    /// Appends the column for a packet at `ts`, with its trailing space (nothing under `-t`).
    pub fn write(&mut self, line: &mut String, ts: Timestamp) {
        self.write_raw(line, ts, None);
    }

    /// As [`Self::write`], for a frame whose record's own stamp fields were kept ([`Frame::raw_stamp`]): those are
    /// printed, as tcpdump prints them.
    ///
    /// [`Frame::raw_stamp`]: crate::capture::Frame::raw_stamp
    pub fn write_raw(&mut self, line: &mut String, ts: Timestamp, raw: Option<RawStamp>) {
        let now = self.timeval(ts, raw);
        let first = *self.first.get_or_insert(now);
        let previous = self.previous.replace(now).unwrap_or(now);
        match self.format {
            TimeFormat::None => return,
            TimeFormat::TimeOfDay | TimeFormat::DateTime => {
                if too_late(now.secs) {
                    line.push_str(ERROR);
                } else {
                    if self.clock_of != Some(now.secs) {
                        // A valid stamp's own seconds (a pcapng stamp may pass 2^32 s); a raw record's as read.
                        let civil = if raw.is_some() { Timestamp::from_secs_nanos(now.secs as u64, 0) } else { ts };
                        self.set_clock(now.secs, civil);
                    }
                    line.push_str(&self.clock);
                    self.digits(line, now.frac);
                }
            }
            TimeFormat::Epoch => {
                if too_late(now.secs) {
                    line.push_str(ERROR);
                } else {
                    let _ = write!(line, "{}", now.secs);
                    line.push('.');
                    self.digits(line, now.frac);
                }
            }
            TimeFormat::Delta | TimeFormat::SinceFirst => {
                let base = if self.format == TimeFormat::Delta { previous } else { first };
                let negative = now.before(base);
                let per_second = self.per_second() as i64;
                let delta = if negative { base.minus(now, per_second) } else { now.minus(base, per_second) };
                line.push(if negative { '-' } else { ' ' });
                if too_late(delta.secs) {
                    line.push_str(ERROR);
                } else {
                    // gmtime of the delta: hours of the day, the days dropped.
                    let secs = delta.secs as u64;
                    clock(line, (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
                    line.push('.');
                    self.digits(line, delta.frac);
                }
            }
        }
        line.push(' ');
    }

    /// Remembers the date and time of day of `ts`, whose second is `secs`, up to the fraction's `.`.
    fn set_clock(&mut self, secs: i64, ts: Timestamp) {
        let (y, mo, d, h, mi, s) = utc_civil(ts);
        self.clock.clear();
        if self.format == TimeFormat::DateTime {
            let _ = write!(self.clock, "{y:04}-{mo:02}-{d:02} ");
        }
        clock(&mut self.clock, u64::from(h), u64::from(mi), u64::from(s));
        self.clock.push('.');
        self.clock_of = Some(secs);
    }

    /// The fraction's digits as tcpdump's `%06u` (`%09u` under `--nano`) prints them: of the value as an unsigned
    /// 32-bit number, zero-padded to the width and never cut, so 1500000 µs prints `1500000`.
    fn digits(&self, line: &mut String, frac: i64) {
        push_padded(line, u64::from(frac as u32), if self.nano { 9 } else { 6 });
    }
}

/// tcpdump refuses seconds whose 32-bit value has the top bit set (past 2038-01-19, or a huge delta).
fn too_late(secs: i64) -> bool {
    (secs as u32) & 0x8000_0000 != 0
}

fn clock(line: &mut String, h: u64, m: u64, s: u64) {
    push_padded(line, h, 2);
    line.push(':');
    push_padded(line, m, 2);
    line.push(':');
    push_padded(line, s, 2);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(format: TimeFormat, nano: bool, stamps: &[u64]) -> Vec<String> {
        let mut col = TimeColumn::new(format, nano);
        stamps
            .iter()
            .map(|&ns| {
                let mut line = String::new();
                col.write(&mut line, Timestamp::from_nanos(ns));
                line
            })
            .collect()
    }

    const T0: u64 = 1_700_000_000_000_000_000;

    #[test]
    fn deltas_have_a_sign_column_and_go_negative() {
        let lines = column(TimeFormat::Delta, false, &[T0, T0 + 2_500_000, T0 + 1_000_000]);
        assert_eq!(lines, [" 00:00:00.000000 ", " 00:00:00.002500 ", "-00:00:00.001500 "]);
        let lines = column(TimeFormat::SinceFirst, false, &[T0 + 5_000, T0, T0 + 90_061_000_000_000]);
        assert_eq!(lines, [" 00:00:00.000000 ", "-00:00:00.000005 ", " 01:01:00.999995 "]);
    }

    #[test]
    fn microsecond_deltas_subtract_truncated_stamps() {
        // 0.000000999 then 0.000001001: 0 and 1 µs once truncated, so the delta is 1 µs (not 0).
        let lines = column(TimeFormat::Delta, false, &[T0 + 999, T0 + 1_001]);
        assert_eq!(lines[1], " 00:00:00.000001 ");
        let lines = column(TimeFormat::Delta, true, &[T0 + 999, T0 + 1_001]);
        assert_eq!(lines[1], " 00:00:00.000000002 ");
    }

    #[test]
    fn the_clock_follows_each_new_second() {
        let stamps = [T0, T0 + 999_999_999, T0 + 1_000_000_000, T0 + 86_400_000_000_000, T0 + 5];
        let lines = column(TimeFormat::TimeOfDay, false, &stamps);
        assert_eq!(
            lines,
            ["22:13:20.000000 ", "22:13:20.999999 ", "22:13:21.000000 ", "22:13:20.000000 ", "22:13:20.000000 "]
        );
        let lines = column(TimeFormat::DateTime, true, &stamps);
        assert_eq!(
            lines,
            [
                "2023-11-14 22:13:20.000000000 ",
                "2023-11-14 22:13:20.999999999 ",
                "2023-11-14 22:13:21.000000000 ",
                "2023-11-15 22:13:20.000000000 ",
                "2023-11-14 22:13:20.000000005 ",
            ]
        );
    }

    #[test]
    fn seconds_past_2038_are_an_error_as_in_tcpdump() {
        let late = (1u64 << 31) * 1_000_000_000;
        assert_eq!(column(TimeFormat::Epoch, false, &[late]), ["[Error converting time] "]);
        assert_eq!(column(TimeFormat::TimeOfDay, false, &[late]), ["[Error converting time] "]);
        assert_eq!(column(TimeFormat::Epoch, false, &[late - 1_000]), ["2147483647.999999 "]);
        // To a delta, 2^31 s is -2^31 s: far before the first packet.
        assert_eq!(
            column(TimeFormat::SinceFirst, false, &[T0, late]),
            [" 00:00:00.000000 ", "-[Error converting time] "]
        );
    }
}
