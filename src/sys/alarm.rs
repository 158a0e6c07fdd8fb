//! What the clock thread sleeps on: a CLOCK_BOOTTIME timerfd. Its
//! deadlines count the time the machine is suspended, so a deadline
//! that passed during a suspend fires as soon as the machine resumes
//! (a thread parked for a CLOCK_MONOTONIC timeout would sleep on for
//! what was left). Another thread can `ring` it to wake the sleeper
//! early: whichever setting comes last wins.

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use std::io;
use std::time::Duration;

pub struct Alarm(TimerFd);

impl Alarm {
    pub fn new() -> io::Result<Alarm> {
        Ok(Alarm(TimerFd::new(
            ClockId::CLOCK_BOOTTIME,
            TimerFlags::TFD_CLOEXEC,
        )?))
    }

    /// Go off `after` from now, counted on CLOCK_BOOTTIME (replacing any
    /// earlier setting).
    pub fn set(&self, after: Duration) {
        // A zero setting would disarm the timer: 1 ns is "now".
        let after = after.max(Duration::from_nanos(1));
        let _ = self.0.set(
            Expiration::OneShot(TimeSpec::from_duration(after)),
            TimerSetTimeFlags::empty(),
        );
    }

    /// Wake the sleeper now.
    pub fn ring(&self) {
        self.set(Duration::ZERO);
    }

    /// Sleep until the alarm goes off.
    pub fn wait(&self) {
        if self.0.wait().is_err() {
            // Not a timerfd any more (it cannot happen): do not spin.
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn goes_off_when_set_and_when_rung() {
        let a = Alarm::new().unwrap();
        let t0 = Instant::now();
        a.set(Duration::from_millis(30));
        a.wait();
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(29), "{took:?}");
        assert!(took < Duration::from_secs(2), "{took:?}");
        let a = Arc::new(a);
        a.set(Duration::from_secs(3600));
        let b = a.clone();
        let ringer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            b.ring();
        });
        let t0 = Instant::now();
        a.wait();
        assert!(t0.elapsed() < Duration::from_secs(5), "rung early");
        let _ = ringer.join();
    }
}
