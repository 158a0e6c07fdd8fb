//! Attacks from a sender on the network that knows only public keys, or
//! replays what it recorded: neither may move a peer's endpoint, count as
//! a handshake or get a handshake response.

mod common;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use common::noise::*;
use common::*;
use std::net::UdpSocket;

fn key_bytes(b64: &str) -> [u8; 32] {
    let hex = ok(&format!(
        "echo {b64} | base64 -d | od -An -tx1 -v | tr -d ' \\n'"
    ));
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    k
}

fn b64(k: &[u8; 32]) -> String {
    let hex: String = k.iter().map(|b| format!("\\{:03o}", b)).collect();
    ok(&format!("printf '{hex}' | base64")).trim().to_string()
}

/// The `wgendpoint:` of the peer `pk` in an interface's status.
fn endpoint_of(d: &Wgd, ifname: &str, pk: &str) -> Option<String> {
    let st = d.ok(ifname);
    let block = st.split("wgpeer: ").find(|b| b.starts_with(pk))?;
    field(block, "wgendpoint")
}

fn handshake_of(d: &Wgd, ifname: &str, pk: &str) -> Option<String> {
    let st = d.ok(ifname);
    let block = st.split("wgpeer: ").find(|b| b.starts_with(pk))?;
    field(block, "last handshake")
}

/// A socket on another address of b's side of the wire, `.last`.
fn attacker(t: &Tunnel, last: u8) -> UdpSocket {
    let evil = format!("{}.{last}", t.u.b4.rsplit_once('.').unwrap().0);
    t.u.b.run(&format!("ip addr add {evil}/24 dev {}", t.u.vb));
    udp_in_ns(&t.u.b.name, &format!("{evil}:0"))
}

#[test]
fn forged_initiations_never_move_an_endpoint() {
    require_root();
    let t = Tunnel::new(false);
    t.da.ok(&format!("{} debug", t.ia));
    assert!(t.u.a.ping(&t.in_b4, 2));
    let pb = pubkey(&t.db, &t.ib);
    let real = format!("{} {}", t.u.b4, t.port_b);
    assert_eq!(
        endpoint_of(&t.da, &t.ia, &pb).as_deref(),
        Some(real.as_str())
    );

    // The attacker: another address on b's side of the wire.
    let s = attacker(&t, 77);
    let to = format!("{}:{}", t.u.a4, t.port_a);
    let responder = key_bytes(&pubkey(&t.da, &t.ia));
    let claimed = key_bytes(&pb);

    // One initiation from a key nobody knows, then bursts that fill the
    // interface's handshake queue (so it is under load), claiming to be
    // b's peer.
    let stranger = StaticSecret::random_from_rng(rand_core::OsRng);
    s.send_to(
        &forged_initiation(&responder, PublicKey::from(&stranger).as_bytes(), 1),
        &to,
    )
    .unwrap();
    // Made beforehand, so that they arrive faster than they can be
    // consumed.
    let forged: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| forged_initiation(&responder, &claimed, i))
        .collect();
    let mut types = Vec::new();
    for _ in 0..5 {
        for m in &forged {
            s.send_to(m, &to).unwrap();
        }
        types.extend(drain_types(&s, 300));
    }
    assert!(
        types.iter().all(|&t| t == 3),
        "only cookie replies may answer forged initiations: {types:?}"
    );
    assert!(types.contains(&3), "the flood never drew a cookie reply");
    assert_eq!(
        endpoint_of(&t.da, &t.ia, &pb).as_deref(),
        Some(real.as_str())
    );
    let log = t.da.log_text();
    assert!(
        !log.contains(&format!("{}: Sending handshake response", t.ia)),
        "{log}"
    );
    assert!(log.contains("Invalid handshake initiation"), "{log}");
    // The real peer still works.
    assert!(t.u.a.ping(&t.in_b4, 1));
}

/// A real initiation from `peer_secret` to `responder`.
fn initiation(peer_secret: &StaticSecret, responder: &[u8; 32]) -> Vec<u8> {
    let mut t = Tunn::new(
        peer_secret.clone(),
        PublicKey::from(*responder),
        None,
        None,
        7,
        None,
    );
    let mut buf = [0u8; 256];
    match t.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        _ => panic!("no initiation"),
    }
}

fn answered(s: &UdpSocket, m: &[u8], to: &str) -> bool {
    drain_types(s, 50);
    s.send_to(m, to).unwrap();
    drain_types(s, 500).contains(&2)
}

#[test]
fn a_recorded_initiation_is_answered_once_whatever_happens_in_between() {
    require_root();
    let u = Underlay::new();
    let d = Wgd::start(&u.a);
    let ifname = format!("wg{}", unique());
    let port = 41000 + (unique() % 1000) as u16;
    d.ok(&format!("{ifname} create wgkey {} wgport {port}", genkey()));
    let peer = StaticSecret::random_from_rng(rand_core::OsRng);
    let pk = b64(PublicKey::from(&peer).as_bytes());
    d.ok(&format!(
        "{ifname} wgpeer {pk} wgaip 10.77.0.2/32 inet 10.77.0.1/24 up"
    ));
    let responder = key_bytes(&pubkey(&d, &ifname));
    let s = udp_in_ns(&u.b.name, &format!("{}:0", u.b4));
    let to = format!("{}:{port}", u.a4);

    let recorded = initiation(&peer, &responder);
    assert!(
        answered(&s, &recorded, &to),
        "a fresh initiation is answered"
    );
    let first = endpoint_of(&d, &ifname, &pk).expect("endpoint learnt");
    assert!(!answered(&s, &recorded, &to), "replay answered");

    // Everything that rebuilds the peer's session state.
    for (what, cmd) in [
        ("down/up", format!("{ifname} down")),
        ("psk", format!("{ifname} wgpeer {pk} wgpsk {}", genkey())),
        ("-wgpsk", format!("{ifname} wgpeer {pk} -wgpsk")),
    ] {
        d.ok(&cmd);
        d.ok(&format!("{ifname} up"));
        assert!(
            !answered(&s, &recorded, &to),
            "replay answered after {what}"
        );
    }
    u.a.run(&format!("ip link set {ifname} down"));
    assert!(wait_until(3, || !d.ok(&ifname).contains("UP,")));
    u.a.run(&format!("ip link set {ifname} up"));
    assert!(wait_until(3, || d.ok(&ifname).contains("UP,")));
    assert!(
        !answered(&s, &recorded, &to),
        "replay answered after ip link down/up"
    );

    // The replays moved nothing; a newer initiation is still welcome.
    let from_elsewhere = udp_in_ns(&u.b.name, &format!("{}:0", u.b4));
    assert!(!answered(&from_elsewhere, &recorded, &to));
    assert_eq!(
        endpoint_of(&d, &ifname, &pk).as_deref(),
        Some(first.as_str())
    );
    // As in the reference implementations, the responder reports a
    // handshake only once the initiator's first packet confirms it, and
    // this one never sent any.
    assert_eq!(handshake_of(&d, &ifname, &pk), None);
    assert!(answered(
        &from_elsewhere,
        &initiation(&peer, &responder),
        &to
    ));
    assert_ne!(
        endpoint_of(&d, &ifname, &pk).as_deref(),
        Some(first.as_str())
    );
}

/// A sender that floods initiations with valid cookies (it answers the
/// cookie replies, so its address is real) is held to its own budget per
/// second; a real peer on another address still completes a handshake and
/// passes traffic.
#[test]
fn a_flooding_source_is_ratelimited_and_a_real_peer_gets_through() {
    require_root();
    let t = Tunnel::new(false);
    t.da.ok(&format!("{} debug", t.ia));
    assert!(t.u.a.ping(&t.in_b4, 1));
    let s = attacker(&t, 66);
    let to = format!("{}:{}", t.u.a4, t.port_a);
    let responder = key_bytes(&pubkey(&t.da, &t.ia));
    let claimed = key_bytes(&pubkey(&t.db, &t.ib));

    // Push the interface under load (its handshake queue an eighth full)
    // and collect a cookie.
    let msgs: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| forged_initiation(&responder, &claimed, i))
        .collect();
    let mut cookie = None;
    let mut buf = [0u8; 256];
    for round in 0..20 {
        for m in &msgs {
            s.send_to(m, &to).unwrap();
        }
        while let Ok((n, _)) = s.recv_from(&mut buf) {
            let idx = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]) as usize;
            if let Some(m) = msgs.get(idx) {
                cookie = cookie.or(open_cookie(&buf[..n], &responder, &m[116..132]));
            }
        }
        if cookie.is_some() {
            break;
        }
        assert!(round < 19, "no cookie reply under load");
    }
    let cookie = cookie.unwrap();
    let flood: Vec<Vec<u8>> = msgs[..64]
        .iter()
        .map(|m| {
            let mut m = m.clone();
            with_mac2(&mut m, &cookie);
            m
        })
        .collect();

    // The real peer starts over: its next packet needs a new handshake.
    t.db.ok(&format!("{} down", t.ib));
    t.db.ok(&format!("{} up", t.ib));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let (stop, to) = (stop.clone(), to.clone());
        std::thread::spawn(move || {
            let end = std::time::Instant::now() + std::time::Duration::from_secs(40);
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && std::time::Instant::now() < end
            {
                for m in &flood {
                    let _ = s.send_to(m, &to);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        })
    };
    // Under load, the real peer needs a cookie round trip and a retry
    // (5 s) before its handshake is answered.
    let got_through = t.u.b.ping(&format!("-w 20 -c 1 {}", t.in_a4), 1) || t.u.b.ping(&t.in_a4, 3);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flooder.join().unwrap();
    assert!(got_through, "the real peer did not get through the flood");
    let log = t.da.log_text();
    assert!(
        log.contains(&format!("{}: Handshake ratelimited", t.ia)),
        "{log}"
    );
}
