//! Keys as the configuration takes them: clamping a private key, deriving
//! its public key, and refusing public keys of small order.

use boringtun::x25519::{PublicKey, StaticSecret};
use proto::Key;

pub fn clamp(k: &Key) -> Key {
    let mut b = *k.as_bytes();
    b[0] &= 248;
    b[31] &= 127;
    b[31] |= 64;
    Key::new(b)
}

pub fn public_of(private: &Key) -> Key {
    let secret = StaticSecret::from(*private.as_bytes());
    Key::new(PublicKey::from(&secret).to_bytes())
}

/// The u-coordinates of the points of small order on Curve25519 (0, 1,
/// two of order 8) and the encodings of p - 1, p and p + 1 that reduce to
/// them, as libsodium lists them. X25519 ignores the top bit, so it is
/// masked before comparing.
const SMALL_ORDER: [[u8; 32]; 7] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f, 0xc4,
        0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
        0xb8, 0x00,
    ],
    [
        0x5f, 0x9c, 0x95, 0xbc, 0xa3, 0x50, 0x8c, 0x24, 0xb1, 0xd0, 0xb1, 0x55, 0x9c, 0x83, 0xef,
        0x5b, 0x04, 0x44, 0x5c, 0xc4, 0x58, 0x1c, 0x8e, 0x86, 0xd8, 0x22, 0x4e, 0xdd, 0xd0, 0x9f,
        0x11, 0x57,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// Small-order points (the all-zero key among them) would make every
/// shared secret predictable. A table lookup, not a Diffie-Hellman: a
/// `wg setconf` of many peers checks every one.
pub fn is_low_order(public: &Key) -> bool {
    let mut k = *public.as_bytes();
    k[31] &= 0x7f;
    SMALL_ORDER.contains(&k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        public_of(&clamp(&Key::new([b; 32])))
    }

    /// The table agrees with the definition: a clamped scalar (a multiple
    /// of the cofactor) times the point gives zero exactly for the points
    /// of small order, whatever the top bit.
    #[test]
    fn low_order_table_matches_diffie_hellman() {
        let by_dh = |k: &[u8; 32]| {
            let probe = StaticSecret::from([0x5a; 32]);
            !probe
                .diffie_hellman(&PublicKey::from(*k))
                .was_contributory()
        };
        for p in SMALL_ORDER {
            for top in [0u8, 0x80] {
                let mut k = p;
                k[31] |= top;
                assert!(by_dh(&k), "{k:02x?} is not of small order");
                assert!(is_low_order(&Key::new(k)));
            }
        }
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7);
        for _ in 0..2000 {
            let mut k = [0u8; 32];
            rand::RngCore::fill_bytes(&mut rng, &mut k);
            assert_eq!(is_low_order(&Key::new(k)), by_dh(&k), "{k:02x?}");
        }
    }

    #[test]
    fn low_order_points() {
        assert!(is_low_order(&Key::zero()));
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(is_low_order(&Key::new(one)));
        assert!(!is_low_order(&key(3)));
    }
}
