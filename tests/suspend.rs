//! Across a suspend (wg(4), "Suspend"): every session key and handshake
//! is forgotten once the machine has slept, so the next packet starts a
//! new handshake instead of going out on a session the peer may have
//! dropped (Linux wipes them before the sleep, and counts every age on
//! the boot-time clock).
//!
//! No real suspend is possible here: the daemon (a debug build) is told
//! to pretend one through `WGD_TEST_SLEEP_FILE`, which makes its boot
//! time, and the time it has slept, jump ahead by the seconds written
//! there. The test plays the peer (boringtun) from namespace b; wgd is
//! in namespace a.

mod common;
use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use common::noise::udp_in_ns;
use common::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// Every datagram that arrives within `ms`.
fn datagrams(s: &UdpSocket, ms: u64) -> Vec<Vec<u8>> {
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

fn kinds(d: &[Vec<u8>]) -> Vec<u8> {
    d.iter().map(|m| m[0]).collect()
}

/// One ping from a to `to` (nobody answers it), in the background; the
/// packet it sends is what the daemon must encrypt or hold.
fn ping_from(ns: &str, to: &str) -> std::thread::JoinHandle<()> {
    let cmd = format!("ip netns exec {ns} ping -c1 -W1 {to} >/dev/null 2>&1");
    std::thread::spawn(move || {
        let _ = sh(&cmd);
    })
}

#[test]
fn keys_are_forgotten_when_the_machine_has_slept() {
    require_root();
    let n = unique();
    let sleep_file = format!("/tmp/wgt-sleep-{n}");
    std::fs::write(&sleep_file, "0").unwrap();
    // The only test of this binary: nothing else reads the environment.
    std::env::set_var("WGD_TEST_SLEEP_FILE", &sleep_file);
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _gone = Gone(sleep_file.clone());

    let u = Underlay::new();
    let d = Wgd::start(&u.a);
    let ifname = format!("wg{n}");
    let port = 43000 + (n % 1000) as u16;
    let x = n % 250 + 1;
    let peer = StaticSecret::random_from_rng(rand_core::OsRng);
    let peer_pub = proto::Key::new(*PublicKey::from(&peer).as_bytes()).to_base64();
    d.ok(&format!(
        "{ifname} create wgkey {} wgport {port} wgpeer {peer_pub} wgaip 10.{x}.7.2/32 inet 10.{x}.7.1/24 up",
        genkey()
    ));
    let public = proto::Key::from_base64(&pubkey(&d, &ifname)).unwrap();
    let to = format!("{}:{port}", u.a4);
    let sock = udp_in_ns(&u.b.name, &format!("{}:0", u.b4));
    let mut t = Tunn::new(
        peer,
        PublicKey::from(*public.as_bytes()),
        None,
        None,
        1,
        None,
    );

    // A handshake, confirmed by the peer's keepalive.
    let mut buf = [0u8; 2048];
    let init = match t.format_handshake_initiation(&mut buf, true) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        _ => panic!("no initiation"),
    };
    sock.send_to(&init, &to).unwrap();
    let got = datagrams(&sock, 1500);
    let resp = got.iter().find(|m| m[0] == 2).expect("a response");
    let mut out = [0u8; 2048];
    match t.decapsulate(None, resp, &mut out) {
        TunnResult::WriteToNetwork(ka) => {
            sock.send_to(ka, &to).unwrap();
        }
        _ => panic!("the response did not open"),
    }
    std::thread::sleep(Duration::from_millis(200));

    // The session is ours to send with: a packet goes as data.
    let p = ping_from(&u.a.name, &format!("10.{x}.7.2"));
    let before = kinds(&datagrams(&sock, 1500));
    let _ = p.join();
    assert!(before.contains(&4), "data before the sleep: {before:?}");

    // Thirty seconds of sleep: the session is still young by its age
    // (30 s of 180), but its keys must be gone.
    std::fs::write(&sleep_file, "30").unwrap();
    let noticed = wait_until(10, || d.log_text().contains("the machine slept for 30 s"));
    // A response counts as a handshake sent (no initiation within 5 s
    // of it): let that pass.
    std::thread::sleep(Duration::from_secs(3));
    let p = ping_from(&u.a.name, &format!("10.{x}.7.2"));
    let after = kinds(&datagrams(&sock, 1500));
    let _ = p.join();
    assert!(
        !after.contains(&4),
        "data went out on a session made before the sleep: {after:?}\n{}",
        d.log_text()
    );
    assert!(
        after.contains(&1),
        "no new handshake after the sleep: {after:?}"
    );
    assert!(
        noticed,
        "no word of the sleep in the log:\n{}",
        d.log_text()
    );
}
