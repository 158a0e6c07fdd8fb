//! Accepting control connections, with bounds on their number, their
//! idle time and the size of what they send.
//!
//! Root is always served: its connections count only against a large
//! bound of their own. Everyone else shares a small budget, with a
//! smaller one per user, a short idle limit and a deadline for each
//! request and each reply, so that idle, slow or stalled clients (a
//! partial line, a reply never read) cost one thread each for a few
//! seconds and never keep root, or another user, out. Each connection has
//! its own thread; nothing is locked while a reply is written.

use crate::ctl::handler;
use crate::registry::Registry;
use crate::sys::peercred::peer_uid;
use crate::sys::spare::{transient, Accepted, Backoff, Spare};
use proto::errno;
use proto::wipe;
use proto::wire::{
    read_message, write_message, WireError, MAX_LINE, MAX_REQUEST, MAX_UNPRIVILEGED_REQUEST,
};
use std::collections::HashMap;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroize;

/// Root's concurrent connections (a bound against mistakes, not a policy).
const MAX_ROOT: usize = 256;
/// Everyone else's, in all and per user.
const MAX_OTHERS: usize = 64;
const MAX_PER_USER: usize = 8;
/// Root may take its time; others must send a request (and read its
/// reply) within this.
const ROOT_IDLE: Duration = Duration::from_secs(30);
const OTHERS_IDLE: Duration = Duration::from_secs(5);

/// Connections being served, by uid.
#[derive(Default)]
struct Budget {
    by_uid: HashMap<u32, usize>,
    root: usize,
    others: usize,
}

impl Budget {
    fn take(&mut self, uid: u32) -> bool {
        if uid == 0 {
            if self.root >= MAX_ROOT {
                return false;
            }
            self.root += 1;
            return true;
        }
        let mine = self.by_uid.entry(uid).or_default();
        if self.others >= MAX_OTHERS || *mine >= MAX_PER_USER {
            return false;
        }
        *mine += 1;
        self.others += 1;
        true
    }

    fn give_back(&mut self, uid: u32) {
        if uid == 0 {
            self.root -= 1;
            return;
        }
        self.others -= 1;
        if let Some(n) = self.by_uid.get_mut(&uid) {
            *n -= 1;
            if *n == 0 {
                self.by_uid.remove(&uid);
            }
        }
    }
}

/// What a client is told when no descriptor could be had for it.
fn refusal(n: i32, _request: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let _ = write_message(&mut v, &errno_reply(n));
    v
}

pub fn serve(listener: UnixListener, reg: Arc<Registry>) {
    let budget = Arc::new(Mutex::new(Budget::default()));
    // At the descriptor limit, clients are answered EMFILE rather than
    // left queued while accept fails at once, over and over.
    let mut spare = Spare::new();
    let mut backoff = Backoff::new();
    loop {
        let stream = match spare.accept(&listener, &refusal) {
            Accepted::Client(s) => s,
            Accepted::Empty | Accepted::Refused => continue,
            Accepted::Failed(e) if transient(&e) => continue,
            Accepted::Starved | Accepted::Failed(_) => {
                backoff.wait();
                continue;
            }
        };
        backoff.reset();
        // Unknown credentials: treated as nobody.
        let uid = peer_uid(&stream).unwrap_or(u32::MAX);
        if !budget.lock().unwrap_or_else(|e| e.into_inner()).take(uid) {
            continue;
        }
        let (reg, b) = (reg.clone(), budget.clone());
        let spawned = std::thread::Builder::new()
            .name("ctl".into())
            .spawn(move || {
                connection(stream, uid, &reg);
                b.lock().unwrap_or_else(|e| e.into_inner()).give_back(uid);
            });
        if spawned.is_err() {
            budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .give_back(uid);
        }
    }
}

/// Reads that must all be done by a deadline: a client sending a byte
/// now and then cannot stretch a request.
struct Deadline<'a> {
    stream: &'a UnixStream,
    end: Instant,
    /// A descriptor sent along with the request (the launcher's network
    /// namespace), the newest only.
    passed: Option<OwnedFd>,
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        self.stream.set_read_timeout(Some(left))?;
        crate::sys::peercred::recv_keeping_fd(self.stream, buf, &mut self.passed)
    }
}

fn errno_reply(n: i32) -> Vec<(String, String)> {
    vec![("errno".to_string(), n.to_string())]
}

/// Serve requests on one connection until it closes.
fn connection(stream: UnixStream, uid: u32, reg: &Registry) {
    let root = uid == 0;
    let idle = if root { ROOT_IDLE } else { OTHERS_IDLE };
    // A reply nobody reads gives up after the same time.
    let _ = stream.set_write_timeout(Some(idle));
    // Read and written through shared references: one descriptor a
    // connection, not two.
    let mut writer = &stream;
    // What a pending request may hold: raw bytes only, and for anyone
    // but root only as much as a status request needs.
    let max_request = if root {
        MAX_REQUEST
    } else {
        MAX_UNPRIVILEGED_REQUEST
    };
    // Requests carry keys: the buffer is wiped when the connection ends.
    let mut reader = wipe::Reader::new(Deadline {
        stream: &stream,
        end: Instant::now() + idle,
        passed: None,
    });
    loop {
        // Each request has the idle time to arrive whole.
        reader.get_mut().end = Instant::now() + idle;
        let reply = match read_message(&mut reader, MAX_LINE, max_request) {
            Ok(None) => return,
            Ok(Some(mut msg)) => {
                let passed = reader.get_mut().passed.take();
                let reply = handler::handle(reg, &msg, root, passed);
                // Requests carry keys in base64: wipe them.
                for (_, v) in msg.iter_mut() {
                    v.zeroize();
                }
                reply
            }
            // The stream cannot be resynchronised after these: answer, close.
            Err(WireError::LineTooLong) | Err(WireError::TooLarge) => {
                let _ = write_message(&mut writer, &errno_reply(errno::EMSGSIZE));
                return;
            }
            Err(WireError::Malformed) => {
                let _ = write_message(&mut writer, &errno_reply(errno::EINVAL));
                return;
            }
            Err(WireError::Io(_)) | Err(WireError::Truncated) => return,
        };
        let mut reply = reply;
        let sent = write_message(&mut writer, &reply);
        // A status reply for root with -k carries the private key.
        for (_, v) in reply.iter_mut() {
            v.zeroize();
        }
        // Handed over: the new process serves from now on (the reply to
        // `wgd -R` said so); exit without touching a link.
        if crate::handover::handed_over() {
            std::process::exit(0);
        }
        // Unloaded (kldunload): end as on SIGTERM, the reply sent; the
        // signal thread removes the socket and the pid file.
        if super::unloading() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), nix::sys::signal::SIGTERM);
            return;
        }
        if sent.is_err() {
            return;
        }
    }
}
