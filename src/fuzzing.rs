//! Entry points for the coverage-guided fuzz targets in `fuzz/`, and for
//! `tests/fuzz_corpus.rs`, which replays every saved input (and every
//! input that ever crashed) on stable Rust in every `cargo test`.
//!
//! Each takes arbitrary bytes, runs the daemon's own code on them, and
//! panics only on a broken promise (a decoded request that does not
//! survive encoding, a rollback that leaves something behind).

use crate::data::backlog::{Queue, Ready, QUEUE_MAX};
use crate::data::handshake::consume;
use crate::data::inbound::{batch, Received, Step};
use crate::data::packet::{dst_addr, le32, padded_len};
use crate::data::tx::TxQueue;
use crate::data::Outlet;
use crate::noise::cookie::Macs;
use crate::noise::handshake::{add_macs, mac1_key};
use crate::noise::tunnel::Tunnel;
use crate::sys::boottime::Instant;
use crate::sys::crew::Crew;
use crate::sys::tun::{Gro, TunWrites};
use crate::wg::config::Config;
use crate::wg::messages::Message;
use crate::wg::peer::Peer;
use crate::wg::router::{Identity, Router};
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use proto::wire::{read_message, MAX_LINE, MAX_REQUEST};
use proto::Request;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, OnceLock};

/// Control protocol: framing, then request decoding; whatever decodes
/// must encode back to the same request.
pub fn control_request(data: &[u8]) {
    let mut r = data;
    while let Ok(Some(msg)) = read_message(&mut r, MAX_LINE, MAX_REQUEST) {
        if let Ok(req) = Request::decode(&msg) {
            let again = Request::decode(&req.encode());
            assert_eq!(again.as_ref(), Ok(&req), "{msg:?}");
        }
    }
}

/// The UAPI `set` parser, then applying what it produced to a
/// configuration with peers; rolling it back must restore every peer
/// and every allowed-IP owner.
pub fn uapi_set(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ops) = crate::uapi::codec::parse_set(text) else {
        return;
    };
    let mut c = Config::default();
    let seed = "public_key=0101010101010101010101010101010101010101010101010101010101010101\n\
                allowed_ip=10.0.0.0/8\nallowed_ip=fd00::/8\n\
                public_key=0202020202020202020202020202020202020202020202020202020202020202\n\
                allowed_ip=10.1.0.0/16\n";
    if let Ok(seed_ops) = crate::uapi::codec::parse_set(seed) {
        let _ = c.apply(&seed_ops);
    }
    let snapshot = |c: &Config| -> Vec<(String, Vec<String>)> {
        c.peers
            .iter()
            .map(|p| {
                (
                    p.public_key.to_hex(),
                    p.allowed_ips.iter().map(|a| a.to_string()).collect(),
                )
            })
            .collect()
    };
    let before = snapshot(&c);
    if let Ok(j) = c.apply(&ops) {
        c.rollback(j);
    }
    assert_eq!(snapshot(&c), before, "rollback left changes");
    for (k, aips) in &before {
        for a in aips {
            let owner = c.peers.owner(&a.parse().expect("prefix"));
            assert_eq!(owner.map(|o| o.public_key.to_hex()), Some(k.clone()));
        }
    }
}

/// The interface's peers, each with a live session; their own sides are
/// boringtun's, to make valid data messages and initiations.
const PEERS: usize = 3;

/// An interface with `PEERS` peers and live sessions, for the datagram
/// path; its handshake queue is served by the harness, not a thread.
struct Wire {
    router: Router,
    queue: Arc<Queue>,
    remotes: Vec<Tunn>,
    tx: TxQueue,
    tun_out: TunWrites,
    crew: Crew,
}

/// Side effects go nowhere.
struct Nowhere;

impl Outlet for Nowhere {
    fn log(&self, _: Message<'static>) {}
    fn flush(&self, tx: &mut TxQueue) {
        tx.clear();
    }
}

/// Datagrams from the script: one train each.
struct Script(Vec<(Vec<u8>, SocketAddr)>);

impl Received for Script {
    fn datagrams(&self, i: usize) -> impl Iterator<Item = (&[u8], SocketAddr, Option<IpAddr>)> {
        self.0
            .get(i)
            .map(|(d, src)| (&d[..], *src, None))
            .into_iter()
    }

    fn trains_mut(&mut self, n: usize) -> impl Iterator<Item = (&mut [u8], usize)> {
        self.0.iter_mut().take(n).map(|(d, _)| {
            let stride = d.len().max(1);
            (&mut d[..], stride)
        })
    }
}

fn wire() -> &'static Mutex<Wire> {
    static W: OnceLock<Mutex<Wire>> = OnceLock::new();
    W.get_or_init(|| {
        let ours = StaticSecret::from([0x11; 32]);
        let our_pub = PublicKey::from(&ours);
        let id = Arc::new(Identity::new(ours.clone()));
        let mut router = Router {
            identity: Some(id.clone()),
            mtu: 1420,
            ..Router::default()
        };
        let mut remotes = Vec::new();
        for k in 0..PEERS {
            let theirs = StaticSecret::from([0x22 + k as u8; 32]);
            let their_pub = PublicKey::from(&theirs);
            let peer = Arc::new(Peer::new(k as u64 + 1));
            let leases = router.indices.allocator(Arc::downgrade(&peer));
            let mut local = Tunnel::new(ours.clone(), their_pub, None, leases);
            let mut remote = Tunn::new(theirs, our_pub, None, None, 9 + k as u32, None);
            let mut a = vec![0u8; 2048];
            let mut b = vec![0u8; 2048];
            let init = match remote.format_handshake_initiation(&mut a, false) {
                TunnResult::WriteToNetwork(m) => m.to_vec(),
                _ => unreachable!("initiation"),
            };
            let now = Instant::now();
            let opened = id
                .responder
                .open(&ours, &init)
                .and_then(|c| c.finish(local.static_static()?))
                .expect("opens");
            let (n, _) = local.respond(&opened, &mut b, now).expect("response");
            if let TunnResult::WriteToNetwork(k) = remote.decapsulate(None, &b[..n], &mut a) {
                let mut k = k.to_vec();
                let index = le32(&k, 4).unwrap_or(0);
                if let Some(s) = local.session_for(index, now).cloned() {
                    let _ = s.open(&mut k);
                    local.confirm(&s);
                }
            }
            peer.lock().tunnel = Some(local);
            router.by_key.insert(*their_pub.as_bytes(), peer.clone());
            for p in [format!("10.{k}.0.0/16"), format!("fd0{k}::/16")] {
                router
                    .allowed_ips
                    .insert(&p.parse().expect("prefix"), peer.clone());
            }
            remotes.push(remote);
        }
        Mutex::new(Wire {
            router,
            queue: Queue::new(Arc::new(Ready::default()), std::sync::Weak::new()),
            remotes,
            tx: TxQueue::new(64 << 10),
            tun_out: coalescing(),
            crew: Crew::new(false).expect("eventfd"),
        })
    })
}

/// A TUN write queue that coalesces TCP and UDP, as on a device with
/// offloads.
fn coalescing() -> TunWrites {
    let mut t = TunWrites::default();
    t.set_gro(Gro {
        tcp: true,
        udp: true,
    });
    t
}

/// One datagram of a script: what the record's first byte asks for,
/// made from the rest.
fn datagram(w: &mut Wire, what: u8, body: &[u8]) -> Option<Vec<u8>> {
    let k = usize::from(what >> 2) % PEERS;
    match what & 3 {
        // Anything at all from the network.
        0 => Some(body.to_vec()),
        // A packet peer k encrypts on its session.
        1 => {
            let mut out = vec![0u8; body.len() + 64];
            let padded = padded_len(body.len(), 1420).max(body.len());
            let mut plain = body.to_vec();
            plain.resize(padded, 0);
            match w.remotes[k].encapsulate(&plain, &mut out) {
                TunnResult::WriteToNetwork(m) => Some(m.to_vec()),
                _ => None,
            }
        }
        // A fresh initiation from peer k.
        2 => {
            let mut out = vec![0u8; 256];
            match w.remotes[k].format_handshake_initiation(&mut out, true) {
                TunnResult::WriteToNetwork(m) => Some(m.to_vec()),
                _ => None,
            }
        }
        // A handshake-sized message with its bytes from the input and a
        // valid MAC1 (so it is queued and opened), or a cookie reply.
        _ => {
            let len = if body.first().is_some_and(|b| b & 1 == 1) {
                148
            } else {
                92
            };
            let mut m = body.to_vec();
            m.resize(len, 0);
            m[..4].copy_from_slice(&[if len == 148 { 1 } else { 2 }, 0, 0, 0]);
            let ours = PublicKey::from(&StaticSecret::from([0x11; 32]));
            add_macs(&mut m, &mac1_key(&ours), None);
            Some(m)
        }
    }
}

/// Run `script` (datagram, source) through one receive batch, then the
/// handshake service's share, as the daemon would.
fn run(w: &mut Wire, script: Vec<(Vec<u8>, SocketAddr)>) {
    let n = script.len();
    let mut r = Script(script);
    let mut opens = Vec::new();
    // What would be written is made (a coalesced packet's headers and
    // sums), then dropped.
    let mut tun_full = |t: &mut TunWrites| drop(t.written());
    let mut step = Step {
        out: &Nowhere,
        router: &w.router,
        queue: &w.queue,
        tx: &mut w.tx,
        tun_out: &mut w.tun_out,
        tun_full: &mut tun_full,
    };
    batch(&mut step, &mut r, n, &mut opens, &w.crew);
    assert!(w.queue.depth() <= QUEUE_MAX, "the queue is bounded");
    let mut jobs = Vec::new();
    while w.queue.depth() > 0 {
        w.queue.take(16, &mut jobs);
        for j in jobs.drain(..) {
            let id = w.router.identity.as_ref().expect("identity");
            assert_ne!(
                id.cookies.check(j.bytes(), j.src, false, Instant::now()),
                Macs::Invalid,
                "only messages with a valid MAC1 are queued"
            );
            consume(&Nowhere, &w.router, &j, &mut w.tx);
        }
    }
    w.tx.clear();
    drop(w.tun_out.written());
}

/// The inbound datagram path, one datagram. First byte 0: the rest is a
/// datagram from the network (classification, MACs, cookie, opening an
/// initiation, finding the peer, decapsulation). First byte 1: the rest
/// is a packet a peer encrypts in a valid session, so that what comes
/// out of decryption (any bytes at all) meets the length checks, the
/// allowed-IP source check and the TUN write queue.
pub fn inbound(data: &[u8]) {
    let Some((&mode, d)) = data.split_first() else {
        return;
    };
    let mut w = wire().lock().unwrap_or_else(|e| e.into_inner());
    let w = &mut *w;
    let Some(msg) = datagram(w, mode & 1, d) else {
        return;
    };
    let _ = dst_addr(&msg);
    run(w, vec![(msg, SocketAddr::from(([192, 0, 2, 1], 51820)))]);
}

/// The phased drain on a whole batch: the input is records (a byte of
/// kind, a byte of length, that many bytes) making data from several
/// peers, fresh initiations, handshake-sized messages with a valid MAC1,
/// cookie replies and junk, from a few sources, each optionally sent
/// twice. Planned, opened and delivered in one batch, then the
/// handshake queue consumed. Promises: nothing panics, the queue stays
/// bounded and holds only MAC1-valid messages, and a data message sent
/// twice in one batch reaches the TUN queue once.
pub fn drain(data: &[u8]) {
    let mut w = wire().lock().unwrap_or_else(|e| e.into_inner());
    let w = &mut *w;
    let mut script = Vec::new();
    let mut rest = data;
    let mut twice = 0usize;
    while let [kind, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (body, after) = tail.split_at(n);
        rest = after;
        let src = SocketAddr::from(([192, 0, 2, 1 + (kind >> 5)], 51820 + u16::from(kind >> 5)));
        if let Some(d) = datagram(w, kind & 0x0f, body) {
            if kind & 0x10 != 0 {
                script.push((d.clone(), src));
                twice += 1;
            }
            script.push((d, src));
        }
        if script.len() >= 64 {
            break;
        }
    }
    let valid = script.len() - twice;
    let n = script.len();
    let mut r = Script(script);
    let mut opens = Vec::new();
    let mut delivered = 0usize;
    {
        let mut tun_full = |t: &mut TunWrites| {
            delivered += t.segments();
            drop(t.written());
        };
        let mut step = Step {
            out: &Nowhere,
            router: &w.router,
            queue: &w.queue,
            tx: &mut w.tx,
            tun_out: &mut w.tun_out,
            tun_full: &mut tun_full,
        };
        batch(&mut step, &mut r, n, &mut opens, &w.crew);
    }
    delivered += w.tun_out.segments();
    drop(w.tun_out.written());
    assert!(
        delivered <= valid,
        "{delivered} delivered of {valid} distinct"
    );
    run(w, Vec::new());
}

/// Route notifications as the route watcher reads them, applied to a
/// route copy and resolved for a multipoint view: the parser takes any
/// bytes, and the copy's chosen routes match what it was told.
pub fn route_events(data: &[u8]) {
    use crate::sys::routes::{parse_events, RouteChange, RouteEvent};
    use crate::wg::allowed_ips::AllowedIps;
    use crate::wg::multipoint::Multipoint;
    use crate::wg::routes::RouteCopy;
    let mut events = Vec::new();
    parse_events(data, None, &mut events);
    let mut copy = RouteCopy::default();
    let peers: Vec<([u8; 32], std::sync::Arc<u32>)> = (1u8..4)
        .map(|i| ([i; 32], std::sync::Arc::new(i as u32)))
        .collect();
    let mut aips = AllowedIps::default();
    for (i, (_, p)) in peers.iter().enumerate() {
        if let Some(x) = proto::Prefix::new(
            format!("10.0.0.{}", i + 2)
                .parse()
                .unwrap_or(std::net::IpAddr::from([10, 0, 0, 2])),
            32,
        ) {
            aips.insert(&x, p.clone());
        }
    }
    let mut mp = Multipoint::build(peers.iter().map(|(k, p)| (k, p)), &aips, &copy);
    for e in &events {
        if let RouteEvent::Changed { change, .. } = e {
            if let Some(dst) = copy.apply(*change) {
                mp.resolve(dst, copy.chosen(&dst), &aips);
                if let RouteChange::Put(r) = change {
                    if r.table == crate::sys::routes::MAIN_TABLE {
                        assert!(copy.chosen(&dst).is_some());
                    }
                }
                let _ = mp.route(&aips, dst.addr());
            }
        }
    }
}

/// A TUN read (virtio-net header, then a packet or super-packet): taken
/// as the reader takes it, a super-packet split straight into separate
/// buffers gives the very segments the reader's own split gives, with
/// the lengths it announced, and nothing panics.
pub fn tun_read(data: &[u8]) {
    use crate::sys::tun::TunPackets;
    thread_local! {
        static PK: std::cell::RefCell<TunPackets> = std::cell::RefCell::new(TunPackets::default());
    }
    PK.with(|pk| {
        let pk = &mut *pk.borrow_mut();
        let Ok(n) = pk.take_bytes(data) else { return };
        if !pk.unsplit() {
            assert_eq!((n, pk.packet(0).len()), (1, pk.len_of(0)));
            return;
        }
        let largest = pk.len_of(0);
        let mut room = vec![0u8; n * largest];
        let lens: Vec<usize> = (0..n).map(|i| pk.len_of(i)).collect();
        let direct = {
            let mut outs: Vec<&mut [u8]> = room.chunks_mut(largest).collect();
            pk.split_into(&mut outs).is_ok()
        };
        if pk.split().is_err() {
            assert!(!direct, "split straight, but not into the reader's buffers");
            return;
        }
        assert!(direct, "split into the reader's buffers, but not straight");
        for (i, out) in room.chunks(largest).enumerate() {
            assert_eq!(pk.packet(i), &out[..lens[i]], "segment {i}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worker that receives an initiation does no Diffie-Hellman: it
    /// only queues it (no response leaves with the batch); the handshake
    /// service's `consume` answers it.
    #[test]
    fn the_receiving_worker_queues_handshakes_and_never_answers_them() {
        let mut w = wire().lock().unwrap_or_else(|e| e.into_inner());
        let w = &mut *w;
        std::thread::sleep(std::time::Duration::from_millis(25));
        let init = datagram(w, 2, &[]).expect("initiation");
        let src = SocketAddr::from(([192, 0, 2, 7], 51820));
        let mut r = Script(vec![(init, src)]);
        let mut opens = Vec::new();
        let mut tun_full = |t: &mut TunWrites| t.clear();
        let mut step = Step {
            out: &Nowhere,
            router: &w.router,
            queue: &w.queue,
            tx: &mut w.tx,
            tun_out: &mut w.tun_out,
            tun_full: &mut tun_full,
        };
        batch(&mut step, &mut r, 1, &mut opens, &w.crew);
        assert_eq!(w.queue.depth(), 1, "queued");
        assert!(w.tx.is_empty(), "nothing sent by the receiving worker");
        let mut jobs = Vec::new();
        w.queue.take(16, &mut jobs);
        consume(&Nowhere, &w.router, &jobs[0], &mut w.tx);
        assert!(!w.tx.is_empty(), "the service answers it");
        w.tx.clear();
    }

    /// The TUN reader on its saved inputs and 20 000 mutations of them
    /// (bytes changed, cut short): what `fuzz/run tun_read` does at
    /// length, here on every `cargo test`.
    #[test]
    fn tun_reads_mutated_never_split_two_ways() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tun_read");
        let seeds: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        assert!(seeds.len() >= 4);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20_000 {
            let mut d = seeds[round % seeds.len()].clone();
            for _ in 0..1 + next() % 4 {
                // Mostly the virtio header and the IP/transport headers.
                let at = (next() as usize)
                    % if next() % 4 == 0 {
                        d.len()
                    } else {
                        80.min(d.len())
                    };
                d[at] = next() as u8;
            }
            if next() % 8 == 0 {
                d.truncate((next() as usize) % (d.len() + 1));
            }
            tun_read(&d);
        }
    }
}
