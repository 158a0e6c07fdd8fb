//! Opening a handshake initiation just far enough to learn who sent it
//! and when: the responder's half of the first message of Noise IKpsk2,
//! up to the encrypted timestamp.
//!
//! `Tunn` keeps the newest timestamp it has accepted inside its own
//! handshake state, which is rebuilt on down/up and on a pre-shared key
//! change. The replay check must outlive that, so the interface opens the
//! initiation itself, compares the timestamp with the one kept in the
//! peer (for the peer's whole life), and only then hands the message to
//! `Tunn`. A timestamp that decrypts proves the sender holds the peer's
//! static private key (or replays a message of someone who does); the
//! strict "newer than any seen" rule removes the second case.

use blake2::digest::{FixedOutput, Mac};
use blake2::{Blake2s256, Digest};
use boringtun::x25519::{PublicKey, StaticSecret};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use zeroize::Zeroize;

const CONSTRUCTION: &[u8] = b"Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const IDENTIFIER: &[u8] = b"WireGuard v1 zx2c4 Jason@zx2c4.com";

pub const INITIATION_LEN: usize = 148;
const EPHEMERAL: std::ops::Range<usize> = 8..40;
const STATIC: std::ops::Range<usize> = 40..88;
const TIMESTAMP: std::ops::Range<usize> = 88..116;

/// A TAI64N label: 8 bytes of seconds and 4 of nanoseconds, big-endian,
/// so byte order is time order.
pub type Timestamp = [u8; 12];

/// What an initiation proved once its timestamp decrypted.
pub struct Opened {
    pub peer_static: [u8; 32],
    pub timestamp: Timestamp,
}

/// The responder's starting hash and chaining key, which depend only on
/// our public key: computed once per identity.
#[derive(Clone)]
pub struct Responder {
    chaining_key: [u8; 32],
    hash: [u8; 32],
}

fn hash2(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    h.update(a);
    h.update(b);
    h.finalize().into()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC-BLAKE2s (RFC 2104), as the protocol's KDF uses it; any key
    // length is accepted, so this cannot fail.
    let mut m = <hmac::SimpleHmac<Blake2s256> as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        m.update(p);
    }
    m.finalize_fixed().into()
}

/// KDF2: the new chaining key and one encryption key.
fn kdf2(chaining_key: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32]) {
    let mut prk = hmac(chaining_key, &[input]);
    let t1 = hmac(&prk, &[&[1]]);
    let t2 = hmac(&prk, &[&t1, &[2]]);
    prk.zeroize();
    (t1, t2)
}

/// AEAD with a zero nonce, in place; `sealed` is ciphertext then tag.
fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8], out: &mut [u8]) -> Option<()> {
    let (ct, tag) = sealed.split_at(sealed.len().checked_sub(16)?);
    if out.len() != ct.len() {
        return None;
    }
    out.copy_from_slice(ct);
    let cipher = ChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(&Nonce::default(), aad, out, Tag::from_slice(tag))
        .ok()
}

impl Responder {
    pub fn new(public: &PublicKey) -> Responder {
        let chaining_key: [u8; 32] = Blake2s256::digest(CONSTRUCTION).into();
        let hash = hash2(&hash2(&chaining_key, IDENTIFIER), public.as_bytes());
        Responder { chaining_key, hash }
    }

    /// Decrypt the sender's static key and timestamp of an initiation
    /// whose MAC1 was already checked. `None` if anything fails to
    /// authenticate.
    pub fn open(&self, secret: &StaticSecret, msg: &[u8]) -> Option<Opened> {
        if msg.len() != INITIATION_LEN {
            return None;
        }
        let e: [u8; 32] = msg[EPHEMERAL].try_into().ok()?;
        let mut hash = hash2(&self.hash, &e);
        let (mut ck, _) = kdf2(&self.chaining_key, &e);
        // kdf1 is the first output of kdf2.
        let mut dh = secret.diffie_hellman(&PublicKey::from(e));
        if !dh.was_contributory() {
            return None;
        }
        let (ck2, mut key) = kdf2(&ck, dh.as_bytes());
        ck = ck2;
        let mut peer_static = [0u8; 32];
        let ok = open(&key, &msg[STATIC], &hash, &mut peer_static);
        key.zeroize();
        ok?;
        hash = hash2(&hash, &msg[STATIC]);
        dh = secret.diffie_hellman(&PublicKey::from(peer_static));
        if !dh.was_contributory() {
            return None;
        }
        let (mut ck3, mut key) = kdf2(&ck, dh.as_bytes());
        let mut timestamp = [0u8; 12];
        let ok = open(&key, &msg[TIMESTAMP], &hash, &mut timestamp);
        key.zeroize();
        ck.zeroize();
        ck3.zeroize();
        ok?;
        Some(Opened {
            peer_static,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use boringtun::noise::{Tunn, TunnResult};
    use rand_core::OsRng;

    fn keys() -> (StaticSecret, PublicKey) {
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
}
