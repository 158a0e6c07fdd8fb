//! The timer tick: once per `TIMER_TICK` for every interface, drive every peer's
//! `Tunn::update_timers` (retries, rekeys, keepalives, expiry), send
//! persistent keepalives, and turn what happened into wg(4)'s messages.

use crate::data::packet::{flush, message_type};
use crate::data::tx::TxQueue;
use crate::wg::constants::*;
use crate::wg::interface::Interface;
use crate::wg::messages::Message;
use crate::wg::peer::Peer;
use boringtun::noise::errors::WireGuardError;
use boringtun::noise::TunnResult;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One timer tick of one interface (the clock calls it every
/// `TIMER_TICK`): drive every peer, then send what that produced.
///
/// The peers are copied out (into `peers`, reused between ticks) so that
/// the router's read lock is held only for the copy, not for the whole
/// walk: a commit waiting for the write lock is never held up by timers.
pub fn tick_interface(ifc: &Interface, tx: &mut TxQueue, peers: &mut Vec<Arc<Peer>>) {
    // A down interface is silent: no sockets, no timers.
    let Some(socks) = ifc.sockets() else {
        return;
    };
    let socks = Some(socks);
    peers.clear();
    {
        let router = ifc.router();
        if let Some(id) = &router.identity {
            id.new_second(Instant::now());
        }
        peers.extend(router.by_key.values().cloned());
    }
    for peer in peers.iter() {
        tick(ifc, peer, tx);
        if tx.is_full() {
            flush(ifc, socks.as_deref(), tx);
        }
    }
    peers.clear();
    flush(ifc, socks.as_deref(), tx);
}

fn older_than(t: Option<Instant>, now: Instant, secs: u64) -> bool {
    t.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(secs))
}

fn tick(ifc: &Interface, peer: &Peer, tx: &mut TxQueue) {
    let mut ev: [Option<Message<'static>>; 3] = [None, None, None];
    {
        let mut st = peer.lock();
        let now = Instant::now();
        let Some(tunn) = st.tunn.as_mut() else {
            return;
        };
        let mut out = match tunn.update_timers(tx.slot()) {
            TunnResult::WriteToNetwork(p) => Some(p.len()),
            TunnResult::Err(WireGuardError::ConnectionExpired) => {
                if !st.expired_reported {
                    st.expired_reported = true;
                    if st.handshake_attempts > 0 {
                        ev[0] = Some(Message::HandshakeGiveUp(
                            peer.id,
                            MAX_TIMER_HANDSHAKES_REPORTED,
                        ));
                        st.handshake_attempts = 0;
                    } else if st.session_started.take().is_some() {
                        ev[0] = Some(Message::ZeroingKeys(peer.id, REJECT_AFTER_TIME_SECS * 3));
                    }
                }
                None
            }
            _ => None,
        };
        // Persistent keepalive: something must go out every `pka` seconds.
        if out.is_none() && st.pka > 0 && older_than(st.last_sent, now, st.pka as u64) {
            st.last_sent = Some(now);
            if let Some(tunn) = st.tunn.as_mut() {
                if let TunnResult::WriteToNetwork(p) = tunn.encapsulate(&[], tx.slot()) {
                    out = Some(p.len());
                }
            }
        }
        let Some(len) = out else {
            drop(st);
            log_all(ifc, ev);
            return;
        };
        match message_type(&tx.slot()[..len]) {
            Some(MSG_INITIATION) => {
                let try_no = st.initiation_sent();
                if try_no > 1 {
                    ev[1] = Some(Message::HandshakeRetry(peer.id, try_no));
                } else if st.last_data_sent > st.last_received
                    && older_than(
                        st.last_received,
                        now,
                        KEEPALIVE_TIMEOUT_SECS + REKEY_TIMEOUT_SECS,
                    )
                {
                    ev[1] = Some(Message::StoppedHearing(
                        peer.id,
                        KEEPALIVE_TIMEOUT_SECS + REKEY_TIMEOUT_SECS,
                    ));
                }
                ev[2] = Some(Message::SendInitiation(peer.id));
            }
            Some(MSG_DATA) if len == KEEPALIVE_LEN => ev[2] = Some(Message::SendKeepalive(peer.id)),
            _ => {}
        }
        st.last_sent = Some(now);
        match st.endpoint {
            Some(ep) => {
                peer.add_tx(len);
                tx.commit(len, ep, st.local);
            }
            None => ev[2] = Some(Message::NoEndpoint(peer.id)),
        }
    }
    log_all(ifc, ev);
}

fn log_all<const N: usize>(ifc: &Interface, ev: [Option<Message<'static>>; N]) {
    for m in ev.into_iter().flatten() {
        ifc.log(m);
    }
}
