//! The three handshake messages of Noise IKpsk2 as WireGuard frames them
//! (paper §5.4.2–5.4.4, §5.4.7): making and opening the initiation,
//! making and consuming the response, the MACs every handshake message
//! carries and the cookie a loaded peer sends back.
//!
//! ```text
//! initiation (148): type 1 | sender | ephemeral 32 | static 32+16 | timestamp 12+16 | mac1 | mac2
//! response    (92): type 2 | sender | receiver | ephemeral 32 | empty 0+16 | mac1 | mac2
//! cookie      (64): type 3 | receiver | nonce 24 | cookie 16+16
//! ```
//!
//! The responder's side of the initiation stops after the timestamp
//! (`Responder::open`): the interface compares it with the newest one it
//! accepted from that peer (kept for the peer's whole life) before the
//! peer's tunnel answers with a response.

use crate::noise::crypto::{hash, kdf1, kdf2, kdf3, mac, open, seal, xopen};
use crate::noise::session::Session;
use boringtun::x25519::{PublicKey, StaticSecret};
use rand_core::OsRng;
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use zeroize::Zeroize;

const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
const LABEL_MAC1: &[u8] = b"mac1----";
const LABEL_COOKIE: &[u8] = b"cookie--";

pub const INITIATION_LEN: usize = 148;
pub const RESPONSE_LEN: usize = 92;
pub const COOKIE_LEN: usize = 64;
const EPHEMERAL: std::ops::Range<usize> = 8..40;
const STATIC: std::ops::Range<usize> = 40..88;
const TIMESTAMP: std::ops::Range<usize> = 88..116;
const R_EPHEMERAL: std::ops::Range<usize> = 12..44;
const R_EMPTY: std::ops::Range<usize> = 44..60;

/// A TAI64N label: 8 bytes of seconds and 4 of nanoseconds, big-endian,
/// so byte order is time order.
pub type Timestamp = [u8; 12];

/// Now as TAI64N. The nanoseconds are rounded down to 2^24 (about 17 ms,
/// as Linux does), so the label does not fingerprint the host's clock;
/// initiations are at least 5 s apart, so it still grows.
pub fn timestamp(now: SystemTime) -> Timestamp {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut t = [0u8; 12];
    t[..8].copy_from_slice(&(0x4000_0000_0000_000a_u64 + d.as_secs()).to_be_bytes());
    t[8..].copy_from_slice(&(d.subsec_nanos() & !0xff_ffff).to_be_bytes());
    t
}

/// The first chaining key and hash, which depend only on the responder's
/// public key.
fn start(responder: &PublicKey) -> ([u8; 32], [u8; 32]) {
    let ck = hash(&[CONSTRUCTION]);
    let h = hash(&[&hash(&[&ck, IDENTIFIER]), responder.as_bytes()]);
    (ck, h)
}

/// The key of MAC1 for messages to the owner of `public`.
pub fn mac1_key(public: &PublicKey) -> [u8; 32] {
    hash(&[LABEL_MAC1, public.as_bytes()])
}

/// The key that seals cookies sent by the owner of `public`.
pub fn cookie_key(public: &PublicKey) -> [u8; 32] {
    hash(&[LABEL_COOKIE, public.as_bytes()])
}

/// Write MAC1 (and MAC2 when we hold a fresh cookie) into the last 32
/// bytes of a handshake message; returns MAC1, which a cookie reply
/// answering this message will be bound to.
pub fn add_macs(msg: &mut [u8], mac1_key: &[u8; 32], cookie: Option<&[u8; 16]>) -> [u8; 16] {
    let n = msg.len();
    let m1 = mac(mac1_key, &msg[..n - 32]);
    msg[n - 32..n - 16].copy_from_slice(&m1);
    let m2 = cookie.map_or([0; 16], |c| mac(c, &msg[..n - 16]));
    msg[n - 16..].copy_from_slice(&m2);
    m1
}

/// Open a cookie reply to a message whose MAC1 was `mac1`.
pub fn open_cookie(msg: &[u8], cookie_key: &[u8; 32], mac1: &[u8; 16]) -> Option<[u8; 16]> {
    if msg.len() != COOKIE_LEN {
        return None;
    }
    let nonce: [u8; 24] = msg[8..32].try_into().ok()?;
    let sealed: [u8; 32] = msg[32..64].try_into().ok()?;
    xopen(cookie_key, &nonce, &sealed, mac1)
}

fn le32(d: &[u8], off: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&d[off..off + 4]);
    u32::from_le_bytes(b)
}

fn dh(secret: &StaticSecret, public: &[u8; 32]) -> Option<[u8; 32]> {
    let s = secret.diffie_hellman(&PublicKey::from(*public));
    s.was_contributory().then(|| s.to_bytes())
}

/// Our initiation, waiting for its response.
pub struct Initiator {
    pub local: u32,
    ephemeral: StaticSecret,
    ck: [u8; 32],
    h: [u8; 32],
}

impl Drop for Initiator {
    fn drop(&mut self) {
        self.ck.zeroize();
        self.h.zeroize();
    }
}

/// What the initiator needs of its own identity and of the peer.
pub struct Keys<'a> {
    pub secret: &'a StaticSecret,
    pub public: &'a PublicKey,
    pub peer: &'a PublicKey,
    /// DH(our static, the peer's static), computed once per peer.
    pub static_static: &'a [u8; 32],
    pub psk: &'a [u8; 32],
}

/// Write an initiation (MACs left to `add_macs`) into `msg`.
pub fn initiate(
    k: &Keys,
    local: u32,
    ts: &Timestamp,
    msg: &mut [u8; INITIATION_LEN],
) -> Option<Initiator> {
    let (ck, h) = start(k.peer);
    let ephemeral = StaticSecret::random_from_rng(OsRng);
    let e_pub = PublicKey::from(&ephemeral);
    msg.fill(0);
    msg[0] = 1;
    msg[4..8].copy_from_slice(&local.to_le_bytes());
    msg[EPHEMERAL].copy_from_slice(e_pub.as_bytes());
    let mut ck = kdf1(&ck, e_pub.as_bytes());
    let mut h = hash(&[&h, e_pub.as_bytes()]);
    let mut es = dh(&ephemeral, k.peer.as_bytes())?;
    let (mut ck2, mut key) = kdf2(&ck, &es);
    es.zeroize();
    seal(&key, k.public.as_bytes(), &h, &mut msg[STATIC]);
    key.zeroize();
    h = hash(&[&h, &msg[STATIC]]);
    let (ck3, mut key) = kdf2(&ck2, k.static_static);
    seal(&key, ts, &h, &mut msg[TIMESTAMP]);
    key.zeroize();
    ck2.zeroize();
    h = hash(&[&h, &msg[TIMESTAMP]]);
    ck.zeroize();
    ck = ck3;
    Some(Initiator {
        local,
        ephemeral,
        ck,
        h,
    })
}

impl Initiator {
    /// Consume the response (its MAC1 already checked): the new session.
    pub fn consume(&self, k: &Keys, msg: &[u8], now: Instant) -> Option<Session> {
        if msg.len() != RESPONSE_LEN || le32(msg, 8) != self.local {
            return None;
        }
        let e_r: [u8; 32] = msg[R_EPHEMERAL].try_into().ok()?;
        let mut h = hash(&[&self.h, &e_r]);
        let mut ck = kdf1(&self.ck, &e_r);
        let mut ee = dh(&self.ephemeral, &e_r)?;
        let ck2 = kdf1(&ck, &ee);
        ee.zeroize();
        let mut se = dh(k.secret, &e_r)?;
        ck = kdf1(&ck2, &se);
        se.zeroize();
        let (ck3, tau, mut key) = kdf3(&ck, k.psk);
        ck.zeroize();
        h = hash(&[&h, &tau]);
        let ok = open(&key, &msg[R_EMPTY], &h, &mut []);
        key.zeroize();
        h.zeroize();
        ok?;
        let (send, recv) = kdf2(&ck3, &[]);
        Some(Session::new(
            self.local,
            le32(msg, 4),
            send,
            recv,
            true,
            now,
        ))
    }
}

/// The responder's starting hash and chaining key, which depend only on
/// our public key: computed once per identity.
#[derive(Clone)]
pub struct Responder {
    ck: [u8; 32],
    h: [u8; 32],
}

/// An initiation opened up to its timestamp: who sent it, when, and the
/// state to answer it with.
pub struct Opened {
    pub peer_static: [u8; 32],
    pub timestamp: Timestamp,
    sender: u32,
    e_i: [u8; 32],
    ck: [u8; 32],
    h: [u8; 32],
}

impl Drop for Opened {
    fn drop(&mut self) {
        self.ck.zeroize();
        self.h.zeroize();
    }
}

impl Responder {
    pub fn new(public: &PublicKey) -> Responder {
        let (ck, h) = start(public);
        Responder { ck, h }
    }

    /// Decrypt the sender's static key and timestamp of an initiation
    /// whose MAC1 was already checked. `None` if anything fails to
    /// authenticate.
    pub fn open(&self, secret: &StaticSecret, msg: &[u8]) -> Option<Opened> {
        if msg.len() != INITIATION_LEN {
            return None;
        }
        let e_i: [u8; 32] = msg[EPHEMERAL].try_into().ok()?;
        let mut h = hash(&[&self.h, &e_i]);
        let mut ck = kdf1(&self.ck, &e_i);
        let mut es = dh(secret, &e_i)?;
        let (mut ck2, mut key) = kdf2(&ck, &es);
        es.zeroize();
        ck.zeroize();
        let mut peer_static = [0u8; 32];
        let ok = open(&key, &msg[STATIC], &h, &mut peer_static);
        key.zeroize();
        ok?;
        h = hash(&[&h, &msg[STATIC]]);
        let mut ss = dh(secret, &peer_static)?;
        let (ck3, mut key) = kdf2(&ck2, &ss);
        ss.zeroize();
        ck2.zeroize();
        let mut timestamp = [0u8; 12];
        let ok = open(&key, &msg[TIMESTAMP], &h, &mut timestamp);
        key.zeroize();
        ok?;
        h = hash(&[&h, &msg[TIMESTAMP]]);
        Some(Opened {
            peer_static,
            timestamp,
            sender: le32(msg, 4),
            e_i,
            ck: ck3,
            h,
        })
    }
}

/// Answer an opened initiation from the peer whose static key it
/// carried: write the response (MACs left to `add_macs`) into `msg` and
/// return the session it makes, ours to send with once the initiator's
/// first data message arrives on it.
pub fn respond(
    o: &Opened,
    psk: &[u8; 32],
    local: u32,
    msg: &mut [u8; RESPONSE_LEN],
    now: Instant,
) -> Option<Session> {
    let ephemeral = StaticSecret::random_from_rng(OsRng);
    let e_pub = PublicKey::from(&ephemeral);
    msg.fill(0);
    msg[0] = 2;
    msg[4..8].copy_from_slice(&local.to_le_bytes());
    msg[8..12].copy_from_slice(&o.sender.to_le_bytes());
    msg[R_EPHEMERAL].copy_from_slice(e_pub.as_bytes());
    let mut h = hash(&[&o.h, e_pub.as_bytes()]);
    let mut ck = kdf1(&o.ck, e_pub.as_bytes());
    let mut ee = dh(&ephemeral, &o.e_i)?;
    let ck2 = kdf1(&ck, &ee);
    ee.zeroize();
    let mut se = dh(&ephemeral, &o.peer_static)?;
    ck = kdf1(&ck2, &se);
    se.zeroize();
    let (ck3, tau, mut key) = kdf3(&ck, psk);
    ck.zeroize();
    h = hash(&[&h, &tau]);
    seal(&key, &[], &h, &mut msg[R_EMPTY]);
    key.zeroize();
    h.zeroize();
    let (recv, send) = kdf2(&ck3, &[]);
    Some(Session::new(local, o.sender, send, recv, false, now))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use boringtun::noise::{Tunn, TunnResult};

    /// A fresh static key pair.
    pub(crate) fn keys() -> (StaticSecret, PublicKey) {
        let s = StaticSecret::random_from_rng(OsRng);
        let p = PublicKey::from(&s);
        (s, p)
    }

    /// An initiation made by boringtun opens with the sender's key and a
    /// timestamp that grows; a flipped byte anywhere in the sealed parts
    /// is refused.
    #[test]
    fn opens_boringtun_initiations() {
        let (rs, rp) = keys();
        let (is, ip) = keys();
        let mut t = Tunn::new(is, rp, Some([7; 32]), None, 1, None);
        let mut buf = [0u8; 256];
        let msg = match t.format_handshake_initiation(&mut buf, false) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("no initiation"),
        };
        let r = Responder::new(&rp);
        let o = r.open(&rs, &msg).expect("opens");
        assert_eq!(o.peer_static, *ip.as_bytes());
        std::thread::sleep(std::time::Duration::from_millis(30));
        let msg2 = match t.format_handshake_initiation(&mut buf, true) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("no initiation"),
        };
        let o2 = r.open(&rs, &msg2).expect("opens");
        assert!(o2.timestamp > o.timestamp);
        for i in [8, 40, 87, 88, 115] {
            let mut bad = msg.clone();
            bad[i] ^= 1;
            assert!(r.open(&rs, &bad).is_none(), "byte {i}");
        }
        let (other, _) = keys();
        assert!(r.open(&other, &msg).is_none());
        assert!(r.open(&rs, &msg[..147]).is_none());
    }

    #[test]
    fn timestamps_grow_and_hide_the_fine_clock() {
        let t0 = UNIX_EPOCH + std::time::Duration::new(1_000, 5);
        let t1 = UNIX_EPOCH + std::time::Duration::new(1_000, 20_000_000);
        assert_eq!(timestamp(t0)[8..], [0, 0, 0, 0]);
        assert!(timestamp(t1) > timestamp(t0));
        assert_eq!(
            timestamp(t0)[..8],
            (0x4000_0000_0000_000a_u64 + 1_000).to_be_bytes()
        );
    }
}
