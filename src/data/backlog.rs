//! The bounded queue of handshake messages one interface has screened
//! (`crate::data::handshake`) and not yet consumed, and the list of
//! queues with work that the handshake service (`crate::plane::handshakes`)
//! waits on. Its depth is what "under load" means, as Linux and
//! wireguard-go judge it: at least an eighth full, and for one second
//! after it last was.

use crate::noise::handshake::INITIATION_LEN;
use crate::sys::boottime::Instant;
use crate::wg::interface::Interface;
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

/// Handshake messages waiting per interface (wireguard-go's bound).
pub const QUEUE_MAX: usize = 1024;
/// The depth from which the interface is under load.
pub const UNDER_LOAD_DEPTH: usize = QUEUE_MAX / 8;
/// How long it stays under load after the queue was last that deep.
const UNDER_LOAD_AFTER_MS: u64 = 1000;

/// A handshake message that passed the screen, with where it came from.
pub struct Job {
    pub msg: [u8; INITIATION_LEN],
    pub len: usize,
    pub src: SocketAddr,
    /// Our address it was sent to.
    pub to: Option<IpAddr>,
    /// When it arrived: the per-peer initiation rate is the peer's
    /// sending rate, whatever the queue's delay.
    pub at: Instant,
}

impl Job {
    pub fn bytes(&self) -> &[u8] {
        &self.msg[..self.len]
    }
}

/// Queues with work, in the order they got it: what the service waits on.
#[derive(Default)]
pub struct Ready {
    list: Mutex<VecDeque<Arc<Queue>>>,
    wake: Condvar,
}

impl Ready {
    /// The next queue with work, waiting for one.
    pub fn next(&self) -> Arc<Queue> {
        let mut l = self.list.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(q) = l.pop_front() {
                return q;
            }
            l = self.wake.wait(l).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn push(&self, q: Arc<Queue>) {
        self.list
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(q);
        self.wake.notify_one();
    }
}

/// One interface's handshake queue.
pub struct Queue {
    me: Weak<Queue>,
    /// The interface whose messages these are.
    pub ifc: Weak<Interface>,
    jobs: Mutex<VecDeque<Job>>,
    depth: AtomicUsize,
    /// `timers::ms` when it was last under load; 0: not for a while.
    under_load_at: AtomicU64,
    /// It is in `ready` (or being served).
    scheduled: AtomicBool,
    ready: Arc<Ready>,
}

impl Queue {
    pub fn new(ready: Arc<Ready>, ifc: Weak<Interface>) -> Arc<Queue> {
        Arc::new_cyclic(|me| Queue {
            me: me.clone(),
            ifc,
            jobs: Mutex::new(VecDeque::new()),
            depth: AtomicUsize::new(0),
            under_load_at: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
            ready,
        })
    }

    pub fn depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    /// Whether the interface is under load at `now` (`timers::ms`).
    pub fn under_load(&self, now: u64) -> bool {
        if self.depth() >= UNDER_LOAD_DEPTH {
            self.under_load_at.store(now.max(1), Ordering::Relaxed);
            return true;
        }
        let at = self.under_load_at.load(Ordering::Relaxed);
        if at == 0 {
            return false;
        }
        if now.saturating_sub(at) < UNDER_LOAD_AFTER_MS {
            return true;
        }
        self.under_load_at.store(0, Ordering::Relaxed);
        false
    }

    /// Queue a job; `false` (dropped) when the queue is full.
    pub fn push(&self, job: Job) -> bool {
        {
            let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            if jobs.len() >= QUEUE_MAX {
                return false;
            }
            jobs.push_back(job);
            self.depth.store(jobs.len(), Ordering::Relaxed);
        }
        self.schedule();
        true
    }

    fn schedule(&self) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            if let Some(me) = self.me.upgrade() {
                self.ready.push(me);
            }
        }
    }

    /// Up to `n` jobs, oldest first, into `out`. When none are left the
    /// queue leaves the ready list until a new job comes; otherwise it is
    /// put back behind the other interfaces' queues.
    pub fn take(&self, n: usize, out: &mut Vec<Job>) {
        let left = {
            let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            let k = n.min(jobs.len());
            out.extend(jobs.drain(..k));
            self.depth.store(jobs.len(), Ordering::Relaxed);
            if jobs.is_empty() {
                self.scheduled.store(false, Ordering::Release);
            }
            !jobs.is_empty()
        };
        if left {
            if let Some(me) = self.me.upgrade() {
                self.ready.push(me);
            }
        }
    }

    /// Forget every job (the interface is going away).
    pub fn clear(&self) {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        jobs.clear();
        self.depth.store(0, Ordering::Relaxed);
    }
}

/// A job for the queue, from a screened message.
pub fn job(d: &[u8], src: SocketAddr, to: Option<IpAddr>, at: Instant) -> Option<Job> {
    let mut msg = [0u8; INITIATION_LEN];
    msg.get_mut(..d.len())?.copy_from_slice(d);
    Some(Job {
        msg,
        len: d.len(),
        src,
        to,
        at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_job() -> Job {
        job(
            &[1, 0, 0, 0],
            "192.0.2.1:1".parse().unwrap(),
            None,
            Instant::now(),
        )
        .unwrap()
    }

    #[test]
    fn bounded_and_under_load_from_an_eighth_for_a_second() {
        let ready = Arc::new(Ready::default());
        let q = Queue::new(ready.clone(), Weak::new());
        assert!(!q.under_load(5000));
        for _ in 0..QUEUE_MAX {
            assert!(q.push(a_job()));
        }
        assert!(!q.push(a_job()), "full: dropped");
        assert!(q.under_load(5000));
        let served = ready.next();
        assert!(Arc::ptr_eq(&served, &q));
        let mut out = Vec::new();
        served.take(QUEUE_MAX - UNDER_LOAD_DEPTH + 1, &mut out);
        assert_eq!(q.depth(), UNDER_LOAD_DEPTH - 1);
        assert!(q.under_load(5999), "within a second of the last time");
        assert!(!q.under_load(6000));
        assert!(!q.under_load(6001));
        // Jobs left: the queue is back in the ready list.
        assert!(Arc::ptr_eq(&ready.next(), &q));
        out.clear();
        q.take(QUEUE_MAX, &mut out);
        assert_eq!(out.len(), UNDER_LOAD_DEPTH - 1);
        assert_eq!(q.depth(), 0);
        // Empty: it leaves the list; a new job puts it back once.
        assert!(q.push(a_job()));
        assert!(q.push(a_job()));
        assert_eq!(ready.list.lock().unwrap().len(), 1);
    }
}
