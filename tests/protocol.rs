//! The protocol's safety rules on the wire, as the whitepaper, Linux and
//! wireguard-go keep them: random receiver indices, at most one
//! initiation consumed per 20 ms per peer, a real peer answered at once
//! after a spoofed burst, cookies bound to the source port. The test
//! plays the peer (boringtun makes its initiations) and the attacker
//! from raw sockets in namespace b; the implementation under test is in
//! namespace a. Every check runs against wgd and against wireguard-go:
//! a check the reference fails would be a wrong check.
//!
//! (Key lifetime, 180 s per session with responses dropped, is measured
//! with the other timers in tests/timers.rs; the flood's cost to data is
//! a benchmark, bench/handshake-flood.)

mod common;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use common::noise::*;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// The implementation under test, in namespace a, with one peer whose
/// private key the test holds.
struct Dut {
    u: Underlay,
    _wgd: Option<Wgd>,
    _foreign: Option<Foreign>,
    /// Its public key, and where it listens.
    public: [u8; 32],
    to: String,
    peer: StaticSecret,
}

impl Dut {
    fn start(wireguard_go: bool) -> Dut {
        let u = Underlay::new();
        let n = unique();
        let ifname = format!("wg{n}");
        let port = 42000 + (n % 1000) as u16;
        let x = n % 250 + 1;
        let key = ok("wg genkey").trim().to_string();
        let public = decode(ok(&format!("echo {key} | wg pubkey")).trim());
        let peer = StaticSecret::random_from_rng(rand_core::OsRng);
        let peer_pub = encode(PublicKey::from(&peer).as_bytes());
        let (mut wgd, mut foreign) = (None, None);
        if wireguard_go {
            let f = Foreign::start(Impl::WireguardGo, &u.a, &ifname);
            let keyfile = format!("/tmp/wgt-key-{n}");
            std::fs::write(&keyfile, &key).unwrap();
            u.a.run(&format!(
                "wg set {ifname} private-key {keyfile} listen-port {port} peer {peer_pub} allowed-ips 10.{x}.7.2/32"
            ));
            let _ = std::fs::remove_file(&keyfile);
            u.a.run(&format!("ip addr add 10.{x}.7.1/24 dev {ifname}"));
            u.a.run(&format!("ip link set {ifname} up"));
            foreign = Some(f);
        } else {
            let d = Wgd::start(&u.a);
            d.ok(&format!(
                "{ifname} create wgkey {key} wgport {port} wgpeer {peer_pub} wgaip 10.{x}.7.2/32 inet 10.{x}.7.1/24 up"
            ));
            wgd = Some(d);
        }
        let to = format!("{}:{port}", u.a4);
        Dut {
            u,
            _wgd: wgd,
            _foreign: foreign,
            public,
            to,
            peer,
        }
    }

    /// A socket at the peer's address (b's underlay address).
    fn peer_socket(&self) -> UdpSocket {
        udp_in_ns(&self.u.b.name, &format!("{}:0", self.u.b4))
    }

    /// A socket on another address of b's side (the attacker's).
    fn other_socket(&self, last: u8) -> UdpSocket {
        let a = format!("{}.{last}", self.u.b4.rsplit_once('.').unwrap().0);
        self.u
            .b
            .run(&format!("ip addr add {a}/24 dev {}", self.u.vb));
        udp_in_ns(&self.u.b.name, &format!("{a}:0"))
    }

    /// The peer's side: makes real initiations to the DUT.
    fn peer_tunn(&self) -> Tunn {
        Tunn::new(
            self.peer.clone(),
            PublicKey::from(self.public),
            None,
            None,
            1,
            None,
        )
    }
}

fn decode(b64: &str) -> [u8; 32] {
    let hex = ok(&format!(
        "echo {b64} | base64 -d | od -An -tx1 -v | tr -d ' \\n'"
    ));
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    k
}

fn encode(k: &[u8; 32]) -> String {
    let oct: String = k.iter().map(|b| format!("\\{:03o}", b)).collect();
    ok(&format!("printf '{oct}' | base64")).trim().to_string()
}

/// A fresh initiation from the peer (a newer timestamp each time).
fn initiation(t: &mut Tunn) -> Vec<u8> {
    let mut buf = [0u8; 256];
    match t.format_handshake_initiation(&mut buf, true) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        _ => panic!("no initiation"),
    }
}

/// Every datagram that arrives within `ms`, whole.
fn replies(s: &UdpSocket, ms: u64) -> Vec<Vec<u8>> {
    let end = Instant::now() + Duration::from_millis(ms);
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    while Instant::now() < end {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            out.push(buf[..n].to_vec());
        }
    }
    out
}

fn kinds(r: &[Vec<u8>]) -> Vec<u8> {
    r.iter().map(|m| m[0]).collect()
}

fn both(check: fn(&Dut)) {
    require_root();
    let go = std::thread::spawn(move || check(&Dut::start(true)));
    let ours = std::thread::spawn(move || check(&Dut::start(false)));
    let (go, ours) = (go.join(), ours.join());
    assert!(
        go.is_ok(),
        "the check fails against wireguard-go: it is wrong"
    );
    assert!(ours.is_ok(), "wgd fails the check (message above)");
}

/// Ten initiations 30 ms apart are each answered, and the responses'
/// sender indices are fresh random numbers: all different, none a
/// neighbour of the one before (no counter, nothing shared between them).
#[test]
fn every_handshake_takes_a_fresh_random_index() {
    both(|d| {
        let s = d.peer_socket();
        let mut t = d.peer_tunn();
        let mut indices = Vec::new();
        for i in 0..10 {
            s.send_to(&initiation(&mut t), &d.to).unwrap();
            let r = replies(&s, 100);
            let resp: Vec<&Vec<u8>> = r.iter().filter(|m| m[0] == 2).collect();
            assert_eq!(
                resp.len(),
                1,
                "initiation {i} answered once: {:?}",
                kinds(&r)
            );
            indices.push(u32::from_le_bytes(resp[0][4..8].try_into().unwrap()));
        }
        let shown: Vec<String> = indices.iter().map(|i| format!("{i:08x}")).collect();
        let mut distinct = indices.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "repeated indices: {shown:?}");
        let close = indices
            .windows(2)
            .filter(|w| w[0].abs_diff(w[1]) < 1 << 16)
            .count();
        assert_eq!(close, 0, "indices follow each other: {shown:?}");
    });
}

/// Ten initiations from the peer within 20 ms: one is answered, the
/// other nine are dropped (at most 50 consumed a second per peer).
#[test]
fn ten_initiations_within_20_ms_get_one_response() {
    both(|d| {
        let s = d.peer_socket();
        let mut t = d.peer_tunn();
        let msgs: Vec<Vec<u8>> = (0..10).map(|_| initiation(&mut t)).collect();
        let start = Instant::now();
        for m in &msgs {
            s.send_to(m, &d.to).unwrap();
        }
        assert!(
            start.elapsed() < Duration::from_millis(20),
            "sent too slowly"
        );
        let r = replies(&s, 500);
        let n = kinds(&r).iter().filter(|&&k| k == 2).count();
        assert_eq!(
            n,
            1,
            "responses to 10 initiations in 20 ms: {:?}",
            kinds(&r)
        );
        // Afterwards the peer is answered again.
        std::thread::sleep(Duration::from_millis(30));
        s.send_to(&initiation(&mut t), &d.to).unwrap();
        assert_eq!(kinds(&replies(&s, 300)), vec![2], "the next initiation");
    });
}

/// A burst of junk and of initiations spoofed from the peer's own
/// address (valid MAC1, a key the sender does not hold) costs the real
/// peer nothing: its next initiations are answered at once, six times
/// in a row.
#[test]
fn a_spoofed_burst_does_not_lock_out_the_real_peer() {
    both(|d| {
        let spoofer = d.peer_socket();
        let claimed = *PublicKey::from(&d.peer).as_bytes();
        for i in 0..60u32 {
            let mut junk = vec![0u8; 148];
            junk[0] = 1;
            junk[4..8].copy_from_slice(&i.to_le_bytes());
            junk[8..].fill(0x5a ^ i as u8);
            spoofer.send_to(&junk, &d.to).unwrap();
            spoofer
                .send_to(&forged_initiation(&d.public, &claimed, 1000 + i), &d.to)
                .unwrap();
        }
        let s = d.peer_socket();
        let mut t = d.peer_tunn();
        for i in 0..6 {
            s.send_to(&initiation(&mut t), &d.to).unwrap();
            let r = replies(&s, 300);
            assert_eq!(kinds(&r), vec![2], "real initiation {i} after the burst");
        }
    });
}

/// Under load, a cookie is good only for the address and port it was
/// sent to: MAC2 made with it from another port of the same address
/// draws a new cookie reply, never a response; from its own port the
/// handshake goes through.
#[test]
fn a_cookie_is_bound_to_its_source_port() {
    both(|d| {
        // Keep the interface under load: a flood of initiations with a
        // valid MAC1 from another address.
        let flood_sock = d.other_socket(99);
        let claimed = *PublicKey::from(&d.peer).as_bytes();
        let flood: Vec<Vec<u8>> = (0..512u32)
            .map(|i| forged_initiation(&d.public, &claimed, i))
            .collect();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flooder = {
            let (stop, to) = (stop.clone(), d.to.clone());
            std::thread::spawn(move || {
                let end = Instant::now() + Duration::from_secs(60);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < end {
                    for m in &flood {
                        let _ = flood_sock.send_to(m, &to);
                    }
                }
            })
        };
        let s1 = d.peer_socket();
        let s2 = d.peer_socket();
        let control = d.peer_socket();
        let mut t = d.peer_tunn();
        let key = d.public;
        // The cookie for s1, once the interface is under load.
        let cookie_for = |s: &UdpSocket, m: &[u8]| -> Option<[u8; 16]> {
            s.send_to(m, &d.to).unwrap();
            replies(s, 100)
                .iter()
                .find_map(|r| open_cookie(r, &key, &m[116..132]))
        };
        let mut cookie = None;
        for _ in 0..50 {
            cookie = cookie_for(&s1, &initiation(&mut t));
            if cookie.is_some() {
                break;
            }
        }
        let cookie = cookie.expect("no cookie reply: never under load");
        // Five rounds in which the interface is seen under load: a
        // message without MAC2 draws a cookie reply, then at once one
        // with s1's cookie from s2. (A full queue may drop either, as the
        // reference drops what does not fit: that round is not counted.)
        let mut checked = 0;
        let mut rounds = 0;
        while checked < 5 {
            rounds += 1;
            assert!(rounds < 100, "could not see the interface under load");
            std::thread::sleep(Duration::from_millis(30));
            control.send_to(&initiation(&mut t), &d.to).unwrap();
            if kinds(&replies(&control, 50)) != vec![3] {
                continue;
            }
            let mut m = initiation(&mut t);
            with_mac2(&mut m, &cookie);
            s2.send_to(&m, &d.to).unwrap();
            let r = kinds(&replies(&s2, 200));
            assert!(
                !r.contains(&2),
                "s1's cookie accepted from s2's port: {r:?}"
            );
            if r.contains(&3) {
                checked += 1;
            }
        }
        // From its own port it works (the peer's budget is untouched).
        let mut answered = false;
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(30));
            let Some(c) = cookie_for(&s1, &initiation(&mut t)) else {
                continue;
            };
            let mut m = initiation(&mut t);
            with_mac2(&mut m, &c);
            s1.send_to(&m, &d.to).unwrap();
            if kinds(&replies(&s1, 300)).contains(&2) {
                answered = true;
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        flooder.join().unwrap();
        assert!(
            answered,
            "a valid MAC2 from the cookie's own port was never answered"
        );
    });
}
