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
mod tests;
