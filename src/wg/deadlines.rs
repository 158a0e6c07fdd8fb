//! A peer's deadlines and what they depend on, as plain data: what
//! `crate::wg::timers` arms and disarms on packet events and
//! `crate::wg::expiry` runs when they are due.

use crate::sys::boottime::Instant;
use std::time::Duration;

const REKEY_AFTER_TIME: Duration = Duration::from_secs(120);

/// The session we send with: when it was made, and whether we initiated
/// it (only the initiator rekeys on age).
#[derive(Clone, Copy)]
pub struct Session {
    pub created: Instant,
    pub initiator: bool,
}

#[derive(Default, Clone)]
pub struct Timers {
    pub retransmit: Option<Instant>,
    pub send_keepalive: Option<Instant>,
    pub new_handshake: Option<Instant>,
    pub persistent: Option<Instant>,
    pub reject: Option<Instant>,
    pub zero_keys: Option<Instant>,
    /// Data arrived while a keepalive was already due: one more after it.
    pub need_another_keepalive: bool,
    /// Retries of the handshake in progress (0 for the first initiation).
    pub attempts: u32,
    /// When the last handshake message (initiation or response) went
    /// out: no initiation, retry or not, within REKEY_TIMEOUT of it, as
    /// Linux and wireguard-go rate them.
    pub last_handshake_sent: Option<Instant>,
    /// The initiator's one rekey on receive near the end of a session.
    pub sent_last_minute: bool,
    pub session: Option<Session>,
    /// A response we sent: its session (our index on it) becomes ours to
    /// send with when the initiator's first packet arrives on it.
    pub pending: Option<(u32, Instant)>,
}

/// Milliseconds since boot (CLOCK_BOOTTIME, suspends included), as the
/// schedule keeps deadlines; `u64::MAX` means nothing is due.
pub fn ms(t: Instant) -> u64 {
    t.since_boot().as_millis() as u64
}

impl Timers {
    /// The earliest deadline, for `Peer::due`.
    pub fn earliest(&self) -> u64 {
        [
            self.retransmit,
            self.send_keepalive,
            self.new_handshake,
            self.persistent,
            self.reject,
            self.zero_keys,
        ]
        .into_iter()
        .flatten()
        .map(ms)
        .min()
        .unwrap_or(u64::MAX)
    }

    /// Whether the initiator's session is old enough to renew on send.
    pub fn rekey_on_send(&self, now: Instant) -> bool {
        self.session
            .is_some_and(|s| s.initiator && now.duration_since(s.created) >= REKEY_AFTER_TIME)
    }
}
