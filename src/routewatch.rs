//! Keeping the route copy of every link2 interface: one thread, started
//! with the first link2 interface, that reads the kernel's route changes
//! at home and in every namespace with an id (a moved link's), and hands
//! each to the interface its route leads over.
//!
//! Only this thread writes the copies, in the order the kernel told it,
//! so a full read never overwrites a newer change: an interface's routes
//! are read whole here when it is first watched (the caller only wakes
//! the thread), when its link has moved, changed state or lost an
//! address (the kernel drops IPv4 routes then without a word), and when
//! events were lost; the changes queued meanwhile are applied after.
//! A route replaced onto another link (same table, destination and
//! metric) leaves the copies of the others.
//!
//! Nothing here runs on the packet path: the workers read the resolved
//! copy under the router's read lock.

use crate::sys::netlink::Where;
use crate::sys::routes::{RouteChange, RouteEvent, RouteEvents};
use crate::wg::interface::Interface;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// A watched interface, and where its routes were last read (`None`:
/// to be read).
struct Watched {
    ifc: Weak<Interface>,
    read_at: Option<Where>,
}

struct Watcher {
    list: Mutex<Vec<Watched>>,
    /// Wakes the thread (a new interface to read).
    bell: UnixStream,
}

/// The watcher once started; a failed start is tried again next time.
static WATCHER: Mutex<Option<&'static Watcher>> = Mutex::new(None);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn watcher() -> std::io::Result<&'static Watcher> {
    let mut w = lock(&WATCHER);
    if let Some(w) = *w {
        return Ok(w);
    }
    let events = RouteEvents::open()?;
    let (bell, ear) = UnixStream::pair()?;
    ear.set_nonblocking(true)?;
    let started: &'static Watcher = Box::leak(Box::new(Watcher {
        list: Mutex::new(Vec::new()),
        bell,
    }));
    std::thread::Builder::new()
        .name("routewatch".into())
        .spawn(move || run(started, events, ear))?;
    *w = Some(started);
    Ok(started)
}

/// Keep `ifc`'s route copy from now on (`on`), or stop; false if the
/// watcher cannot run (logged; the next request tries again).
pub fn watch(ifc: &Arc<Interface>, on: bool) -> bool {
    let w = match watcher() {
        Ok(w) => w,
        Err(e) => {
            crate::log::error(format!(
                "{}: cannot watch routes: {}",
                ifc.name(),
                proto::errno::describe(&e)
            ));
            return false;
        }
    };
    let mut list = lock(&w.list);
    list.retain(|x| x.ifc.strong_count() > 0 && !std::ptr::eq(x.ifc.as_ptr(), Arc::as_ptr(ifc)));
    if on {
        list.push(Watched {
            ifc: Arc::downgrade(ifc),
            read_at: None,
        });
    }
    drop(list);
    let _ = (&w.bell).write(&[1]);
    true
}

/// Read `ifc`'s routes afresh and remember where.
fn reload(ifc: &Arc<Interface>) -> Option<Where> {
    match ifc.reload_routes() {
        Ok(at) => Some(at),
        Err(e) => {
            crate::log::error(format!(
                "{}: cannot read routes: {}",
                ifc.name(),
                proto::errno::describe(&e)
            ));
            None
        }
    }
}

/// Read again every watched interface whose routes are not known where
/// its link is now.
fn catch_up(w: &Watcher) {
    let stale: Vec<Arc<Interface>> = {
        let mut list = lock(&w.list);
        list.retain(|x| x.ifc.strong_count() > 0);
        list.iter()
            .filter_map(|x| {
                let ifc = x.ifc.upgrade()?;
                (x.read_at != Some(ifc.place()) && ifc.is_multipoint()).then_some(ifc)
            })
            .collect()
    };
    for ifc in stale {
        let at = reload(&ifc);
        if let Some(x) = lock(&w.list)
            .iter_mut()
            .find(|x| std::ptr::eq(x.ifc.as_ptr(), Arc::as_ptr(&ifc)))
        {
            x.read_at = at;
        }
    }
}

/// Mark the watched interfaces for which `f` holds to be read again.
fn forget(w: &Watcher, f: impl Fn(&Interface) -> bool) {
    for x in lock(&w.list).iter_mut() {
        if x.ifc.upgrade().is_some_and(|i| f(&i)) {
            x.read_at = None;
        }
    }
}

fn alive(w: &Watcher) -> Vec<Arc<Interface>> {
    lock(&w.list)
        .iter()
        .filter_map(|x| x.ifc.upgrade())
        .collect()
}

/// Whether `batch` puts a route with `r`'s identity over link `at`.
fn puts_over(batch: &[RouteEvent], at: Where, r: &crate::sys::routes::Route) -> bool {
    batch.iter().any(|e| {
        matches!(e, RouteEvent::Changed { nsid, oif, change: RouteChange::Put(x) }
            if Where { nsid: *nsid, index: *oif } == at
                && (x.table, x.dst, x.metric) == (r.table, r.dst, r.metric))
    })
}

fn apply(w: &Watcher, e: &RouteEvent, batch: &[RouteEvent]) {
    match *e {
        RouteEvent::Changed { nsid, oif, change } => {
            let at = Where { nsid, index: oif };
            for ifc in alive(w) {
                let place = ifc.place();
                if place == at {
                    ifc.route_changed(change);
                } else if let (RouteChange::Put(r), true) = (change, place.nsid == nsid) {
                    // An IPv4 route replaced onto another link is gone
                    // from this one (no word of it comes), unless it is
                    // a multipath route over both.
                    if r.dst.addr().is_ipv4() && !puts_over(batch, place, &r) {
                        ifc.route_changed(RouteChange::Delete(r));
                    }
                }
            }
        }
        RouteEvent::Link { nsid, index } => {
            forget(w, |i| i.place() == Where { nsid, index });
        }
        RouteEvent::Lost => forget(w, |_| true),
    }
}

fn run(w: &'static Watcher, mut events: RouteEvents, mut ear: UnixStream) {
    let mut batch = Vec::new();
    loop {
        catch_up(w);
        // Once a second while a watched link is away from home (its move
        // back is not always an event here); otherwise until woken.
        let away = alive(w).iter().any(|i| i.place().nsid.is_some());
        let timeout = if away {
            PollTimeout::from(1000u16)
        } else {
            PollTimeout::NONE
        };
        let mut fds = [
            PollFd::new(events.fd(), PollFlags::POLLIN),
            PollFd::new(ear.as_fd(), PollFlags::POLLIN),
        ];
        if poll(&mut fds, timeout).is_err() {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        }
        let mut rang = [0u8; 64];
        while matches!(ear.read(&mut rang), Ok(n) if n > 0) {}
        // Every datagram waiting, in order.
        let mut got = false;
        loop {
            match events.next(&mut batch, Some(Duration::from_millis(1))) {
                Ok(()) => {
                    got = true;
                    for e in &batch {
                        apply(w, e, &batch);
                    }
                }
                Err(e) => {
                    // A socket that says it is ready but only fails:
                    // do not spin on it.
                    let quiet = matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    );
                    if !quiet && !got {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    break;
                }
            }
        }
    }
}
