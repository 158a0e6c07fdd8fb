//! A flood of cookie-verified handshake initiations, for
//! bench/handshake-flood: from many source addresses at once, each a
//! well-formed initiation from a static key the responder does not know
//! (valid MAC1, and MAC2 from the cookie each source was given), so each
//! one that gets through costs the responder a Diffie-Hellman and
//! nothing else. Every source answers its cookie replies, so its address
//! is real to the responder: the per-source budget applies, not MAC2.
//!
//!   handshake_flood RESPONDER_PUB_B64 IP:PORT RATE SECS SRC_IP...
//!
//! Prints, once a second, what it sent and how many cookie replies came
//! back.

use boringtun::x25519::{PublicKey, StaticSecret};
use rand_core::OsRng;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};
use wgd::noise::crypto::{mac, Secret};
use wgd::noise::handshake::{self, add_macs, cookie_key, dh, mac1_key, open_cookie, Keys};
use wgd::noise::index::Table;

/// Messages made per source (sent in turn).
const PER_SOURCE: usize = 8;

struct Source {
    sock: UdpSocket,
    msgs: Vec<[u8; 148]>,
    cookie: Option<[u8; 16]>,
    next: usize,
}

fn key(b64: &str) -> [u8; 32] {
    let d = b64.trim().as_bytes();
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            _ => 63,
        }
    };
    let mut out = Vec::new();
    for chunk in d.chunks(4) {
        let n = chunk.iter().filter(|&&c| c != b'=').count();
        let mut v = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            v |= if c == b'=' { 0 } else { val(c) } << (18 - 6 * i);
        }
        out.extend_from_slice(&v.to_be_bytes()[1..n.max(1)]);
    }
    out.truncate(32);
    out.try_into().expect("a 32-byte key")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: handshake_flood RESPONDER_PUB_B64 IP:PORT RATE SECS SRC_IP...");
        std::process::exit(2);
    }
    let responder = PublicKey::from(key(&args[1]));
    let to: SocketAddr = args[2].parse().expect("IP:PORT");
    let rate: f64 = args[3].parse().expect("rate");
    let secs: f64 = args[4].parse().expect("seconds");
    let table = Arc::new(Table::<()>::default());
    let leases = table.allocator(Weak::new());
    let m1 = mac1_key(&responder);
    let ck = cookie_key(&responder);
    let mut sources: Vec<Source> = args[5..]
        .iter()
        .map(|ip| {
            let sock = UdpSocket::bind((ip.parse::<std::net::IpAddr>().expect("IP"), 0))
                .expect("bind source");
            sock.set_nonblocking(true).unwrap();
            let msgs = (0..PER_SOURCE)
                .map(|_| {
                    let secret = StaticSecret::random_from_rng(OsRng);
                    let public = PublicKey::from(&secret);
                    let ss = dh(&secret, responder.as_bytes()).expect("dh");
                    let psk = Secret::new([0; 32]);
                    let k = Keys {
                        secret: &secret,
                        public: &public,
                        peer: &responder,
                        static_static: &ss,
                        psk: &psk,
                    };
                    let mut m = [0u8; 148];
                    let ts = handshake::timestamp(SystemTime::now());
                    handshake::initiate(&k, leases.lease(), &ts, &mut m).expect("initiation");
                    add_macs(&mut m, &m1, None);
                    m
                })
                .collect();
            Source {
                sock,
                msgs,
                cookie: None,
                next: 0,
            }
        })
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let (mut sent, mut cookies) = (0u64, 0u64);
    let mut buf = [0u8; 256];
    let mut turn = 0usize;
    let mut shown = start;
    let mut polled = start;
    let report = |sent: u64, cookies: u64| {
        let t = start.elapsed().as_secs_f64();
        println!(
            "sent {sent} initiations from {} sources in {t:.1} s ({:.0}/s); {cookies} cookie replies",
            args.len() - 5,
            sent as f64 / t
        );
    };
    while Instant::now() < end {
        if shown.elapsed() >= Duration::from_secs(1) {
            shown = Instant::now();
            report(sent, cookies);
        }
        // Cookie replies: each answers one of a source's messages (its
        // MAC1), named by the index we sent. A cookie lasts two minutes:
        // the sockets are read every 50 ms, not at every pass (256
        // sockets read 2000 times a second were a fifth of a CPU,
        // taken from whatever the flood is measured against).
        let read_now = polled.elapsed() >= Duration::from_millis(50);
        if read_now {
            polled = Instant::now();
        }
        for s in sources.iter_mut().filter(|_| read_now) {
            while let Ok((n, _)) = s.sock.recv_from(&mut buf) {
                let idx = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
                let Some(m) = s.msgs.iter().find(|m| m[4..8] == idx.to_le_bytes()) else {
                    continue;
                };
                let mac1: [u8; 16] = m[116..132].try_into().unwrap();
                if let Some(c) = open_cookie(&buf[..n], &ck, &mac1) {
                    s.cookie = Some(c);
                    cookies += 1;
                }
            }
        }
        let due = (start.elapsed().as_secs_f64() * rate) as u64;
        while sent < due {
            let k = turn % sources.len();
            let s = &mut sources[k];
            turn += 1;
            let mut m = s.msgs[s.next % PER_SOURCE];
            s.next += 1;
            if let Some(c) = &s.cookie {
                let m2 = mac(c, &[&m[..132]]);
                m[132..].copy_from_slice(&m2);
            }
            let _ = s.sock.send_to(&m, to);
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    report(sent, cookies);
}
