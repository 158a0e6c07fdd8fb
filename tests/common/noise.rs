//! Handshake messages made by hand, as an attacker on the network would
//! make them, and sockets opened inside a test namespace.

use blake2::digest::{FixedOutput, Mac};
use blake2::{Blake2s256, Blake2sMac, Digest};
type Blake2sMac128 = Blake2sMac<blake2::digest::consts::U16>;
use boringtun::x25519::{PublicKey, StaticSecret};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::time::Duration;

fn hash2(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut m =
        <hmac::SimpleHmac<Blake2s256> as hmac::digest::KeyInit>::new_from_slice(key).unwrap();
    for p in parts {
        m.update(p);
    }
    m.finalize_fixed().into()
}

fn kdf2(ck: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32]) {
    let prk = hmac(ck, &[input]);
    let t1 = hmac(&prk, &[&[1]]);
    (t1, hmac(&prk, &[&t1, &[2]]))
}

fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8], out: &mut [u8]) {
    let (ct, tag) = out.split_at_mut(plain.len());
    ct.copy_from_slice(plain);
    let t = ChaCha20Poly1305::new(key.into())
        .encrypt_in_place_detached(&Nonce::default(), aad, ct)
        .unwrap();
    tag[..16].copy_from_slice(&t);
}

/// An initiation to `responder` that names `claimed` as its sender (only
/// public keys needed) with a valid MAC1 and a timestamp that is garbage
/// (the attacker lacks the claimed peer's private key).
pub fn forged_initiation(responder: &[u8; 32], claimed: &[u8; 32], sender: u32) -> Vec<u8> {
    let ck0: [u8; 32] = Blake2s256::digest(b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s").into();
    let mut h = hash2(
        &hash2(&ck0, b"WireGuard v1 zx2c4 Jason@zx2c4.com"),
        responder,
    );
    let e = StaticSecret::random_from_rng(rand_core::OsRng);
    let e_pub = PublicKey::from(&e);
    let mut m = vec![0u8; 148];
    m[0] = 1;
    m[4..8].copy_from_slice(&sender.to_le_bytes());
    m[8..40].copy_from_slice(e_pub.as_bytes());
    h = hash2(&h, e_pub.as_bytes());
    let (ck, _) = kdf2(&ck0, e_pub.as_bytes());
    let dh = e.diffie_hellman(&PublicKey::from(*responder));
    let (_, k) = kdf2(&ck, dh.as_bytes());
    seal(&k, claimed, &h, &mut m[40..88]);
    for (i, b) in m[88..116].iter_mut().enumerate() {
        *b = 0xa5 ^ i as u8;
    }
    with_mac1(&mut m, responder);
    m
}

/// Fill in MAC1 of a handshake message for `responder` (MAC2 stays zero).
pub fn with_mac1(m: &mut [u8], responder: &[u8; 32]) {
    let key = hash2(b"mac1----", responder);
    let n = m.len() - 32;
    let mut mac = <Blake2sMac128 as blake2::digest::KeyInit>::new_from_slice(&key).unwrap();
    mac.update(&m[..n]);
    let out: [u8; 16] = mac.finalize_fixed().into();
    m[n..n + 16].copy_from_slice(&out);
}

/// A UDP socket bound to `addr` inside the network namespace `ns` (a
/// thread enters it; the socket stays there).
pub fn udp_in_ns(ns: &str, addr: &str) -> UdpSocket {
    let (ns, addr) = (ns.to_string(), addr.to_string());
    std::thread::spawn(move || {
        let f = std::fs::File::open(format!("/var/run/netns/{ns}")).expect("netns file");
        nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let s = UdpSocket::bind(&addr).expect("bind in namespace");
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        s
    })
    .join()
    .expect("namespace thread")
}

/// Message types of every datagram that arrives within `ms` milliseconds.
pub fn drain_types(s: &UdpSocket, ms: u64) -> Vec<u8> {
    let end = std::time::Instant::now() + Duration::from_millis(ms);
    let mut buf = [0u8; 2048];
    let mut types = Vec::new();
    while std::time::Instant::now() < end {
        if let Ok((n, _)) = s.recv_from(&mut buf) {
            if n > 0 {
                types.push(buf[0]);
            }
        }
    }
    types
}

/// The cookie inside a cookie reply from `responder`, to the message whose
/// MAC1 was `mac1`.
pub fn open_cookie(reply: &[u8], responder: &[u8; 32], mac1: &[u8]) -> Option<[u8; 16]> {
    use chacha20poly1305::XChaCha20Poly1305;
    if reply.len() != 64 || reply[0] != 3 {
        return None;
    }
    let key = hash2(b"cookie--", responder);
    let mut cookie = [0u8; 16];
    cookie.copy_from_slice(&reply[32..48]);
    XChaCha20Poly1305::new(&key.into())
        .decrypt_in_place_detached(
            chacha20poly1305::XNonce::from_slice(&reply[8..32]),
            mac1,
            &mut cookie,
            chacha20poly1305::Tag::from_slice(&reply[48..64]),
        )
        .ok()?;
    Some(cookie)
}

/// Fill in MAC2 of a handshake message (MAC1 already set) with `cookie`.
pub fn with_mac2(m: &mut [u8], cookie: &[u8; 16]) {
    let n = m.len() - 16;
    let mut mac = <Blake2sMac128 as blake2::digest::KeyInit>::new_from_slice(cookie).unwrap();
    mac.update(&m[..n]);
    let out: [u8; 16] = mac.finalize_fixed().into();
    m[n..].copy_from_slice(&out);
}
