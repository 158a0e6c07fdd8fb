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

use crate::noise::crypto::{hash, kdf1, kdf2, kdf3, mac, open, seal, xopen, Secret};
use crate::noise::index::Lease;
use crate::noise::session::Session;
use crate::sys::boottime::Instant;
use boringtun::x25519::{PublicKey, StaticSecret};
use rand_core::OsRng;
use std::time::{SystemTime, UNIX_EPOCH};

const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";
pub const LABEL_MAC1: &[u8] = b"mac1----";
pub const LABEL_COOKIE: &[u8] = b"cookie--";

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
fn start(responder: &PublicKey) -> (Secret, [u8; 32]) {
    let ck = hash(&[CONSTRUCTION]);
    let h = hash(&[&hash(&[&ck, IDENTIFIER]), responder.as_bytes()]);
    (Secret::new(ck), h)
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
    let m1 = mac(mac1_key, &[&msg[..n - 32]]);
    msg[n - 32..n - 16].copy_from_slice(&m1);
    let m2 = cookie.map_or([0; 16], |c| mac(c, &[&msg[..n - 16]]));
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

/// DH, refused when the result is all zeros (a low-order point).
pub fn dh(secret: &StaticSecret, public: &[u8; 32]) -> Option<Secret> {
    let s = secret.diffie_hellman(&PublicKey::from(*public));
    s.was_contributory().then(|| Secret::new(s.to_bytes()))
}

/// The transport keys a handshake derived, and the peer's index.
pub struct Derived {
    pub send: Secret,
    pub recv: Secret,
    pub remote: u32,
}

/// Our initiation, waiting for its response. Its index is leased for as
/// long as it waits, then passes to the session it makes. Every field
/// zeroizes itself.
pub struct Initiator {
    lease: Lease,
    ephemeral: StaticSecret,
    ck: Secret,
    h: Secret,
}

/// What the initiator needs of its own identity and of the peer.
pub struct Keys<'a> {
    pub secret: &'a StaticSecret,
    pub public: &'a PublicKey,
    pub peer: &'a PublicKey,
    /// DH(our static, the peer's static), computed once per peer.
    pub static_static: &'a Secret,
    pub psk: &'a Secret,
}

/// Write an initiation (MACs left to `add_macs`) into `msg`, on our index
/// `lease`.
pub fn initiate(
    k: &Keys,
    lease: Lease,
    ts: &Timestamp,
    msg: &mut [u8; INITIATION_LEN],
) -> Option<Initiator> {
    let (ck, h) = start(k.peer);
    let ephemeral = StaticSecret::random_from_rng(OsRng);
    let e_pub = PublicKey::from(&ephemeral);
    msg.fill(0);
    msg[0] = 1;
    msg[4..8].copy_from_slice(&lease.index().to_le_bytes());
    msg[EPHEMERAL].copy_from_slice(e_pub.as_bytes());
    let ck = kdf1(&ck, e_pub.as_bytes());
    let h = Secret::new(hash(&[&h, e_pub.as_bytes()]));
    let es = dh(&ephemeral, k.peer.as_bytes())?;
    let (ck, key) = kdf2(&ck, es.bytes());
    seal(
        key.bytes(),
        k.public.as_bytes(),
        h.bytes(),
        &mut msg[STATIC],
    );
    let h = Secret::new(hash(&[h.bytes(), &msg[STATIC]]));
    let (ck, key) = kdf2(&ck, k.static_static.bytes());
    seal(key.bytes(), ts, h.bytes(), &mut msg[TIMESTAMP]);
    let h = Secret::new(hash(&[h.bytes(), &msg[TIMESTAMP]]));
    Some(Initiator {
        lease,
        ephemeral,
        ck,
        h,
    })
}

impl Initiator {
    /// Our index on this handshake.
    pub fn local(&self) -> u32 {
        self.lease.index()
    }

    /// Consume the response (its MAC1 already checked): the keys of the
    /// new session.
    pub fn consume(&self, k: &Keys, msg: &[u8]) -> Option<Derived> {
        if msg.len() != RESPONSE_LEN || le32(msg, 8) != self.local() {
            return None;
        }
        let e_r: [u8; 32] = msg[R_EPHEMERAL].try_into().ok()?;
        let h = Secret::new(hash(&[self.h.bytes(), &e_r]));
        let ck = kdf1(&self.ck, &e_r);
        let ee = dh(&self.ephemeral, &e_r)?;
        let ck = kdf1(&ck, ee.bytes());
        let se = dh(k.secret, &e_r)?;
        let ck = kdf1(&ck, se.bytes());
        let (ck, tau, key) = kdf3(&ck, k.psk.bytes());
        let h = Secret::new(hash(&[h.bytes(), tau.bytes()]));
        open(key.bytes(), &msg[R_EMPTY], h.bytes(), &mut [])?;
        let (send, recv) = kdf2(&ck, &[]);
        Some(Derived {
            send,
            recv,
            remote: le32(msg, 4),
        })
    }

    /// The session the response made, on this handshake's index.
    pub fn into_session(self, d: &Derived, now: Instant) -> Session {
        let Initiator { lease, .. } = self;
        Session::new(lease, d.remote, &d.send, &d.recv, true, now)
    }
}

/// The responder's starting hash and chaining key, which depend only on
/// our public key: computed once per identity.
pub struct Responder {
    ck: [u8; 32],
    h: [u8; 32],
}

/// An initiation opened as far as its sender's static key, with one DH
/// (ephemeral-static): the caller finds the peer by that key before
/// spending anything more.
pub struct Claimed {
    pub peer_static: [u8; 32],
    sender: u32,
    e_i: [u8; 32],
    ck: Secret,
    h: Secret,
    msg: [u8; INITIATION_LEN],
}

/// An initiation opened up to its timestamp: who sent it, when, and the
/// state to answer it with.
pub struct Opened {
    pub peer_static: [u8; 32],
    pub timestamp: Timestamp,
    sender: u32,
    e_i: [u8; 32],
    ck: Secret,
    h: Secret,
}

impl Responder {
    pub fn new(public: &PublicKey) -> Responder {
        let (ck, h) = start(public);
        Responder { ck: *ck.bytes(), h }
    }

    /// Decrypt the sender's static key of an initiation whose MAC1 was
    /// already checked. `None` if it fails to authenticate.
    pub fn open(&self, secret: &StaticSecret, msg: &[u8]) -> Option<Claimed> {
        let msg: [u8; INITIATION_LEN] = msg.try_into().ok()?;
        let e_i: [u8; 32] = msg[EPHEMERAL].try_into().ok()?;
        let h = hash(&[&self.h, &e_i]);
        let ck = kdf1(&Secret::new(self.ck), &e_i);
        let es = dh(secret, &e_i)?;
        let (ck, key) = kdf2(&ck, es.bytes());
        let mut peer_static = [0u8; 32];
        open(key.bytes(), &msg[STATIC], &h, &mut peer_static)?;
        let h = Secret::new(hash(&[&h, &msg[STATIC]]));
        Some(Claimed {
            peer_static,
            sender: le32(&msg, 4),
            e_i,
            ck,
            h,
            msg,
        })
    }
}

impl Claimed {
    /// With the claimed peer's precomputed DH(our static, its static),
    /// decrypt the timestamp: the sender is then authenticated (up to
    /// replay, which the caller judges by the timestamp).
    pub fn finish(self, static_static: &Secret) -> Option<Opened> {
        let (ck, key) = kdf2(&self.ck, static_static.bytes());
        let mut timestamp = [0u8; 12];
        open(
            key.bytes(),
            &self.msg[TIMESTAMP],
            self.h.bytes(),
            &mut timestamp,
        )?;
        let h = Secret::new(hash(&[self.h.bytes(), &self.msg[TIMESTAMP]]));
        Some(Opened {
            peer_static: self.peer_static,
            timestamp,
            sender: self.sender,
            e_i: self.e_i,
            ck,
            h,
        })
    }
}

/// Answer an opened initiation from the peer whose static key it
/// carried: write the response (MACs left to `add_macs`) into `msg` and
/// return the session it makes on our index `lease`, ours to send with
/// once the initiator's first data message arrives on it.
pub fn respond(
    o: &Opened,
    psk: &Secret,
    lease: Lease,
    msg: &mut [u8; RESPONSE_LEN],
    now: Instant,
) -> Option<Session> {
    let ephemeral = StaticSecret::random_from_rng(OsRng);
    let e_pub = PublicKey::from(&ephemeral);
    msg.fill(0);
    msg[0] = 2;
    msg[4..8].copy_from_slice(&lease.index().to_le_bytes());
    msg[8..12].copy_from_slice(&o.sender.to_le_bytes());
    msg[R_EPHEMERAL].copy_from_slice(e_pub.as_bytes());
    let h = Secret::new(hash(&[o.h.bytes(), e_pub.as_bytes()]));
    let ck = kdf1(&o.ck, e_pub.as_bytes());
    let ee = dh(&ephemeral, &o.e_i)?;
    let ck = kdf1(&ck, ee.bytes());
    let se = dh(&ephemeral, &o.peer_static)?;
    let ck = kdf1(&ck, se.bytes());
    let (ck, tau, key) = kdf3(&ck, psk.bytes());
    let h = Secret::new(hash(&[h.bytes(), tau.bytes()]));
    seal(key.bytes(), &[], h.bytes(), &mut msg[R_EMPTY]);
    let (recv, send) = kdf2(&ck, &[]);
    Some(Session::new(lease, o.sender, &send, &recv, false, now))
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
        let ss = dh(&rs, ip.as_bytes()).unwrap();
        let open_all = |m: &[u8]| r.open(&rs, m).and_then(|c| c.finish(&ss));
        let c = r.open(&rs, &msg).expect("opens");
        assert_eq!(
            c.peer_static,
            *ip.as_bytes(),
            "the claimed key before the second DH"
        );
        let o = c.finish(&ss).expect("timestamp opens");
        assert_eq!(o.peer_static, *ip.as_bytes());
        std::thread::sleep(std::time::Duration::from_millis(30));
        let msg2 = match t.format_handshake_initiation(&mut buf, true) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("no initiation"),
        };
        let o2 = open_all(&msg2).expect("opens");
        assert!(o2.timestamp > o.timestamp);
        for i in [8, 40, 87, 88, 115] {
            let mut bad = msg.clone();
            bad[i] ^= 1;
            assert!(open_all(&bad).is_none(), "byte {i}");
        }
        // The wrong static-static DH (another peer's) fails at the
        // timestamp.
        let (other, other_pub) = keys();
        let wrong = dh(&rs, other_pub.as_bytes()).unwrap();
        assert!(r.open(&rs, &msg).unwrap().finish(&wrong).is_none());
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
