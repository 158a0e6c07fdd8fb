//! A spare descriptor, for accepting at the descriptor limit.
//!
//! At the limit, accept(2) fails with EMFILE (ENFILE: the system's) and
//! the client stays queued. A level-triggered poll then reports the
//! listener ready again at once, and a blocking accept fails again at
//! once too (Linux takes the new descriptor before it waits): the
//! acceptor would spin. So each acceptor holds one spare descriptor
//! (/dev/null). At the limit it closes the spare, accepts the waiting
//! client on that slot, and takes the spare back: if that works,
//! descriptors were freed meanwhile and the client is served; if not,
//! the client is told "Too many open files" in its own protocol and
//! closed, and the spare is taken back as soon as a descriptor frees.
//! Only when there is no spare to lend (another thread took its slot)
//! does the acceptor back off, briefly (`Backoff`), and try again.
//!
//! ```text
//!   accept ──ok──> Client
//!      │ EMFILE/ENFILE
//!      v
//!   close spare ── accept ──> spare back? ──yes──> Client
//!                                 │ no
//!                                 v
//!                 read the request, answer errno, close; reopen the spare
//! ```

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// How long a refused client has to send its request before it is
/// answered (it was waiting, so it has normally sent it already).
const REFUSE_READ: Duration = Duration::from_millis(50);
/// The most of a refused request that is read (and dropped).
const REFUSE_MAX: usize = 64 * 1024;

/// What one accept came to.
#[derive(Debug)]
pub enum Accepted {
    /// A client to serve.
    Client(UnixStream),
    /// Nobody is waiting (a non-blocking listener).
    Empty,
    /// A client was answered errno (the limit still held) and closed.
    Refused,
    /// At the limit, and no spare to lend: back off, then try again.
    Starved,
    /// Another failure of accept(2).
    Failed(io::Error),
}

/// The descriptor limit was reached (the process's, or the system's).
pub fn at_limit(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
}

/// A failure of accept(2) that says nothing about the next one (the
/// client went away first, or a signal came).
pub fn transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNABORTED) | Some(libc::EINTR) | Some(libc::EPROTO)
    )
}

/// One acceptor's spare descriptor.
pub struct Spare {
    file: Option<File>,
}

impl Default for Spare {
    fn default() -> Self {
        Self::new()
    }
}

impl Spare {
    pub fn new() -> Spare {
        let mut s = Spare { file: None };
        s.restore();
        s
    }

    /// Hold the spare again, if it is not held; whether it is.
    fn restore(&mut self) -> bool {
        if self.file.is_none() {
            self.file = File::open("/dev/null").ok();
        }
        self.file.is_some()
    }

    /// Accept one client of `listener`. At the descriptor limit, a
    /// waiting client is answered `answer(errno, start of its request)`
    /// (its protocol's error reply) and closed, unless descriptors were
    /// freed meanwhile.
    pub fn accept(
        &mut self,
        listener: &UnixListener,
        answer: &dyn Fn(i32, &[u8]) -> Vec<u8>,
    ) -> Accepted {
        match listener.accept() {
            Ok((s, _)) => {
                // A spare lost earlier is taken back as soon as it can be.
                self.restore();
                Accepted::Client(s)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.restore();
                Accepted::Empty
            }
            Err(e) if at_limit(&e) => self.lend(listener, e.raw_os_error().unwrap_or(0), answer),
            Err(e) => Accepted::Failed(e),
        }
    }

    /// At the limit: accept on the spare's slot.
    fn lend(
        &mut self,
        listener: &UnixListener,
        errno: i32,
        answer: &dyn Fn(i32, &[u8]) -> Vec<u8>,
    ) -> Accepted {
        if self.file.take().is_none() {
            if self.restore() {
                // A descriptor freed since: try again, with the spare.
                return self.accept(listener, answer);
            }
            return Accepted::Starved;
        }
        let got = listener.accept();
        match got {
            Ok((s, _)) => {
                if self.restore() {
                    return Accepted::Client(s);
                }
                refuse(&s, errno, answer);
                drop(s);
                self.restore();
                Accepted::Refused
            }
            Err(e) => {
                let starved = at_limit(&e);
                // Nobody waiting after all, or the slot was taken by
                // another thread first.
                self.restore();
                if e.kind() == io::ErrorKind::WouldBlock {
                    Accepted::Empty
                } else if starved {
                    Accepted::Starved
                } else {
                    Accepted::Failed(e)
                }
            }
        }
    }
}

/// How much of a refused request `answer` sees (enough for its first
/// word).
const HEAD: usize = 16;

/// Read what the client sent (up to the empty line that ends a request,
/// briefly), answer, close. Reading first matters: a socket closed with
/// unread data resets the connection, and a client whose request was
/// never read may not get to read the answer.
fn refuse(s: &UnixStream, errno: i32, answer: &dyn Fn(i32, &[u8]) -> Vec<u8>) {
    let end = Instant::now() + REFUSE_READ;
    let mut buf = [0u8; 512];
    let mut head = [0u8; HEAD];
    let mut head_len = 0;
    let mut tail = [0u8; 2];
    let mut total = 0;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() || total >= REFUSE_MAX {
            break;
        }
        let _ = s.set_read_timeout(Some(left));
        let n = match (&*s).read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let more = n.min(HEAD - head_len);
        head[head_len..head_len + more].copy_from_slice(&buf[..more]);
        head_len += more;
        total += n;
        for &b in &buf[..n] {
            tail = [tail[1], b];
        }
        if tail == *b"\n\n" {
            break;
        }
    }
    // A request may carry a key.
    buf.fill(0);
    let reply = answer(errno, &head[..head_len]);
    head.fill(0);
    let _ = s.set_write_timeout(Some(REFUSE_READ));
    let _ = (&*s).write_all(&reply);
    let _ = s.shutdown(Shutdown::Both);
}

/// Waiting between tries while starved: short, doubling, bounded, so
/// that service resumes soon after a descriptor frees.
pub struct Backoff {
    next: Duration,
}

const FIRST: Duration = Duration::from_millis(5);
const LONGEST: Duration = Duration::from_millis(100);

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

impl Backoff {
    pub fn new() -> Backoff {
        Backoff { next: FIRST }
    }

    pub fn wait(&mut self) {
        std::thread::sleep(self.next);
        self.next = (self.next * 2).min(LONGEST);
    }

    pub fn reset(&mut self) {
        self.next = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_bound_and_resets() {
        let mut b = Backoff::new();
        for _ in 0..6 {
            b.next = (b.next * 2).min(LONGEST);
        }
        assert_eq!(b.next, LONGEST);
        b.reset();
        assert_eq!(b.next, FIRST);
    }

    #[test]
    fn a_refused_client_reads_the_answer() {
        let (mut client, server) = UnixStream::pair().unwrap();
        client.write_all(b"get=1\n\n").unwrap();
        refuse(&server, 24, &|n, head| {
            assert_eq!(head, b"get=1\n\n");
            format!("errno={n}\n\n").into_bytes()
        });
        drop(server);
        let mut got = String::new();
        client.read_to_string(&mut got).unwrap();
        assert_eq!(got, "errno=24\n\n");
    }
}
