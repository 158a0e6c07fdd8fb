//! TUN → UDP: read packets (a GSO super-packet is split into MTU-sized
//! packets), route each by destination to a peer, and send them sealed,
//! in GSO runs.
//!
//! A super-packet to a peer that can send now (the common case of
//! bulk TCP) takes a shorter way (`plan_super`): one route lookup and
//! one peer lock for all its segments, which are split straight into
//! their messages' places in the transmit queue and sealed there. So a
//! segment's bytes are copied once in user space, from the read into
//! the message (they were copied twice: split, then sealed).
//!
//! Otherwise two steps per read. Planning, in order, under each peer's
//! lock once per run of packets to that peer: reserve a counter of the
//! session for every packet and its message's place in the transmit
//! queue, run the timer events, stage packets that have no session and
//! start a handshake. Sealing, without any lock: copy, pad and encrypt every
//! planned packet into its place; a large batch is shared with idle
//! workers (`crate::sys::crew`), each sealing whole chunks. The queue is
//! sent only after both, so every peer's messages leave in the order
//! their packets were read.

use crate::data::packet::{dst_addr, flush, padded_len};
use crate::data::tx::TxQueue;
use crate::data::{Buffers, Drained, BUDGET};
use crate::noise::session::{Session, HEADER_LEN, OVERHEAD};
use crate::sys::boottime::Instant;
use crate::sys::crew::Crew;
use crate::sys::tun::{Tun, TunPackets};
use crate::wg::interface::Interface;
use crate::wg::messages::{Events, Message};
use crate::wg::multipoint::is_local_multicast;
use crate::wg::peer::Peer;
use crate::wg::router::Router;
use crate::wg::send;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Seals per chunk a helper takes at a time.
const CHUNK: usize = 8;
/// Batches smaller than this are sealed by the worker alone.
const SHARE_MIN: usize = 2 * CHUNK;

/// A packet planned for sealing: its session and counter, and where its
/// message goes in the transmit queue.
pub struct Seal {
    session: Arc<Session>,
    counter: u64,
    plain: Plain,
    padded: usize,
    at: usize,
}

/// Where a planned packet's plaintext is.
#[derive(Clone, Copy)]
enum Plain {
    /// Packet `i` of the read: copied into the message when sealed.
    Packet(usize),
    /// Already in the message, this long (a segment split there).
    InPlace(usize),
}

impl Seal {
    /// Packet `plain`, padded to `padded`, to seal with `session` at
    /// `counter`; its place is set when it is queued.
    fn new(session: Arc<Session>, counter: u64, plain: Plain, padded: usize) -> Seal {
        Seal {
            session,
            counter,
            plain,
            padded,
            at: 0,
        }
    }
}

/// Give a planned seal the transmit queue's next message, sent to `ep`
/// from `local`, and count its bytes for `peer`.
fn queue_seal(
    mut seal: Seal,
    peer: &Peer,
    ep: SocketAddr,
    local: Option<IpAddr>,
    tx: &mut TxQueue,
    seals: &mut Vec<Seal>,
) {
    let len = seal.padded + OVERHEAD;
    seal.at = tx.used();
    seals.push(seal);
    peer.add_tx(len);
    tx.commit(len, ep, local);
}

/// Drain the TUN device: at most `BUDGET` reads, then flush. A read
/// returns one packet or one super-packet, which says nothing of what
/// is behind it, so the device is read until it has nothing (one read
/// more than the packets). `Gone` when the device is (its link was
/// deleted: reads fail with EBADFD until the interface is destroyed), so
/// that no worker spins on it.
pub fn drain(ifc: &Interface, tun: &Tun, b: &mut Buffers, crew: &Crew) -> Drained {
    let router = ifc.router();
    let socks = ifc.sockets();
    let socks = socks.as_deref();
    let to = Routing {
        ifc,
        router: &router,
        live: socks.is_some(),
        fanned: std::cell::Cell::new(0),
    };
    let mut end = Drained::More;
    for _ in 0..BUDGET {
        let n = match tun.recv(&mut b.tun_in) {
            Ok(0) => {
                end = Drained::Empty;
                break;
            }
            Ok(n) => n,
            // A packet the reader could not take (a virtio header it
            // cannot split) is dropped; the next one is read.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => continue,
            Err(e) => {
                end = match e.raw_os_error() {
                    Some(libc::EBADFD) => Drained::Gone,
                    _ => Drained::Empty,
                };
                break;
            }
        };
        if b.tun_in.unsplit() {
            if b.tx.room() < super_room(&b.tun_in, n, router.mtu) {
                flush(ifc, socks, &mut b.tx);
            }
            let mark = b.tx.used();
            match plan_super(&to, &mut b.tun_in, n, &mut b.tx, &mut b.seals) {
                Ok(true) => {
                    seal_all(&b.tun_in, b.tx.since_mut(mark), mark, &b.seals, crew);
                    b.moved = true;
                    b.seals.clear();
                    continue;
                }
                // Another way: split, then packet by packet.
                Ok(false) if b.tun_in.split().is_ok() => {}
                // A super-packet that does not split is dropped.
                Ok(false) | Err(_) => continue,
            }
        }
        let mut i = 0;
        while i < n {
            if b.tx.is_full() {
                flush(ifc, socks, &mut b.tx);
            }
            let mark = b.tx.used();
            while i < n && !b.tx.is_full() {
                i = plan_run(&to, &b.tun_in, i, n, &mut b.tx, &mut b.seals);
            }
            seal_all(&b.tun_in, b.tx.since_mut(mark), mark, &b.seals, crew);
            // Packets staged for a handshake are not data moving: the
            // handshake is what they wait for.
            b.moved |= !b.seals.is_empty();
            b.seals.clear();
        }
    }
    flush(ifc, socks, &mut b.tx);
    end
}

/// A super-packet of `n` segments, not split yet, to a peer with a
/// session and an endpoint: its segments are split straight into their
/// messages' places in the transmit queue and sealed there, with no copy
/// in between (one route lookup, one peer lock, `n` counters at once).
/// `Ok(false)`, with nothing queued, if it goes another way (no route,
/// link2 multicast, no session or endpoint yet, or the queue has not
/// `super_room` free): the caller splits it and plans packet by packet.
/// An error if it does not split (nothing is queued).
fn plan_super(
    to: &Routing,
    pk: &mut TunPackets,
    n: usize,
    tx: &mut TxQueue,
    seals: &mut Vec<Seal>,
) -> std::io::Result<bool> {
    let Some(peer) = route(to.router, pk.packet(0)) else {
        return Ok(false);
    };
    let mtu = to.router.mtu;
    let message = |k: usize| padded_len(pk.len_of(k), mtu) + OVERHEAD;
    let largest = pk.len_of(0);
    if super_room(pk, n, mtu) > tx.room() {
        return Ok(false);
    }
    {
        let mut outs: Vec<&mut [u8]> = Vec::with_capacity(n);
        let mut rest = tx.spare_mut();
        for k in 0..n {
            let cut = if k + 1 < n { message(k) } else { rest.len() };
            let (slot, tail) = rest.split_at_mut(cut);
            rest = tail;
            outs.push(&mut slot[HEADER_LEN..HEADER_LEN + largest]);
        }
        pk.split_into(&mut outs)?;
    }
    let now = Instant::now();
    let mut ev = Events::default();
    {
        let mut st = peer.lock();
        let session = st.tunnel.as_ref().and_then(|t| t.sending(now)).cloned();
        let (Some(session), Some(ep)) = (session, st.endpoint) else {
            return Ok(false);
        };
        let Some(first) = session.reserve(n as u64) else {
            return Ok(false);
        };
        for k in 0..n {
            let len = pk.len_of(k);
            let plain = Plain::InPlace(len);
            let seal = Seal::new(
                session.clone(),
                first + k as u64,
                plain,
                padded_len(len, mtu),
            );
            queue_seal(seal, peer, ep, st.local, tx, seals);
        }
        send::after_sent(peer, &mut st, tx, false, now, &mut ev);
    }
    ev.each(|m| to.ifc.log(m));
    Ok(true)
}

/// Room the transmit queue needs to split a super-packet of `n`
/// segments into it and seal them there: every message, and after the
/// last one the largest segment (each segment is split into the room
/// after its header, which must hold the largest; every segment but the
/// last is the largest).
fn super_room(pk: &TunPackets, n: usize, mtu: usize) -> usize {
    let messages: usize = (0..n)
        .map(|k| padded_len(pk.len_of(k), mtu) + OVERHEAD)
        .sum();
    messages + pk.len_of(0)
}

/// The one peer a packet goes to: by allowed IPs; on a link2
/// interface by the route copy first, and none for link-local multicast
/// (it goes to every peer: `plan_multicast`).
fn route<'r>(router: &'r Router, p: &[u8]) -> Option<&'r Arc<Peer>> {
    let dst = dst_addr(p)?;
    match &router.multipoint {
        None => router.allowed_ips.lookup(dst),
        Some(_) if is_local_multicast(dst) => None,
        Some(mp) => mp.route(&router.allowed_ips, dst),
    }
}

/// Where a drain's packets go: the interface's peers, and whether it has
/// sockets to send with (`live`; it is coming up or going down if not).
struct Routing<'a> {
    ifc: &'a Interface,
    router: &'a Router,
    live: bool,
    /// link2: how many peers a multicast packet went to before the
    /// transmit queue filled (it goes on to the others once flushed).
    fanned: std::cell::Cell<usize>,
}

/// Plan packet `i` and the packets after it that go to the same peer,
/// while the queue has room; returns the index of the first packet left.
fn plan_run(
    to: &Routing,
    pk: &TunPackets,
    mut i: usize,
    n: usize,
    tx: &mut TxQueue,
    seals: &mut Vec<Seal>,
) -> usize {
    let (ifc, router) = (to.ifc, to.router);
    let Some(peer) = route(router, pk.packet(i)) else {
        let multicast = dst_addr(pk.packet(i)).is_some_and(is_local_multicast);
        if router.multipoint.is_some() && multicast {
            return plan_multicast(to, pk, i, tx, seals);
        }
        return i + 1;
    };
    let now = Instant::now();
    let mut ev = Events::default();
    {
        let mut st = peer.lock();
        let session = st.tunnel.as_ref().and_then(|t| t.sending(now)).cloned();
        let (mut sent, mut staged) = (false, false);
        loop {
            let p = pk.packet(i);
            let padded = padded_len(p.len(), router.mtu);
            let counter = session.as_ref().and_then(|s| s.reserve(1));
            match (&session, counter, st.endpoint) {
                (Some(s), Some(counter), Some(ep)) => {
                    let seal = Seal::new(s.clone(), counter, Plain::Packet(i), padded);
                    queue_seal(seal, peer, ep, st.local, tx, seals);
                    sent = true;
                }
                (Some(_), Some(_), None) => ev.push(Message::NoEndpoint(peer.id)),
                _ => {
                    // No session (or its counters are spent): keep the
                    // packet for the next one.
                    if let Some(t) = st.tunnel.as_mut() {
                        t.stage_padded(p, padded);
                        staged = true;
                    }
                }
            }
            i += 1;
            if i >= n || tx.is_full() {
                break;
            }
            // The route is a function of the destination: packets to the
            // same one (a split super-packet's all are) need no lookup.
            let dst = dst_addr(pk.packet(i));
            if dst.is_none() || dst != dst_addr(p) {
                match route(router, pk.packet(i)) {
                    Some(q) if Arc::ptr_eq(q, peer) => {}
                    _ => break,
                }
            }
        }
        if sent {
            send::after_sent(peer, &mut st, tx, false, now, &mut ev);
        }
        // Without sockets the initiation would be lost yet count as
        // sent (no retry before REKEY_TIMEOUT): the packets wait, and
        // the handshake starts when the sockets come
        // (`Interface::commit`).
        if staged && to.live {
            send::initiate(peer, &mut st, tx, now, false, &mut ev);
        }
    }
    ev.each(|m| ifc.log(m));
    i
}

/// link2: plan packet `i`, link-local multicast, for every peer with an
/// endpoint, each sealed from the same packet for its own session (no
/// copy but the ones staged for peers without a session, whose
/// handshake starts). Should the transmit queue fill on the way, the
/// packet is not done: the caller flushes and calls again, and it goes
/// on with the next peer (the router is held for the whole drain, so
/// the peers' order stands).
fn plan_multicast(
    to: &Routing,
    pk: &TunPackets,
    i: usize,
    tx: &mut TxQueue,
    seals: &mut Vec<Seal>,
) -> usize {
    let (ifc, router) = (to.ifc, to.router);
    let now = Instant::now();
    let p = pk.packet(i);
    let padded = padded_len(p.len(), router.mtu);
    let mut ev = Events::default();
    let start = to.fanned.get();
    for (k, peer) in router.by_key.values().enumerate().skip(start) {
        if tx.is_full() {
            to.fanned.set(k);
            ev.each(|m| ifc.log(m));
            return i;
        }
        let mut st = peer.lock();
        let Some(ep) = st.endpoint else {
            continue;
        };
        let session = st.tunnel.as_ref().and_then(|t| t.sending(now)).cloned();
        match session.and_then(|s| s.reserve(1).map(|c| (s, c))) {
            Some((session, counter)) => {
                let seal = Seal::new(session, counter, Plain::Packet(i), padded);
                queue_seal(seal, peer, ep, st.local, tx, seals);
                send::after_sent(peer, &mut st, tx, false, now, &mut ev);
            }
            None => {
                if let Some(t) = st.tunnel.as_mut() {
                    t.stage_padded(p, padded);
                    if to.live {
                        send::initiate(peer, &mut st, tx, now, false, &mut ev);
                    }
                }
            }
        }
    }
    ev.each(|m| ifc.log(m));
    to.fanned.set(0);
    i + 1
}

/// Seal one planned packet into `out`, the queue's bytes from `base`.
fn seal_one(pk: &TunPackets, s: &Seal, out: &mut [u8], base: usize) {
    if let Some(dst) = out.get_mut(s.at - base..) {
        let _ = match s.plain {
            Plain::Packet(i) => s.session.seal(s.counter, pk.packet(i), s.padded, dst),
            Plain::InPlace(len) => s.session.seal_in_place(s.counter, len, s.padded, dst),
        };
    }
}

/// Seal every planned packet into `out` (the queue from `base` on): by
/// this worker alone, or in chunks shared with idle workers.
fn seal_all(pk: &TunPackets, out: &mut [u8], base: usize, seals: &[Seal], crew: &Crew) {
    if seals.len() < SHARE_MIN || crew.idle.load(Ordering::Relaxed) == 0 {
        for s in seals {
            seal_one(pk, s, out, base);
        }
        return;
    }
    // Cut the queue where each chunk's first message begins, so that each
    // chunk owns its bytes.
    let mut chunks = Vec::with_capacity(seals.len().div_ceil(CHUNK));
    let mut rest = out;
    for group in seals.chunks(CHUNK).rev() {
        let cut = (group[0].at - base).min(rest.len());
        let (head, tail) = rest.split_at_mut(cut);
        chunks.push(Mutex::new((group, tail, base + cut)));
        rest = head;
    }
    let next = AtomicUsize::new(0);
    let job = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(c) = chunks.get(k) else { break };
        let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
        let (group, bytes, at) = &mut *c;
        for s in group.iter() {
            seal_one(pk, s, bytes, *at);
        }
    };
    crew.share(&job, chunks.len() - 1);
}
