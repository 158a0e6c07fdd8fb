//! One schedule for the deadlines of every peer of every interface: a
//! heap keyed by each peer's earliest deadline, so the clock
//! (`crate::plane::clock`) sleeps until the first of them and looks at
//! no interface and no peer that has nothing due.
//!
//! A peer has at most one live entry: the one at `Peer::due`. Arming a
//! deadline earlier than that (`crate::wg::timers`) pushes a new entry;
//! the older, later one stays in the heap, stale, and is skipped when it
//! comes up. Deadlines disarmed or pushed back leave the entry where it
//! is: the clock then finds nothing expired and files the peer again at
//! its real earliest deadline. The clock is woken (its waker) only when
//! an entry goes in ahead of every other one.
//!
//! Lock order: a peer's state (the caller of `push` holds it) → the heap.

use crate::wg::interface::Interface;
use crate::wg::peer::Peer;
use std::cmp::Ordering as Order;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

/// Where a peer belongs, for the clock: its interface and itself.
#[derive(Clone)]
pub struct Home {
    pub ifc: Weak<Interface>,
    pub peer: Weak<Peer>,
}

struct Entry {
    at: u64,
    home: Home,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        self.at == o.at
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Order> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// The earliest first (`BinaryHeap` is a max-heap).
    fn cmp(&self, o: &Self) -> Order {
        o.at.cmp(&self.at)
    }
}

pub struct Schedule {
    heap: Mutex<BinaryHeap<Entry>>,
    /// Called when an entry goes in ahead of all others.
    waker: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

static SCHEDULE: Schedule = Schedule {
    heap: Mutex::new(BinaryHeap::new()),
    waker: OnceLock::new(),
};

/// The daemon's one schedule.
pub fn schedule() -> &'static Schedule {
    &SCHEDULE
}

impl Schedule {
    fn lock(&self) -> MutexGuard<'_, BinaryHeap<Entry>> {
        self.heap.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Who to wake when an earlier deadline is armed (the clock, once).
    pub fn set_waker(&self, wake: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(wake);
    }

    /// File `peer` at `at` (`timers::ms`) if that is earlier than its
    /// entry. A peer of no interface (tests, fuzzing) only keeps the
    /// earliest time in `due`.
    pub fn push(&self, peer: &Peer, at: u64) {
        let Some(home) = peer.home.get() else {
            peer.due.fetch_min(at, Ordering::Relaxed);
            return;
        };
        if at == u64::MAX {
            return;
        }
        let mut heap = self.lock();
        if at >= peer.due.load(Ordering::Relaxed) {
            return;
        }
        peer.due.store(at, Ordering::Relaxed);
        let first = heap.peek().is_none_or(|e| at < e.at);
        heap.push(Entry {
            at,
            home: home.clone(),
        });
        drop(heap);
        if first {
            if let Some(w) = self.waker.get() {
                w();
            }
        }
    }

    /// Take `peer` out of the schedule (its entry, if any, goes stale):
    /// its deadlines were reset.
    pub fn forget(&self, peer: &Peer) {
        let _heap = self.lock();
        peer.due.store(u64::MAX, Ordering::Relaxed);
    }

    /// The next peer whose entry is before `now` (`timers::ms`, so its
    /// deadline has passed, whatever the rounding), taken out of the
    /// schedule (its `due` is cleared: the caller files it again).
    /// Stale entries and peers that are gone are dropped on the way.
    pub fn pop(&self, now: u64) -> Option<(Arc<Interface>, Arc<Peer>)> {
        let mut heap = self.lock();
        while heap.peek().is_some_and(|e| e.at < now) {
            let Some(e) = heap.pop() else { break };
            let (Some(ifc), Some(peer)) = (e.home.ifc.upgrade(), e.home.peer.upgrade()) else {
                continue;
            };
            if peer.due.load(Ordering::Relaxed) != e.at {
                continue;
            }
            peer.due.store(u64::MAX, Ordering::Relaxed);
            return Some((ifc, peer));
        }
        None
    }

    /// The earliest entry (`u64::MAX` if none), stale or not.
    pub fn next(&self) -> u64 {
        self.lock().peek().map_or(u64::MAX, |e| e.at)
    }

    /// Entries in the heap, stale ones included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::boottime::Instant;
    use crate::wg::timers::ms;

    #[test]
    fn unfiled_peers_keep_the_earliest_time() {
        let p = Peer::new(1);
        schedule().push(&p, 50);
        schedule().push(&p, 70);
        assert_eq!(p.due.load(Ordering::Relaxed), 50);
        let _ = ms(Instant::now());
    }

    #[test]
    fn the_heap_orders_by_time() {
        let mut h = BinaryHeap::new();
        for at in [30, 10, 20] {
            h.push(Entry {
                at,
                home: Home {
                    ifc: Weak::new(),
                    peer: Weak::new(),
                },
            });
        }
        let order: Vec<u64> = std::iter::from_fn(|| h.pop().map(|e| e.at)).collect();
        assert_eq!(order, vec![10, 20, 30]);
    }
}
