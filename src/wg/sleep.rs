//! What the driver does across a suspend. Every age and deadline is
//! counted on CLOCK_BOOTTIME (`crate::sys::boottime`), so time asleep
//! counts: a session made before a long sleep is too old to use after
//! it, and deadlines that fell during the sleep are due at once. And,
//! as Linux does before a suspend or a hibernation
//! (`wg_pm_notification`), every session key and handshake in progress
//! is forgotten, so that the next packet handshakes afresh and no key
//! outlives the sleep in memory any longer than it must.
//!
//! wgd is told of no suspend (that would take a D-Bus client for
//! systemd-logind's PrepareForSleep): it notices the resume. The time
//! the machine has slept, CLOCK_BOOTTIME less CLOCK_MONOTONIC, grows
//! only across a suspend; the clock thread (`crate::plane::clock`),
//! which sleeps on CLOCK_BOOTTIME and so wakes as soon as the machine
//! does if a deadline passed meanwhile, and at least every
//! `LOOK_EVERY` otherwise, compares it on every wake (`Sleeps`) and has
//! every interface forget its keys (`Interface::forget_keys`) before
//! running any deadline.

use crate::wg::peer::PeerState;
use crate::wg::timers;
use std::time::Duration;

/// The shortest sleep noticed: well above what separates two readings
/// of the clocks, well below any real suspend and resume.
pub const NOTICED: Duration = Duration::from_secs(1);

/// The clock thread looks at least this often.
pub const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Notices a suspend from the time slept (`sys::boottime::slept`)
/// between two looks.
pub struct Sleeps {
    slept: Duration,
}

impl Sleeps {
    /// From the time slept so far (sleeps before wgd started do not
    /// count).
    pub fn new(slept: Duration) -> Sleeps {
        Sleeps { slept }
    }

    /// The time slept is `slept` now: how long the machine was
    /// suspended since the last look, if it was.
    pub fn look(&mut self, slept: Duration) -> Option<Duration> {
        let more = slept.saturating_sub(self.slept);
        self.slept = self.slept.max(slept);
        (more >= NOTICED).then_some(more)
    }
}

/// Forget a peer's session keys and handshake in progress: the deadlines
/// that belong to them (the 180 s end, the 540 s zeroing) go with them;
/// staged packets and the other deadlines stay, so traffic that was
/// waiting, a retry or a keepalive due starts a new handshake. Returns
/// whether there was anything to forget.
pub fn forget_keys(st: &mut PeerState) -> bool {
    let had = st.tunnel.as_ref().is_some_and(|t| t.has_keys());
    if let Some(t) = st.tunnel.as_mut() {
        t.forget_keys();
    }
    timers::keys_zeroed(st);
    had
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::boottime::Instant;
    use crate::wg::messages::Events;
    use crate::wg::send;
    use crate::wg::send::tests::{peer, Sent};

    #[test]
    fn a_sleep_is_noticed_once() {
        let mut s = Sleeps::new(Duration::from_secs(7));
        assert_eq!(s.look(Duration::from_secs(7)), None);
        assert_eq!(s.look(Duration::from_millis(7_400)), None, "jitter");
        assert_eq!(
            s.look(Duration::from_secs(3_607)),
            Some(Duration::from_secs(3_600) - Duration::from_millis(400))
        );
        assert_eq!(s.look(Duration::from_secs(3_607)), None, "once");
        assert_eq!(s.look(Duration::from_secs(3_600)), None, "never back");
        assert_eq!(
            s.look(Duration::from_secs(3_609)),
            Some(Duration::from_secs(2))
        );
    }

    /// A peer with a session (it initiated, the test answered) and an
    /// initiation in flight forgets both; its staged packets stay, and
    /// the next thing to send starts a handshake.
    #[test]
    fn forgetting_keys_leaves_nothing_to_send_with() {
        let p = peer();
        let mut st = p.lock();
        let t0 = Instant::now();
        let mut ev = Events::default();
        let mut tx = Sent::default();
        send::initiate(&p, &mut st, &mut tx, t0, false, &mut ev);
        assert_eq!(tx.lens, vec![148]);
        assert!(st.tunnel.as_ref().is_some_and(|t| t.has_keys()));
        if let Some(t) = st.tunnel.as_mut() {
            t.stage(&[1; 40]);
        }
        assert!(forget_keys(&mut st));
        let t = st.tunnel.as_ref().unwrap();
        assert!(!t.has_keys());
        assert!(t.has_staged(), "staged packets stay");
        assert!(t.sending(t0).is_none());
        assert!(st.timers.zero_keys.is_none() && st.timers.session.is_none());
        assert!(!forget_keys(&mut st), "nothing left");
    }
}
