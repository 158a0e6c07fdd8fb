//! What happens when a peer's deadlines (`crate::wg::timers`) run out:
//! the clock (`crate::plane::clock`) calls `expire` for each peer whose
//! `due` time has come; what it decides to send goes into the outbox.

use crate::sys::boottime::Instant;
use crate::wg::constants::*;
use crate::wg::messages::{Events, Message};
use crate::wg::names;
use crate::wg::outbox::Outbox;
use crate::wg::peer::{Peer, PeerState};
use crate::wg::send;
use crate::wg::timers::{self, MAX_TIMER_HANDSHAKES};
use std::time::Duration;

/// What must be done to a peer once its lock is released
/// (`Interface::zero_keys`).
pub enum After {
    Nothing,
    /// Replace `Tunnel`: keys zeroed (REJECT_AFTER_TIME * 3).
    ZeroKeys,
}

fn expired(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

/// The forgetting of sticky source on trouble, as the reference does
/// before a retry: the address we answered from may be the problem.
fn forget_source(st: &mut PeerState) {
    st.local = None;
    st.contacted = None;
}

/// Run the peer's deadlines that are due at `now`.
pub fn expire(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut dyn Outbox,
    now: Instant,
    ev: &mut Events,
) -> After {
    let mut after = After::Nothing;
    if st.tunnel.is_none() {
        st.timers = timers::Timers::default();
        return after;
    }
    // Packets wait and no handshake was ever started for them: they came
    // while the interface had no sockets (`Interface::commit` files the
    // peer when they come).
    let waiting = st
        .tunnel
        .as_ref()
        .is_some_and(|t| t.has_staged() && t.sending(now).is_none());
    if waiting && st.timers.last_handshake_sent.is_none() && st.timers.retransmit.is_none() {
        send::initiate(peer, st, tx, now, false, ev);
    }
    let t = &mut st.timers;
    if expired(t.reject, now) {
        // The sessions REJECT_AFTER_TIME old go, each by its own age (the
        // handshake in progress, if any, stays).
        if let Some(t) = st.tunnel.as_mut() {
            let next = t.drop_expired(now);
            let (sending, unconfirmed) = (t.sending(now).is_some(), t.unconfirmed());
            timers::sessions_expired(peer, st, next, sending, unconfirmed);
        }
    }
    let t = &mut st.timers;
    if expired(t.zero_keys, now) {
        t.zero_keys = None;
        ev.push(Message::ZeroingKeys(peer.id, REJECT_AFTER_TIME_SECS * 3));
        after = After::ZeroKeys;
    }
    if expired(t.retransmit, now) {
        t.retransmit = None;
        if t.attempts > MAX_TIMER_HANDSHAKES {
            ev.push(Message::HandshakeGiveUp(peer.id, MAX_TIMER_HANDSHAKES + 2));
            t.send_keepalive = None;
            // The packets that waited for it go, whatever sessions are
            // left (a response's may never be confirmed): they would be
            // stale by the next handshake.
            if let Some(tunnel) = st.tunnel.as_mut() {
                tunnel.purge_staged();
            }
            let t = &mut st.timers;
            if t.zero_keys.is_none() {
                let at = now + Duration::from_secs(REJECT_AFTER_TIME_SECS * 3);
                t.zero_keys = Some(at);
            }
        } else {
            t.attempts += 1;
            ev.push(Message::HandshakeRetry(peer.id, t.attempts + 1));
            forget_source(st);
            names::unanswered(peer, st);
            send::initiate(peer, st, tx, now, true, ev);
        }
    }
    let t = &mut st.timers;
    if expired(t.send_keepalive, now) {
        t.send_keepalive = None;
        let another = std::mem::take(&mut t.need_another_keepalive);
        send::keepalive(peer, st, tx, now, ev);
        if another {
            let at = now + Duration::from_secs(KEEPALIVE_TIMEOUT_SECS);
            st.timers.send_keepalive = Some(at);
        }
    }
    let t = &mut st.timers;
    if expired(t.new_handshake, now) {
        t.new_handshake = None;
        ev.push(Message::StoppedHearing(
            peer.id,
            KEEPALIVE_TIMEOUT_SECS + REKEY_TIMEOUT_SECS,
        ));
        forget_source(st);
        names::unanswered(peer, st);
        send::initiate(peer, st, tx, now, false, ev);
    }
    let t = &mut st.timers;
    if expired(t.persistent, now) {
        t.persistent = None;
        if st.pka > 0 {
            send::keepalive(peer, st, tx, now, ev);
        }
    }
    after
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wg::send::tests::{peer, Sent};

    /// Giving up on a handshake drops every packet that waited for it,
    /// as Linux (wg_packet_purge_staged_packets) and wireguard-go do,
    /// even while a response of ours waits for its confirmation.
    #[test]
    fn giving_up_purges_the_staged_packets() {
        for pending in [false, true] {
            let p = peer();
            let mut st = p.lock();
            let t0 = Instant::now();
            if pending {
                timers::response_sent(&p, &mut st, t0, 7);
            }
            if let Some(t) = st.tunnel.as_mut() {
                t.stage(&[1; 40]);
                t.stage(&[2; 40]);
            }
            st.timers.attempts = MAX_TIMER_HANDSHAKES + 1;
            st.timers.retransmit = Some(t0);
            let (mut tx, mut ev) = (Sent::default(), Events::default());
            let _ = expire(&p, &mut st, &mut tx, t0, &mut ev);
            let staged = st.tunnel.as_ref().is_some_and(|t| t.has_staged());
            assert!(
                !staged,
                "packets still staged (a response pending: {pending})"
            );
            assert!(st.timers.zero_keys.is_some());
        }
    }
}
