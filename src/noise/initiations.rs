//! Which authenticated initiations from one peer are consumed, as Linux
//! and wireguard-go decide: only one whose timestamp is newer than every
//! one consumed before (a recorded initiation is never answered twice),
//! and not within 1/50 s of the last one consumed (a flood of fresh
//! initiations from a compromised or misbehaving peer is answered at
//! most 50 times a second). Kept for the peer's whole life: a down/up or
//! a new key rebuilds its tunnel, not this.

use crate::noise::handshake::Timestamp;
use crate::sys::boottime::Instant;
use std::time::Duration;

/// INITIATIONS_PER_SECOND = 50.
pub const INITIATION_MIN_INTERVAL: Duration = Duration::from_millis(20);

#[derive(Default, Clone, Copy)]
pub struct Initiations {
    newest: Option<Timestamp>,
    last_consumed: Option<Instant>,
}

impl Initiations {
    /// The newest timestamp consumed and when the last one was (a
    /// hand-over carries them).
    pub fn parts(&self) -> (Option<Timestamp>, Option<Instant>) {
        (self.newest, self.last_consumed)
    }

    pub fn from_parts(newest: Option<Timestamp>, last_consumed: Option<Instant>) -> Initiations {
        Initiations {
            newest,
            last_consumed,
        }
    }

    /// May an initiation stamped `ts` be consumed at `now`?
    pub fn admit(&self, ts: &Timestamp, now: Instant) -> bool {
        let replay = self.newest.is_some_and(|n| *ts <= n);
        let flood = self
            .last_consumed
            .is_some_and(|t| now.saturating_duration_since(t) < INITIATION_MIN_INTERVAL);
        !replay && !flood
    }

    /// It was consumed (answered).
    pub fn consumed(&mut self, ts: &Timestamp, now: Instant) {
        if self.newest.is_none_or(|n| *ts > n) {
            self.newest = Some(*ts);
        }
        if self.last_consumed.is_none_or(|t| t < now) {
            self.last_consumed = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(n: u8) -> Timestamp {
        let mut t = [0u8; 12];
        t[11] = n;
        t
    }

    #[test]
    fn newer_only_and_at_most_one_per_twenty_ms() {
        let mut g = Initiations::default();
        let t0 = Instant::now();
        assert!(g.admit(&ts(5), t0));
        g.consumed(&ts(5), t0);
        assert!(!g.admit(&ts(5), t0 + Duration::from_secs(1)), "replay");
        assert!(!g.admit(&ts(4), t0 + Duration::from_secs(1)), "older");
        assert!(!g.admit(&ts(6), t0 + Duration::from_millis(19)), "flood");
        assert!(g.admit(&ts(6), t0 + INITIATION_MIN_INTERVAL));
        // Refused ones do not move either mark.
        g.consumed(&ts(6), t0 + INITIATION_MIN_INTERVAL);
        assert!(!g.admit(&ts(7), t0 + Duration::from_millis(39)));
        assert!(g.admit(&ts(7), t0 + Duration::from_millis(40)));
    }
}
