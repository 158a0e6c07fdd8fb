//! One peer's cryptographic state: the sessions (current, previous, and
//! the next one a response made, until the initiator's first data
//! message confirms it), our initiation in flight, the cookie a loaded
//! peer gave us, and the packets waiting for a session. It lives under
//! the peer's lock; the sessions it hands out (`Arc<Session>`) are used
//! without it.
//!
//! What to send when is decided by `crate::wg::timers` and
//! `crate::wg::send`; this only makes and consumes messages.

use crate::noise::crypto::Secret;
use crate::noise::handshake::{
    self, add_macs, cookie_key, dh, mac1_key, open_cookie, Initiator, Keys, Opened, Timestamp,
    INITIATION_LEN, RESPONSE_LEN,
};
use crate::noise::index::Allocate;
use crate::noise::session::{Session, REJECT_AFTER_TIME};
use crate::sys::boottime::Instant;
use boringtun::x25519::{PublicKey, StaticSecret};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use zeroize::{Zeroize, Zeroizing};

/// Packets kept while waiting for a session; older ones are dropped
/// first.
pub const MAX_STAGED: usize = 256;

mod carry;
pub use carry::CarriedTunnel;
/// A cookie is used for MAC2 this long after it arrived.
const COOKIE_LIFETIME: Duration = Duration::from_secs(120);

pub struct Tunnel {
    secret: StaticSecret,
    public: PublicKey,
    peer: PublicKey,
    /// DH(our static, the peer's static), computed once; `None` if the
    /// peer's key is a low-order point (no handshake can succeed).
    static_static: Option<Secret>,
    psk: Secret,
    mac1_key: [u8; 32],
    cookie_key: [u8; 32],
    /// Our indices, leased from the interface's table: one per handshake.
    leases: Arc<dyn Allocate>,
    handshake: Option<Initiator>,
    last_timestamp: Timestamp,
    /// MAC1 of the last handshake message we sent: a cookie reply must
    /// answer it.
    last_mac1: Option<[u8; 16]>,
    cookie: Option<([u8; 16], Instant)>,
    current: Option<Arc<Session>>,
    previous: Option<Arc<Session>>,
    next: Option<Arc<Session>>,
    /// Zeroized when sent, dropped or forgotten.
    staged: VecDeque<Zeroizing<Vec<u8>>>,
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        if let Some((c, _)) = self.cookie.as_mut() {
            c.zeroize();
        }
    }
}

impl Tunnel {
    pub fn new(
        secret: StaticSecret,
        peer: PublicKey,
        psk: Option<[u8; 32]>,
        leases: Arc<dyn Allocate>,
    ) -> Tunnel {
        let public = PublicKey::from(&secret);
        Tunnel {
            static_static: dh(&secret, peer.as_bytes()),
            psk: Secret::new(psk.unwrap_or([0; 32])),
            mac1_key: mac1_key(&peer),
            cookie_key: cookie_key(&peer),
            secret,
            public,
            peer,
            leases,
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

    /// DH(our static, the peer's static), to open the peer's initiations
    /// with (`handshake::Claimed::finish`).
    pub fn static_static(&self) -> Option<&Secret> {
        self.static_static.as_ref()
    }

    fn keys(&self) -> Option<Keys<'_>> {
        Some(Keys {
            secret: &self.secret,
            public: &self.public,
            peer: &self.peer,
            static_static: self.static_static.as_ref()?,
            psk: &self.psk,
        })
    }

    fn macs(&mut self, msg: &mut [u8], now: Instant) {
        let cookie = self
            .cookie
            .as_ref()
            .filter(|(_, at)| now.saturating_duration_since(*at) < COOKIE_LIFETIME)
            .map(|(c, _)| c);
        self.last_mac1 = Some(add_macs(msg, &self.mac1_key, cookie));
    }

    /// The session to send with: the current one, unless it is
    /// REJECT_AFTER_TIME old.
    pub fn sending(&self, now: Instant) -> Option<&Arc<Session>> {
        self.current.as_ref().filter(|s| !s.expired(now))
    }

    /// Seal `src` (already padded) into `dst` as a data message on the
    /// current session: its length. Without one (or with its counters
    /// spent, or its time up) a non-empty packet is kept for the next
    /// session and `None` returned: the caller starts a handshake.
    pub fn encapsulate(&mut self, src: &[u8], dst: &mut [u8], now: Instant) -> Option<usize> {
        let sealed = self.sending(now).and_then(|s| {
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
            self.staged.pop_front();
        }
        let mut v = Zeroizing::new(Vec::with_capacity(padded.max(p.len())));
        v.extend_from_slice(p);
        v.resize(padded.max(p.len()), 0);
        self.staged.push_back(v);
    }

    /// Whether packets wait for a session.
    pub fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// Drop (and zeroize) every packet waiting for a session: the
    /// handshake they waited for was given up.
    pub fn purge_staged(&mut self) {
        self.staged.clear();
    }

    /// The oldest packet waiting for a session (zeroized when dropped).
    pub fn take_staged(&mut self) -> Option<Zeroizing<Vec<u8>>> {
        self.staged.pop_front()
    }

    /// Write a new initiation into `dst` (replacing any in flight, whose
    /// index is given back): its length.
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
        self.handshake = None;
        let lease = self.leases.lease();
        let init = handshake::initiate(&self.keys()?, lease, &ts, msg)?;
        self.last_timestamp = ts;
        self.handshake = Some(init);
        self.macs(msg, now);
        Some(INITIATION_LEN)
    }

    /// Answer an initiation opened by the interface (and admitted by the
    /// peer's `Initiations`): the response goes into `dst`; its length
    /// and our index on the new session, which is confirmed by the
    /// initiator's first data message on it.
    pub fn respond(&mut self, o: &Opened, dst: &mut [u8], now: Instant) -> Option<(usize, u32)> {
        let msg: &mut [u8; RESPONSE_LEN] = dst.get_mut(..RESPONSE_LEN)?.try_into().ok()?;
        let s = handshake::respond(o, &self.psk, self.leases.lease(), msg, now)?;
        let local = s.local;
        self.macs(msg, now);
        // An unconfirmed session replaced by a newer one gives its index
        // back now. The previous session goes too, as Linux and
        // wireguard-go drop it: once the new one is confirmed, the
        // current one becomes the previous.
        self.next = Some(Arc::new(s));
        self.previous = None;
        Some((RESPONSE_LEN, local))
    }

    /// A response (MAC1 checked) to our initiation in flight: whether it
    /// made the new current session.
    pub fn consume_response(&mut self, msg: &[u8], now: Instant) -> bool {
        let derived = match (&self.handshake, self.keys()) {
            (Some(h), Some(k)) => h.consume(&k, msg),
            _ => None,
        };
        let (Some(d), Some(h)) = (derived, self.handshake.take()) else {
            return false;
        };
        let s = h.into_session(&d, now);
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
                if let Some((old, _)) = self.cookie.as_mut() {
                    old.zeroize();
                }
                self.cookie = Some((c, now));
                true
            }
            None => false,
        }
    }

    /// Whether `index` is one of ours on this tunnel: our handshake in
    /// flight or a live session (a response or cookie must name one).
    pub fn owns(&self, index: u32) -> bool {
        self.handshake.as_ref().is_some_and(|h| h.local() == index)
            || [&self.current, &self.next, &self.previous]
                .into_iter()
                .flatten()
                .any(|s| s.local == index)
    }

    /// The session a data message to our index `local` belongs to, if
    /// it is still young enough to receive on.
    pub fn session_for(&self, local: u32, now: Instant) -> Option<&Arc<Session>> {
        [&self.current, &self.next, &self.previous]
            .into_iter()
            .flatten()
            .find(|s| s.local == local && !s.expired(now))
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

    /// Whether a response we sent still waits for its confirmation.
    pub fn unconfirmed(&self) -> bool {
        self.next.is_some()
    }

    /// Forget every session REJECT_AFTER_TIME old, each counted from its
    /// own creation; returns when the next of those left will be.
    pub fn drop_expired(&mut self, now: Instant) -> Option<Instant> {
        for slot in [&mut self.current, &mut self.next, &mut self.previous] {
            if slot.as_ref().is_some_and(|s| s.expired(now)) {
                *slot = None;
            }
        }
        [&self.current, &self.next, &self.previous]
            .into_iter()
            .flatten()
            .map(|s| s.created + REJECT_AFTER_TIME)
            .min()
    }

    /// Forget every session; an initiation in flight and the staged
    /// packets stay.
    pub fn drop_sessions(&mut self) {
        self.current = None;
        self.previous = None;
        self.next = None;
    }

    /// Whether any session or an initiation in flight holds keys.
    pub fn has_keys(&self) -> bool {
        self.handshake.is_some()
            || self.current.is_some()
            || self.previous.is_some()
            || self.next.is_some()
    }

    /// Forget every session and the initiation in flight (their keys
    /// zeroize themselves), as Linux clears a peer's keypairs and
    /// handshake before a suspend; the staged packets, the cookie and
    /// the newest timestamp stay.
    pub fn forget_keys(&mut self) {
        self.drop_sessions();
        self.handshake = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::handshake::tests::keys;
    use crate::noise::handshake::Responder;
    use crate::noise::index::Table;
    use crate::noise::session::OVERHEAD;
    use boringtun::noise::rate_limiter::RateLimiter;
    use boringtun::noise::{Tunn, TunnResult};

    fn written(r: TunnResult) -> Vec<u8> {
        match r {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("nothing written"),
        }
    }

    /// Leases from a table of its own.
    fn leases() -> (Arc<Table<()>>, Arc<dyn Allocate>) {
        let table = Arc::new(Table::default());
        let a = table.allocator(std::sync::Weak::new());
        (table, a)
    }

    /// `t`'s side of opening an initiation from its peer (`t` holds the
    /// precomputed DH).
    fn opened(t: &Tunnel, secret: &StaticSecret, msg: &[u8]) -> Opened {
        let public = PublicKey::from(secret);
        Responder::new(&public)
            .open(secret, msg)
            .expect("static opens")
            .finish(t.static_static().unwrap())
            .expect("timestamp opens")
    }

    pub(super) fn packet(n: u8) -> Vec<u8> {
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
        let mut t = Tunnel::new(ours, their_pub, Some(psk), leases().1);
        let mut b = Tunn::new(theirs, our_pub, Some(psk), None, 77, None);
        let now = Instant::now();
        let mut buf = vec![0u8; 2048];
        assert_eq!(t.encapsulate(&packet(1), &mut buf, now), None, "staged");
        let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
        let mut out = vec![0u8; 2048];
        let resp = written(b.decapsulate(None, &buf[..n], &mut out));
        assert_eq!(resp.len(), RESPONSE_LEN);
        assert!(t.consume_response(&resp, now));
        assert!(!t.consume_response(&resp, now), "answered once");
        // The staged packet goes first, on the new session.
        let p = t.take_staged().unwrap();
        let n = t.encapsulate(&p, &mut buf, now).unwrap();
        assert_eq!(n, 48 + OVERHEAD);
        match b.decapsulate(None, &buf[..n], &mut out) {
            TunnResult::WriteToTunnelV4(got, _) => assert_eq!(got, &packet(1)[..]),
            _ => panic!("boringtun did not decrypt"),
        }
        // And back.
        let msg = written(b.encapsulate(&packet(2), &mut out));
        let local = u32::from_le_bytes(msg[4..8].try_into().unwrap());
        let s = t.session_for(local, now).unwrap().clone();
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
        let mut t = Tunnel::new(ours.clone(), their_pub, None, leases().1);
        let mut b = Tunn::new(theirs, our_pub, None, None, 5, None);
        let now = Instant::now();
        let mut out = vec![0u8; 2048];
        let init = written(b.format_handshake_initiation(&mut out, false));
        let o = opened(&t, &ours, &init);
        assert_eq!(o.peer_static, *their_pub.as_bytes());
        let mut buf = vec![0u8; 2048];
        let (n, local) = t.respond(&o, &mut buf, now).unwrap();
        assert!(t.sending(now).is_none());
        // boringtun answers the response with a keepalive.
        let ka = written(b.decapsulate(None, &buf[..n], &mut out));
        assert_eq!(ka.len(), OVERHEAD);
        assert_eq!(u32::from_le_bytes(ka[4..8].try_into().unwrap()), local);
        let s = t.session_for(local, now).unwrap().clone();
        assert_eq!(s.open_copy(&ka), Some(vec![]));
        assert!(t.confirm(&s));
        let n = t.encapsulate(&packet(3), &mut buf, now).unwrap();
        match b.decapsulate(None, &buf[..n], &mut out) {
            TunnResult::WriteToTunnelV4(got, _) => assert_eq!(got, &packet(3)[..]),
            _ => panic!("boringtun did not decrypt"),
        }
        t.drop_sessions();
        assert!(t.sending(now).is_none());
        assert!(t.session_for(local, now).is_none());
    }

    /// Our initiation to a loaded boringtun peer draws a cookie reply;
    /// the next initiation carries MAC2 and is answered.
    #[test]
    fn cookie_reply_then_mac2() {
        let (ours, our_pub) = keys();
        let (theirs, their_pub) = keys();
        let limiter = Arc::new(RateLimiter::new(&their_pub, 0));
        let mut b = Tunn::new(theirs, our_pub, None, None, 5, Some(limiter.clone()));
        let mut t = Tunnel::new(ours, their_pub, None, leases().1);
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
        let mut a = Tunnel::new(a_s.clone(), b_p, None, leases().1);
        let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
        let now = Instant::now();
        let (mut ia, mut ib) = (vec![0u8; 256], vec![0u8; 256]);
        let na = a.initiation(&mut ia, now, SystemTime::now()).unwrap();
        let nb = b.initiation(&mut ib, now, SystemTime::now()).unwrap();
        let (mut ra, mut rb) = (vec![0u8; 256], vec![0u8; 256]);
        let oa = opened(&a, &a_s, &ib[..nb]);
        let (nra, _) = a.respond(&oa, &mut ra, now).unwrap();
        let ob = opened(&b, &b_s, &ia[..na]);
        let (nrb, _) = b.respond(&ob, &mut rb, now).unwrap();
        assert!(a.consume_response(&rb[..nrb], now));
        assert!(b.consume_response(&ra[..nra], now));
        let mut m = vec![0u8; 256];
        let n = a.encapsulate(&packet(5), &mut m, now).unwrap();
        let idx = u32::from_le_bytes(m[4..8].try_into().unwrap());
        let s = b
            .session_for(idx, now)
            .expect("b can open a's session")
            .clone();
        assert_eq!(s.open_copy(&m[..n]), Some(packet(5)));
        let n = b.encapsulate(&packet(6), &mut m, now).unwrap();
        let idx = u32::from_le_bytes(m[4..8].try_into().unwrap());
        let s = a
            .session_for(idx, now)
            .expect("a can open b's session")
            .clone();
        assert_eq!(s.open_copy(&m[..n]), Some(packet(6)));
    }

    /// Two tunnels of ours talk to each other.
    #[test]
    fn ours_to_ours() {
        let (a_s, a_p) = keys();
        let (b_s, b_p) = keys();
        let mut a = Tunnel::new(a_s, b_p, None, leases().1);
        let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
        let now = Instant::now();
        let mut m = vec![0u8; 2048];
        let n = a.initiation(&mut m, now, SystemTime::now()).unwrap();
        let o = opened(&b, &b_s, &m[..n]);
        let mut r = vec![0u8; 2048];
        let (rn, local) = b.respond(&o, &mut r, now).unwrap();
        assert!(a.consume_response(&r[..rn], now));
        let n = a.encapsulate(&packet(4), &mut m, now).unwrap();
        let s = b.session_for(local, now).unwrap().clone();
        assert_eq!(s.open_copy(&m[..n]), Some(packet(4)));
        assert!(b.confirm(&s));
        assert!(b.encapsulate(&[], &mut m, now).is_some());
    }

    /// Each session stops sending and receiving 180 s after its own
    /// creation, whatever came after it; `drop_expired` forgets it then
    /// and says when the next one is due.
    #[test]
    fn every_session_expires_on_its_own() {
        let (a_s, a_p) = keys();
        let (b_s, b_p) = keys();
        let (table, la) = leases();
        let mut a = Tunnel::new(a_s, b_p, None, la);
        let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
        let t0 = Instant::now();
        let mut m = vec![0u8; 2048];
        let mut r = vec![0u8; 2048];
        // A first session, then a second one 100 s later.
        let n = a.initiation(&mut m, t0, SystemTime::now()).unwrap();
        let (rn, _) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, t0).unwrap();
        assert!(a.consume_response(&r[..rn], t0));
        let first = a.sending(t0).unwrap().local;
        let t1 = t0 + Duration::from_secs(100);
        let n = a.initiation(&mut m, t1, SystemTime::now()).unwrap();
        let (rn, _) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, t1).unwrap();
        assert!(a.consume_response(&r[..rn], t1));
        let second = a.sending(t1).unwrap().local;
        assert_ne!(first, second);
        assert_eq!(table.len(), 2, "both live");
        let end = t0 + REJECT_AFTER_TIME;
        assert!(a
            .session_for(first, end - Duration::from_millis(1))
            .is_some());
        assert!(
            a.session_for(first, end).is_none(),
            "the previous one, at 180 s"
        );
        assert_eq!(a.drop_expired(end), Some(t1 + REJECT_AFTER_TIME));
        assert_eq!(table.len(), 1, "its index given back");
        let end = t1 + REJECT_AFTER_TIME;
        assert!(a.sending(end).is_none(), "the current one, at 180 s");
        assert_eq!(a.encapsulate(&packet(1), &mut m, end), None, "staged");
        assert!(a.session_for(second, end).is_none());
        assert_eq!(a.drop_expired(end), None);
        assert!(table.is_empty());
    }

    /// Answering an initiation drops the previous session, as Linux
    /// (noise.c, add_new_keypair) and wireguard-go do: the response's
    /// session waits as `next`, the current one stays, and a late packet
    /// on the one before is no longer opened.
    #[test]
    fn responding_drops_the_previous_session() {
        let (a_s, a_p) = keys();
        let (b_s, b_p) = keys();
        let (table, lb) = leases();
        let mut a = Tunnel::new(a_s, b_p, None, leases().1);
        let mut b = Tunnel::new(b_s.clone(), a_p, None, lb);
        let now = Instant::now();
        let (mut m, mut r) = (vec![0u8; 2048], vec![0u8; 2048]);
        let mut locals = Vec::new();
        for _ in 0..3 {
            let n = a.initiation(&mut m, now, SystemTime::now()).unwrap();
            let (rn, local) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, now).unwrap();
            assert!(a.consume_response(&r[..rn], now));
            locals.push(local);
            if locals.len() < 3 {
                // a's first packet confirms it.
                let n = a.encapsulate(&packet(1), &mut m, now).unwrap();
                let s = b.session_for(local, now).unwrap().clone();
                assert_eq!(s.open_copy(&m[..n]), Some(packet(1)));
                assert!(b.confirm(&s));
            }
        }
        // b: current = the second, next = the third; the first is gone.
        assert!(b.session_for(locals[0], now).is_none(), "previous dropped");
        assert!(b.session_for(locals[1], now).is_some(), "current kept");
        assert!(b.session_for(locals[2], now).is_some(), "next waits");
        assert_eq!(table.len(), 2, "the previous one's index given back");
    }

    /// Forgetting the keys (a suspend) leaves no session to send or
    /// receive with and no initiation to answer; the indices go back.
    #[test]
    fn forgetting_keys_drops_every_session_and_the_handshake() {
        let (a_s, a_p) = keys();
        let (b_s, b_p) = keys();
        let (table, la) = leases();
        let mut a = Tunnel::new(a_s, b_p, None, la);
        let mut b = Tunnel::new(b_s.clone(), a_p, None, leases().1);
        let now = Instant::now();
        let (mut m, mut r) = (vec![0u8; 2048], vec![0u8; 2048]);
        let n = a.initiation(&mut m, now, SystemTime::now()).unwrap();
        let (rn, _) = b.respond(&opened(&b, &b_s, &m[..n]), &mut r, now).unwrap();
        assert!(a.consume_response(&r[..rn], now));
        let local = a.sending(now).unwrap().local;
        a.initiation(&mut m, now, SystemTime::now()).unwrap();
        assert_eq!(table.len(), 2);
        a.stage(&packet(1));
        a.forget_keys();
        assert!(!a.has_keys());
        assert!(a.sending(now).is_none() && a.session_for(local, now).is_none());
        assert!(!a.consume_response(&r[..rn], now));
        assert!(table.is_empty(), "indices given back");
        assert!(a.has_staged());
    }

    /// Every handshake takes a fresh random index; a replaced initiation
    /// gives its index back.
    #[test]
    fn indices_are_fresh_per_handshake() {
        let (a_s, _) = keys();
        let (_, b_p) = keys();
        let (table, la) = leases();
        let mut a = Tunnel::new(a_s, b_p, None, la);
        let now = Instant::now();
        let mut m = vec![0u8; 256];
        let mut seen = Vec::new();
        for _ in 0..20 {
            a.initiation(&mut m, now, SystemTime::now()).unwrap();
            seen.push(u32::from_le_bytes(m[4..8].try_into().unwrap()));
            assert_eq!(table.len(), 1);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20);
        assert!(a.owns(*seen.last().unwrap()) || seen.iter().any(|i| a.owns(*i)));
    }
}
