//! The hand-over's wire format between two wgd processes: a versioned
//! byte string of plain values, written and read in one order. The
//! buffer holds keys, so it zeroizes itself, and it grows by copying into
//! a bigger buffer and wiping the old one (`proto::wipe`), never by a
//! reallocation that would free a copy of every key unwiped; it only
//! ever travels over a private socketpair, never to disk.
//!
//! A reader that finds another version, or runs out of bytes, fails as a
//! whole: the new process then declines the hand-over and the old one
//! keeps serving.

use crate::noise::crypto::Secret;
use crate::noise::replay::{Replay, WORDS};
use crate::noise::session::Carried;
use proto::wipe;
use std::time::Duration;
use zeroize::Zeroizing;

/// What the snapshot begins with.
const MAGIC: &[u8; 8] = b"wgd-hand";
/// Bumped whenever the layout changes; a new process that reads another
/// version refuses.
pub const VERSION: u32 = 1;
/// Strings and byte runs are never longer than this.
const MAX_BYTES: usize = 1 << 20;

#[derive(Debug, PartialEq, Eq)]
pub enum CodecError {
    /// Not a snapshot, or one of another version (the number).
    Version(Option<u32>),
    /// It ends early or holds an impossible value.
    Malformed,
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CodecError::Version(Some(v)) => {
                write!(f, "snapshot version {v}, this wgd reads {VERSION}")
            }
            CodecError::Version(None) => write!(f, "not a wgd snapshot"),
            CodecError::Malformed => write!(f, "snapshot malformed"),
        }
    }
}

pub struct Writer {
    buf: Zeroizing<Vec<u8>>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// A snapshot of this version, empty.
    pub fn new() -> Writer {
        let mut w = Writer {
            buf: Zeroizing::new(Vec::with_capacity(4096)),
        };
        w.raw(MAGIC);
        w.u32(VERSION);
        w
    }

    pub fn into_bytes(self) -> Zeroizing<Vec<u8>> {
        self.buf
    }

    pub fn u8(&mut self, v: u8) {
        self.raw(&[v]);
    }

    pub fn bool(&mut self, v: bool) {
        self.u8(v as u8);
    }

    pub fn u16(&mut self, v: u16) {
        self.raw(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.raw(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.raw(&v.to_le_bytes());
    }

    pub fn duration(&mut self, d: Duration) {
        self.u64(d.as_nanos().min(u64::MAX as u128) as u64);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.raw(b);
    }

    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    /// Bytes of a length both sides know.
    pub fn raw(&mut self, b: &[u8]) {
        wipe::extend(&mut self.buf, b);
    }

    pub fn key(&mut self, k: &[u8; 32]) {
        self.raw(k);
    }

    pub fn session(&mut self, s: &Carried) {
        self.u32(s.local);
        self.u32(s.remote);
        self.duration(s.age);
        self.bool(s.initiator);
        self.key(s.send.bytes());
        self.key(s.recv.bytes());
        self.u64(s.next_counter);
        let (newest, bits) = s.replay.parts();
        self.u64(newest);
        for w in bits {
            self.u64(*w);
        }
    }
}

pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Check the magic and the version, and read on from there.
    pub fn new(snapshot: &'a [u8]) -> Result<Reader<'a>, CodecError> {
        let Some(rest) = snapshot.strip_prefix(MAGIC) else {
            return Err(CodecError::Version(None));
        };
        let mut r = Reader { rest };
        let v = r.u32().map_err(|_| CodecError::Version(None))?;
        if v != VERSION {
            return Err(CodecError::Version(Some(v)));
        }
        Ok(r)
    }

    /// Everything was read.
    pub fn finish(self) -> Result<(), CodecError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(CodecError::Malformed)
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CodecError> {
        if self.rest.len() < n {
            return Err(CodecError::Malformed);
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }

    /// `N` bytes written with `Writer::raw`.
    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, CodecError> {
        Ok(self.take(1)?[0])
    }

    pub fn bool(&mut self) -> Result<bool, CodecError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError::Malformed),
        }
    }

    pub fn u16(&mut self) -> Result<u16, CodecError> {
        Ok(u16::from_le_bytes(self.fixed()?))
    }

    pub fn u32(&mut self) -> Result<u32, CodecError> {
        Ok(u32::from_le_bytes(self.fixed()?))
    }

    pub fn u64(&mut self) -> Result<u64, CodecError> {
        Ok(u64::from_le_bytes(self.fixed()?))
    }

    pub fn duration(&mut self) -> Result<Duration, CodecError> {
        Ok(Duration::from_nanos(self.u64()?))
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u32()? as usize;
        if n > MAX_BYTES {
            return Err(CodecError::Malformed);
        }
        self.take(n)
    }

    pub fn str(&mut self) -> Result<String, CodecError> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| CodecError::Malformed)
    }

    pub fn key(&mut self) -> Result<Secret, CodecError> {
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(self.take(32)?);
        Ok(Secret::new(*k))
    }

    pub fn session(&mut self) -> Result<Carried, CodecError> {
        let local = self.u32()?;
        let remote = self.u32()?;
        let age = self.duration()?;
        let initiator = self.bool()?;
        let send = self.key()?;
        let recv = self.key()?;
        let next_counter = self.u64()?;
        let newest = self.u64()?;
        let mut bits = [0u64; WORDS];
        for w in bits.iter_mut() {
            *w = self.u64()?;
        }
        Ok(Carried {
            local,
            remote,
            age,
            initiator,
            send,
            recv,
            next_counter,
            replay: Replay::from_parts(newest, bits),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carried() -> Carried {
        let mut replay = Replay::default();
        assert!(replay.accept(7) && replay.accept(9000));
        Carried {
            local: 0xdead_beef,
            remote: 42,
            age: Duration::from_millis(123_456),
            initiator: true,
            send: Secret::new([3; 32]),
            recv: Secret::new([4; 32]),
            next_counter: 1 << 40,
            replay,
        }
    }

    #[test]
    fn what_is_written_is_read_back() {
        let mut w = Writer::new();
        w.str("wg0");
        w.u16(51820);
        w.bool(true);
        w.session(&carried());
        w.bytes(&[1, 2, 3]);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes).unwrap();
        assert_eq!(r.str().unwrap(), "wg0");
        assert_eq!(r.u16().unwrap(), 51820);
        assert!(r.bool().unwrap());
        let s = r.session().unwrap();
        let c = carried();
        assert_eq!((s.local, s.remote, s.age), (c.local, c.remote, c.age));
        assert!(s.initiator);
        assert_eq!(s.send.bytes(), c.send.bytes());
        assert_eq!(s.recv.bytes(), c.recv.bytes());
        assert_eq!(s.next_counter, c.next_counter);
        assert!(!s.replay.fresh(7) && !s.replay.fresh(9000) && s.replay.fresh(8999));
        assert_eq!(r.bytes().unwrap(), &[1, 2, 3]);
        r.finish().unwrap();
    }

    #[test]
    fn another_version_or_a_short_snapshot_is_refused() {
        let mut bytes = Writer::new().into_bytes().to_vec();
        bytes[8] = 9;
        assert_eq!(
            Reader::new(&bytes).err(),
            Some(CodecError::Version(Some(9)))
        );
        assert_eq!(
            CodecError::Version(Some(9)).to_string(),
            "snapshot version 9, this wgd reads 1"
        );
        assert_eq!(Reader::new(b"hello").err(), Some(CodecError::Version(None)));
        let mut w = Writer::new();
        w.session(&carried());
        let bytes = w.into_bytes();
        let short = &bytes[..bytes.len() - 1];
        assert!(matches!(
            Reader::new(short).unwrap().session(),
            Err(CodecError::Malformed)
        ));
        let mut w = Writer::new();
        w.u32(u32::MAX);
        let bytes = w.into_bytes();
        assert_eq!(
            Reader::new(&bytes).unwrap().bytes(),
            Err(CodecError::Malformed)
        );
    }
}
