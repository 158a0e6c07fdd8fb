//! TUN → UDP: read packets (a GSO super-packet arrives split into
//! MTU-sized packets), route each by destination to a peer, pad, encrypt
//! into the worker's transmit queue, and send it in GSO runs.
//!
//! Consecutive packets for the same peer (the usual case: the segments of
//! one super-packet) are encrypted under one hold of the peer's lock.

use crate::data::packet::{dst_addr, flush, message_type, padded_len};
use crate::data::tx::TxQueue;
use crate::data::{Buffers, BUDGET};
use crate::sys::tun::{Tun, TunPackets};
use crate::wg::constants::MSG_INITIATION;
use crate::wg::interface::Interface;
use crate::wg::messages::Events;
use crate::wg::peer::{Peer, PeerState};
use crate::wg::router::Router;
use crate::wg::send;
use boringtun::noise::TunnResult;
use std::sync::Arc;
use std::time::Instant;

/// Drain the TUN device: at most `BUDGET` reads, then flush. Returns
/// false when the device is gone (its link was deleted: reads fail with
/// EBADFD until the interface is destroyed), so that it is not re-armed
/// and no worker spins on it.
pub fn drain(ifc: &Interface, tun: &Tun, b: &mut Buffers) -> bool {
    let router = ifc.router();
    let socks = ifc.sockets();
    let socks = socks.as_deref();
    let mut alive = true;
    for _ in 0..BUDGET {
        let n = match tun.recv(&mut b.tun_in) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                alive = e.raw_os_error() != Some(libc::EBADFD);
                break;
            }
        };
        let mut i = 0;
        while i < n {
            if b.tx.is_full() {
                flush(ifc, socks, &mut b.tx);
            }
            i = encrypt_run(ifc, &router, &mut b.tun_in, i, n, &mut b.tx);
        }
    }
    flush(ifc, socks, &mut b.tx);
    alive
}

fn route<'r>(router: &'r Router, p: &[u8]) -> Option<&'r Arc<Peer>> {
    router.allowed_ips.lookup(dst_addr(p)?)
}

/// Encrypt packet `i` and the packets after it that go to the same peer,
/// while the queue has room; returns the index of the first packet left.
fn encrypt_run(
    ifc: &Interface,
    router: &Router,
    pk: &mut TunPackets,
    mut i: usize,
    n: usize,
    tx: &mut TxQueue,
) -> usize {
    let (len, buf) = pk.packet_mut(i);
    let Some(peer) = route(router, &buf[..len]) else {
        return i + 1;
    };
    let now = Instant::now();
    let mut ev = Events::default();
    {
        let mut st = peer.lock();
        loop {
            encrypt(router, peer, &mut st, pk, i, tx, now, &mut ev);
            i += 1;
            if i >= n || tx.is_full() {
                break;
            }
            let (len, buf) = pk.packet_mut(i);
            match route(router, &buf[..len]) {
                Some(p) if Arc::ptr_eq(p, peer) => {}
                _ => break,
            }
        }
    }
    ev.log(ifc);
    i
}

/// Encrypt packet `i` for the peer into `tx`. Without a session `Tunn`
/// keeps the packet until a handshake completes (and writes an
/// initiation if none is in progress; if one is, a new one is sent
/// only if the last is REKEY_TIMEOUT old).
#[allow(clippy::too_many_arguments)]
fn encrypt(
    router: &Router,
    peer: &Peer,
    st: &mut PeerState,
    pk: &mut TunPackets,
    i: usize,
    tx: &mut TxQueue,
    now: Instant,
    ev: &mut Events,
) {
    let (len, buf) = pk.packet_mut(i);
    let padded = padded_len(len, router.mtu).min(buf.len());
    buf[len..padded].fill(0);
    let Some(tunn) = st.tunn.as_mut() else {
        return;
    };
    match tunn.encapsulate(&buf[..padded], tx.slot()) {
        TunnResult::WriteToNetwork(out) => {
            let out_len = out.len();
            if message_type(&tx.slot()[..out_len]) == Some(MSG_INITIATION) {
                send::initiated_by_tunn(peer, st, tx, out_len, ev);
            } else {
                send::sent(peer, st, tx, out_len, now, ev);
            }
        }
        _ => send::initiate(peer, st, tx, now, false, ev),
    }
}
