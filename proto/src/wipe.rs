//! Buffers that hold secrets and grow.
//!
//! A `Vec` or `String` that outgrows its allocation moves to a bigger one
//! and frees the old block as it is, key and all: wiping the final
//! buffer is not enough. What holds a key while it is being built or read
//! grows here instead, by copying into a bigger buffer and wiping the old
//! one before it is freed; `Reader` is a `BufRead` whose buffer is wiped
//! when dropped (`std::io::BufReader` frees its buffer as it is).

use std::io::{self, BufRead, Read};
use zeroize::{Zeroize, Zeroizing};

/// The capacity to grow to: at least `need`, doubling, never tiny.
fn grown(capacity: usize, need: usize) -> usize {
    need.max(capacity.saturating_mul(2)).max(64)
}

/// Make room for `more` bytes; the old allocation, if replaced, is wiped.
pub fn reserve(buf: &mut Vec<u8>, more: usize) {
    let need = buf.len().saturating_add(more);
    if need <= buf.capacity() {
        return;
    }
    let mut bigger = Vec::with_capacity(grown(buf.capacity(), need));
    bigger.extend_from_slice(buf);
    std::mem::replace(buf, bigger).zeroize();
}

/// Append, wiping what a reallocation leaves behind.
pub fn extend(buf: &mut Vec<u8>, bytes: &[u8]) {
    reserve(buf, bytes.len());
    buf.extend_from_slice(bytes);
}

/// Append to a string, wiping what a reallocation leaves behind.
pub fn push_str(s: &mut String, more: &str) {
    let need = s.len().saturating_add(more.len());
    if need > s.capacity() {
        let mut bigger = String::with_capacity(grown(s.capacity(), need));
        bigger.push_str(s);
        std::mem::replace(s, bigger).zeroize();
    }
    s.push_str(more);
}

/// Text that holds secrets: grows with `push_str` and `write!`, wiping
/// every allocation it leaves, and itself when dropped.
#[derive(Default)]
pub struct Text(Zeroizing<String>);

impl Text {
    pub fn new() -> Text {
        Text::default()
    }

    pub fn push_str(&mut self, more: &str) {
        push_str(&mut self.0, more);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        let mut t = Text::new();
        t.push_str(s);
        t
    }
}

impl std::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// Like `std::io::BufReader`, but its buffer (which held whatever was
/// read, keys included) is wiped when it is dropped.
pub struct Reader<R> {
    inner: R,
    buf: Zeroizing<Box<[u8]>>,
    pos: usize,
    filled: usize,
}

/// `std::io::BufReader`'s default.
const CAPACITY: usize = 8 * 1024;

impl<R: Read> Reader<R> {
    pub fn new(inner: R) -> Reader<R> {
        Reader {
            inner,
            buf: Zeroizing::new(vec![0; CAPACITY].into_boxed_slice()),
            pos: 0,
            filled: 0,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Read> Read for Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let mut have = self.fill_buf()?;
            have.read(out)?
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Reader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.filled {
            let n = self.inner.read(&mut self.buf)?;
            self.pos = 0;
            self.filled = n;
        }
        Ok(&self.buf[self.pos..self.filled])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.filled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    #[test]
    fn growing_keeps_the_contents() {
        let mut v = Vec::new();
        for i in 0..1000u32 {
            extend(&mut v, &i.to_le_bytes());
        }
        assert_eq!(v.len(), 4000);
        assert_eq!(&v[3996..], &999u32.to_le_bytes());
        let mut s = String::new();
        for i in 0..1000 {
            push_str(&mut s, &i.to_string());
        }
        assert!(s.starts_with("0123") && s.ends_with("998999"));
        let mut t = Text::from("a=");
        for i in 0..500 {
            write!(t, "{i},").unwrap();
        }
        assert!(t.starts_with("a=0,1,2,") && t.ends_with(",499,"));
        reserve(&mut v, 10_000);
        assert!(v.capacity() >= 14_000 && v.len() == 4000);
    }

    #[test]
    fn the_reader_reads_lines_and_bytes() {
        let data: Vec<u8> = (0..20_000u32)
            .flat_map(|i| (i as u8).to_le_bytes())
            .collect();
        let mut r = Reader::new(&data[..]);
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        let mut r = Reader::new(&b"one\ntwo\n"[..]);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "one\n");
        assert_eq!(r.fill_buf().unwrap(), b"two\n");
        r.consume(100);
        assert_eq!(r.fill_buf().unwrap(), b"");
    }
}
