//! A worker woken from sleep for a TUN device lets the thread that woke
//! it run on to its own sleep first.
//!
//! The thread that writes a lone packet into a wg interface (ping, a
//! routing daemon) wakes a worker and goes on to wait for an answer a
//! few microseconds later. When the worker preempts it instead, the
//! worker's UDP send wakes the other end's daemon while two threads are
//! runnable on this CPU, so Linux places that daemon on an idle CPU
//! rather than here; waking an idle virtual CPU costs 50-180 µs on a
//! VM, where the whole round trip is about 200 µs. One `sched_yield`
//! after such a wake lets the writer reach its sleep, and the send then
//! finds this CPU free for the thread it wakes.
//!
//! A yield that gives the CPU to something that runs on (a busy machine,
//! a bulk sender) would make the packet wait for it, so a yield that
//! took longer than `LONG` turns yielding off for `FIRST_HOLD`, twice
//! as long after each such yield up to `LAST_HOLD`; a short one resets
//! the hold.

use crate::sys::sched;
use std::time::{Duration, Instant};

/// A worker that waited less than this is busy moving data (and the
/// thread that woke it may well keep running): it goes straight on.
const SLEPT: Duration = Duration::from_millis(1);
/// The writer of a lone packet reaches its sleep well within this.
const LONG: Duration = Duration::from_micros(200);
const FIRST_HOLD: Duration = Duration::from_secs(1);
const LAST_HOLD: Duration = Duration::from_secs(16);

/// One worker's state: whether it yields now, and for how long it holds
/// off after a long yield.
#[derive(Default)]
pub struct Courtesy {
    off_until: Option<Instant>,
    hold: Duration,
}

impl Courtesy {
    /// Whether a worker whose wait took `waited` and ended at `woke`
    /// yields before it drains a TUN device.
    fn yields(&self, waited: Duration, woke: Instant) -> bool {
        waited >= SLEPT
            && match self.off_until {
                Some(t) => woke >= t,
                None => true,
            }
    }

    /// Note how long a yield took, at `now`.
    fn took(&mut self, took: Duration, now: Instant) {
        if took > LONG {
            self.hold = (self.hold * 2).clamp(FIRST_HOLD, LAST_HOLD);
            self.off_until = Some(now + self.hold);
        } else {
            self.hold = Duration::ZERO;
            self.off_until = None;
        }
    }

    /// Before a TUN device is drained by a worker whose wait took
    /// `waited` and ended at `woke`: yield if it slept and yielding is
    /// not held off.
    pub fn before_tun(&mut self, waited: Duration, woke: Instant) {
        self.yield_with(waited, woke, sched::yield_cpu);
    }

    /// `before_tun` with the yield given (a test's stands in for it).
    fn yield_with(&mut self, waited: Duration, woke: Instant, yield_cpu: impl FnOnce()) {
        if !self.yields(waited, woke) {
            return;
        }
        let t0 = Instant::now();
        yield_cpu();
        let t1 = Instant::now();
        self.took(t1.saturating_duration_since(t0), t1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Duration = Duration::from_micros(1);

    #[test]
    fn yields_only_after_a_sleep() {
        let c = Courtesy::default();
        let now = Instant::now();
        assert!(!c.yields(999 * US, now));
        assert!(c.yields(1000 * US, now));
        assert!(c.yields(Duration::from_secs(3), now));
    }

    #[test]
    fn a_long_yield_holds_off_and_the_hold_doubles() {
        let mut c = Courtesy::default();
        let t = Instant::now();
        c.took(201 * US, t);
        assert!(!c.yields(Duration::from_secs(1), t + Duration::from_millis(999)));
        assert!(c.yields(Duration::from_secs(1), t + Duration::from_secs(1)));
        let mut at = t;
        for hold in [2, 4, 8, 16, 16] {
            at += Duration::from_secs(20);
            c.took(Duration::from_millis(4), at);
            let h = Duration::from_secs(hold);
            assert!(!c.yields(Duration::from_secs(1), at + h - US), "{hold}");
            assert!(c.yields(Duration::from_secs(1), at + h), "{hold}");
        }
    }

    #[test]
    fn a_yield_is_timed_and_a_long_one_holds_off() {
        let mut c = Courtesy::default();
        let mut ran = 0;
        let t = Instant::now();
        c.yield_with(999 * US, t, || ran += 1);
        assert_eq!(ran, 0, "no sleep, no yield");
        c.yield_with(SLEPT, t, || ran += 1);
        assert_eq!(ran, 1);
        // Quick: yielding stays on.
        c.yield_with(SLEPT, Instant::now(), || ran += 1);
        assert_eq!(ran, 2);
        // Long: off for a second from its end.
        c.yield_with(SLEPT, Instant::now(), || {
            ran += 1;
            std::thread::sleep(LONG + 100 * US);
        });
        assert_eq!(ran, 3);
        let now = Instant::now();
        c.yield_with(SLEPT, now, || ran += 1);
        assert_eq!(ran, 3, "held off");
        c.yield_with(SLEPT, now + FIRST_HOLD, || ran += 1);
        assert_eq!(ran, 4, "on again after the hold");
    }

    #[test]
    fn a_short_yield_resets_the_hold() {
        let mut c = Courtesy::default();
        let t = Instant::now();
        c.took(Duration::from_millis(4), t);
        c.took(Duration::from_millis(4), t + Duration::from_secs(1));
        c.took(200 * US, t + Duration::from_secs(3));
        assert!(c.yields(SLEPT, t + Duration::from_secs(3)));
        c.took(Duration::from_millis(4), t + Duration::from_secs(4));
        assert!(!c.yields(SLEPT, t + Duration::from_secs(4)));
        assert!(c.yields(SLEPT, t + Duration::from_secs(5)));
    }
}
