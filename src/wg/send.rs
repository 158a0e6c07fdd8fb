//! What a peer sends of its own accord, as the reference implementations
//! do: a handshake initiation (at most one per REKEY_TIMEOUT unless it is
//! a retry), a keepalive, and the packets that waited for a session.
//! Each writes into the caller's `TxQueue` under the peer's lock and
//! runs the timer events for what went out.

use crate::data::packet::message_type;
use crate::data::tx::TxQueue;
use crate::wg::constants::*;
use crate::wg::messages::{Events, Message};
use crate::wg::peer::{Peer, PeerState};
use crate::wg::timers;
use boringtun::noise::TunnResult;
use std::time::{Duration, Instant};

/// The first `len` bytes of `tx`'s slot go to the peer's endpoint.
pub fn commit(peer: &Peer, st: &PeerState, tx: &mut TxQueue, len: usize, ev: &mut Events) {
    match st.endpoint {
        Some(ep) => {
            peer.add_tx(len);
            tx.commit(len, ep, st.local);
        }
        None => ev.push(Message::NoEndpoint(peer.id)),
    }
}

/// Start a handshake. A retry keeps counting attempts; anything else
/// (a packet to send, a timer) starts the count again. Nothing goes out
/// within REKEY_TIMEOUT of the last initiation.
pub fn initiate(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut TxQueue,
    now: Instant,
    retry: bool,
    ev: &mut Events,
) {
    if !retry {
        st.timers.attempts = 0;
    }
    let recent = st
        .timers
        .last_initiation
        .is_some_and(|t| now.duration_since(t) < Duration::from_secs(REKEY_TIMEOUT_SECS));
    if recent {
        return;
    }
    let Some(tunn) = st.tunn.as_mut() else {
        return;
    };
    let len = match tunn.format_handshake_initiation(tx.slot(), true) {
        TunnResult::WriteToNetwork(p) => p.len(),
        _ => return,
    };
    initiation_out(peer, st, tx, len, ev);
}

/// An initiation of `len` bytes is in the slot: send it.
fn initiation_out(peer: &Peer, st: &mut PeerState, tx: &mut TxQueue, len: usize, ev: &mut Events) {
    ev.push(Message::SendInitiation(peer.id));
    commit(peer, st, tx, len, ev);
    // The retry counts from now, not from when the batch began: a retry
    // must never go out less than REKEY_TIMEOUT after this one.
    timers::initiation_sent(peer, st, Instant::now());
}

/// `Tunn` had no session for a packet: it queued the packet and wrote an
/// initiation (`len` bytes in the slot) because none was in progress.
pub fn initiated_by_tunn(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut TxQueue,
    len: usize,
    ev: &mut Events,
) {
    st.timers.attempts = 0;
    initiation_out(peer, st, tx, len, ev);
}

/// A data message or keepalive of `len` bytes is in the slot: send it,
/// and start a handshake if it went out on an old session of ours.
pub fn sent(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut TxQueue,
    len: usize,
    now: Instant,
    ev: &mut Events,
) {
    commit(peer, st, tx, len, ev);
    let rekey = if len == KEEPALIVE_LEN {
        ev.push(Message::SendKeepalive(peer.id));
        timers::keepalive_sent(peer, st, now)
    } else {
        timers::data_sent(peer, st, now)
    };
    if rekey {
        initiate(peer, st, tx, now, false, ev);
    }
}

/// Send an empty data message; without a session, start a handshake
/// instead (its completion sends the keepalive).
pub fn keepalive(peer: &Peer, st: &mut PeerState, tx: &mut TxQueue, now: Instant, ev: &mut Events) {
    if st.timers.session.is_none() {
        return initiate(peer, st, tx, now, false, ev);
    }
    let Some(tunn) = st.tunn.as_mut() else {
        return;
    };
    match tunn.encapsulate(&[], tx.slot()) {
        TunnResult::WriteToNetwork(p) => {
            let len = p.len();
            if message_type(&tx.slot()[..len]) == Some(MSG_INITIATION) {
                initiated_by_tunn(peer, st, tx, len, ev);
            } else {
                sent(peer, st, tx, len, now, ev);
            }
        }
        _ => initiate(peer, st, tx, now, false, ev),
    }
}

/// Send the packets that waited for a session; `flush` is called when
/// `tx` fills up. Returns how many went out.
pub fn staged(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut TxQueue,
    now: Instant,
    ev: &mut Events,
    flush: &mut dyn FnMut(&mut TxQueue),
) -> usize {
    let mut n = 0;
    loop {
        if tx.is_full() {
            flush(tx);
        }
        let Some(tunn) = st.tunn.as_mut() else {
            return n;
        };
        let len = match tunn.decapsulate(None, &[], tx.slot()) {
            TunnResult::WriteToNetwork(p) => p.len(),
            _ => return n,
        };
        sent(peer, st, tx, len, now, ev);
        n += 1;
    }
}
