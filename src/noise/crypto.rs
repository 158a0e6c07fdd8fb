//! The protocol's primitives (WireGuard paper §5.4): BLAKE2s as HASH,
//! keyed BLAKE2s as MAC, HMAC-BLAKE2s as the KDF, ChaCha20-Poly1305 as
//! AEAD and XChaCha20-Poly1305 for cookies. Pure functions on byte
//! arrays; intermediate keys are zeroized here, the caller zeroizes what
//! it is given back.

use crate::noise::blake2s::{Blake2s, BLOCK};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

pub const TAG_LEN: usize = 16;

/// 32 secret bytes (a chaining key, tau, a transport or AEAD key),
/// zeroized when dropped. Neither `Copy` nor `Clone`: handed on by
/// reference, so no forgotten copy outlives it.
pub struct Secret([u8; 32]);

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Secret {
    pub fn new(bytes: [u8; 32]) -> Secret {
        Secret(bytes)
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2s::new(32, &[]);
    for p in parts {
        h.update(p);
    }
    let mut out = [0u8; 32];
    h.finalize_into(&mut out);
    out
}

/// Keyed BLAKE2s with a 16-byte output (MAC1, MAC2, cookies).
pub fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = Blake2s::new(16, key);
    for p in parts {
        m.update(p);
    }
    let mut out = [0u8; 16];
    m.finalize_into(&mut out);
    out
}

/// HMAC-BLAKE2s (RFC 2104) with a key of at most one block (ours are 32
/// bytes); the padded key blocks and both hash states are zeroized.
fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> Secret {
    let mut pad = [0u8; BLOCK];
    pad[..32].copy_from_slice(key);
    pad.iter_mut().for_each(|b| *b ^= 0x36);
    let mut inner = Blake2s::new(32, &[]);
    inner.update(&pad);
    for p in parts {
        inner.update(p);
    }
    let mut ih = [0u8; 32];
    inner.finalize_into(&mut ih);
    // 0x36 ^ 0x5c turns the inner pad into the outer one.
    pad.iter_mut().for_each(|b| *b ^= 0x36 ^ 0x5c);
    let mut outer = Blake2s::new(32, &[]);
    outer.update(&pad);
    outer.update(&ih);
    let mut out = [0u8; 32];
    outer.finalize_into(&mut out);
    pad.zeroize();
    ih.zeroize();
    Secret(out)
}

/// KDF with three outputs; the first two are KDF2's, the first KDF1's.
pub fn kdf3(chaining_key: &Secret, input: &[u8]) -> (Secret, Secret, Secret) {
    let prk = hmac(chaining_key.bytes(), &[input]);
    let t1 = hmac(prk.bytes(), &[&[1]]);
    let t2 = hmac(prk.bytes(), &[t1.bytes(), &[2]]);
    let t3 = hmac(prk.bytes(), &[t2.bytes(), &[3]]);
    (t1, t2, t3)
}

pub fn kdf2(chaining_key: &Secret, input: &[u8]) -> (Secret, Secret) {
    let prk = hmac(chaining_key.bytes(), &[input]);
    let t1 = hmac(prk.bytes(), &[&[1]]);
    let t2 = hmac(prk.bytes(), &[t1.bytes(), &[2]]);
    (t1, t2)
}

pub fn kdf1(chaining_key: &Secret, input: &[u8]) -> Secret {
    let prk = hmac(chaining_key.bytes(), &[input]);
    hmac(prk.bytes(), &[&[1]])
}

/// AEAD with nonce 0 (handshake fields): `out` is `plain.len() + 16`.
pub fn seal(key: &[u8; 32], plain: &[u8], aad: &[u8], out: &mut [u8]) {
    let (ct, tag) = out.split_at_mut(plain.len());
    ct.copy_from_slice(plain);
    let cipher = ChaCha20Poly1305::new(key.into());
    match cipher.encrypt_in_place_detached(&Nonce::default(), aad, ct) {
        Ok(t) => tag[..TAG_LEN].copy_from_slice(&t),
        Err(_) => unreachable!("handshake fields are tiny"),
    }
}

/// AEAD with nonce 0, the opposite of `seal`: `sealed` is ciphertext
/// then tag, `out` the plaintext's length.
pub fn open(key: &[u8; 32], sealed: &[u8], aad: &[u8], out: &mut [u8]) -> Option<()> {
    let (ct, tag) = sealed.split_at(sealed.len().checked_sub(TAG_LEN)?);
    if out.len() != ct.len() {
        return None;
    }
    out.copy_from_slice(ct);
    let cipher = ChaCha20Poly1305::new(key.into());
    let r = cipher.decrypt_in_place_detached(&Nonce::default(), aad, out, Tag::from_slice(tag));
    if r.is_err() {
        out.zeroize();
    }
    r.ok()
}

/// XChaCha20-Poly1305 sealing of a cookie reply's cookie: ciphertext
/// then tag.
pub fn xseal(key: &[u8; 32], nonce: &[u8; 24], cookie: &[u8; 16], aad: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(cookie);
    let cipher = XChaCha20Poly1305::new(key.into());
    match cipher.encrypt_in_place_detached(XNonce::from_slice(nonce), aad, &mut out[..16]) {
        Ok(t) => out[16..].copy_from_slice(&t),
        Err(_) => unreachable!("a cookie is 16 bytes"),
    }
    out
}

/// XChaCha20-Poly1305 opening of a cookie reply's cookie.
pub fn xopen(key: &[u8; 32], nonce: &[u8; 24], sealed: &[u8; 32], aad: &[u8]) -> Option<[u8; 16]> {
    let mut cookie: [u8; 16] = sealed[..16].try_into().ok()?;
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            aad,
            &mut cookie,
            Tag::from_slice(&sealed[16..]),
        )
        .ok()?;
    Some(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_outputs_chain() {
        let ck = Secret::new([7u8; 32]);
        let (a, b, c) = kdf3(&ck, b"x");
        let (a2, b2) = kdf2(&ck, b"x");
        assert_eq!((a.bytes(), b.bytes()), (a2.bytes(), b2.bytes()));
        assert_eq!(kdf1(&ck, b"x").bytes(), a.bytes());
        assert_ne!(b.bytes(), c.bytes());
    }

    /// Our HMAC-BLAKE2s is the hmac crate's.
    #[test]
    fn hmac_agrees_with_the_hmac_crate() {
        use blake2::digest::FixedOutput;
        use hmac::Mac;
        for len in [0usize, 1, 33, 64, 65, 200] {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let key = [0x5au8; 32];
            let mut m =
                <hmac::SimpleHmac<blake2::Blake2s256> as hmac::digest::KeyInit>::new_from_slice(
                    &key,
                )
                .unwrap();
            m.update(&data);
            let want: [u8; 32] = m.finalize_fixed().into();
            assert_eq!(hmac(&key, &[&data]).bytes(), &want, "{len}");
        }
    }

    #[test]
    fn seal_then_open() {
        let k = [3u8; 32];
        let mut sealed = [0u8; 21];
        seal(&k, b"hello", b"ad", &mut sealed);
        let mut out = [0u8; 5];
        assert!(open(&k, &sealed, b"ad", &mut out).is_some());
        assert_eq!(&out, b"hello");
        assert!(open(&k, &sealed, b"da", &mut out).is_none());
        assert_eq!(out, [0; 5]);
    }

    #[test]
    fn xseal_then_xopen() {
        let (k, n) = ([4u8; 32], [5u8; 24]);
        let sealed = xseal(&k, &n, &[6; 16], b"mac1");
        assert_eq!(xopen(&k, &n, &sealed, b"mac1"), Some([6; 16]));
        assert_eq!(xopen(&k, &n, &sealed, b"mac2"), None);
    }
}
