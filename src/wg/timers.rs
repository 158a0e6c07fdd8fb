//! The protocol's timers, apart from the cryptography (`crate::noise`,
//! which only makes and consumes messages). As in the reference
//! implementations (wireguard-go, and the Linux driver's timers.c, which
//! agree), each purpose has its own deadline, armed by the packet events
//! below.
//!
//! | deadline        | armed by                                   | runs out → |
//! |-----------------|--------------------------------------------|------------|
//! | retransmit      | an initiation sent: 5 s + jitter           | retry, or give up after 20 |
//! | send keepalive  | data received, if not armed: 10 s          | keepalive |
//! | new handshake   | data sent, if not armed: 15 s + jitter     | initiation |
//! | persistent      | any authenticated packet in or out: N s    | keepalive |
//! | reject          | the oldest session's 180th second          | that session dropped |
//! | zero keys       | a session derived: 540 s                   | all keys zeroed |
//!
//! Any authenticated packet received disarms "new handshake"; any sent
//! disarms "send keepalive"; a completed handshake disarms "retransmit".
//!
//! Each peer is filed in the one schedule (`crate::wg::schedule`) at the
//! earliest of its deadlines, or earlier, so the clock looks at a peer
//! only when something may be due.

use crate::noise::tunnel::Tunnel;
use crate::sys::boottime::Instant;
use crate::wg::constants::*;
pub use crate::wg::deadlines::{ms, Session, Timers};
use crate::wg::peer::{Peer, PeerState};
use crate::wg::schedule::schedule;
use std::cell::Cell;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

/// Retries after the first initiation before giving up: 18 + the first
/// + the one that runs out = 20 initiations in all (wg(4) reports 20).
pub const MAX_TIMER_HANDSHAKES: u32 = 18;
/// Jitter added to retries and to the new-handshake deadline, so that
/// two peers do not keep colliding.
const JITTER_MAX_MS: u64 = 334;

const REKEY_TIMEOUT: Duration = Duration::from_secs(REKEY_TIMEOUT_SECS);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(KEEPALIVE_TIMEOUT_SECS);
const REJECT_AFTER_TIME: Duration = Duration::from_secs(REJECT_AFTER_TIME_SECS);

/// 0..334 ms, from a per-thread xorshift seeded once from the OS: it is
/// drawn per data packet in the worst case, so no system call.
fn jitter() -> Duration {
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use rand_core::RngCore;
            rand_core::OsRng.next_u64() | 1
        });
    }
    let r = STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    });
    Duration::from_millis(r % JITTER_MAX_MS)
}

/// Set a deadline and make sure the clock will look at the peer by then.
/// `due` is read first: on the packet path the new deadline is almost
/// always later than one already there, and a plain load keeps the
/// cache line shared between the workers of the two directions (and
/// the schedule's lock untouched).
fn arm(peer: &Peer, slot: &mut Option<Instant>, at: Instant) {
    *slot = Some(at);
    let at = ms(at);
    if at < peer.due.load(Ordering::Relaxed) {
        schedule().push(peer, at);
    }
}

/// Any authenticated packet, in or out: the persistent keepalive counts
/// from it.
fn traversal(peer: &Peer, st: &mut PeerState, now: Instant) {
    if st.pka > 0 {
        let at = now + Duration::from_secs(st.pka.into());
        arm(peer, &mut st.timers.persistent, at);
    }
}

fn any_sent(st: &mut PeerState) {
    st.timers.send_keepalive = None;
}

fn any_received(st: &mut PeerState) {
    st.timers.new_handshake = None;
}

/// A new session: the keys are zeroed 540 s after the last one made. The
/// reject deadline is the oldest live session's end, so a new session
/// leaves it where it is (each session ends 180 s after its own
/// creation: answering initiations never prolongs an older one).
fn session_derived(peer: &Peer, st: &mut PeerState, now: Instant) {
    if st.timers.reject.is_none() {
        arm(peer, &mut st.timers.reject, now + REJECT_AFTER_TIME);
    }
    arm(peer, &mut st.timers.zero_keys, now + REJECT_AFTER_TIME * 3);
}

fn handshake_complete(st: &mut PeerState) {
    st.timers.retransmit = None;
    st.timers.attempts = 0;
    st.timers.sent_last_minute = false;
    st.last_handshake = Some(SystemTime::now());
}

/// A data message (not a keepalive) went out. Returns whether a new
/// handshake should start now (our session is REKEY_AFTER_TIME old).
pub fn data_sent(peer: &Peer, st: &mut PeerState, now: Instant) -> bool {
    traversal(peer, st, now);
    any_sent(st);
    if st.timers.new_handshake.is_none() {
        // From this packet, not from when its batch began.
        let at = Instant::now().max(now) + KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter();
        arm(peer, &mut st.timers.new_handshake, at);
    }
    st.timers.rekey_on_send(now)
}

/// A keepalive went out; as `data_sent`.
pub fn keepalive_sent(peer: &Peer, st: &mut PeerState, now: Instant) -> bool {
    traversal(peer, st, now);
    any_sent(st);
    st.timers.rekey_on_send(now)
}

/// An initiation went out.
pub fn initiation_sent(peer: &Peer, st: &mut PeerState, now: Instant) {
    traversal(peer, st, now);
    any_sent(st);
    st.timers.last_handshake_sent = Some(now);
    let at = now + REKEY_TIMEOUT + jitter();
    arm(peer, &mut st.timers.retransmit, at);
}

/// We answered an initiation; `index` is our index on the new session.
/// A response counts as a handshake sent: the initiator's data is
/// expected on it, so none of ours starts for REKEY_TIMEOUT.
pub fn response_sent(peer: &Peer, st: &mut PeerState, now: Instant, index: u32) {
    any_received(st);
    traversal(peer, st, now);
    any_sent(st);
    st.timers.last_handshake_sent = Some(now);
    session_derived(peer, st, now);
    st.timers.pending = Some((index, now));
}

/// Our initiation was answered: the new session is ours to send with.
pub fn response_received(peer: &Peer, st: &mut PeerState, now: Instant) {
    any_received(st);
    traversal(peer, st, now);
    session_derived(peer, st, now);
    handshake_complete(st);
    st.timers.session = Some(Session {
        created: now,
        initiator: true,
    });
}

/// What a received data message (or keepalive) calls for.
pub struct Received {
    /// It confirmed the session of a response we sent: the packets that
    /// waited for a session can go.
    pub confirmed: bool,
    /// Start a handshake now: we initiated this session and it is close
    /// to being rejected (once per session).
    pub rekey: bool,
}

/// A data message arrived on our session `index`; `keepalive` if it
/// carried nothing.
pub fn data_received(
    peer: &Peer,
    st: &mut PeerState,
    now: Instant,
    index: u32,
    keepalive: bool,
) -> Received {
    let mut confirmed = false;
    if let Some((i, at)) = st.timers.pending {
        if i == index {
            st.timers.pending = None;
            handshake_complete(st);
            if st.timers.session.is_none_or(|s| s.created <= at) {
                st.timers.session = Some(Session {
                    created: at,
                    initiator: false,
                });
            }
            confirmed = true;
        }
    }
    let mut rekey = false;
    if !st.timers.sent_last_minute {
        if let Some(s) = st.timers.session {
            if s.initiator
                && now.duration_since(s.created)
                    >= REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT
            {
                st.timers.sent_last_minute = true;
                rekey = true;
            }
        }
    }
    traversal(peer, st, now);
    any_received(st);
    if !keepalive {
        if st.timers.send_keepalive.is_none() {
            arm(peer, &mut st.timers.send_keepalive, now + KEEPALIVE_TIMEOUT);
        } else {
            st.timers.need_another_keepalive = true;
        }
    }
    Received { confirmed, rekey }
}

/// A handshake message from the peer that got as far as its tunnel
/// (authenticated): it stops the new-handshake deadline and counts for
/// the persistent keepalive.
pub fn handshake_received(peer: &Peer, st: &mut PeerState, now: Instant) {
    any_received(st);
    traversal(peer, st, now);
}

/// The persistent keepalive interval changed to `pka` (from `old`):
/// turning it on sends a keepalive at once, as wg(8) users expect.
pub fn pka_changed(peer: &Peer, st: &mut PeerState, old: u16, now: Instant) {
    if st.pka == 0 {
        st.timers.persistent = None;
    } else if old == 0 {
        arm(peer, &mut st.timers.persistent, now);
    }
}

/// The endpoint moved to a new address while a handshake waits for its
/// answer (its name resolved to another): retry at once, there. The last
/// initiation went to the old address and cannot be answered, so it
/// does not hold this one back for REKEY_TIMEOUT; a name is resolved at
/// most every 5 s, so this never sends faster than that.
pub fn endpoint_moved(peer: &Peer, st: &mut PeerState, now: Instant) {
    if st.timers.retransmit.is_some() {
        st.timers.last_handshake_sent = None;
        arm(peer, &mut st.timers.retransmit, now);
    }
}

/// The keys are gone (zeroed after REJECT_AFTER_TIME * 3): nothing
/// session-related is due any more.
pub fn keys_zeroed(st: &mut PeerState) {
    let t = &mut st.timers;
    t.zero_keys = None;
    t.reject = None;
    t.session = None;
    t.pending = None;
}

/// Sessions REJECT_AFTER_TIME old were dropped: `next` is when the
/// next live one ends, `sending` whether the session we send with is
/// still there, `unconfirmed` whether a response's session still waits.
/// Without a session to send with, the next packet starts a handshake.
pub fn sessions_expired(
    peer: &Peer,
    st: &mut PeerState,
    next: Option<Instant>,
    sending: bool,
    unconfirmed: bool,
) {
    let t = &mut st.timers;
    t.reject = None;
    if !sending {
        t.session = None;
    }
    if !unconfirmed {
        t.pending = None;
    }
    if let Some(at) = next {
        arm(peer, &mut st.timers.reject, at);
    }
}

/// Forget sessions, handshake progress and deadlines (down, key change,
/// a new peer) and use `tunnel` from now on.
pub fn reset_sessions(peer: &Peer, st: &mut PeerState, tunnel: Option<Tunnel>) {
    st.tunnel = tunnel;
    reset(peer, st, Instant::now());
}

/// Sessions and handshake state were replaced (down, new keys, a peer
/// created): every deadline starts afresh, except that a persistent
/// keepalive goes out as soon as the interface can send.
pub fn reset(peer: &Peer, st: &mut PeerState, now: Instant) {
    st.timers = Timers::default();
    schedule().forget(peer);
    if st.pka > 0 {
        arm(peer, &mut st.timers.persistent, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Peer {
        let p = Peer::new(1);
        p.lock().pka = 0;
        p
    }

    #[test]
    fn jitter_is_within_a_third_of_a_second() {
        for _ in 0..1000 {
            assert!(jitter() < Duration::from_millis(JITTER_MAX_MS));
        }
    }

    #[test]
    fn data_sent_arms_new_handshake_once_and_receiving_disarms_it() {
        let p = peer();
        let mut st = p.lock();
        let t0 = Instant::now();
        data_sent(&p, &mut st, t0);
        let first = st.timers.new_handshake.unwrap();
        assert!(first >= t0 + Duration::from_secs(15));
        assert!(first < t0 + Duration::from_millis(15_334));
        data_sent(&p, &mut st, t0 + Duration::from_secs(3));
        assert_eq!(st.timers.new_handshake, Some(first), "not pushed back");
        assert_eq!(p.due.load(Ordering::Relaxed), ms(first));
        data_received(&p, &mut st, t0 + Duration::from_secs(4), 9, true);
        assert!(st.timers.new_handshake.is_none());
    }

    #[test]
    fn passive_keepalive_only_after_data_and_cancelled_by_sending() {
        let p = peer();
        let mut st = p.lock();
        let t0 = Instant::now();
        data_received(&p, &mut st, t0, 9, true);
        assert!(st.timers.send_keepalive.is_none(), "a keepalive needs none");
        data_received(&p, &mut st, t0, 9, false);
        assert_eq!(st.timers.send_keepalive, Some(t0 + KEEPALIVE_TIMEOUT));
        data_received(&p, &mut st, t0 + Duration::from_secs(1), 9, false);
        assert!(st.timers.need_another_keepalive);
        keepalive_sent(&p, &mut st, t0 + Duration::from_secs(2));
        assert!(st.timers.send_keepalive.is_none());
    }

    #[test]
    fn only_the_initiator_rekeys_and_only_when_old() {
        let p = peer();
        let mut st = p.lock();
        let t0 = Instant::now();
        response_received(&p, &mut st, t0);
        assert!(!data_sent(&p, &mut st, t0 + Duration::from_secs(119)));
        assert!(data_sent(&p, &mut st, t0 + Duration::from_secs(120)));
        let r = data_received(&p, &mut st, t0 + Duration::from_secs(165), 1, true);
        assert!(r.rekey);
        let r = data_received(&p, &mut st, t0 + Duration::from_secs(166), 1, true);
        assert!(!r.rekey, "once per session");

        let q = peer();
        let mut st = q.lock();
        response_sent(&q, &mut st, t0, 77);
        let r = data_received(&q, &mut st, t0 + Duration::from_secs(1), 77, true);
        assert!(r.confirmed);
        assert!(st.last_handshake.is_some());
        assert!(!data_sent(&q, &mut st, t0 + Duration::from_secs(150)));
    }

    /// A handshake waiting for an answer from an endpoint that moved is
    /// retried at once; without one waiting, nothing is sent.
    #[test]
    fn a_moved_endpoint_is_retried_at_once() {
        let p = peer();
        let mut st = p.lock();
        let t0 = Instant::now();
        endpoint_moved(&p, &mut st, t0);
        assert!(st.timers.retransmit.is_none());
        initiation_sent(&p, &mut st, t0);
        endpoint_moved(&p, &mut st, t0 + Duration::from_secs(1));
        assert_eq!(st.timers.retransmit, Some(t0 + Duration::from_secs(1)));
        assert!(st.timers.last_handshake_sent.is_none());
    }

    #[test]
    fn persistent_keepalive_counts_from_the_last_packet() {
        let p = peer();
        let mut st = p.lock();
        st.pka = 25;
        let t0 = Instant::now();
        pka_changed(&p, &mut st, 0, t0);
        assert_eq!(st.timers.persistent, Some(t0), "turning it on sends now");
        data_received(&p, &mut st, t0 + Duration::from_secs(5), 9, false);
        assert_eq!(
            st.timers.persistent,
            Some(t0 + Duration::from_secs(30)),
            "received packets push it back too"
        );
    }
}
