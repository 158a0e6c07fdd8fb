//! The protocol's primitives (WireGuard paper §5.4): BLAKE2s as HASH,
//! keyed BLAKE2s as MAC, HMAC-BLAKE2s as the KDF, ChaCha20-Poly1305 as
//! AEAD and XChaCha20-Poly1305 for cookies. Pure functions on byte
//! arrays; intermediate keys are zeroized here, the caller zeroizes what
//! it is given back.

use blake2::digest::consts::U16;
use blake2::digest::{FixedOutput, Mac};
use blake2::{Blake2s256, Blake2sMac, Digest};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag, XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

pub const TAG_LEN: usize = 16;

pub fn hash(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Blake2s256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// Keyed BLAKE2s with a 16-byte output (MAC1, MAC2).
pub fn mac(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut m = <Blake2sMac<U16> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("keys are 16 or 32 bytes"));
    m.update(data);
    m.finalize_fixed().into()
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC-BLAKE2s (RFC 2104); any key length is accepted.
    let mut m = <hmac::SimpleHmac<Blake2s256> as hmac::digest::KeyInit>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for p in parts {
        m.update(p);
    }
    m.finalize_fixed().into()
}

/// KDF with three outputs; the first two are KDF2's, the first KDF1's.
pub fn kdf3(chaining_key: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32], [u8; 32]) {
    let mut prk = hmac(chaining_key, &[input]);
    let t1 = hmac(&prk, &[&[1]]);
    let t2 = hmac(&prk, &[&t1, &[2]]);
    let t3 = hmac(&prk, &[&t2, &[3]]);
    prk.zeroize();
    (t1, t2, t3)
}

pub fn kdf2(chaining_key: &[u8; 32], input: &[u8]) -> ([u8; 32], [u8; 32]) {
    let mut prk = hmac(chaining_key, &[input]);
    let t1 = hmac(&prk, &[&[1]]);
    let t2 = hmac(&prk, &[&t1, &[2]]);
    prk.zeroize();
    (t1, t2)
}

pub fn kdf1(chaining_key: &[u8; 32], input: &[u8]) -> [u8; 32] {
    let mut prk = hmac(chaining_key, &[input]);
    let t1 = hmac(&prk, &[&[1]]);
    prk.zeroize();
    t1
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
        let ck = [7u8; 32];
        let (a, b, c) = kdf3(&ck, b"x");
        assert_eq!(kdf2(&ck, b"x"), (a, b));
        assert_eq!(kdf1(&ck, b"x"), a);
        assert_ne!(b, c);
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
}
