//! The responder's side of cookies (paper §5.4.7, as Linux's cookie.c):
//! MAC1 of every handshake message addressed to us, and under load MAC2,
//! which proves the sender receives at its source address and port.
//!
//! A cookie is MAC(secret, source IP ‖ source port), the secret a random
//! value replaced every COOKIE_SECRET_MAX_AGE (two minutes), so a cookie
//! is good for one address and port, for at most two minutes. A cookie
//! reply carries it sealed (XChaCha20-Poly1305, keyed by our public key,
//! bound to the MAC1 of the message it answers) to the sender's index.

use crate::noise::crypto::{hash, mac, xseal, Secret};
use crate::noise::handshake::{COOKIE_LEN, LABEL_COOKIE, LABEL_MAC1};
use crate::sys::boottime::Instant;
use boringtun::x25519::PublicKey;
use rand_core::{OsRng, RngCore};
use std::net::{IpAddr, SocketAddr};
use std::sync::RwLock;
use std::time::Duration;
use zeroize::Zeroize;

pub const COOKIE_SECRET_MAX_AGE: Duration = Duration::from_secs(120);

/// What a handshake message's MACs showed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Macs {
    /// MAC1 is wrong: not for us, or damaged. Dropped silently.
    Invalid,
    /// MAC1 is right; MAC2 was not asked for, or is not a cookie of ours
    /// for the message's source.
    NoCookie,
    /// MAC1 and MAC2 are right: the source address is real.
    Cookie,
}

pub struct Checker {
    mac1_key: [u8; 32],
    /// Seals the cookies we send (the key the peer opens them with).
    cookie_key: [u8; 32],
    secret: RwLock<(Secret, Instant)>,
}

fn fresh_secret() -> Secret {
    let mut s = [0u8; 32];
    OsRng.fill_bytes(&mut s);
    Secret::new(s)
}

/// Equal, in time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Checker {
    /// The checker for messages to the owner of `public`.
    pub fn new(public: &PublicKey, now: Instant) -> Checker {
        Checker {
            mac1_key: hash(&[LABEL_MAC1, public.as_bytes()]),
            cookie_key: hash(&[LABEL_COOKIE, public.as_bytes()]),
            secret: RwLock::new((fresh_secret(), now)),
        }
    }

    /// The cookie for `src` now (the secret renewed first if it is too
    /// old).
    fn cookie(&self, src: SocketAddr, now: Instant) -> [u8; 16] {
        let stale = |at: Instant| now.saturating_duration_since(at) >= COOKIE_SECRET_MAX_AGE;
        {
            let s = self.secret.read().unwrap_or_else(|e| e.into_inner());
            if !stale(s.1) {
                return cookie_of(&s.0, src);
            }
        }
        let mut s = self.secret.write().unwrap_or_else(|e| e.into_inner());
        if stale(s.1) {
            *s = (fresh_secret(), now);
        }
        cookie_of(&s.0, src)
    }

    /// Check MAC1 of handshake message `msg` from `src`, and MAC2 when
    /// `under_load`.
    pub fn check(&self, msg: &[u8], src: SocketAddr, under_load: bool, now: Instant) -> Macs {
        let n = msg.len();
        if n < 32 + 8 {
            return Macs::Invalid;
        }
        if !same(
            &mac(&self.mac1_key, &[&msg[..n - 32]]),
            &msg[n - 32..n - 16],
        ) {
            return Macs::Invalid;
        }
        if !under_load {
            return Macs::NoCookie;
        }
        let mut cookie = self.cookie(src, now);
        let ok = same(&mac(&cookie, &[&msg[..n - 16]]), &msg[n - 16..]);
        cookie.zeroize();
        if ok {
            Macs::Cookie
        } else {
            Macs::NoCookie
        }
    }

    /// Write into `out` the cookie reply to `msg` (its MAC1 checked), sent
    /// from `src`: its length.
    pub fn reply(
        &self,
        msg: &[u8],
        src: SocketAddr,
        now: Instant,
        out: &mut [u8],
    ) -> Option<usize> {
        let n = msg.len();
        let out = out.get_mut(..COOKIE_LEN)?;
        let sender = msg.get(4..8)?;
        let mac1 = msg.get(n.checked_sub(32)?..n - 16)?;
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let mut cookie = self.cookie(src, now);
        out[..4].copy_from_slice(&[3, 0, 0, 0]);
        out[4..8].copy_from_slice(sender);
        out[8..32].copy_from_slice(&nonce);
        out[32..64].copy_from_slice(&xseal(&self.cookie_key, &nonce, &cookie, mac1));
        cookie.zeroize();
        Some(COOKIE_LEN)
    }
}

/// MAC(secret, IP ‖ port): the address as the kernel gives it (4 bytes
/// for IPv4, also when it reached an IPv6 socket mapped), the port in
/// network order.
fn cookie_of(secret: &Secret, src: SocketAddr) -> [u8; 16] {
    let port = src.port().to_be_bytes();
    match src.ip().to_canonical() {
        IpAddr::V4(a) => mac(secret.bytes(), &[&a.octets(), &port]),
        IpAddr::V6(a) => mac(secret.bytes(), &[&a.octets(), &port]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::handshake::tests::keys;
    use crate::noise::handshake::{add_macs, open_cookie};

    fn message(to: &PublicKey, cookie: Option<&[u8; 16]>) -> Vec<u8> {
        let mut m = vec![0u8; 148];
        m[0] = 1;
        m[4..8].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        m[8..40].fill(0xab);
        add_macs(&mut m, &hash(&[LABEL_MAC1, to.as_bytes()]), cookie);
        m
    }

    #[test]
    fn mac1_then_a_cookie_for_one_address_and_port() {
        let (_, public) = keys();
        let now = Instant::now();
        let c = Checker::new(&public, now);
        let from: SocketAddr = "192.0.2.1:51820".parse().unwrap();
        let m = message(&public, None);
        assert_eq!(c.check(&m, from, false, now), Macs::NoCookie);
        assert_eq!(c.check(&m, from, true, now), Macs::NoCookie);
        let (_, other) = keys();
        assert_eq!(
            c.check(&message(&other, None), from, false, now),
            Macs::Invalid
        );
        assert_eq!(c.check(&m[..20], from, false, now), Macs::Invalid);

        // The reply: to the sender's index, the cookie opens with the key
        // the sender derives from our public key, bound to its MAC1.
        let mut reply = [0u8; 64];
        assert_eq!(c.reply(&m, from, now, &mut reply), Some(64));
        assert_eq!(&reply[..8], &[3, 0, 0, 0, 0x78, 0x56, 0x34, 0x12]);
        let mac1: [u8; 16] = m[116..132].try_into().unwrap();
        let ck = hash(&[LABEL_COOKIE, public.as_bytes()]);
        let cookie = open_cookie(&reply, &ck, &mac1).expect("opens");
        let with = message(&public, Some(&cookie));
        assert_eq!(c.check(&with, from, true, now), Macs::Cookie);
        for other in ["192.0.2.1:51821", "192.0.2.2:51820", "[2001:db8::1]:51820"] {
            let o: SocketAddr = other.parse().unwrap();
            assert_eq!(c.check(&with, o, true, now), Macs::NoCookie, "{other}");
        }
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:51820".parse().unwrap();
        assert_eq!(c.check(&with, mapped, true, now), Macs::Cookie);
        // Two minutes later the secret is new: the old cookie is refused.
        let later = now + COOKIE_SECRET_MAX_AGE;
        assert_eq!(c.check(&with, from, true, later), Macs::NoCookie);
        let mut again = [0u8; 64];
        c.reply(&m, from, later, &mut again);
        let fresh = open_cookie(&again, &ck, &mac1).unwrap();
        assert_ne!(fresh, cookie);
        assert_eq!(
            c.check(&message(&public, Some(&fresh)), from, true, later),
            Macs::Cookie
        );
    }
}
