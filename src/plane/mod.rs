//! The data plane shared by every interface: a fixed pool of workers
//! (one per CPU but one, unless `wgd -w` says otherwise) waiting on one
//! epoll set that holds the TUN device and the UDP sockets of all
//! interfaces.
//!
//! ```text
//!   interface up ──register──> epoll set <──wait── worker 1 .. worker N
//!                             (edge-triggered)       │ owns its buffers
//!                                                    ▼ claims the source
//!          TUN ready: data::outbound::drain   UDP ready: data::inbound::drain
//!                                                    │
//!                       again if readiness came meanwhile, else let go
//! ```
//!
//! Every descriptor is registered edge-triggered, once: readiness wakes
//! one worker, which claims the source (`Source::claim`) and drains it
//! until it is empty (or its budget is spent) and every batch it produced
//! is flushed. A worker woken for a source another one holds only tells
//! the holder to go again, and the holder does before it lets go. So one
//! worker at a time handles a descriptor and a peer's packets keep their
//! order in each direction, while different descriptors (the two
//! directions of a tunnel, other interfaces) run on different cores. A
//! packet costs the wait, its read and its write: no re-arming
//! (`epoll_ctl`) per readiness, no read that only hears EAGAIN after a
//! short receive batch. Only a source whose budget ran out is handed back
//! to the set (`requeue`), behind the others. An interface costs no
//! thread; buffers belong to workers.
//!
//! Deregistering (down, destroy, a new port) waits only for a batch in
//! flight on that descriptor, never for a thread to end.
//!
//! One descriptor is served by one worker at a time, but its crypto need
//! not be: a worker with a large batch lends it to idle workers
//! (`crate::sys::crew`, woken through an eventfd in the same epoll set),
//! which seal or open chunks of it while the owner does the same; the
//! owner alone writes the batch out, in order, once all are done.
//!
//! Handshake messages are not the workers' to consume: they screen them
//! and queue what needs Diffie-Hellman for the handshake service
//! (`handshakes`), threads of lower priority.
//!
//! Lock order (the whole of it is in `crate::wg`): `Plane::sources` is
//! never held while a source is handled; `Interface::config` may be held
//! while waiting for a source's busy lock (deregistering), so a worker
//! holding a busy lock never takes `Interface::config`.

pub mod clock;
mod courtesy;
pub mod handshakes;
mod worker;

use crate::data::backlog::{Queue, Ready};
use crate::sys::crew::Crew;
use crate::sys::tun::Tun;
use crate::sys::udp::Sockets;
use crate::wg::interface::Interface;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags};
use std::collections::HashMap;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A descriptor the workers serve.
pub enum Kind {
    /// Packets from the stack: encrypt and send.
    Tun(Arc<Interface>, Arc<Tun>),
    /// Datagrams from the network on socket `usize` of the set: decrypt
    /// and write to the TUN device; handshake messages go to the queue.
    Udp(Arc<Interface>, Arc<Sockets>, usize, Arc<Tun>, Arc<Queue>),
}

impl Kind {
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Kind::Tun(_, t) => Some(t.fd()),
            Kind::Udp(_, s, i, _, _) => s.all().nth(*i).map(|s| s.fd()),
        }
    }
}

pub(crate) struct Source {
    kind: Kind,
    /// Held by the worker handling the source.
    busy: Mutex<()>,
    /// Cleared by `deregister`; a worker that sees it cleared does nothing.
    live: AtomicBool,
    /// 0: nobody handles the source; 1: a worker does; more: readiness
    /// came while it did, so it goes again.
    claims: AtomicU32,
}

impl Source {
    /// Whether the calling worker now handles the source; if another one
    /// does, it is told to go again.
    fn claim(&self) -> bool {
        self.claims.fetch_add(1, Ordering::AcqRel) == 0
    }

    /// Let go of the source, unless readiness came meanwhile: then the
    /// holder goes again (true).
    fn again(&self) -> bool {
        if self
            .claims
            .compare_exchange(1, 0, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return false;
        }
        self.claims.store(1, Ordering::Release);
        true
    }

    /// Let go of the source whatever came meanwhile.
    fn release(&self) {
        self.claims.store(0, Ordering::Release);
    }
}

pub struct Plane {
    epoll: Epoll,
    /// Idle workers lend a hand with large batches of crypto.
    pub crew: Crew,
    /// Interfaces' handshake queues with work, for the handshake service.
    pub handshakes: Arc<Ready>,
    sources: RwLock<HashMap<u64, Arc<Source>>>,
    next_token: AtomicU64,
    /// Read-held while a worker handles a source, a handshake thread a
    /// turn, or the clock a tick; `still` write-holds it, so that nothing
    /// of any interface moves (a hand-over reads the state under it).
    quiet: Arc<RwLock<()>>,
}

/// Crypto is shared between workers only when there are at least this
/// many: with two, the two directions of a busy tunnel already keep both
/// busy, and lending work only adds wake-ups (measured on 2 CPUs: UDP
/// flood ×0.81, TCP unchanged).
pub const SHARE_FROM_WORKERS: usize = 3;

/// The token of the crew's eventfd; sources' tokens start at 1.
const CREW: u64 = 0;

/// Readiness wanted for every source.
fn interest() -> EpollFlags {
    EpollFlags::EPOLLIN | EpollFlags::EPOLLET
}

impl Plane {
    /// The epoll set and `workers` threads serving it.
    pub fn start(workers: usize) -> io::Result<Arc<Plane>> {
        let plane = Arc::new(Plane {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            crew: Crew::new(workers >= SHARE_FROM_WORKERS)?,
            handshakes: Arc::new(Ready::default()),
            sources: RwLock::new(HashMap::new()),
            next_token: AtomicU64::new(1),
            quiet: Arc::new(RwLock::new(())),
        });
        // Token 0, level-triggered: readable while help is wanted.
        plane
            .epoll
            .add(plane.crew.fd(), EpollEvent::new(EpollFlags::EPOLLIN, CREW))?;
        handshakes::start(&plane.handshakes, &plane.quiet, workers)?;
        for i in 0..workers.max(1) {
            let p = plane.clone();
            std::thread::Builder::new()
                .name(format!("worker{i}"))
                .spawn(move || worker::run(&p))?;
        }
        Ok(plane)
    }

    /// Hold the whole plane still: returns once no batch, handshake or
    /// timer is being handled, and none starts until the guard is
    /// dropped. Packets wait in the socket and TUN queues meanwhile.
    pub fn still(&self) -> RwLockWriteGuard<'_, ()> {
        self.quiet.write().unwrap_or_else(|e| e.into_inner())
    }

    /// What a worker, a handshake thread or the clock holds while it
    /// handles something.
    pub fn moving(&self) -> RwLockReadGuard<'_, ()> {
        self.quiet.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Workers to start when none is asked for: one per CPU but one (and
    /// at least one). About half of every packet's work is the kernel's
    /// (the TUN device, UDP, the stack on either side), done on whatever
    /// CPU is free; a worker for every CPU only wakes where that work
    /// should run. Measured on 2 CPUs with a daemon at each end of the
    /// tunnel, 1 worker against 2: TCP ×1.10 (×0.87 CPU per byte), TCP
    /// reverse ×1.15, four streams ×1.08, both ways at once ×1.07, UDP
    /// ×1.34, ping 0.25 ms against 0.33.
    pub fn default_workers() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
    }

    /// CPUs of the machine, for what is shared out per CPU.
    pub fn cpus() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }

    /// Start serving a descriptor; the token undoes it.
    pub fn register(&self, kind: Kind) -> io::Result<u64> {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let src = Arc::new(Source {
            kind,
            busy: Mutex::new(()),
            live: AtomicBool::new(true),
            claims: AtomicU32::new(0),
        });
        let fd = src
            .kind
            .fd()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        self.sources
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, src.clone());
        if let Err(e) = self.epoll.add(fd, EpollEvent::new(interest(), token)) {
            self.sources
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
            return Err(e.into());
        }
        Ok(token)
    }

    /// Stop serving; returns once no worker is handling it any more.
    pub fn deregister(&self, token: u64) {
        let src = self
            .sources
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&token);
        let Some(src) = src else { return };
        src.live.store(false, Ordering::SeqCst);
        if let Some(fd) = src.kind.fd() {
            let _ = self.epoll.delete(fd);
        }
        // Wait for a batch in flight.
        drop(src.busy.lock().unwrap_or_else(|e| e.into_inner()));
    }

    fn source(&self, token: u64) -> Option<Arc<Source>> {
        self.sources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&token)
            .cloned()
    }

    /// Hand a source whose budget ran out back to the epoll set: being
    /// still readable, it is queued behind the sources ready now.
    fn requeue(&self, token: u64, src: &Source) {
        src.release();
        if !src.live.load(Ordering::SeqCst) {
            return;
        }
        if let Some(fd) = src.kind.fd() {
            let mut ev = EpollEvent::new(interest(), token);
            let _ = self.epoll.modify(fd, &mut ev);
        }
    }

    /// Stop watching a dead descriptor (its link is gone); `deregister`
    /// forgets the source.
    fn unwatch(&self, src: &Source) {
        if let Some(fd) = src.kind.fd() {
            let _ = self.epoll.delete(fd);
        }
    }
}
