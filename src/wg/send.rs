//! What a peer sends of its own accord, as the reference implementations
//! do: a handshake initiation (at most one per REKEY_TIMEOUT unless it is
//! a retry), a keepalive, and the packets that waited for a session.
//! Each writes into the caller's outbox under the peer's lock and runs
//! the timer events for what went out.

use crate::noise::session::REKEY_AFTER_MESSAGES;
use crate::sys::boottime::Instant;
use crate::wg::constants::*;
use crate::wg::messages::{Events, Message};
use crate::wg::outbox::Outbox;
use crate::wg::peer::{Peer, PeerState};
use crate::wg::timers;
use std::time::{Duration, SystemTime};

/// The first `len` bytes of `tx`'s slot go to the peer's endpoint.
pub fn commit(peer: &Peer, st: &PeerState, tx: &mut dyn Outbox, len: usize, ev: &mut Events) {
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
/// within REKEY_TIMEOUT of the last handshake message we sent, an
/// initiation or a response.
pub fn initiate(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut dyn Outbox,
    now: Instant,
    retry: bool,
    ev: &mut Events,
) {
    if !retry {
        st.timers.attempts = 0;
    }
    let recent = st
        .timers
        .last_handshake_sent
        .is_some_and(|t| now.duration_since(t) < Duration::from_secs(REKEY_TIMEOUT_SECS));
    if recent {
        return;
    }
    let Some(tunnel) = st.tunnel.as_mut() else {
        return;
    };
    let Some(len) = tunnel.initiation(tx.slot(), now, SystemTime::now()) else {
        return;
    };
    ev.push(Message::SendInitiation(peer.id));
    commit(peer, st, tx, len, ev);
    // The retry counts from now, not from when the batch began: a retry
    // must never go out less than REKEY_TIMEOUT after this one.
    timers::initiation_sent(peer, st, Instant::now());
}

/// Whether the session we send with has sent so many messages that it
/// must be renewed (REKEY_AFTER_MESSAGES, either side).
fn worn_out(st: &PeerState, now: Instant) -> bool {
    st.tunnel
        .as_ref()
        .and_then(|t| t.sending(now))
        .is_some_and(|s| s.sent() >= REKEY_AFTER_MESSAGES)
}

/// `count` data messages (or one keepalive, `len` KEEPALIVE_LEN) were
/// committed: run their timer events, and start a handshake if they
/// went out on an old session.
pub fn after_sent(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut dyn Outbox,
    keepalive: bool,
    now: Instant,
    ev: &mut Events,
) {
    let rekey = if keepalive {
        ev.push(Message::SendKeepalive(peer.id));
        timers::keepalive_sent(peer, st, now)
    } else {
        timers::data_sent(peer, st, now)
    };
    if rekey || worn_out(st, now) {
        initiate(peer, st, tx, now, false, ev);
    }
}

/// A data message or keepalive of `len` bytes is in the slot: send it,
/// and start a handshake if it went out on an old session of ours.
pub fn sent(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut dyn Outbox,
    len: usize,
    now: Instant,
    ev: &mut Events,
) {
    commit(peer, st, tx, len, ev);
    after_sent(peer, st, tx, len == KEEPALIVE_LEN, now, ev);
}

/// Send an empty data message; without a session, start a handshake
/// instead (its completion sends the keepalive).
pub fn keepalive(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut dyn Outbox,
    now: Instant,
    ev: &mut Events,
) {
    if st.timers.session.is_none() {
        return initiate(peer, st, tx, now, false, ev);
    }
    let Some(tunnel) = st.tunnel.as_mut() else {
        return;
    };
    match tunnel.encapsulate(&[], tx.slot(), now) {
        Some(len) => sent(peer, st, tx, len, now, ev),
        None => initiate(peer, st, tx, now, false, ev),
    }
}

/// Send the packets that waited for a session; `flush` is called when
/// `tx` fills up. Returns how many went out.
pub fn staged<O: Outbox>(
    peer: &Peer,
    st: &mut PeerState,
    tx: &mut O,
    now: Instant,
    ev: &mut Events,
    flush: &mut dyn FnMut(&mut O),
) -> usize {
    let mut n = 0;
    loop {
        if tx.is_full() {
            flush(tx);
        }
        let Some(tunnel) = st.tunnel.as_mut() else {
            return n;
        };
        if tunnel.sending(now).is_none() {
            return n;
        }
        let Some(p) = tunnel.take_staged() else {
            return n;
        };
        let Some(len) = tunnel.encapsulate(&p, tx.slot(), now) else {
            return n;
        };
        sent(peer, st, tx, len, now, ev);
        n += 1;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::noise::index::Table;
    use crate::noise::tunnel::Tunnel;
    use boringtun::x25519::{PublicKey, StaticSecret};
    use std::net::IpAddr;
    use std::net::SocketAddr;
    use std::sync::Arc;

    /// An outbox that keeps the lengths committed.
    #[derive(Default)]
    pub(crate) struct Sent {
        slot: Vec<u8>,
        pub lens: Vec<usize>,
    }

    impl Outbox for Sent {
        fn slot(&mut self) -> &mut [u8] {
            self.slot.resize(2048, 0);
            &mut self.slot
        }
        fn commit(&mut self, len: usize, _: SocketAddr, _: Option<IpAddr>) {
            self.lens.push(len);
        }
        fn is_full(&self) -> bool {
            false
        }
    }

    /// A peer with a tunnel and an endpoint, of no interface.
    pub(crate) fn peer() -> Arc<Peer> {
        let p = Arc::new(Peer::new(1));
        let secret = StaticSecret::random_from_rng(rand_core::OsRng);
        let theirs = StaticSecret::random_from_rng(rand_core::OsRng);
        let table = Arc::new(Table::<Peer>::default());
        let mut st = p.lock();
        st.tunnel = Some(Tunnel::new(
            secret,
            PublicKey::from(&theirs),
            None,
            table.allocator(Arc::downgrade(&p)),
        ));
        st.endpoint = Some("192.0.2.1:51820".parse().unwrap());
        drop(st);
        p
    }

    /// Sending a response counts as sending a handshake, as Linux
    /// (wg_packet_send_handshake_response) and wireguard-go
    /// (SendHandshakeResponse) count it: no initiation follows for
    /// REKEY_TIMEOUT, whatever asks for one.
    #[test]
    fn no_initiation_within_rekey_timeout_of_a_response() {
        let p = peer();
        let mut st = p.lock();
        let mut tx = Sent::default();
        let mut ev = Events::default();
        let t0 = Instant::now();
        timers::response_sent(&p, &mut st, t0, 7);
        let soon = t0 + Duration::from_millis(1);
        initiate(&p, &mut st, &mut tx, soon, false, &mut ev);
        keepalive(&p, &mut st, &mut tx, soon, &mut ev);
        assert!(tx.lens.is_empty(), "nothing went out: {:?}", tx.lens);
        let later = t0 + Duration::from_secs(REKEY_TIMEOUT_SECS);
        initiate(&p, &mut st, &mut tx, later, false, &mut ev);
        assert_eq!(tx.lens, vec![148], "an initiation, REKEY_TIMEOUT later");
    }
}
