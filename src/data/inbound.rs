//! UDP → TUN: receive a batch of datagrams, find each one's peer, open
//! data messages with their session, check the inner source against the
//! peer's allowed IPs, and write the packets to the TUN device.
//!
//! Three steps per batch. Planning: the session of every data message
//! (by our index in it; the peer's lock is taken once per index change).
//! Opening, without locks: decrypt each in place and check it against
//! the session's replay window; a large batch is shared with idle
//! workers (`crate::sys::crew`), chunk by chunk. Delivering, in the order
//! the datagrams came: timers, roaming and the allowed-IP check under
//! the peer's lock, then the TUN write queue; handshake messages and
//! cookies are handled here too, each where it came.
//!
//! Handshake initiations are checked at the interface first (MAC1, and a
//! cookie reply when under load, keyed by the sender's address) before
//! any Diffie-Hellman is spent on finding the sender.

use crate::data::packet::{flush, inner_packet, le32, message_type};
use crate::data::tx::TxQueue;
use crate::data::{Buffers, BUDGET};
use crate::noise::handshake::Opened;
use crate::noise::session::{Session, HEADER_LEN, OVERHEAD};
use crate::sys::crew::Crew;
use crate::sys::tun::{Tun, TunWrites};
use crate::sys::udp::Sockets;
use crate::wg::constants::*;
use crate::wg::interface::Interface;
use crate::wg::messages::{Events, Message};
use crate::wg::peer::{Peer, PeerState};
use crate::wg::router::Router;
use crate::wg::send;
use crate::wg::timers;
use boringtun::noise::errors::WireGuardError;
use boringtun::noise::{Packet, TunnResult};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

/// Data messages per chunk a helper opens at a time.
const CHUNK: usize = 8;
/// Batches with fewer data messages are opened by the worker alone.
const SHARE_MIN: usize = 2 * CHUNK;

/// A datagram as planned: for a data message, its peer and session (none
/// if it is anything else, or no session of ours has its index), and
/// then the plaintext length if it opened.
pub struct Open {
    target: Option<(Arc<Peer>, Arc<Session>)>,
    plain: Option<usize>,
}

/// Drain socket `which` of `socks`: at most `BUDGET` receive batches,
/// then write what was decrypted to the TUN device and send the answers.
pub fn drain(
    ifc: &Interface,
    socks: &Sockets,
    which: usize,
    tun: &Tun,
    b: &mut Buffers,
    crew: &Crew,
) {
    let Some(sock) = socks.all().nth(which) else {
        return;
    };
    let router = ifc.router();
    let Buffers {
        udp_in,
        tun_out,
        tx,
        opens,
        ..
    } = b;
    for _ in 0..BUDGET {
        let n = match udp_in.recv(sock) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut last = None;
        for i in 0..n {
            for (d, _, _) in udp_in.datagrams(i) {
                opens.push(plan(&router, d, &mut last));
            }
        }
        drop(last);
        open_all(udp_in.trains_mut(n), opens, crew);
        let mut planned = opens.drain(..);
        for i in 0..n {
            for (d, src, to) in udp_in.datagrams(i) {
                let Some(o) = planned.next() else { break };
                // Answers and the packets a handshake releases need room.
                if tx.is_full() {
                    flush(ifc, Some(socks), tx);
                }
                if tun_out.is_full() {
                    let _ = tun_out.flush(tun);
                }
                match (o.target, o.plain) {
                    (Some((peer, session)), Some(len)) => {
                        let plain = &d[HEADER_LEN..HEADER_LEN + len];
                        let from = (src, to);
                        deliver(
                            ifc, &router, socks, &peer, &session, plain, d, from, tx, tun_out,
                        );
                    }
                    (Some(_), None) => {}
                    (None, _) => receive(ifc, &router, socks, d, (src, to), tx),
                }
            }
        }
    }
    opens.clear();
    let _ = tun_out.flush(tun);
    flush(ifc, Some(socks), tx);
}

/// The session a data message is for; `last` keeps the previous answer
/// (the datagrams of a batch mostly share one).
fn plan(router: &Router, d: &[u8], last: &mut Option<(u32, Arc<Peer>, Arc<Session>)>) -> Open {
    let none = Open {
        target: None,
        plain: None,
    };
    if message_type(d) != Some(MSG_DATA) || d.len() < OVERHEAD {
        return none;
    }
    let Some(index) = le32(d, 4) else {
        return none;
    };
    if let Some((i, p, s)) = last.as_ref() {
        if *i == index {
            return Open {
                target: Some((p.clone(), s.clone())),
                plain: None,
            };
        }
    }
    let Some(peer) = router.peer_by_receiver(index) else {
        return none;
    };
    let session = peer
        .lock()
        .tunnel
        .as_ref()
        .and_then(|t| t.session_for(index).cloned());
    let Some(session) = session else {
        return none;
    };
    *last = Some((index, peer.clone(), session.clone()));
    Open {
        target: Some((peer.clone(), session)),
        plain: None,
    }
}

/// Open every planned data message in place, `trains` being the receive
/// buffers (each a run of datagrams `stride` apart): by this worker
/// alone, or in chunks shared with idle workers.
fn open_all<'b>(
    trains: impl Iterator<Item = (&'b mut [u8], usize)>,
    opens: &mut [Open],
    crew: &Crew,
) {
    let open_one = |d: &mut [u8], o: &mut Open| {
        if let Some((_, s)) = &o.target {
            o.plain = s.open(d);
        }
    };
    let work = opens.iter().filter(|o| o.target.is_some()).count();
    let share = work >= SHARE_MIN && crew.idle.load(Ordering::Relaxed) > 0;
    let mut chunks = Vec::new();
    let mut rest = opens;
    for (train, stride) in trains {
        for part in train.chunks_mut(stride * CHUNK) {
            let count = part.len().div_ceil(stride);
            let count = count.min(rest.len());
            let (mine, tail) = std::mem::take(&mut rest).split_at_mut(count);
            rest = tail;
            if share {
                chunks.push(Mutex::new((part, stride, mine)));
            } else {
                for (d, o) in part.chunks_mut(stride).zip(mine.iter_mut()) {
                    open_one(d, o);
                }
            }
        }
    }
    if chunks.is_empty() {
        return;
    }
    let next = AtomicUsize::new(0);
    let job = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(c) = chunks.get(k) else { break };
        let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
        let (part, stride, mine) = &mut *c;
        for (d, o) in part.chunks_mut(*stride).zip(mine.iter_mut()) {
            open_one(d, o);
        }
    };
    crew.share(&job, chunks.len() - 1);
}

/// Why a handshake message goes no further: the debug message to log,
/// and the length of a cookie reply written into `tx`'s next slot, if one
/// should be sent.
pub struct Refused {
    pub log: Option<Message<'static>>,
    pub cookie: Option<usize>,
}

fn refused(log: Option<Message<'static>>) -> Refused {
    Refused { log, cookie: None }
}

/// Which peer sent this handshake message, after the MAC (and, under
/// load, cookie and per-source) checks; for an initiation, also what
/// opening it showed (the timestamp, so the sender is authenticated up
/// to replay, and the state to answer with). No I/O: the caller logs and
/// sends.
pub fn handshake_sender<'r>(
    router: &'r Router,
    d: &[u8],
    src: SocketAddr,
    tx: &mut TxQueue,
) -> Result<(&'r Arc<Peer>, Option<Opened>), Refused> {
    let t = message_type(d).unwrap_or(0);
    let id = router.identity.as_ref().ok_or(refused(None))?;
    // The only place a handshake message is counted against the limit.
    let under_load = id.count_handshake();
    let verified = id.rate_limiter.verify_packet(Some(src.ip()), d, tx.slot());
    // Under load, a message that got this far carried a valid cookie, so
    // its source address is real: now each source gets its own budget.
    if verified.is_ok() && under_load && !id.per_source.allow(src.ip(), Instant::now()) {
        return Err(refused(Some(Message::RateLimited)));
    }
    let invalid = if t == MSG_INITIATION {
        Message::InvalidInitiation
    } else {
        Message::InvalidResponse
    };
    match verified {
        Ok(Packet::HandshakeInit(_)) => id
            .responder
            .open(&id.secret, d)
            .and_then(|o| Some((router.by_key.get(&o.peer_static)?, Some(o))))
            .ok_or(refused(Some(invalid))),
        Ok(Packet::HandshakeResponse(p)) => router
            .peer_by_receiver(p.receiver_idx)
            .map(|p| (p, None))
            .ok_or(refused(Some(invalid))),
        Ok(_) => Err(refused(None)),
        Err(TunnResult::WriteToNetwork(c)) => Err(Refused {
            log: Some(Message::SendCookie),
            cookie: Some(c.len()),
        }),
        Err(TunnResult::Err(WireGuardError::InvalidMac)) => {
            Err(refused(Some(if t == MSG_INITIATION {
                Message::InvalidInitiationMac
            } else {
                Message::InvalidResponseMac
            })))
        }
        Err(TunnResult::Err(WireGuardError::UnderLoad)) => Err(refused(Some(Message::RateLimited))),
        Err(_) => Err(refused(None)),
    }
}

/// `(src, to)`: who sent the datagram, and our address it was sent to.
fn receive(
    ifc: &Interface,
    router: &Router,
    socks: &Sockets,
    d: &[u8],
    (src, to): (SocketAddr, Option<IpAddr>),
    tx: &mut TxQueue,
) {
    let Some(t) = message_type(d) else {
        return;
    };
    let mut opened = None;
    let peer = match t {
        MSG_INITIATION | MSG_RESPONSE => match handshake_sender(router, d, src, tx) {
            Ok((p, o)) => {
                opened = o;
                p
            }
            Err(r) => {
                if let Some(m) = r.log {
                    ifc.log(m);
                }
                if let Some(len) = r.cookie {
                    tx.commit(len, src, to);
                }
                return;
            }
        },
        MSG_COOKIE => {
            let Some(p) = le32(d, 4).and_then(|i| router.peer_by_receiver(i)) else {
                return;
            };
            ifc.log(Message::RecvCookie);
            p
        }
        _ => return,
    };

    let mut ev = Events::default();
    {
        let mut st = peer.lock();
        let timestamp = opened.as_ref().map(|o| o.timestamp);
        // A replayed initiation (not newer than one already accepted,
        // even before a down/up rebuilt the tunnel) is refused here.
        if timestamp.is_some() && timestamp <= st.newest_timestamp {
            drop(st);
            ifc.log(Message::InvalidInitiation);
            return;
        }
        let Some(tunnel) = st.tunnel.as_mut() else {
            return;
        };
        let now = Instant::now();
        // What authenticates: an initiation we could answer, a response
        // to our initiation. A cookie reply proves nothing about the
        // sender. (Data messages go through `deliver`.)
        let got = match t {
            MSG_INITIATION => match opened
                .as_ref()
                .and_then(|o| tunnel.respond(o, tx.slot(), now))
            {
                Some((len, index)) => Got::Response(len, index),
                None => {
                    ev.push(Message::InvalidInitiation);
                    Got::Nothing
                }
            },
            MSG_RESPONSE => {
                if tunnel.consume_response(d, now) {
                    Got::Session
                } else {
                    ev.push(Message::InvalidResponse);
                    Got::Nothing
                }
            }
            MSG_COOKIE => {
                if tunnel.consume_cookie(d, now) {
                    Got::Cookie
                } else {
                    Got::Nothing
                }
            }
            _ => Got::Nothing,
        };
        if matches!(got, Got::Nothing) {
            drop(st);
            ev.log(ifc);
            return;
        }
        peer.add_rx(d.len());
        if !matches!(got, Got::Cookie) {
            heard_from(&mut st, src, to);
        }
        let mut flush_tx = |tx: &mut TxQueue| flush(ifc, Some(socks), tx);
        match got {
            Got::Response(len, index) => {
                st.newest_timestamp = timestamp;
                ev.push(Message::RecvInitiation(peer.id));
                ev.push(Message::SendResponse(peer.id));
                send::commit(peer, &st, tx, len, &mut ev);
                timers::response_sent(peer, &mut st, now, index);
            }
            Got::Session => {
                // A keepalive confirms the session to the responder; it
                // goes only if no packet was waiting to do that.
                ev.push(Message::RecvResponse(peer.id));
                timers::response_received(peer, &mut st, now);
                if send::staged(peer, &mut st, tx, now, &mut ev, &mut flush_tx) == 0 {
                    send::keepalive(peer, &mut st, tx, now, &mut ev);
                }
            }
            Got::Cookie | Got::Nothing => {}
        }
    }
    ev.log(ifc);
}

/// Roaming: only an authenticated message moves the endpoint, and sets
/// the address we answer from. Asking the kernel which source it would
/// pick happens only on a change.
fn heard_from(st: &mut PeerState, src: SocketAddr, to: Option<IpAddr>) {
    if st.endpoint != Some(src) || st.contacted != to {
        st.contacted = to;
        st.local = to.filter(|a| crate::sys::udp::kernel_source(src) != Some(*a));
    }
    st.endpoint = Some(src);
}

/// A data message `d` that opened on `session` (its plaintext `plain`):
/// the session may be confirmed, the timers and the endpoint learn of
/// it, and an IP packet from one of the peer's allowed IPs goes to the
/// TUN write queue.
#[allow(clippy::too_many_arguments)]
fn deliver(
    ifc: &Interface,
    router: &Router,
    socks: &Sockets,
    peer: &Arc<Peer>,
    session: &Arc<Session>,
    plain: &[u8],
    d: &[u8],
    (src, to): (SocketAddr, Option<IpAddr>),
    tx: &mut TxQueue,
    tun_out: &mut TunWrites,
) {
    let mut ev = Events::default();
    let now = Instant::now();
    {
        let mut st = peer.lock();
        let Some(tunnel) = st.tunnel.as_mut() else {
            return;
        };
        tunnel.confirm(session);
        let keepalive = plain.is_empty();
        if keepalive {
            ev.push(Message::RecvKeepalive(peer.id));
        } else if let Some((n, from)) = inner_packet(plain) {
            inner(router, peer, &plain[..n], from, tun_out, &mut ev);
        }
        // (Not an IP packet: authenticated, so the peer was heard from,
        // but it goes nowhere.)
        peer.add_rx(d.len());
        heard_from(&mut st, src, to);
        let mut flush_tx = |tx: &mut TxQueue| flush(ifc, Some(socks), tx);
        let r = timers::data_received(peer, &mut st, now, session.local, keepalive);
        if r.confirmed {
            send::staged(peer, &mut st, tx, now, &mut ev, &mut flush_tx);
        }
        if r.rekey {
            if tx.is_full() {
                flush_tx(tx);
            }
            send::initiate(peer, &mut st, tx, now, false, &mut ev);
        }
    }
    ev.log(ifc);
}

/// What a datagram turned out to be once the tunnel had it.
enum Got {
    /// An initiation we answered: the response (length, our index on the
    /// new session) is in the slot.
    Response(usize, u32),
    /// A response to our initiation: a new session.
    Session,
    Cookie,
    Nothing,
}

/// A decrypted packet from `src` goes to the TUN device if `src` is one
/// of the peer's allowed IPs.
fn inner(
    router: &Router,
    peer: &Arc<Peer>,
    p: &[u8],
    src: IpAddr,
    tun_out: &mut TunWrites,
    ev: &mut Events,
) {
    if allowed(router, peer, src) {
        tun_out.push(p);
    } else {
        ev.push(Message::DisallowedSrc(peer.id));
    }
}

fn allowed(router: &Router, peer: &Arc<Peer>, src: IpAddr) -> bool {
    router
        .allowed_ips
        .lookup(src)
        .is_some_and(|owner| Arc::ptr_eq(owner, peer))
}
