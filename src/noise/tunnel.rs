//! One peer's cryptographic state: the sessions (current, previous, and
//! the next one a response made, until the initiator's first data
//! message confirms it), our initiation in flight, the cookie a loaded
//! peer gave us, and the packets waiting for a session. It lives under
//! the peer's lock; the sessions it hands out (`Arc<Session>`) are used
//! without it.
//!
//! What to send when is decided by `crate::wg::timers` and
//! `crate::wg::send`; this only makes and consumes messages.

use crate::noise::handshake::{
    self, add_macs, cookie_key, mac1_key, open_cookie, Initiator, Keys, Opened, Timestamp,
    INITIATION_LEN, RESPONSE_LEN,
};
use crate::noise::session::Session;
use boringtun::x25519::{PublicKey, StaticSecret};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use zeroize::Zeroize;

/// Packets kept while waiting for a session; older ones are dropped
/// first.
pub const MAX_STAGED: usize = 256;
/// A cookie is used for MAC2 this long after it arrived.
const COOKIE_LIFETIME: Duration = Duration::from_secs(120);

pub struct Tunnel {
    secret: StaticSecret,
    public: PublicKey,
    peer: PublicKey,
    static_static: [u8; 32],
    psk: [u8; 32],
    mac1_key: [u8; 32],
    cookie_key: [u8; 32],
    /// The peer's 24-bit index; sessions take `index << 8 | n`.
    index: u32,
    next_n: u8,
    handshake: Option<Initiator>,
    last_timestamp: Timestamp,
    /// MAC1 of the last handshake message we sent: a cookie reply must
    /// answer it.
    last_mac1: Option<[u8; 16]>,
    cookie: Option<([u8; 16], Instant)>,
    current: Option<Arc<Session>>,
    previous: Option<Arc<Session>>,
    next: Option<Arc<Session>>,
    staged: VecDeque<Vec<u8>>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.static_static.zeroize();
        self.psk.zeroize();
        if let Some((c, _)) = self.cookie.as_mut() {
            c.zeroize();
        }
        for p in self.staged.iter_mut() {
            p.zeroize();
        }
    }
}

impl Tunnel {
    pub fn new(secret: StaticSecret, peer: PublicKey, psk: Option<[u8; 32]>, index: u32) -> Tunnel {
        let public = PublicKey::from(&secret);
        let static_static = secret.diffie_hellman(&peer).to_bytes();
        Tunnel {
            static_static,
            psk: psk.unwrap_or([0; 32]),
            mac1_key: mac1_key(&peer),
            cookie_key: cookie_key(&peer),
            secret,
            public,
            peer,
            index,
            next_n: 0,
            handshake: None,
            last_timestamp: [0; 12],
            last_mac1: None,
            cookie: None,
            current: None,
            previous: None,
            next: None,
            staged: VecDeque::new(),
        }
    }

    fn keys(&self) -> Keys<'_> {
        Keys {
            secret: &self.secret,
            public: &self.public,
            peer: &self.peer,
            static_static: &self.static_static,
            psk: &self.psk,
        }
    }

    /// A fresh index of ours for a new handshake.
    fn new_local(&mut self) -> u32 {
        self.next_n = self.next_n.wrapping_add(1);
        (self.index << 8) | u32::from(self.next_n)
    }

    fn macs(&mut self, msg: &mut [u8], now: Instant) {
        let cookie = self
            .cookie
            .as_ref()
            .filter(|(_, at)| now.saturating_duration_since(*at) < COOKIE_LIFETIME)
            .map(|(c, _)| c);
        self.last_mac1 = Some(add_macs(msg, &self.mac1_key, cookie));
    }

    /// The session to send with.
    pub fn sending(&self) -> Option<&Arc<Session>> {
        self.current.as_ref()
    }

    /// Seal `src` (already padded) into `dst` as a data message on the
    /// current session: its length. Without one (or with its counters
    /// spent) a non-empty packet is kept for the next session and `None`
    /// returned: the caller starts a handshake.
    pub fn encapsulate(&mut self, src: &[u8], dst: &mut [u8]) -> Option<usize> {
        let sealed = self.current.as_ref().and_then(|s| {
            let counter = s.reserve(1)?;
            s.seal(counter, src, src.len(), dst)
        });
        if sealed.is_none() && !src.is_empty() {
            self.stage(src);
        }
        sealed
    }

    /// Keep a packet until a session exists.
    pub fn stage(&mut self, p: &[u8]) {
        self.stage_padded(p, p.len());
    }

    /// Keep a packet, zero-padded to `padded` bytes.
    pub fn stage_padded(&mut self, p: &[u8], padded: usize) {
        if self.staged.len() >= MAX_STAGED {
            if let Some(mut old) = self.staged.pop_front() {
                old.zeroize();
            }
        }
        let mut v = Vec::with_capacity(padded.max(p.len()));
        v.extend_from_slice(p);
        v.resize(padded.max(p.len()), 0);
        self.staged.push_back(v);
    }

    /// The oldest packet waiting for a session.
    pub fn take_staged(&mut self) -> Option<Vec<u8>> {
        self.staged.pop_front()
    }

    /// Write a new initiation into `dst` (replacing any in flight): its
    /// length.
    pub fn initiation(&mut self, dst: &mut [u8], now: Instant, wall: SystemTime) -> Option<usize> {
        let msg: &mut [u8; INITIATION_LEN] = dst.get_mut(..INITIATION_LEN)?.try_into().ok()?;
        let mut ts = handshake::timestamp(wall);
        if ts <= self.last_timestamp {
            // The clock went back, or two initiations fell in one tick:
            // the responder takes only a newer label.
            ts = self.last_timestamp;
            let n = u32::from_be_bytes([ts[8], ts[9], ts[10], ts[11]]).wrapping_add(1);
            ts[8..].copy_from_slice(&n.to_be_bytes());
        }
        let local = self.new_local();
        let init = handshake::initiate(&self.keys(), local, &ts, msg)?;
        self.last_timestamp = ts;
        self.handshake = Some(init);
        self.macs(msg, now);
        Some(INITIATION_LEN)
    }

    /// Answer an initiation opened by the interface (and found newer than
    /// any before): the response goes into `dst`; its length and our
    /// index on the new session, which is confirmed by the initiator's
    /// first data message on it.
    pub fn respond(&mut self, o: &Opened, dst: &mut [u8], now: Instant) -> Option<(usize, u32)> {
        let msg: &mut [u8; RESPONSE_LEN] = dst.get_mut(..RESPONSE_LEN)?.try_into().ok()?;
        let local = self.new_local();
        let s = handshake::respond(o, &self.psk, local, msg, now)?;
        self.macs(msg, now);
        self.next = Some(Arc::new(s));
        Some((RESPONSE_LEN, local))
    }

    /// A response (MAC1 checked) to our initiation in flight: whether it
    /// made the new current session.
    pub fn consume_response(&mut self, msg: &[u8], now: Instant) -> bool {
        let Some(s) = self
            .handshake
            .as_ref()
            .and_then(|h| h.consume(&self.keys(), msg, now))
        else {
            return false;
        };
        self.handshake = None;
        // Handshakes crossed: the session our response made may already
        // be the one the peer sends with, so it stays usable (as the
        // previous one), as wireguard-go keeps it.
        let old = self.current.take();
        self.previous = self.next.take().or(old);
        self.current = Some(Arc::new(s));
        true
    }

    /// A cookie reply: whether it answered our last handshake message
    /// (then MAC2 uses it for the next two minutes).
    pub fn consume_cookie(&mut self, msg: &[u8], now: Instant) -> bool {
        let Some(m1) = self.last_mac1 else {
            return false;
        };
        match open_cookie(msg, &self.cookie_key, &m1) {
            Some(c) => {
                self.cookie = Some((c, now));
                true
            }
            None => false,
        }
    }

    /// The session a data message to our index `local` belongs to.
    pub fn session_for(&self, local: u32) -> Option<&Arc<Session>> {
        [&self.current, &self.next, &self.previous]
            .into_iter()
            .flatten()
            .find(|s| s.local == local)
    }

    /// A data message opened on `s`: if it was the session our response
    /// made, it is now the one we send with. Returns whether it was.
    pub fn confirm(&mut self, s: &Arc<Session>) -> bool {
        if !self.next.as_ref().is_some_and(|n| Arc::ptr_eq(n, s)) {
            return false;
        }
        self.previous = self.current.take();
        self.current = self.next.take();
        true
    }

    /// Forget every session (REJECT_AFTER_TIME passed); an initiation in
    /// flight and the staged packets stay.
    pub fn drop_sessions(&mut self) {
        self.current = None;
        self.previous = None;
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::handshake::tests::keys;
    use crate::noise::handshake::Responder;
    use crate::noise::session::OVERHEAD;
    use boringtun::noise::rate_limiter::RateLimiter;
    use boringtun::noise::{Tunn, TunnResult};

    fn written(r: TunnResult) -> Vec<u8> {
        match r {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("nothing written"),
        }
    }

    fn packet(n: u8) -> Vec<u8> {
        // An IPv4 header boringtun will accept, 48 bytes in all.
        let mut p = vec![0u8; 48];
        p[0] = 0x45;
        p[2..4].copy_from_slice(&48u16.to_be_bytes());
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        p[20] = n;
        p
    }

    /// We initiate, boringtun answers; data both ways, a replay refused.
    #[test]
    fn initiator_with_boringtun() {
        let (ours, our_pub) = keys();
        let (theirs, their_pub) = keys();
        let psk = [9u8; 32];
        let mut t = Tunnel::new(ours, their_pub, Some(psk), 0x123);
        let mut b = Tunn::new(theirs, our_pub, Some(psk), None, 77, None);
        let now = Instant::now();
        let mut buf = vec![0u8; 2048];
        assert_eq!(t.encapsulate(&packet(1), &mut buf), None, "staged");
        let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
        let mut out = vec![0u8; 2048];
        let resp = written(b.decapsulate(None, &buf[..n], &mut out));
        assert_eq!(resp.len(), RESPONSE_LEN);
        assert!(t.consume_response(&resp, now));
        assert!(!t.consume_response(&resp, now), "answered once");
        // The staged packet goes first, on the new session.
        let p = t.take_staged().unwrap();
        let n = t.encapsulate(&p, &mut buf).unwrap();
        assert_eq!(n, 48 + OVERHEAD);
        match b.decapsulate(None, &buf[..n], &mut out) {
            TunnResult::WriteToTunnelV4(got, _) => assert_eq!(got, &packet(1)[..]),
            _ => panic!("boringtun did not decrypt"),
        }
        // And back.
        let msg = written(b.encapsulate(&packet(2), &mut out));
        let local = u32::from_le_bytes(msg[4..8].try_into().unwrap());
        assert_eq!(local >> 8, 0x123);
        let s = t.session_for(local).unwrap().clone();
        assert_eq!(s.open_copy(&msg), Some(packet(2)));
        assert_eq!(s.open_copy(&msg), None);
        assert!(!t.confirm(&s), "an initiator's session needs no confirming");
    }

    /// boringtun initiates, we answer; the session is ours to send with
    /// only after its first data message.
    #[test]
    fn responder_with_boringtun() {
        let (ours, our_pub) = keys();
        let (theirs, their_pub) = keys();
        let mut t = Tunnel::new(ours.clone(), their_pub, None, 0x42);
        let mut b = Tunn::new(theirs, our_pub, None, None, 5, None);
        let now = Instant::now();
        let mut out = vec![0u8; 2048];
        let init = written(b.format_handshake_initiation(&mut out, false));
        let o = Responder::new(&our_pub).open(&ours, &init).unwrap();
        assert_eq!(o.peer_static, *their_pub.as_bytes());
        let mut buf = vec![0u8; 2048];
        let (n, local) = t.respond(&o, &mut buf, now).unwrap();
        assert!(t.sending().is_none());
        // boringtun answers the response with a keepalive.
        let ka = written(b.decapsulate(None, &buf[..n], &mut out));
        assert_eq!(ka.len(), OVERHEAD);
        assert_eq!(u32::from_le_bytes(ka[4..8].try_into().unwrap()), local);
        let s = t.session_for(local).unwrap().clone();
        assert_eq!(s.open_copy(&ka), Some(vec![]));
        assert!(t.confirm(&s));
        let n = t.encapsulate(&packet(3), &mut buf).unwrap();
        match b.decapsulate(None, &buf[..n], &mut out) {
            TunnResult::WriteToTunnelV4(got, _) => assert_eq!(got, &packet(3)[..]),
            _ => panic!("boringtun did not decrypt"),
        }
        t.drop_sessions();
        assert!(t.sending().is_none());
        assert!(t.session_for(local).is_none());
    }

    /// Our initiation to a loaded boringtun peer draws a cookie reply;
    /// the next initiation carries MAC2 and is answered.
    #[test]
    fn cookie_reply_then_mac2() {
        let (ours, our_pub) = keys();
        let (theirs, their_pub) = keys();
        let limiter = Arc::new(RateLimiter::new(&their_pub, 0));
        let mut b = Tunn::new(theirs, our_pub, None, None, 5, Some(limiter.clone()));
        let mut t = Tunnel::new(ours, their_pub, None, 0x7);
        let now = Instant::now();
        let mut buf = vec![0u8; 2048];
        let mut out = vec![0u8; 2048];
        let from = Some("192.0.2.1".parse().unwrap());
        let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
        let _ = limiter.verify_packet(from, &buf[..n], &mut out);
        let cookie = match limiter.verify_packet(from, &buf[..n], &mut out) {
            Err(TunnResult::WriteToNetwork(c)) => c.to_vec(),
            _ => panic!("no cookie reply"),
        };
        assert!(t.consume_cookie(&cookie, now));
        let mut wrong = cookie.clone();
        wrong[40] ^= 1;
        assert!(!t.consume_cookie(&wrong, now));
        let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
        assert_ne!(buf[132..148], [0; 16], "MAC2 set");
        let resp = written(b.decapsulate(from, &buf[..n], &mut out));
        assert!(t.consume_response(&resp, now));
    }

    /// Both sides initiate at once: each answers the other's initiation
    /// and gets the answer to its own. Whichever session each side ends
    /// up sending with, the other can open it.
    #[test]
    fn crossed_handshakes_keep_both_sessions() {
        let (a_s, a_p) = keys();
        let (b_s, b_p) = keys();
        let mut a = Tunnel::new(a_s.clone(), b_p, None, 1);
        let mut b = Tunnel::new(b_s.clone(), a_p, None, 2);
        let now = Instant::now();
        let (mut ia, mut ib) = (vec![0u8; 256], vec![0u8; 256]);
        let na = a.initiation(&mut ia, now, SystemTime::now()).unwrap();
        let nb = b.initiation(&mut ib, now, SystemTime::now()).unwrap();
        let (mut ra, mut rb) = (vec![0u8; 256], vec![0u8; 256]);
        let oa = Responder::new(&a_p).open(&a_s, &ib[..nb]).unwrap();
        let (nra, _) = a.respond(&oa, &mut ra, now).unwrap();
        let ob = Responder::new(&b_p).open(&b_s, &ia[..na]).unwrap();
        let (nrb, _) = b.respond(&ob, &mut rb, now).unwrap();
        assert!(a.consume_response(&rb[..nrb], now));
        assert!(b.consume_response(&ra[..nra], now));
        let mut m = vec![0u8; 256];
        let n = a.encapsulate(&packet(5), &mut m).unwrap();
        let idx = u32::from_le_bytes(m[4..8].try_into().unwrap());
        let s = b.session_for(idx).expect("b can open a's session").clone();
        assert_eq!(s.open_copy(&m[..n]), Some(packet(5)));
        let n = b.encapsulate(&packet(6), &mut m).unwrap();
        let idx = u32::from_le_bytes(m[4..8].try_into().unwrap());
        let s = a.session_for(idx).expect("a can open b's session").clone();
        assert_eq!(s.open_copy(&m[..n]), Some(packet(6)));
    }

    /// Two tunnels of ours talk to each other.
    #[test]
    fn ours_to_ours() {
        let (a_s, a_p) = keys();
        let (b_s, b_p) = keys();
        let mut a = Tunnel::new(a_s, b_p, None, 1);
        let mut b = Tunnel::new(b_s.clone(), a_p, None, 2);
        let now = Instant::now();
        let mut m = vec![0u8; 2048];
        let n = a.initiation(&mut m, now, SystemTime::now()).unwrap();
        let o = Responder::new(&b_p).open(&b_s, &m[..n]).unwrap();
        let mut r = vec![0u8; 2048];
        let (rn, local) = b.respond(&o, &mut r, now).unwrap();
        assert!(a.consume_response(&r[..rn], now));
        let n = a.encapsulate(&packet(4), &mut m).unwrap();
        let s = b.session_for(local).unwrap().clone();
        assert_eq!(s.open_copy(&m[..n]), Some(packet(4)));
        assert!(b.confirm(&s));
        assert!(b.encapsulate(&[], &mut m).is_some());
    }
}
