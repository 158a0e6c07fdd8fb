//! Lending a piece of work to idle workers, as a scoped thread would but
//! without starting one: the owner publishes a job (a closure on its own
//! stack), wakes up to `n` idle workers through an eventfd in the data
//! plane's epoll set, runs the job itself, then takes the job back and
//! waits until every helper that joined has left it. The job splits its
//! work itself (an atomic cursor over chunks), so it does not matter who
//! comes, or whether anyone does.
//!
//! The only `unsafe` here: while published, the job's lifetime is erased.
//! That is sound because `share` does not return (nor unwind) before the
//! job is withdrawn and no helper is inside it.

use nix::sys::eventfd::{EfdFlags, EventFd};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A published job, its lifetime erased.
type Job = dyn Fn() + Sync + 'static;

struct Published {
    /// Valid while published or while `inside` is non-zero (see above).
    job: *const Job,
    inside: AtomicUsize,
}

// The pointer is only dereferenced under the rules above; the job itself
// is `Sync`.
unsafe impl Send for Published {}
unsafe impl Sync for Published {}

pub struct Crew {
    jobs: Mutex<Vec<Arc<Published>>>,
    wake: EventFd,
    /// Workers waiting for readiness (kept by the workers).
    pub idle: AtomicUsize,
    enabled: bool,
}

impl Crew {
    /// A crew; when not `enabled`, every job runs on its owner alone.
    pub fn new(enabled: bool) -> std::io::Result<Crew> {
        let flags = EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK | EfdFlags::EFD_SEMAPHORE;
        Ok(Crew {
            jobs: Mutex::new(Vec::new()),
            wake: EventFd::from_value_and_flags(0, flags)?,
            idle: AtomicUsize::new(0),
            enabled,
        })
    }

    /// The descriptor that becomes readable when help is wanted.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.wake.as_fd()
    }

    /// Run `job` here and on up to `helpers` idle workers at once;
    /// returns when it has finished everywhere.
    pub fn share<'a>(&self, job: &'a (dyn Fn() + Sync + 'a), helpers: usize) {
        if !self.enabled {
            return job();
        }
        let helpers = helpers.min(self.idle.load(Ordering::Relaxed));
        if helpers == 0 {
            return job();
        }
        // SAFETY: the lifetime is erased only for the time `Withdraw`
        // (below) guarantees: no helper reaches the job after it drops.
        let erased: *const Job =
            unsafe { std::mem::transmute::<&'a (dyn Fn() + Sync + 'a), &'static Job>(job) };
        let p = Arc::new(Published {
            job: erased,
            inside: AtomicUsize::new(0),
        });
        self.lock().push(p.clone());
        let _ = self.wake.write(helpers as u64);
        let _withdraw = Withdraw { crew: self, p: &p };
        job();
    }

    /// Called by a worker woken by `fd`: join a published job, if one is
    /// still there.
    pub fn help(&self) {
        if self.wake.read().is_err() {
            return;
        }
        let p = {
            let jobs = self.lock();
            let Some(p) = jobs.last() else { return };
            // Counted under the lock, so a withdrawal either sees this
            // helper inside or keeps it from starting.
            p.inside.fetch_add(1, Ordering::Acquire);
            p.clone()
        };
        let _leave = Leave(&p);
        // SAFETY: `inside` is non-zero until `_leave` drops, and the
        // owner waits for zero before its job goes out of scope.
        unsafe { (*p.job)() };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Published>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Withdraws a job and waits for its helpers, also when the owner's own
/// run of it panics.
struct Withdraw<'a> {
    crew: &'a Crew,
    p: &'a Arc<Published>,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.crew.lock().retain(|q| !Arc::ptr_eq(q, self.p));
        // Helpers run a chunk or two: spin, then give the core away.
        let mut spins = 0u32;
        while self.p.inside.load(Ordering::Acquire) != 0 {
            spins += 1;
            if spins < 1000 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

struct Leave<'a>(&'a Published);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    /// Helpers that join share the work; the owner returns only when they
    /// have left, and a job withdrawn is never started.
    #[test]
    fn helpers_join_and_leave_before_share_returns() {
        let crew = Arc::new(Crew::new(true).unwrap());
        crew.idle.store(2, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let helpers: Vec<_> = (0..2)
            .map(|_| {
                let (c, s) = (crew.clone(), stop.clone());
                std::thread::spawn(move || {
                    while !s.load(Ordering::Relaxed) {
                        c.help();
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        for round in 0..200 {
            let cursor = AtomicUsize::new(0);
            let done: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
            let job = || loop {
                let k = cursor.fetch_add(1, Ordering::Relaxed);
                if k >= done.len() {
                    break;
                }
                std::hint::black_box((0..200).sum::<u64>());
                done[k].fetch_add(1, Ordering::Relaxed);
            };
            crew.share(&job, 2);
            assert!(
                done.iter().all(|d| d.load(Ordering::Relaxed) == 1),
                "round {round}"
            );
        }
        assert!(crew.lock().is_empty());
        stop.store(true, Ordering::Relaxed);
        for h in helpers {
            h.join().unwrap();
        }
    }
}
