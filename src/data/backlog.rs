//! The bounded queue of handshake messages one interface has screened
//! (`crate::data::handshake`) and not yet consumed, and the list of
//! queues with work that the handshake service (`crate::plane::handshakes`)
//! waits on. Its depth is what "under load" means, as Linux and
//! wireguard-go judge it: at least an eighth full, and for one second
//! after it last was.
//!
//! Two more rules keep a flood from crowding out the peers (a flood's
//! sources are real: under load every message needs a MAC2, so a cookie
//! its source received). While the queue is at least `UNDER_LOAD_DEPTH`
//! deep, each source address may have only `PER_SOURCE` messages
//! waiting, so a peer's initiation finds room while many sources flood.
//! And while the workers are busy moving data, the handshake service
//! spends at most 1/`SHARE_DIVISOR` of each CPU on interfaces under load
//! (`Budget`), so a flood costs the data plane little, and its messages
//! wait in the queue, their sources limited as above. When no data
//! moves, or only a trickle, the data plane does not need that CPU and
//! the service is not paced, as Linux's and wireguard-go's are not (a
//! hub's peers reconnecting all at once).

use crate::noise::handshake::INITIATION_LEN;
use crate::sys::boottime::Instant;
use crate::wg::interface::Interface;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Duration;

/// Handshake messages waiting per interface (wireguard-go's bound).
pub const QUEUE_MAX: usize = 1024;
/// The depth from which the interface is under load.
pub const UNDER_LOAD_DEPTH: usize = QUEUE_MAX / 8;
/// How long it stays under load after the queue was last that deep.
const UNDER_LOAD_AFTER_MS: u64 = 1000;
/// Messages one source address may have waiting while the queue is at
/// least `UNDER_LOAD_DEPTH` deep.
pub const PER_SOURCE: u16 = 2;
/// The share of each CPU the handshake service may spend on the
/// messages of interfaces under load: 1/`SHARE_DIVISOR`.
const SHARE_DIVISOR: u32 = 16;

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
    /// What the service may spend on interfaces under load.
    pub budget: Budget,
}

/// The service's spending on interfaces under load, kept to
/// 1/`SHARE_DIVISOR` of the CPUs while the workers are busy moving
/// data: each such job, once done, pushes the time the next may start
/// by what it took divided by the share (so a job of 100 µs with 2 CPUs
/// and a share of 1/16 each holds the next one back 800 µs). The
/// workers are busy if the drains that moved data (sealed a packet for
/// a peer or wrote one to a TUN device; packets staged for a handshake
/// do not count: they wait for the handshakes) took at least
/// 1/`BUSY_DIVISOR` of a CPU in the current window of `WINDOW_MS`, or
/// in the one before it. Otherwise the CPUs have room for both (no
/// data moves, or a trickle: the hellos of the tunnels still up at a
/// hub whose other peers reconnect), a job starts at once, and what
/// the jobs before it spent is forgotten (a burst handled then is not
/// owed once the workers are busy). Jobs of interfaces not under load
/// are not counted, and start without waiting; but a service thread
/// waiting for a job under load serves no other interface meanwhile
/// (with one thread, the others wait as long).
#[derive(Default)]
pub struct Budget {
    /// When the next job under load may start (none yet: now).
    next: Mutex<Option<std::time::Instant>>,
    /// The window `busy` counts for: `timers::ms` / `WINDOW_MS`, plus
    /// one (0: none yet).
    window: AtomicU64,
    /// Nanoseconds the drains that moved data took in `window`.
    busy: AtomicU64,
    /// The same in the window before it.
    busy_before: AtomicU64,
}

/// The window over which the workers' busy time is summed, in ms.
const WINDOW_MS: u64 = 10;
/// The budget holds while drains that moved data took at least
/// 1/`BUSY_DIVISOR` of a CPU over a window.
const BUSY_DIVISOR: u64 = 8;
/// The same in nanoseconds.
const BUSY_NS: u64 = WINDOW_MS * 1_000_000 / BUSY_DIVISOR;

/// The window `now` (`timers::ms`) falls in, as `Budget::window` keeps it.
fn window_of(now: u64) -> u64 {
    now / WINDOW_MS + 1
}

impl Budget {
    /// A worker's drain that moved data ended at `now` (ms) and took
    /// `took`.
    pub fn moved(&self, now: u64, took: Duration) {
        let w = window_of(now);
        let cur = self.window.load(Ordering::Acquire);
        if w > cur
            && self
                .window
                .compare_exchange(cur, w, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // Racing drains may count in the window just closed: the
            // sum is a measure, not a ledger.
            let last = self.busy.swap(0, Ordering::AcqRel);
            let before = if w == cur + 1 { last } else { 0 };
            self.busy_before.store(before, Ordering::Release);
        }
        // Once the window is busy, more makes no difference: the
        // shared line is then only read.
        if self.busy.load(Ordering::Relaxed) < BUSY_NS {
            let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            self.busy.fetch_add(ns, Ordering::Relaxed);
        }
    }

    /// Whether the workers were busy moving data at `now` (ms): in the
    /// current window so far, or in the whole one before it. A caller
    /// whose `now` a worker has already left behind gets the current
    /// window's counts.
    pub fn busy(&self, now: u64) -> bool {
        let w = window_of(now);
        let cur = self.window.load(Ordering::Acquire);
        let (this, before) = if cur >= w {
            (
                self.busy.load(Ordering::Relaxed),
                self.busy_before.load(Ordering::Relaxed),
            )
        } else if cur + 1 == w {
            (0, self.busy.load(Ordering::Relaxed))
        } else {
            (0, 0)
        };
        this.max(before) >= BUSY_NS
    }

    /// Wait until a job under load may start at `now` (ms), if the
    /// workers are busy; if not, start at once and forget what was
    /// spent.
    pub fn wait(&self, now: u64) {
        if !self.busy(now) {
            *self.next.lock().unwrap_or_else(|e| e.into_inner()) = None;
            return;
        }
        let next = *self.next.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(at) = next {
            let now = std::time::Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
        }
    }

    /// A job under load took `took`, with `cpus` CPUs to share.
    pub fn spent(&self, took: Duration, cpus: u32) {
        let now = std::time::Instant::now();
        let hold = took * SHARE_DIVISOR / cpus.max(1);
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let from = next.map_or(now, |n| n.max(now));
        *next = Some(from + hold);
    }
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

/// Jobs waiting, oldest first, and how many from each source address.
#[derive(Default)]
struct Pending {
    jobs: VecDeque<Job>,
    from: HashMap<IpAddr, u16>,
}

impl Pending {
    fn taken(&mut self, src: IpAddr) {
        if let Some(n) = self.from.get_mut(&src) {
            *n -= 1;
            if *n == 0 {
                self.from.remove(&src);
            }
        }
    }
}

/// One interface's handshake queue.
pub struct Queue {
    me: Weak<Queue>,
    /// The interface whose messages these are.
    pub ifc: Weak<Interface>,
    jobs: Mutex<Pending>,
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
            jobs: Mutex::new(Pending::default()),
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

    /// Queue a job; `false` (dropped) when the queue is full, or when it
    /// is under load and the job's source has `PER_SOURCE` waiting.
    pub fn push(&self, job: Job) -> bool {
        {
            let mut p = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            let len = p.jobs.len();
            if len >= QUEUE_MAX {
                return false;
            }
            let n = p.from.entry(job.src.ip()).or_insert(0);
            if len >= UNDER_LOAD_DEPTH && *n >= PER_SOURCE {
                return false;
            }
            *n += 1;
            p.jobs.push_back(job);
            self.depth.store(len + 1, Ordering::Relaxed);
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
            let mut p = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            let k = n.min(p.jobs.len());
            for _ in 0..k {
                if let Some(j) = p.jobs.pop_front() {
                    p.taken(j.src.ip());
                    out.push(j);
                }
            }
            self.depth.store(p.jobs.len(), Ordering::Relaxed);
            if p.jobs.is_empty() {
                self.scheduled.store(false, Ordering::Release);
            }
            !p.jobs.is_empty()
        };
        if left {
            if let Some(me) = self.me.upgrade() {
                self.ready.push(me);
            }
        }
    }

    /// Forget every job (the interface is going away).
    pub fn clear(&self) {
        let mut p = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        p.jobs.clear();
        p.from.clear();
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

    /// A job from source address number `k`.
    fn a_job_from(k: usize) -> Job {
        let src = SocketAddr::from(([10, (k >> 16) as u8, (k >> 8) as u8, k as u8], 1));
        job(&[1, 0, 0, 0], src, None, Instant::now()).unwrap()
    }

    /// Jobs from as many sources as the queue holds.
    fn a_job() -> Job {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        a_job_from(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Below the load depth a source may queue any number; from it on,
    /// `PER_SOURCE` at a time, and taking one makes room for one more.
    #[test]
    fn under_load_each_source_has_only_a_few_waiting() {
        let q = Queue::new(Arc::new(Ready::default()), Weak::new());
        for _ in 0..UNDER_LOAD_DEPTH {
            assert!(q.push(a_job_from(0)));
        }
        assert!(!q.push(a_job_from(0)), "under load, over its share");
        assert!(q.push(a_job_from(1)), "another source");
        for _ in 1..PER_SOURCE {
            assert!(q.push(a_job_from(1)));
        }
        assert!(!q.push(a_job_from(1)));
        let mut out = Vec::new();
        q.take(UNDER_LOAD_DEPTH, &mut out);
        assert_eq!(q.depth(), PER_SOURCE as usize);
        assert!(q.push(a_job_from(0)), "below the depth again");
        q.take(QUEUE_MAX, &mut out);
        assert!(
            q.jobs.lock().unwrap().from.is_empty(),
            "counts follow the jobs"
        );
    }

    fn ms_now() -> u64 {
        crate::wg::timers::ms(Instant::now())
    }

    /// Enough drain time to make the workers busy over a window.
    const BUSY: Duration = Duration::from_millis(WINDOW_MS / BUSY_DIVISOR + 1);

    /// While the workers are busy moving data, each job under load holds
    /// the next back by what it took over the share; a wait ends when
    /// that time comes.
    #[test]
    fn the_budget_spaces_jobs_under_load_while_the_workers_are_busy() {
        let b = Budget::default();
        b.moved(ms_now(), BUSY);
        let t0 = std::time::Instant::now();
        b.wait(ms_now());
        assert!(
            t0.elapsed() < Duration::from_millis(100),
            "nothing spent yet"
        );
        // A hold of 400 ms.
        b.spent(Duration::from_millis(50), 2);
        b.moved(ms_now(), BUSY);
        b.wait(ms_now());
        let waited = t0.elapsed();
        let hold = Duration::from_millis(50 * u64::from(SHARE_DIVISOR) / 2);
        assert!(waited >= hold, "{waited:?}");
        assert!(waited < hold * 3, "{waited:?}");
    }

    /// Busy means drains that moved data took 1/`BUSY_DIVISOR` of a CPU
    /// in the current window or in the whole one before it; a window
    /// further back does not count, nor does a trickle.
    #[test]
    fn busy_over_this_window_or_the_last() {
        let b = Budget::default();
        assert!(!b.busy(1000), "never moved");
        let w = WINDOW_MS;
        // A trickle: a hundred drains of 10 µs in one window.
        for k in 0..100 {
            b.moved(100 * w + k % w, Duration::from_micros(10));
        }
        assert!(!b.busy(100 * w + w - 1), "a trickle");
        b.moved(100 * w + w - 1, BUSY);
        assert!(b.busy(100 * w + w - 1), "this window");
        assert!(b.busy(101 * w), "the window before");
        assert!(b.busy(102 * w - 1));
        assert!(!b.busy(102 * w), "two windows back");
        // The next drain, in a later window, starts the count again.
        b.moved(105 * w, Duration::from_micros(10));
        assert!(!b.busy(105 * w));
        assert!(!b.busy(106 * w), "the window before had a trickle only");
        // Many short drains add up: each a tenth of the threshold.
        let tenth = Duration::from_nanos(BUSY_NS / 10);
        for k in 0..9 {
            b.moved(107 * w + k, tenth);
        }
        assert!(!b.busy(107 * w + 9), "nine tenths");
        b.moved(107 * w + 9, tenth);
        assert!(b.busy(107 * w + 9), "ten tenths");
        // A busy window carries over into the next, whatever moves in it.
        b.moved(108 * w, Duration::from_micros(10));
        assert!(b.busy(108 * w + w - 1), "the window before was busy");
        assert!(!b.busy(109 * w), "the window before had a trickle only");
        // A reader whose clock lags a worker that opened a new window
        // reads that window.
        b.moved(110 * w, BUSY);
        assert!(b.busy(110 * w - 1));
    }

    /// With the workers not busy (no data, or a trickle), a job starts at
    /// once whatever was spent, and that is not owed later: once they
    /// are busy, a job waits for the hold of the last one only.
    #[test]
    fn handshakes_unpaced_unless_the_workers_are_busy() {
        let b = Budget::default();
        let t0 = std::time::Instant::now();
        for _ in 0..10 {
            // A trickle of data moving meanwhile.
            b.moved(ms_now(), Duration::from_micros(50));
            b.wait(ms_now());
            // A hold of 160 ms each.
            b.spent(Duration::from_millis(10), 1);
        }
        assert!(t0.elapsed() < Duration::from_millis(100), "never busy");
        b.moved(ms_now(), BUSY);
        b.wait(ms_now());
        let waited = t0.elapsed();
        assert!(waited >= Duration::from_millis(160), "{waited:?}");
        assert!(waited < Duration::from_millis(800), "owed: {waited:?}");
        // Two windows later with nothing moved: unpaced again, whatever
        // was spent.
        b.spent(Duration::from_millis(10), 1);
        let t1 = std::time::Instant::now();
        b.wait(ms_now() + 2 * WINDOW_MS);
        assert!(t1.elapsed() < Duration::from_millis(100), "quiet");
        // Busy again: held by what was spent since.
        b.spent(Duration::from_millis(10), 1);
        b.moved(ms_now(), BUSY);
        b.wait(ms_now());
        assert!(t1.elapsed() >= Duration::from_millis(160), "busy");
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
