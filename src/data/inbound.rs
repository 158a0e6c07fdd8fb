//! UDP → TUN: receive a batch of datagrams, find each one's peer, let its
//! `Tunn` decrypt or answer, check the inner source against the peer's
//! allowed IPs, and write the packet to the TUN device.
//!
//! Handshake initiations are checked at the interface first (MAC1, and a
//! cookie reply when under load, keyed by the sender's address) before
//! any Diffie-Hellman is spent on finding the sender.

use crate::data::packet::{flush, le32, message_type};
use crate::data::tx::TxQueue;
use crate::data::{Buffers, BUDGET};
use crate::sys::tun::{Tun, TunWrites};
use crate::sys::udp::Sockets;
use crate::wg::constants::*;
use crate::wg::initiation::Timestamp;
use crate::wg::interface::Interface;
use crate::wg::messages::{Events, Message};
use crate::wg::peer::Peer;
use crate::wg::router::Router;
use crate::wg::send;
use crate::wg::timers;
use boringtun::noise::errors::WireGuardError;
use boringtun::noise::{Packet, TunnResult};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// Drain socket `which` of `socks`: at most `BUDGET` receive batches,
/// then write what was decrypted to the TUN device and send the answers.
pub fn drain(ifc: &Interface, socks: &Sockets, which: usize, tun: &Tun, b: &mut Buffers) {
    let Some(sock) = socks.all().nth(which) else {
        return;
    };
    let router = ifc.router();
    let Buffers {
        udp_in,
        tun_out,
        tx,
        ..
    } = b;
    for _ in 0..BUDGET {
        let n = match udp_in.recv(sock) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for i in 0..n {
            for (d, src, to) in udp_in.datagrams(i) {
                // receive() needs a free slot: answers and the packets a
                // handshake releases may have filled the queue.
                if tx.is_full() {
                    flush(ifc, Some(socks), tx);
                }
                if tun_out.is_full() {
                    let _ = tun_out.flush(tun);
                }
                receive(ifc, &router, socks, d, (src, to), tx, tun_out);
            }
        }
    }
    let _ = tun_out.flush(tun);
    flush(ifc, Some(socks), tx);
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
/// load, cookie and per-source) checks; for an initiation, also the
/// timestamp it carries (already decrypted, so the sender is
/// authenticated up to replay). No I/O: the caller logs and sends.
pub fn handshake_sender<'r>(
    router: &'r Router,
    d: &[u8],
    src: SocketAddr,
    tx: &mut TxQueue,
) -> Result<(&'r Arc<Peer>, Option<Timestamp>), Refused> {
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
            .and_then(|o| Some((router.by_key.get(&o.peer_static)?, Some(o.timestamp))))
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
    tun_out: &mut TunWrites,
) {
    let Some(t) = message_type(d) else {
        return;
    };
    let mut timestamp = None;
    let peer = match t {
        MSG_INITIATION | MSG_RESPONSE => match handshake_sender(router, d, src, tx) {
            Ok((p, ts)) => {
                timestamp = ts;
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
        MSG_COOKIE | MSG_DATA => {
            let Some(p) = le32(d, 4).and_then(|i| router.peer_by_receiver(i)) else {
                return;
            };
            if t == MSG_COOKIE {
                ifc.log(Message::RecvCookie);
            }
            p
        }
        _ => return,
    };

    let mut ev = Events::default();
    {
        let mut st = peer.lock();
        // A replayed initiation (not newer than one already accepted,
        // even before a down/up rebuilt `tunn`) is refused here.
        if timestamp.is_some() && timestamp <= st.newest_timestamp {
            drop(st);
            ifc.log(Message::InvalidInitiation);
            return;
        }
        let Some(tunn) = st.tunn.as_mut() else {
            return;
        };
        let now = Instant::now();
        // What `Tunn` made of it. What authenticates: an initiation
        // answered with a response, a response answered with a keepalive,
        // a data message that decrypts. Anything else written back (a
        // cookie reply) proves nothing about the sender.
        let got = match (t, tunn.decapsulate(Some(src.ip()), d, tx.slot())) {
            (MSG_INITIATION, TunnResult::WriteToNetwork(out))
                if message_type(out) == Some(MSG_RESPONSE) =>
            {
                Got::Response(out.len(), le32(out, 4).unwrap_or(0))
            }
            (MSG_RESPONSE, TunnResult::WriteToNetwork(out))
                if message_type(out) == Some(MSG_DATA) =>
            {
                Got::Session
            }
            (MSG_DATA, TunnResult::WriteToTunnelV4(p, ip)) => {
                inner(router, peer, p, IpAddr::V4(ip), tun_out, &mut ev);
                Got::Data { keepalive: false }
            }
            (MSG_DATA, TunnResult::WriteToTunnelV6(p, ip)) => {
                inner(router, peer, p, IpAddr::V6(ip), tun_out, &mut ev);
                Got::Data { keepalive: false }
            }
            (MSG_DATA, TunnResult::Done) => {
                ev.push(Message::RecvKeepalive(peer.id));
                Got::Data { keepalive: true }
            }
            (MSG_COOKIE, TunnResult::Done) => Got::Cookie,
            (MSG_INITIATION, _) => {
                ev.push(Message::InvalidInitiation);
                Got::Nothing
            }
            (MSG_RESPONSE, _) => {
                ev.push(Message::InvalidResponse);
                Got::Nothing
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
            // Roaming: only an authenticated message moves the endpoint,
            // and sets the address we answer from. Asking the kernel
            // which source it would pick happens only on a change.
            if st.endpoint != Some(src) || st.contacted != to {
                st.contacted = to;
                st.local = to.filter(|a| crate::sys::udp::kernel_source(src) != Some(*a));
            }
            st.endpoint = Some(src);
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
                // `Tunn` wrote a keepalive; it goes only if no packet
                // was waiting for this session.
                ev.push(Message::RecvResponse(peer.id));
                timers::response_received(peer, &mut st, now);
                if send::staged(peer, &mut st, tx, now, &mut ev, &mut flush_tx) == 0 {
                    send::keepalive(peer, &mut st, tx, now, &mut ev);
                }
            }
            Got::Data { keepalive } => {
                let index = le32(d, 4).unwrap_or(0);
                let r = timers::data_received(peer, &mut st, now, index, keepalive);
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
            Got::Cookie | Got::Nothing => {}
        }
    }
    ev.log(ifc);
}

/// What a datagram turned out to be once `Tunn` had it.
enum Got {
    /// An initiation we answered: the response (length, our index on the
    /// new session) is in the slot.
    Response(usize, u32),
    /// A response to our initiation: a new session.
    Session,
    Data {
        keepalive: bool,
    },
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
