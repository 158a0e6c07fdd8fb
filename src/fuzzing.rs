//! Entry points for the coverage-guided fuzz targets in `fuzz/`, and for
//! `tests/fuzz_corpus.rs`, which replays every saved input (and every
//! input that ever crashed) on stable Rust in every `cargo test`.
//!
//! Each takes arbitrary bytes, runs the daemon's own code on them, and
//! panics only on a broken promise (a decoded request that does not
//! survive encoding, a rollback that leaves something behind).

use crate::data::inbound::handshake_sender;
use crate::data::packet::{dst_addr, inner_packet, le32, message_type, padded_len};
use crate::data::tx::TxQueue;
use crate::noise::session::HEADER_LEN;
use crate::noise::tunnel::Tunnel;
use crate::sys::tun::TunWrites;
use crate::wg::config::Config;
use crate::wg::peer::Peer;
use crate::wg::router::{Identity, Router};
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use proto::wire::{read_message, MAX_LINE, MAX_REQUEST};
use proto::Request;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

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

/// An interface with one peer and a live session, for the datagram path.
struct Wire {
    router: Router,
    /// The peer's side of the session, to make valid data messages.
    remote: Tunn,
    tx: TxQueue,
    tun_out: TunWrites,
}

fn wire() -> &'static Mutex<Wire> {
    static W: OnceLock<Mutex<Wire>> = OnceLock::new();
    W.get_or_init(|| {
        let ours = StaticSecret::from([0x11; 32]);
        let theirs = StaticSecret::from([0x22; 32]);
        let (our_pub, their_pub) = (PublicKey::from(&ours), PublicKey::from(&theirs));
        let id = Arc::new(Identity::new(ours.clone(), 50));
        let mut local = Tunnel::new(ours.clone(), their_pub, None, 7);
        let mut remote = Tunn::new(theirs, our_pub, None, None, 9, None);
        let mut a = vec![0u8; 2048];
        let mut b = vec![0u8; 2048];
        let init = match remote.format_handshake_initiation(&mut a, false) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => unreachable!("initiation"),
        };
        let opened = id.responder.open(&ours, &init).expect("opens");
        let (n, _) = local
            .respond(&opened, &mut b, Instant::now())
            .expect("response");
        if let TunnResult::WriteToNetwork(k) = remote.decapsulate(None, &b[..n], &mut a) {
            let k = k.to_vec();
            let index = le32(&k, 4).unwrap_or(0);
            if let Some(s) = local.session_for(index).cloned() {
                let mut k = k;
                let _ = s.open(&mut k);
                local.confirm(&s);
            }
        }
        let peer = Arc::new(Peer::new(1, 7));
        peer.lock().tunnel = Some(local);
        let mut router = Router {
            identity: Some(id),
            mtu: 1420,
            ..Router::default()
        };
        router.by_key.insert(*their_pub.as_bytes(), peer.clone());
        router.by_index.insert(7, peer.clone());
        for p in ["10.0.0.0/8", "fd00::/8"] {
            router
                .allowed_ips
                .insert(&p.parse().expect("prefix"), peer.clone());
        }
        Mutex::new(Wire {
            router,
            remote,
            tx: TxQueue::new(64 << 10),
            tun_out: TunWrites::default(),
        })
    })
}

/// The inbound datagram path. First byte 0: the rest is
/// a datagram from the network (classification, MACs, cookie, opening an
/// initiation, finding the peer, decapsulation). First byte 1: the rest
/// is a packet the peer encrypts in a valid session, so that what comes
/// out of decryption (any bytes at all) meets the length checks, the
/// allowed-IP source check and the TUN write queue.
pub fn inbound(data: &[u8]) {
    let Some((&mode, d)) = data.split_first() else {
        return;
    };
    let mut w = wire().lock().unwrap_or_else(|e| e.into_inner());
    let w = &mut *w;
    let src = SocketAddr::from(([192, 0, 2, 1], 51820));
    let msg: Vec<u8> = if mode & 1 == 0 {
        d.to_vec()
    } else {
        let mut out = vec![0u8; d.len() + 64];
        let padded = padded_len(d.len(), 1420).max(d.len());
        let mut plain = d.to_vec();
        plain.resize(padded, 0);
        match w.remote.encapsulate(&plain, &mut out) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => return,
        }
    };
    let _ = dst_addr(&msg);
    match message_type(&msg) {
        Some(1) | Some(2) => {
            let _ = handshake_sender(&w.router, &msg, src, &mut w.tx);
        }
        Some(3) | Some(4) => {
            let Some(peer) = le32(&msg, 4).and_then(|i| w.router.peer_by_receiver(i)) else {
                return;
            };
            let mut st = peer.lock();
            let Some(tunnel) = st.tunnel.as_mut() else {
                return;
            };
            if msg[0] == 3 {
                tunnel.consume_cookie(&msg, Instant::now());
                return;
            }
            let Some(session) = le32(&msg, 4).and_then(|i| tunnel.session_for(i).cloned()) else {
                return;
            };
            let mut msg = msg;
            let Some(len) = session.open(&mut msg) else {
                return;
            };
            tunnel.confirm(&session);
            let plain = &msg[HEADER_LEN..HEADER_LEN + len];
            if let Some((n, ip)) = inner_packet(plain) {
                let p = plain[..n].to_vec();
                let owner = w.router.allowed_ips.lookup(ip);
                if owner.is_some_and(|o| Arc::ptr_eq(o, peer)) {
                    if w.tun_out.is_full() {
                        w.tun_out = TunWrites::default();
                    }
                    w.tun_out.push(&p);
                }
            }
        }
        _ => {}
    }
    w.tx.clear();
}
