//! Handshake messages, off the data path. The worker that drains a UDP
//! socket only screens them (cheap: MACs, a cookie reply, the per-source
//! budget) and hands what needs Diffie-Hellman to the interface's bounded
//! queue; the handshake service (`crate::plane::handshakes`) consumes it
//! there, apart from every peer's data.
//!
//! ```text
//!   type 1/2 ─ MAC1? ─ under load? ─ MAC2? ─ per-source budget? ─ queue (≤ QUEUE_MAX) ─ service
//!                no: drop    │ no MAC2: cookie reply        │ no: drop    │ full: drop
//! ```
//!
//! "Under load" is the queue's own depth, as Linux and wireguard-go
//! judge it: at least an eighth full, and for one second after it last
//! was. Only then is MAC2 asked for, and only a message with a valid
//! MAC2 (its source proven) is charged to its source's budget, so a
//! spoofed flood can neither spend a real peer's budget nor fill the
//! queue beyond what its own addresses are allowed.

use crate::data::backlog::{Job, Queue};
use crate::data::packet::{le32, message_type};
use crate::data::tx::TxQueue;
use crate::data::Outlet;
use crate::noise::cookie::Macs;
use crate::noise::handshake::{INITIATION_LEN, RESPONSE_LEN};
use crate::sys::boottime::Instant;
use crate::wg::constants::{MSG_INITIATION, MSG_RESPONSE};
use crate::wg::messages::{Events, Message};
use crate::wg::peer::PeerState;
use crate::wg::router::Router;
use crate::wg::{send, timers};
use std::net::{IpAddr, SocketAddr};

/// What screening a handshake message decided.
pub enum Screened {
    /// Dropped; the debug message to log, if any.
    Dropped(Option<Message<'static>>),
    /// A cookie reply of this length is in `tx`'s slot, for the sender.
    Cookie(usize),
    /// Worth a Diffie-Hellman: queue it.
    Queue,
}

/// Screen handshake message `d` (type 1 or 2) from `src`, on the worker
/// that received it: no Diffie-Hellman, no peer lock.
pub fn screen(
    router: &Router,
    queue: &Queue,
    d: &[u8],
    src: SocketAddr,
    tx: &mut TxQueue,
) -> Screened {
    let t = message_type(d).unwrap_or(0);
    let (want, bad_mac, invalid) = match t {
        MSG_INITIATION => (
            INITIATION_LEN,
            Message::InvalidInitiationMac,
            Message::InvalidInitiation,
        ),
        MSG_RESPONSE => (
            RESPONSE_LEN,
            Message::InvalidResponseMac,
            Message::InvalidResponse,
        ),
        _ => return Screened::Dropped(None),
    };
    if d.len() != want {
        return Screened::Dropped(None);
    }
    let Some(id) = router.identity.as_ref() else {
        return Screened::Dropped(None);
    };
    let now = Instant::now();
    let under_load = queue.under_load(timers::ms(now));
    match id.cookies.check(d, src, under_load, now) {
        Macs::Invalid => return Screened::Dropped(Some(bad_mac)),
        Macs::NoCookie if under_load => {
            return match id.cookies.reply(d, src, now, tx.slot()) {
                Some(n) => Screened::Cookie(n),
                None => Screened::Dropped(None),
            };
        }
        Macs::Cookie if !id.per_source.allow(src.ip(), now) => {
            return Screened::Dropped(Some(Message::RateLimited));
        }
        Macs::NoCookie | Macs::Cookie => {}
    }
    // A response must answer a handshake of ours: the index says whose.
    if t == MSG_RESPONSE
        && le32(d, 8)
            .and_then(|i| router.peer_by_receiver(i))
            .is_none()
    {
        return Screened::Dropped(Some(invalid));
    }
    Screened::Queue
}

/// Consume a queued handshake message on the handshake service: open an
/// initiation (one DH before the peer is known, none more for a key we
/// do not know) and answer it, or turn a response into a session.
pub fn consume(out: &dyn Outlet, router: &Router, job: &Job, tx: &mut TxQueue) {
    let d = job.bytes();
    let (src, to) = (job.src, job.to);
    let Some(id) = router.identity.as_ref() else {
        return;
    };
    let now = Instant::now();
    let mut ev = Events::default();
    match message_type(d) {
        Some(MSG_INITIATION) => {
            let found = id
                .responder
                .open(&id.secret, d)
                .and_then(|c| Some((router.by_key.get(&c.peer_static)?.clone(), c)));
            let Some((peer, claimed)) = found else {
                return out.log(Message::InvalidInitiation);
            };
            let mut st = peer.lock();
            let opened = st
                .tunnel
                .as_ref()
                .and_then(|t| t.static_static())
                .and_then(|ss| claimed.finish(ss));
            // A replayed initiation (not newer than one already consumed,
            // even before a down/up rebuilt the tunnel), or one that
            // arrived within 20 ms of the last consumed, is refused.
            let Some(o) = opened.filter(|o| st.initiations.admit(&o.timestamp, job.at)) else {
                drop(st);
                return out.log(Message::InvalidInitiation);
            };
            let Some(tunnel) = st.tunnel.as_mut() else {
                return;
            };
            let Some((len, index)) = tunnel.respond(&o, tx.slot(), now) else {
                drop(st);
                return out.log(Message::InvalidInitiation);
            };
            st.initiations.consumed(&o.timestamp, job.at);
            peer.add_rx(d.len());
            heard_from(&mut st, src, to);
            ev.push(Message::RecvInitiation(peer.id));
            ev.push(Message::SendResponse(peer.id));
            send::commit(&peer, &st, tx, len, &mut ev);
            timers::response_sent(&peer, &mut st, now, index);
        }
        Some(MSG_RESPONSE) => {
            let Some(peer) = le32(d, 8).and_then(|i| router.peer_by_receiver(i)) else {
                return out.log(Message::InvalidResponse);
            };
            let mut st = peer.lock();
            let consumed = st
                .tunnel
                .as_mut()
                .is_some_and(|t| t.consume_response(d, now));
            if !consumed {
                drop(st);
                return out.log(Message::InvalidResponse);
            }
            peer.add_rx(d.len());
            heard_from(&mut st, src, to);
            // A keepalive confirms the session to the responder; it goes
            // only if no packet was waiting to do that.
            ev.push(Message::RecvResponse(peer.id));
            timers::response_received(&peer, &mut st, now);
            let mut flush = |tx: &mut TxQueue| out.flush(tx);
            if send::staged(&peer, &mut st, tx, now, &mut ev, &mut flush) == 0 {
                send::keepalive(&peer, &mut st, tx, now, &mut ev);
            }
        }
        _ => {}
    }
    ev.each(|m| out.log(m));
}

/// A cookie reply (cheap: no DH), consumed where it arrived: whether it
/// answered a handshake message of ours, which MAC2 then uses.
pub fn cookie(out: &dyn Outlet, router: &Router, d: &[u8]) {
    let Some(peer) = le32(d, 4).and_then(|i| router.peer_by_receiver(i)) else {
        return;
    };
    out.log(Message::RecvCookie);
    let mut st = peer.lock();
    if let Some(t) = st.tunnel.as_mut() {
        if t.owns(le32(d, 4).unwrap_or(0)) {
            t.consume_cookie(d, Instant::now());
        }
    }
}

/// Roaming: only an authenticated message moves the endpoint, and sets
/// the address we answer from. Asking the kernel which source it would
/// pick happens only on a change.
pub fn heard_from(st: &mut PeerState, src: SocketAddr, to: Option<IpAddr>) {
    if st.endpoint != Some(src) || st.contacted != to {
        st.contacted = to;
        st.local = to.filter(|a| crate::sys::udp::kernel_source(src) != Some(*a));
    }
    st.endpoint = Some(src);
}
