//! What happens when a peer's deadlines (`crate::wg::timers`) run out:
//! the clock calls `tick_interface` for every interface and it handles
//! only the peers whose `due` time has come.

use crate::data::packet::flush;
use crate::data::tx::TxQueue;
use crate::wg::constants::*;
use crate::wg::interface::Interface;
use crate::wg::messages::{Events, Message};
use crate::wg::peer::{Peer, PeerState};
use crate::wg::send;
use crate::wg::timers::{self, MAX_TIMER_HANDSHAKES};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What must be done to a peer once its lock is released.
enum After {
    Nothing,
    /// Replace `Tunnel`: keys zeroed (REJECT_AFTER_TIME * 3).
    ZeroKeys,
    /// Replace `Tunnel` to drop the packets that waited for a handshake
    /// that gave up (there is no session to lose).
    Flush,
}

/// Run the deadlines of `ifc`'s peers that are due at `now` and send what
/// they produce. `due` is reused between calls. Returns the earliest
/// deadline left (`timers::ms`), `u64::MAX` if none.
pub fn tick_interface(
    ifc: &Interface,
    tx: &mut TxQueue,
    due: &mut Vec<Arc<Peer>>,
    now: Instant,
) -> u64 {
    // A down interface is silent: no sockets, no timers.
    let Some(socks) = ifc.sockets() else {
        return u64::MAX;
    };
    let now_ms = timers::ms(now);
    let mut next = u64::MAX;
    due.clear();
    {
        // Only the copy of the due peers holds the router's read lock,
        // so a commit is never held up by timers.
        let router = ifc.router();
        for p in router.by_key.values() {
            let at = p.due.load(Ordering::Relaxed);
            if at <= now_ms {
                due.push(p.clone());
            } else {
                next = next.min(at);
            }
        }
    }
    let flush_tx = |tx: &mut TxQueue| flush(ifc, Some(&socks), tx);
    for peer in due.iter() {
        let mut ev = Events::default();
        let after = {
            let mut st = peer.lock();
            let after = expire(peer, &mut st, tx, now, &mut ev);
            let at = st.timers.earliest();
            peer.due.store(at, Ordering::Relaxed);
            next = next.min(at);
            after
        };
        ev.log(ifc);
        match after {
            After::ZeroKeys => ifc.zero_keys(peer, true),
            After::Flush => ifc.zero_keys(peer, false),
            After::Nothing => {}
        }
        // What a timer sends goes at once, so that it leaves when its
        // deadline said (there is little of it).
        flush_tx(tx);
    }
    due.clear();
    flush_tx(tx);
    next
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

fn expire(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut TxQueue,
    now: Instant,
    ev: &mut Events,
) -> After {
    let mut after = After::Nothing;
    if st.tunnel.is_none() {
        st.timers = timers::Timers::default();
        return after;
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
            if t.session.is_none() && t.pending.is_none() && matches!(after, After::Nothing) {
                after = After::Flush;
            }
            if t.zero_keys.is_none() {
                let at = now + Duration::from_secs(REJECT_AFTER_TIME_SECS * 3);
                t.zero_keys = Some(at);
            }
        } else {
            t.attempts += 1;
            ev.push(Message::HandshakeRetry(peer.id, t.attempts + 1));
            forget_source(st);
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
