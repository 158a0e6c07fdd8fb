//! A session: the two transport keys a handshake derived, our send
//! counter and the receive window. Everything takes `&self`, so one
//! session encrypts and decrypts on several cores at once: counters are
//! reserved with one atomic add per batch, the window is a short lock.

use crate::noise::crypto::{Secret, TAG_LEN};
use crate::noise::index::Lease;
use crate::noise::replay::{Replay, REJECT_AFTER_MESSAGES};
use crate::sys::boottime::Instant;
use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A data message's header: type, receiver index, counter.
pub const HEADER_LEN: usize = 16;
/// Header and tag: a data message carrying nothing (a keepalive).
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Sending this many messages calls for a new handshake (2^60).
pub const REKEY_AFTER_MESSAGES: u64 = 1 << 60;
/// A session is never used, to send or to receive, once this old,
/// counted from its own creation.
pub const REJECT_AFTER_TIME: Duration = Duration::from_secs(180);

pub struct Session {
    /// Our index: data messages to us carry it. Leased from the
    /// interface's table for as long as the session lives.
    pub local: u32,
    _lease: Lease,
    /// The peer's index, written into what we send.
    pub remote: u32,
    pub created: Instant,
    /// Whether we sent the initiation that made it.
    pub initiator: bool,
    send: LessSafeKey,
    recv: LessSafeKey,
    /// The key bytes ring was given (ring's own copy cannot be read
    /// back): what a hand-over to a new process carries.
    keys: (Secret, Secret),
    next_counter: AtomicU64,
    replay: Mutex<Replay>,
}

/// A session's state as values: what a hand-over carries. The keys
/// zeroize themselves when it is dropped.
pub struct Carried {
    pub local: u32,
    pub remote: u32,
    pub age: Duration,
    pub initiator: bool,
    pub send: Secret,
    pub recv: Secret,
    pub next_counter: u64,
    pub replay: Replay,
}

impl Session {
    /// A session on our index `lease` from the transport keys (the
    /// caller's `Secret`s zeroize themselves).
    pub fn new(
        lease: Lease,
        remote: u32,
        send: &Secret,
        recv: &Secret,
        initiator: bool,
        created: Instant,
    ) -> Session {
        Session {
            local: lease.index(),
            _lease: lease,
            remote,
            created,
            initiator,
            send: key(send.bytes()),
            recv: key(recv.bytes()),
            keys: (Secret::new(*send.bytes()), Secret::new(*recv.bytes())),
            next_counter: AtomicU64::new(0),
            replay: Mutex::new(Replay::default()),
        }
    }

    /// The session as plain values at `now`, for a new process to
    /// `resume` (a hand-over): its age, not its `Instant`, so the
    /// receiving process counts the same 180 s.
    pub fn carry(&self, now: Instant) -> Carried {
        Carried {
            local: self.local,
            remote: self.remote,
            age: now.saturating_duration_since(self.created),
            initiator: self.initiator,
            send: Secret::new(*self.keys.0.bytes()),
            recv: Secret::new(*self.keys.1.bytes()),
            next_counter: self.sent(),
            replay: self.window().clone(),
        }
    }

    /// A carried session on our index `lease` (which must be
    /// `c.local`), as old at `now` as it was when carried: the same
    /// keys, the next counter unused, the same receive window.
    pub fn resume(c: &Carried, lease: Lease, now: Instant) -> Session {
        let created = now.checked_sub(c.age).unwrap_or(now);
        let s = Session::new(lease, c.remote, &c.send, &c.recv, c.initiator, created);
        s.next_counter.store(c.next_counter, Ordering::Relaxed);
        *s.window() = c.replay.clone();
        s
    }

    /// REJECT_AFTER_TIME has passed since the session was made: it may
    /// neither send nor receive any more.
    pub fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.created) >= REJECT_AFTER_TIME
    }

    /// Reserve `n` consecutive counters; `None` once the session has
    /// sent all it may.
    pub fn reserve(&self, n: u64) -> Option<u64> {
        // Never wraps: a counter is never used twice.
        self.next_counter
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                c.checked_add(n).filter(|end| *end <= REJECT_AFTER_MESSAGES)
            })
            .ok()
    }

    /// Messages sent (counters reserved) so far.
    pub fn sent(&self) -> u64 {
        self.next_counter.load(Ordering::Relaxed)
    }

    /// Seal `plain`, zero-padded to `padded` bytes, into `dst` with
    /// `counter`: header, ciphertext, tag. Returns the message length, or
    /// `None` if `dst` is too short.
    pub fn seal(&self, counter: u64, plain: &[u8], padded: usize, dst: &mut [u8]) -> Option<usize> {
        if dst.len() < padded.max(plain.len()) + OVERHEAD {
            return None;
        }
        dst[HEADER_LEN..HEADER_LEN + plain.len()].copy_from_slice(plain);
        self.seal_in_place(counter, plain.len(), padded, dst)
    }

    /// Seal the `len` bytes of plaintext already at `msg[HEADER_LEN..]`,
    /// zero-padded to `padded`, with `counter`, writing the header before
    /// and the tag after them. Returns the message length, or `None` if
    /// `msg` is too short.
    pub fn seal_in_place(
        &self,
        counter: u64,
        len: usize,
        padded: usize,
        msg: &mut [u8],
    ) -> Option<usize> {
        let padded = padded.max(len);
        let total = padded + OVERHEAD;
        let msg = msg.get_mut(..total)?;
        msg[..4].copy_from_slice(&[4, 0, 0, 0]);
        msg[4..8].copy_from_slice(&self.remote.to_le_bytes());
        msg[8..16].copy_from_slice(&counter.to_le_bytes());
        let (body, tag) = msg[HEADER_LEN..].split_at_mut(padded);
        body[len..].fill(0);
        let t = self
            .send
            .seal_in_place_separate_tag(nonce(counter), Aad::empty(), body)
            .ok()?;
        tag.copy_from_slice(t.as_ref());
        Some(total)
    }

    /// Open data message `msg` in place: the plaintext ends up at
    /// `msg[HEADER_LEN..]`. Its length, if it authenticates and its
    /// counter was never accepted before.
    pub fn open(&self, msg: &mut [u8]) -> Option<usize> {
        let counter = u64::from_le_bytes(msg.get(8..16)?.try_into().ok()?);
        let len = msg.len().checked_sub(OVERHEAD)?;
        if !self.window().fresh(counter) {
            return None;
        }
        let (body, tag) = msg[HEADER_LEN..].split_at_mut(len);
        let tag = Tag::try_from(&tag[..]).ok()?;
        self.recv
            .open_in_place_separate_tag(nonce(counter), Aad::empty(), tag, body, 0..)
            .ok()?;
        // Two copies of one message may both decrypt: only one counts.
        self.window().accept(counter).then_some(len)
    }

    /// `open` on a copy of `msg`: the plaintext.
    #[cfg(test)]
    pub fn open_copy(&self, msg: &[u8]) -> Option<Vec<u8>> {
        let mut m = msg.to_vec();
        let len = self.open(&mut m)?;
        Some(m[HEADER_LEN..HEADER_LEN + len].to_vec())
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Replay> {
        self.replay.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// ring's ChaCha20-Poly1305 key. (ring keeps the key schedule where it
/// cannot be zeroized on drop; our copies of the bytes are.)
fn key(bytes: &[u8; 32]) -> LessSafeKey {
    match UnboundKey::new(&CHACHA20_POLY1305, bytes) {
        Ok(k) => LessSafeKey::new(k),
        Err(_) => unreachable!("a 32-byte key is the right length"),
    }
}

/// The 96-bit nonce of a counter: 32 zero bits, then the counter
/// little-endian.
fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_le_bytes());
    Nonce::assume_unique_for_key(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Session, Session) {
        let now = Instant::now();
        let table = std::sync::Arc::new(crate::noise::index::Table::<()>::default());
        let owner = table.allocator(std::sync::Weak::new());
        let (la, lb) = (owner.lease(), owner.lease());
        let (ia, ib) = (la.index(), lb.index());
        let (k1, k2) = (Secret::new([1; 32]), Secret::new([2; 32]));
        let a = Session::new(la, ib, &k1, &k2, true, now);
        let b = Session::new(lb, ia, &k2, &k1, false, now);
        (a, b)
    }

    #[test]
    fn a_session_expires_180_s_after_its_creation() {
        let (a, _) = pair();
        assert!(!a.expired(a.created + Duration::from_secs(179)));
        assert!(a.expired(a.created + REJECT_AFTER_TIME));
    }

    #[test]
    fn sealed_opens_once_on_the_other_side() {
        let (a, b) = pair();
        let mut buf = [0u8; 64];
        let c = a.reserve(1).unwrap();
        let n = a.seal(c, b"fifteen bytes!!", 16, &mut buf).unwrap();
        assert_eq!(n, 48);
        assert_eq!(
            &buf[4..8],
            &b.local.to_le_bytes()[..],
            "the receiver's index"
        );
        assert_eq!(b.open_copy(&buf[..n]).unwrap(), b"fifteen bytes!!\0");
        assert_eq!(b.open_copy(&buf[..n]), None, "replay");
        let c = a.reserve(1).unwrap();
        let n = a.seal(c, b"in place, please", 16, &mut buf).unwrap();
        let mut msg = buf;
        assert_eq!(b.open(&mut msg[..n]), Some(16));
        assert_eq!(&msg[HEADER_LEN..HEADER_LEN + 16], b"in place, please");
        assert_eq!(b.open(&mut buf[..n]), None, "replay");
        let mut bad = buf;
        bad[20] ^= 1;
        bad[8] = 9;
        assert_eq!(b.open(&mut bad[..n]), None);
        // A keepalive is the header and the tag.
        let c = a.reserve(1).unwrap();
        assert_eq!(a.seal(c, &[], 0, &mut buf), Some(OVERHEAD));
        assert_eq!(a.open_copy(&buf[..OVERHEAD]), None, "wrong direction");
        assert_eq!(b.open_copy(&buf[..OVERHEAD]), Some(vec![]));
        assert_eq!(a.seal(c, &[1; 40], 16, &mut buf), None, "too short");
    }

    #[test]
    fn a_carried_session_resumes_where_it_was() {
        let (a, b) = pair();
        let mut buf = [0u8; 64];
        let mut sent = Vec::new();
        for _ in 0..3 {
            let c = a.reserve(1).unwrap();
            let n = a.seal(c, b"x", 16, &mut buf).unwrap();
            sent.push(buf[..n].to_vec());
        }
        assert!(b.open_copy(&sent[0]).is_some());
        let now = b.created + Duration::from_secs(100);
        let (ca, cb) = (a.carry(now), b.carry(now));
        assert_eq!(cb.age, Duration::from_secs(100));
        assert_eq!(ca.next_counter, 3);
        // The old process's sessions go; their indices are given back
        // and the new process leases the same ones.
        let table = std::sync::Arc::new(crate::noise::index::Table::<()>::default());
        let owner = table.allocator(std::sync::Weak::new());
        let later = now + Duration::from_secs(1);
        let a2 = Session::resume(&ca, owner.lease_index(ca.local).unwrap(), later);
        let b2 = Session::resume(&cb, owner.lease_index(cb.local).unwrap(), later);
        assert!(owner.lease_index(cb.local).is_none(), "held");
        assert_eq!(b2.local, b.local);
        assert_eq!(b2.created, later - Duration::from_secs(100));
        assert_eq!(b2.open_copy(&sent[0]), None, "the window came along");
        assert!(b2.open_copy(&sent[2]).is_some());
        assert_eq!(a2.reserve(1), Some(3), "no counter is used twice");
        let n = a2.seal(3, b"y", 16, &mut buf).unwrap();
        assert!(b2.open_copy(&buf[..n]).is_some(), "the same keys");
        assert!(b.open_copy(&buf[..n]).is_some());
    }

    #[test]
    fn counters_run_out() {
        let (a, _) = pair();
        assert_eq!(a.reserve(3), Some(0));
        assert_eq!(a.reserve(1), Some(3));
        a.next_counter
            .store(REJECT_AFTER_MESSAGES - 1, Ordering::Relaxed);
        assert_eq!(a.reserve(1), Some(REJECT_AFTER_MESSAGES - 1));
        assert_eq!(a.reserve(1), None);
        assert_eq!(a.reserve(1), None);
    }
}
