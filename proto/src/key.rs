//! The 32-byte key type: private keys, public keys and pre-shared keys.
//!
//! Secrets are wiped when dropped and never printed by `Debug`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const KEY_LEN: usize = 32;

#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    pub fn new(bytes: [u8; KEY_LEN]) -> Key {
        Key(bytes)
    }

    pub fn zero() -> Key {
        Key([0; KEY_LEN])
    }

    /// Decode base64 that must yield exactly 32 bytes (44 characters with
    /// one `=` of padding, as `wg genkey` and `openssl rand -base64 32`
    /// print it).
    pub fn from_base64(s: &str) -> Option<Key> {
        if s.len() != 44 {
            return None;
        }
        let mut out = [0u8; KEY_LEN];
        match STANDARD.decode_slice(s.as_bytes(), &mut out) {
            Ok(KEY_LEN) => Some(Key(out)),
            _ => {
                out.zeroize();
                None
            }
        }
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Lower-case hex, as the WireGuard UAPI uses.
    pub fn from_hex(s: &str) -> Option<Key> {
        let b = s.as_bytes();
        if b.len() != KEY_LEN * 2 {
            return None;
        }
        let mut out = [0u8; KEY_LEN];
        for (i, pair) in b.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            out[i] = (hi * 16 + lo) as u8;
        }
        Some(Key(out))
    }

    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(KEY_LEN * 2);
        for b in self.0 {
            s.push(HEX[(b >> 4) as usize] as char);
            s.push(HEX[(b & 15) as usize] as char);
        }
        s
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().fold(0u8, |acc, b| acc | b) == 0
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        let k = Key::new([7u8; 32]);
        let s = k.to_base64();
        assert_eq!(s.len(), 44);
        assert_eq!(Key::from_base64(&s), Some(k));
    }

    #[test]
    fn base64_must_be_32_bytes() {
        assert!(Key::from_base64("").is_none());
        assert!(Key::from_base64("AAAA").is_none());
        // 33 bytes
        let long = STANDARD.encode([1u8; 33]);
        assert!(Key::from_base64(&long).is_none());
        // 31 bytes
        let short = STANDARD.encode([1u8; 31]);
        assert!(Key::from_base64(&short).is_none());
        // not base64 at all
        assert!(Key::from_base64("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=").is_none());
        // a valid key with trailing garbage
        let k = Key::new([9u8; 32]).to_base64() + "A";
        assert!(Key::from_base64(&k).is_none());
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let k = Key::new([0xab; 32]);
        assert_eq!(k.to_hex(), "ab".repeat(32));
        assert_eq!(Key::from_hex(&k.to_hex()), Some(k));
        assert!(Key::from_hex("zz").is_none());
        assert!(Key::from_hex(&"g".repeat(64)).is_none());
        assert!(Key::from_hex(&"a".repeat(63)).is_none());
    }

    #[test]
    fn zero_and_debug() {
        assert!(Key::zero().is_zero());
        assert!(!Key::new([1; 32]).is_zero());
        assert_eq!(format!("{:?}", Key::new([1; 32])), "Key(..)");
    }
}
