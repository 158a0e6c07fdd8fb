//! Many peers handshaking with one responder at the same moment, as when
//! a hub comes back and every spoke reconnects: for bench/mass-reconnect.
//! Each peer is a boringtun `Tunn` with a key derived from SEED and its
//! number, on a socket of its own source address (the responder's
//! per-source limits apply as to real peers). All initiations leave at
//! once; a cookie reply is answered at once with a new initiation that
//! carries the MAC2 (a real peer would wait for its retry, 5 s). The
//! tunnel stays idle: only handshakes move.
//!
//!   mass_reconnect keys N SEED                  the N public keys, a line each
//!   mass_reconnect run RESPONDER_PUB_B64 IP:PORT N SEED SRC_IP...
//!
//! `run` prints the seconds until half, nine tenths and all of the N
//! peers had their response, and the cookie replies it got (peer i uses
//! SRC_IP number i modulo their count).

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

fn secret(seed: u64, i: u64) -> StaticSecret {
    // Clamping clears the low bits of the first byte: the number goes
    // after it.
    let mut b = [7u8; 32];
    b[8..16].copy_from_slice(&i.to_le_bytes());
    b[16..24].copy_from_slice(&seed.to_le_bytes());
    StaticSecret::from(b)
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64(k: &[u8; 32]) -> String {
    let mut out = String::new();
    for chunk in k.chunks(3) {
        let mut v = [0u8; 3];
        v[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, v[0], v[1], v[2]]);
        for j in 0..4 {
            if j <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * j) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unb64(s: &str) -> [u8; 32] {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.trim().bytes().take_while(|&c| c != b'=') {
        let v = B64.iter().position(|&x| x == c).expect("base64") as u32;
        bits = bits << 6 | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out.try_into().expect("a 32-byte key")
}

struct Peer {
    tunn: Tunn,
    sock: UdpSocket,
    done: Option<Duration>,
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: mass_reconnect keys N SEED | run RESPONDER_PUB IP:PORT N SEED SRC_IP...");
        std::process::exit(2)
    };
    match a.get(1).map(String::as_str) {
        Some("keys") if a.len() == 4 => {
            let (n, seed): (u64, u64) = (a[2].parse().unwrap(), a[3].parse().unwrap());
            for i in 0..n {
                println!("{}", b64(PublicKey::from(&secret(seed, i)).as_bytes()));
            }
        }
        Some("run") if a.len() >= 7 => run(&a[2..]),
        _ => usage(),
    }
}

fn run(a: &[String]) {
    let responder = PublicKey::from(unb64(&a[0]));
    let to: SocketAddr = a[1].parse().expect("IP:PORT");
    let (n, seed): (u64, u64) = (a[2].parse().unwrap(), a[3].parse().unwrap());
    let srcs: Vec<IpAddr> = a[4..].iter().map(|s| s.parse().expect("IP")).collect();
    let mut peers: Vec<Peer> = (0..n)
        .map(|i| {
            let sock = UdpSocket::bind((srcs[i as usize % srcs.len()], 0)).expect("bind");
            sock.set_nonblocking(true).unwrap();
            let tunn = Tunn::new(secret(seed, i), responder, None, None, i as u32, None);
            Peer {
                tunn,
                sock,
                done: None,
            }
        })
        .collect();
    let mut buf = vec![0u8; 2048];
    let mut out = vec![0u8; 2048];
    let start = Instant::now();
    for p in &mut peers {
        if let TunnResult::WriteToNetwork(m) = p.tunn.format_handshake_initiation(&mut out, true) {
            let _ = p.sock.send_to(m, to);
        }
    }
    let (mut left, mut cookies) = (peers.len(), 0u64);
    let deadline = start + Duration::from_secs(60);
    while left > 0 && Instant::now() < deadline {
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd> = peers
                .iter()
                .map(|p| PollFd::new(p.sock.as_fd(), PollFlags::POLLIN))
                .collect();
            if poll(&mut fds, PollTimeout::from(100u16)).unwrap_or(0) <= 0 {
                continue;
            }
            fds.iter()
                .enumerate()
                .filter(|(_, f)| f.revents().is_some_and(|r| !r.is_empty()))
                .map(|(i, _)| i)
                .collect()
        };
        for i in ready {
            let p = &mut peers[i];
            while let Ok((len, from)) = p.sock.recv_from(&mut buf) {
                let cookie = len == 64 && buf[0] == 3;
                let r = p.tunn.decapsulate(Some(from.ip()), &buf[..len], &mut out);
                if let TunnResult::WriteToNetwork(m) = r {
                    // The keepalive that confirms the session.
                    let _ = p.sock.send_to(m, to);
                }
                if cookie {
                    cookies += 1;
                    if let TunnResult::WriteToNetwork(m) =
                        p.tunn.format_handshake_initiation(&mut out, true)
                    {
                        let _ = p.sock.send_to(m, to);
                    }
                } else if p.done.is_none() && p.tunn.time_since_last_handshake().is_some() {
                    p.done = Some(start.elapsed());
                    left -= 1;
                }
            }
        }
    }
    let mut t: Vec<f64> = peers
        .iter()
        .filter_map(|p| p.done.map(|d| d.as_secs_f64()))
        .collect();
    t.sort_by(f64::total_cmp);
    let at = |f: f64| {
        let k = ((n as f64 * f).ceil() as usize).max(1);
        t.get(k - 1)
            .map_or("never".to_string(), |s| format!("{s:.3}"))
    };
    println!(
        "{} of {n} answered; half {} s, nine tenths {} s, all {} s; {cookies} cookie replies",
        t.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}
