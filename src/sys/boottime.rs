//! The clock every protocol age is measured with: CLOCK_BOOTTIME, which
//! counts the time the machine was suspended, as Linux's driver counts
//! it (`ktime_get_coarse_boottime_ns`). CLOCK_MONOTONIC, behind
//! `std::time::Instant`, stops during a suspend: a session made 100 s
//! before an hour's sleep would still be "100 s old" after it, and sent
//! with long after its 180 s.
//!
//! `Instant` is a point on that clock, with `std::time::Instant`'s
//! arithmetic, so the core takes it as a value like any other; only
//! `now` reads the clock. `slept` is how far CLOCK_BOOTTIME has run
//! ahead of CLOCK_MONOTONIC since boot: the time spent asleep, which
//! grows only across a suspend (the clock thread notices a resume by
//! it, `crate::wg::sleep`).
//!
//! For tests (debug builds only): `WGD_TEST_SLEEP_FILE` names a file
//! holding seconds of sleep to pretend; `pretend` reads it (the clock
//! thread calls it on every wake), and from then on both `now` and
//! `slept` are that much ahead, as after a real suspend.

use nix::time::{clock_gettime, ClockId};
use std::ops::{Add, AddAssign, Sub};
use std::time::Duration;

/// A point on CLOCK_BOOTTIME: time since boot, suspends included.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Instant(Duration);

fn read(clock: ClockId) -> Duration {
    // Both clocks exist on every kernel wgd runs on (2.6.39+); a failure
    // would be a broken vDSO, and time standing still is the safe answer.
    clock_gettime(clock).map_or(Duration::ZERO, Duration::from)
}

impl Instant {
    /// Now, on CLOCK_BOOTTIME.
    pub fn now() -> Instant {
        Instant(read(ClockId::CLOCK_BOOTTIME) + pretended())
    }

    /// The instant `d` after boot.
    pub const fn from_boot(d: Duration) -> Instant {
        Instant(d)
    }

    /// Time from boot to this instant.
    pub fn since_boot(self) -> Duration {
        self.0
    }

    /// Time from `earlier` to this instant; zero if `earlier` is later.
    pub fn duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// As `duration_since` (both saturate, as `std::time::Instant`'s do).
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }

    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }

    /// `d` earlier; `None` before boot.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d).map(Instant)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0 + d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        self.0 += d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// `d` earlier, or boot if that is before it.
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}

/// How long the machine has been suspended since boot: CLOCK_BOOTTIME
/// less CLOCK_MONOTONIC. It changes only across a suspend (both clocks
/// are slewed alike, and neither is set).
pub fn slept() -> Duration {
    let mono = read(ClockId::CLOCK_MONOTONIC);
    let boot = read(ClockId::CLOCK_BOOTTIME);
    boot.saturating_sub(mono) + pretended()
}

#[cfg(debug_assertions)]
mod pretend {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    use std::time::Duration;

    /// Seconds of sleep pretended so far.
    static SECONDS: AtomicU64 = AtomicU64::new(0);

    pub fn pretended() -> Duration {
        Duration::from_secs(SECONDS.load(Ordering::Relaxed))
    }

    /// Read `WGD_TEST_SLEEP_FILE`, if set: the seconds of sleep to
    /// pretend from now on (never fewer than before: time does not go
    /// back).
    pub fn pretend() {
        static FILE: OnceLock<Option<std::ffi::OsString>> = OnceLock::new();
        let Some(path) = FILE.get_or_init(|| std::env::var_os("WGD_TEST_SLEEP_FILE")) else {
            return;
        };
        if let Some(s) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
        {
            SECONDS.fetch_max(s, Ordering::Relaxed);
        }
    }
}

#[cfg(debug_assertions)]
pub use pretend::pretend;
#[cfg(debug_assertions)]
use pretend::pretended;

/// Release builds pretend nothing.
#[cfg(not(debug_assertions))]
pub fn pretend() {}
#[cfg(not(debug_assertions))]
fn pretended() -> Duration {
    Duration::ZERO
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_boot_time_and_moves_on() {
        let a = Instant::now();
        let boot = read(ClockId::CLOCK_BOOTTIME);
        let mono = read(ClockId::CLOCK_MONOTONIC);
        assert!(a.since_boot() <= boot);
        assert!(boot - a.since_boot() < Duration::from_secs(1));
        assert!(
            a.since_boot() + Duration::from_millis(100) >= mono,
            "never behind monotonic"
        );
        std::thread::sleep(Duration::from_millis(5));
        let b = Instant::now();
        assert!(b > a);
        assert!(b - a >= Duration::from_millis(5));
    }

    #[test]
    fn arithmetic_saturates_like_std() {
        let t = Instant::from_boot(Duration::from_secs(10));
        let later = t + Duration::from_secs(5);
        assert_eq!(later.duration_since(t), Duration::from_secs(5));
        assert_eq!(t.duration_since(later), Duration::ZERO);
        assert_eq!(t.saturating_duration_since(later), Duration::ZERO);
        assert_eq!(later - t, Duration::from_secs(5));
        assert_eq!(t.checked_sub(Duration::from_secs(11)), None);
        assert_eq!(
            t.checked_sub(Duration::from_secs(4)),
            Some(Instant::from_boot(Duration::from_secs(6)))
        );
        assert_eq!(
            t - Duration::from_secs(11),
            Instant::from_boot(Duration::ZERO)
        );
        let mut u = t;
        u += Duration::from_secs(1);
        assert_eq!(u, Instant::from_boot(Duration::from_secs(11)));
        assert_eq!(t.max(later), later);
    }

    #[test]
    fn slept_is_steady_while_awake() {
        let a = slept();
        std::thread::sleep(Duration::from_millis(20));
        let b = slept();
        let drift = b.abs_diff(a);
        assert!(drift < Duration::from_millis(50), "{a:?} then {b:?}");
    }
}
