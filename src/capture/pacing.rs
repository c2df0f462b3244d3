//! When each replayed frame is due, as an offset from the start of the replay. Pure: it is fed the frames'
//! timestamps and never reads a clock (DESIGN.md principle 2), so the sender keeps the one clock and the schedule is
//! testable to the nanosecond.
//!
//! Offsets are absolute, not gaps to sleep: a sender that falls behind (a slow `send`, a coarse sleep) catches up by
//! sending the late frames at once, so the average rate stays right instead of drifting.

use crate::time::{Duration, Timestamp};

/// How frames are spaced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pace {
    /// The recorded gaps divided by `speed`: 1.0 is real time, 2.0 twice as fast. The caller checks that `speed` is
    /// finite and above zero; anything else saturates rather than panics.
    Original { speed: f64 },
    /// A fixed rate in frames per second, whatever the timestamps say.
    Pps(u64),
    /// Every frame due at once: the sender's speed is the limit.
    TopSpeed,
}

/// The schedule of one replay, across all its loops.
#[derive(Clone, Debug)]
pub struct Pacer {
    pace: Pace,
    /// Frames scheduled so far, over all loops.
    frames: u64,
    /// Recorded time so far, over all loops: the sum of the forward gaps between consecutive frames, in nanoseconds.
    recorded: u64,
    /// The previous frame's timestamp in this loop; `None` at the start of each loop.
    prev: Option<Timestamp>,
}

impl Pacer {
    pub fn new(pace: Pace) -> Pacer {
        Pacer { pace, frames: 0, recorded: 0, prev: None }
    }

    /// The offset from the start of the replay at which the frame stamped `ts` is due. Call it once per frame, in
    /// file order.
    ///
    /// A timestamp earlier than the previous one (merged captures, a clock stepped back) adds no time: the frame is
    /// due with its predecessor, and the frames after it keep their recorded spacing from it. Measuring from the first
    /// frame instead would send everything after a step back at once until the clock caught up.
    pub fn next_due(&mut self, ts: Timestamp) -> Duration {
        if let Some(prev) = self.prev {
            self.recorded = self.recorded.saturating_add(ts.saturating_since(prev).as_nanos());
        }
        self.prev = Some(ts);
        let index = self.frames;
        self.frames = self.frames.saturating_add(1);
        match self.pace {
            Pace::TopSpeed => Duration::ZERO,
            Pace::Pps(rate) => {
                // u128: index × 10⁹ overflows u64 after 18 billion frames.
                let nanos = u128::from(index) * 1_000_000_000 / u128::from(rate.max(1));
                Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
            }
            // f64 is exact to the nanosecond for the first 104 days of recorded time. `as` saturates on overflow
            // and maps NaN to zero, so a bad speed cannot panic.
            Pace::Original { speed } => Duration::from_nanos((self.recorded as f64 / speed) as u64),
        }
    }

    /// Starts the next loop over the file: its first frame is due with the previous loop's last one (tcpreplay's
    /// `--loop` does the same), and the recorded gaps resume from there.
    pub fn restart(&mut self) {
        self.prev = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(micros: u64) -> Timestamp {
        Timestamp::from_nanos(1_700_000_000_000_000_000 + micros * 1_000)
    }

    fn schedule(pacer: &mut Pacer, stamps: &[u64]) -> Vec<u64> {
        stamps.iter().map(|&s| pacer.next_due(ts(s)).as_nanos() / 1_000).collect()
    }

    mod original_timing {
        use super::*;

        #[test]
        fn real_time_keeps_the_recorded_gaps() {
            let mut pacer = Pacer::new(Pace::Original { speed: 1.0 });
            assert_eq!(schedule(&mut pacer, &[500, 710, 920, 5_000]), [0, 210, 420, 4_500]);
        }

        #[test]
        fn speed_scales_the_gaps() {
            let mut fast = Pacer::new(Pace::Original { speed: 2.0 });
            assert_eq!(schedule(&mut fast, &[0, 1_000, 3_000]), [0, 500, 1_500]);
            let mut slow = Pacer::new(Pace::Original { speed: 0.5 });
            assert_eq!(schedule(&mut slow, &[0, 1_000, 3_000]), [0, 2_000, 6_000]);
        }

        #[test]
        fn a_step_back_is_sent_at_once_and_the_spacing_resumes_from_it() {
            let mut pacer = Pacer::new(Pace::Original { speed: 1.0 });
            // 1 000 µs, then the clock steps back 10 s; later frames keep their 100 µs spacing.
            let stamps = [10_000_000, 10_001_000, 1_000, 1_100, 1_200];
            assert_eq!(schedule(&mut pacer, &stamps), [0, 1_000, 1_000, 1_100, 1_200]);
        }

        #[test]
        fn equal_timestamps_are_due_together() {
            let mut pacer = Pacer::new(Pace::Original { speed: 1.0 });
            assert_eq!(schedule(&mut pacer, &[7, 7, 7]), [0, 0, 0]);
        }

        #[test]
        fn absurd_gaps_and_speeds_saturate() {
            let mut pacer = Pacer::new(Pace::Original { speed: 1e-300 });
            pacer.next_due(Timestamp::from_nanos(0));
            assert_eq!(pacer.next_due(Timestamp::from_nanos(u64::MAX)).as_nanos(), u64::MAX);
            let mut nan = Pacer::new(Pace::Original { speed: f64::NAN });
            nan.next_due(Timestamp::from_nanos(0));
            assert_eq!(nan.next_due(Timestamp::from_nanos(5)).as_nanos(), 0);
        }
    }

    mod loops {
        use super::*;

        #[test]
        fn each_loop_starts_where_the_previous_ended() {
            let mut pacer = Pacer::new(Pace::Original { speed: 1.0 });
            let file = [100, 300, 600];
            assert_eq!(schedule(&mut pacer, &file), [0, 200, 500]);
            pacer.restart();
            assert_eq!(schedule(&mut pacer, &file), [500, 700, 1_000]);
            pacer.restart();
            assert_eq!(schedule(&mut pacer, &file), [1_000, 1_200, 1_500]);
        }

        #[test]
        fn a_fixed_rate_runs_on_across_loops() {
            let mut pacer = Pacer::new(Pace::Pps(4));
            assert_eq!(schedule(&mut pacer, &[9, 1, 5]), [0, 250_000, 500_000]);
            pacer.restart();
            assert_eq!(schedule(&mut pacer, &[9]), [750_000]);
        }
    }

    mod fixed_rate {
        use super::*;

        #[test]
        fn frames_are_evenly_spaced_whatever_their_timestamps() {
            let mut pacer = Pacer::new(Pace::Pps(3));
            let due: Vec<u64> = [50, 0, 99, 3].iter().map(|&s| pacer.next_due(ts(s)).as_nanos()).collect();
            assert_eq!(due, [0, 333_333_333, 666_666_666, 1_000_000_000]);
        }

        #[test]
        fn a_zero_rate_does_not_divide_by_zero() {
            let mut pacer = Pacer::new(Pace::Pps(0));
            pacer.next_due(ts(0));
            assert_eq!(pacer.next_due(ts(0)).as_nanos(), 1_000_000_000);
        }
    }

    #[test]
    fn top_speed_is_always_due() {
        let mut pacer = Pacer::new(Pace::TopSpeed);
        assert_eq!(schedule(&mut pacer, &[0, 5_000_000, 1]), [0, 0, 0]);
    }
}
