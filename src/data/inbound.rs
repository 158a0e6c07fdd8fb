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
//! Handshake messages are screened here (`crate::data::handshake`:
//! MACs, cookie replies, the per-source budget) and what needs a
//! Diffie-Hellman goes to the interface's queue, consumed apart by the
//! handshake service: no handshake stalls the data of any peer.

use crate::data::backlog::{job, Queue};
use crate::data::handshake::{self, heard_from, Screened};
use crate::data::packet::{inner_packet, le32, message_type};
use crate::data::tx::TxQueue;
use crate::data::{Buffers, Drained, Live, Outlet, BUDGET};
use crate::noise::session::{Session, HEADER_LEN, OVERHEAD};
use crate::sys::boottime::Instant;
use crate::sys::crew::Crew;
use crate::sys::tun::{Tun, TunWrites};
use crate::sys::udp::{RecvBatch, Sockets, RECV_BATCH};
use crate::wg::constants::*;
use crate::wg::interface::Interface;
use crate::wg::messages::{Events, Message};
use crate::wg::peer::Peer;
use crate::wg::router::Router;
use crate::wg::send;
use crate::wg::timers;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

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

/// Received datagrams, as trains of equal-stride datagrams (GRO): a
/// receive batch, or the fuzz harness's script.
pub trait Received {
    /// The datagrams of train `i`: bytes, sender, our address they were
    /// sent to.
    fn datagrams(&self, i: usize) -> impl Iterator<Item = (&[u8], SocketAddr, Option<IpAddr>)>;
    /// The first `n` trains, each with its stride, to open in place.
    fn trains_mut(&mut self, n: usize) -> impl Iterator<Item = (&mut [u8], usize)>;
}

impl Received for RecvBatch {
    fn datagrams(&self, i: usize) -> impl Iterator<Item = (&[u8], SocketAddr, Option<IpAddr>)> {
        RecvBatch::datagrams(self, i)
    }

    fn trains_mut(&mut self, n: usize) -> impl Iterator<Item = (&mut [u8], usize)> {
        RecvBatch::trains_mut(self, n)
    }
}

/// Drain socket `which` of `socks`: at most `BUDGET` receive batches,
/// then write what was decrypted to the TUN device and send the answers.
/// A batch that comes back short means the socket had no more: it is
/// not read again to hear so.
pub fn drain(
    ifc: &Interface,
    socks: &Sockets,
    which: usize,
    tun: &Tun,
    queue: &Queue,
    b: &mut Buffers,
    crew: &Crew,
) -> Drained {
    let Some(sock) = socks.all().nth(which) else {
        return Drained::Empty;
    };
    let router = ifc.router();
    let out = Live {
        ifc,
        socks: Some(socks),
    };
    let Buffers {
        udp_in,
        tun_out,
        tx,
        opens,
        moved,
        ..
    } = b;
    tun_out.offloads_of(tun);
    let mut end = Drained::More;
    for _ in 0..BUDGET {
        let n = match udp_in.recv(sock) {
            Ok(0) | Err(_) => {
                end = Drained::Empty;
                break;
            }
            Ok(n) => n,
        };
        let mut tun_full = |w: &mut TunWrites| {
            *moved = true;
            let _ = w.flush(tun);
        };
        let mut step = Step {
            out: &out,
            router: &router,
            queue,
            tx,
            tun_out,
            tun_full: &mut tun_full,
        };
        batch(&mut step, udp_in, n, opens, crew);
        if n < RECV_BATCH {
            end = Drained::Empty;
            break;
        }
    }
    opens.clear();
    *moved |= !tun_out.is_empty();
    let _ = tun_out.flush(tun);
    out.flush(tx);
    end
}

/// What one batch works with: where its side effects go, the
/// interface's view, its handshake queue and the worker's write queues.
pub struct Step<'a> {
    pub out: &'a dyn Outlet,
    pub router: &'a Router,
    pub queue: &'a Queue,
    pub tx: &'a mut TxQueue,
    pub tun_out: &'a mut TunWrites,
    /// Called when `tun_out` is full.
    pub tun_full: &'a mut dyn FnMut(&mut TunWrites),
}

/// One receive batch of `n` trains, in three steps: plan every data
/// message's session, open them all (shared with idle workers when
/// large), then deliver everything in arrival order. `opens` is scratch.
pub fn batch<R: Received>(s: &mut Step, r: &mut R, n: usize, opens: &mut Vec<Open>, crew: &Crew) {
    let now = Instant::now();
    let mut last = None;
    for i in 0..n {
        for (d, _, _) in r.datagrams(i) {
            opens.push(plan(s.router, d, &mut last, now));
        }
    }
    drop(last);
    open_all(r.trains_mut(n), opens, crew);
    // The last source found allowed, and for which peer: a batch's
    // packets mostly share one, so the trie is asked once per change.
    let mut passed = None;
    let mut planned = opens.drain(..);
    for i in 0..n {
        for (d, src, to) in r.datagrams(i) {
            let Some(o) = planned.next() else { break };
            // Answers and the packets a handshake releases need room.
            if s.tx.is_full() {
                s.out.flush(s.tx);
            }
            if s.tun_out.is_full() {
                (s.tun_full)(s.tun_out);
            }
            match (o.target, o.plain) {
                (Some((peer, session)), Some(len)) => {
                    let plain = &d[HEADER_LEN..HEADER_LEN + len];
                    let from = (src, to);
                    deliver(s, (&peer, &session), plain, d, from, now, &mut passed);
                }
                (Some(_), None) => {}
                (None, _) => receive(s, d, (src, to)),
            }
        }
    }
}

/// The session a data message is for; `last` keeps the previous answer
/// (the datagrams of a batch mostly share one).
fn plan(
    router: &Router,
    d: &[u8],
    last: &mut Option<(u32, Arc<Peer>, Arc<Session>)>,
    now: Instant,
) -> Open {
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
        .and_then(|t| t.session_for(index, now).cloned());
    let Some(session) = session else {
        return none;
    };
    *last = Some((index, peer.clone(), session.clone()));
    Open {
        target: Some((peer, session)),
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

/// A datagram that is not a data message of a live session: a handshake
/// message is screened and queued, a cookie reply consumed.
fn receive(s: &mut Step, d: &[u8], (src, to): (SocketAddr, Option<IpAddr>)) {
    match message_type(d) {
        Some(MSG_INITIATION | MSG_RESPONSE) => {
            match handshake::screen(s.router, s.queue, d, src, s.tx) {
                Screened::Dropped(m) => {
                    if let Some(m) = m {
                        s.out.log(m);
                    }
                }
                Screened::Cookie(len) => {
                    s.out.log(Message::SendCookie);
                    s.tx.commit(len, src, to);
                }
                Screened::Queue => {
                    let queued = job(d, src, to, Instant::now()).is_some_and(|j| s.queue.push(j));
                    if !queued {
                        s.out.log(Message::RateLimited);
                    }
                }
            }
        }
        Some(MSG_COOKIE) => handshake::cookie(s.out, s.router, d),
        _ => {}
    }
}

/// A data message `d` that opened on `session` (its plaintext `plain`):
/// the session may be confirmed, the timers and the endpoint learn of
/// it, and an IP packet from one of the peer's allowed IPs goes to the
/// TUN write queue. `now`: when its batch was received. `passed`: the
/// last inner source found allowed, and its peer.
fn deliver(
    s: &mut Step,
    (peer, session): (&Arc<Peer>, &Arc<Session>),
    plain: &[u8],
    d: &[u8],
    (src, to): (SocketAddr, Option<IpAddr>),
    now: Instant,
    passed: &mut Option<(IpAddr, Arc<Peer>)>,
) {
    let mut ev = Events::default();
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
            let known = passed
                .as_ref()
                .is_some_and(|(a, p)| *a == from && Arc::ptr_eq(p, peer));
            if known || allowed(s.router, peer, from) {
                s.tun_out.push(&plain[..n]);
                if !known {
                    *passed = Some((from, peer.clone()));
                }
            } else {
                ev.push(Message::DisallowedSrc(peer.id));
            }
        }
        // (Not an IP packet: authenticated, so the peer was heard from,
        // but it goes nowhere.)
        peer.add_rx(d.len());
        heard_from(&mut st, src, to);
        let out = s.out;
        let mut flush_tx = |tx: &mut TxQueue| out.flush(tx);
        let r = timers::data_received(peer, &mut st, now, session.local, keepalive);
        if r.confirmed {
            send::staged(peer, &mut st, s.tx, now, &mut ev, &mut flush_tx);
        }
        if r.rekey {
            if s.tx.is_full() {
                flush_tx(s.tx);
            }
            send::initiate(peer, &mut st, s.tx, now, false, &mut ev);
        }
    }
    ev.each(|m| s.out.log(m));
}

/// Whether `peer` may send from `src`: one of its allowed IPs; on a
/// link2 interface also its link-local, or a source routed through it
/// (reverse path).
fn allowed(router: &Router, peer: &Arc<Peer>, src: IpAddr) -> bool {
    match &router.multipoint {
        None => router
            .allowed_ips
            .lookup(src)
            .is_some_and(|owner| Arc::ptr_eq(owner, peer)),
        Some(mp) => mp.source_ok(&router.allowed_ips, src, peer),
    }
}
