//! The client's SYN options, carried in the low 6 bits of the SYN-ACK's TSval and read back from the ACK's TSecr,
//! as Linux's `cookie_init_timestamp` and `cookie_timestamp_decode` do (net/ipv4/syncookies.c):
//!
//! ```text
//!  31 ............ 6 |  5  |  4   | 3 2 1 0
//!  ms clock          | ECN | SACK | wscale (0xF: none)
//! ```
//!
//! Only a client that sent the timestamps option (RFC 7323 §3.2) echoes our TSval, so only such a client gets its
//! window scale, SACK and ECN back; the others get none of them, as in Linux.

use crate::time::Timestamp;
use crate::wire::tcp_options::MAX_WINDOW_SCALE as MAX_WSCALE;

/// Linux `TSBITS`: how many low bits of the TSval hold options.
const TS_BITS: u32 = 6;
const TS_MASK: u32 = (1 << TS_BITS) - 1;
/// Linux `TS_OPT_WSCALE_MASK`; the all-ones value means "no window scaling".
const WSCALE_MASK: u32 = 0xF;
const SACK: u32 = 1 << 4;
const ECN: u32 = 1 << 5;
/// How far a TSval we send may lag the clock it was made from: up to 63 ms from clearing the option bits, and 64 ms
/// more when the options pushed it past the clock and it was moved back one step.
const MAX_LAG_MS: u64 = 2 * (1 << TS_BITS) - 1;

/// Our timestamp clock: milliseconds of packet time since the Unix epoch, mod 2^32. RFC 7323 §5.4 asks for a tick
/// between 1 ms and 1 s; Linux ticks in milliseconds too (`tcp_clock_ms`), though counted from boot.
pub(super) fn clock_ms(now: Timestamp) -> u32 {
    ms(now.as_nanos()) as u32
}

fn ms(nanos: u64) -> u64 {
    nanos / 1_000_000
}

/// Our TSval: the clock with its low 6 bits replaced by the options. Like Linux, the result is moved back one
/// 64 ms step when the options would put it ahead of the clock, so later TSvals never run backwards.
pub(super) fn encode(clock: u32, wscale: Option<u8>, sack_permitted: bool, ecn: bool) -> u32 {
    let mut options = wscale.map_or(WSCALE_MASK, |shift| u32::from(shift.min(MAX_WSCALE)));
    if sack_permitted {
        options |= SACK;
    }
    if ecn {
        options |= ECN;
    }
    let ts = (clock & !TS_MASK) | options;
    if ts > clock { ts.wrapping_sub(1 << TS_BITS) } else { ts }
}

/// The options an echoed TSval carries: (window scale, SACK permitted, ECN).
///
/// Linux also rejects a decoded shift above `TCP_MAX_WSCALE`; with a 4-bit field whose only value above 14 means
/// "none", that test can never fire, so there is none here.
pub(super) fn decode(tsecr: u32) -> (Option<u8>, bool, bool) {
    let shift = tsecr & WSCALE_MASK;
    let wscale = (shift != WSCALE_MASK).then_some(shift as u8);
    (wscale, tsecr & SACK != 0, tsecr & ECN != 0)
}

/// Whether `tsecr` could echo a TSval we sent between the start of packet time `from_ns` and the end of `until_ns`
/// (inclusive), comparing mod 2^32 as RFC 7323 §5.2 does. A window wider than the clock's wrap accepts anything.
pub(super) fn within(tsecr: u32, from_ns: u64, until_ns: u64) -> bool {
    let start = ms(from_ns).wrapping_sub(MAX_LAG_MS);
    let span = ms(until_ns).wrapping_sub(start);
    span > u64::from(u32::MAX) || u64::from(tsecr.wrapping_sub(start as u32)) <= span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_sit_in_the_low_six_bits_and_never_pass_the_clock() {
        for clock in [0u32, 5, 63, 64, 1_000_000, 1_000_063, u32::MAX] {
            for wscale in [None, Some(0), Some(7), Some(14)] {
                for (sack, ecn) in [(false, false), (true, false), (false, true), (true, true)] {
                    let ts = encode(clock, wscale, sack, ecn);
                    assert_eq!(decode(ts), (wscale, sack, ecn), "clock {clock}");
                    let lag = clock.wrapping_sub(ts);
                    assert!(u64::from(lag) <= MAX_LAG_MS, "clock {clock} ts {ts}");
                }
            }
        }
    }

    #[test]
    fn shifts_above_14_are_sent_as_14() {
        assert_eq!(decode(encode(1 << 20, Some(15), false, false)).0, Some(14));
        assert_eq!(decode(encode(1 << 20, Some(255), false, false)).0, Some(14));
    }

    #[test]
    fn the_window_compares_across_the_clock_wrap() {
        let wrap_ns = (1u64 << 32) * 1_000_000;
        // A window straddling the 2^32 ms wrap accepts values on both sides of it.
        assert!(within(u32::MAX, wrap_ns - 5_000_000, wrap_ns + 5_000_000));
        assert!(within(3, wrap_ns - 5_000_000, wrap_ns + 5_000_000));
        assert!(!within(10, wrap_ns - 5_000_000, wrap_ns + 5_000_000));
        assert!(!within(u32::MAX - 200, wrap_ns - 5_000_000, wrap_ns + 5_000_000));
        // The lag allowance reaches 127 ms before the window opens.
        assert!(within(1_000 - 127, 1_000_000_000, 2_000_000_000));
        assert!(!within(1_000 - 128, 1_000_000_000, 2_000_000_000));
    }
}
