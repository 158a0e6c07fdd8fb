//! The IPv6 link-local address of a public key, for `link2` interfaces:
//! fe80::/64 with an interface identifier of 64 bits taken from a hash
//! of the key, so that every node derives every other node's address
//! from the key it already configured, with nothing else exchanged.
//!
//! ```text
//!   fe80:0000:0000:0000 : BLAKE2s-256("wgd link2 link-local" || public key)[0..8]
//! ```
//!
//! wg(4) documents the derivation, so that any implementation can make
//! the same addresses.

use crate::noise::crypto::hash;
use std::net::Ipv6Addr;

/// What the hash is domain-separated with.
const LABEL: &[u8] = b"wgd link2 link-local";

/// The link-local address of the node whose public key is `public`.
pub fn of(public: &[u8; 32]) -> Ipv6Addr {
    let h = hash(&[LABEL, public]);
    let mut a = [0u8; 16];
    a[0] = 0xfe;
    a[1] = 0x80;
    a[8..].copy_from_slice(&h[..8]);
    Ipv6Addr::from(a)
}

/// Whether `a` is in fe80::/10, the scope of these addresses.
pub fn is_link_local(a: &Ipv6Addr) -> bool {
    a.segments()[0] & 0xffc0 == 0xfe80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_from_the_key_and_documented_exactly() {
        let a = of(&[0u8; 32]);
        assert!(is_link_local(&a));
        assert_eq!(a.segments()[..4], [0xfe80, 0, 0, 0]);
        // The same key, the same address; another key, another.
        assert_eq!(of(&[7u8; 32]), of(&[7u8; 32]));
        assert_ne!(of(&[7u8; 32]), of(&[8u8; 32]));
        // The identifier is the first 8 bytes of the documented hash.
        let h = hash(&[b"wgd link2 link-local", &[9u8; 32]]);
        assert_eq!(of(&[9u8; 32]).octets()[8..], h[..8]);
    }

    #[test]
    fn link_local_scope() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(is_link_local(&"febf::1".parse().unwrap()));
        assert!(!is_link_local(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local(&"fd00::1".parse().unwrap()));
    }
}
