//! Keeping the route copy of every link2 interface: one thread, started
//! with the first link2 interface, that reads the kernel's route changes
//! at home and in every namespace with an id (a moved link's), and hands
//! each to the interface its route leads over. An interface's routes are
//! read whole when link2 is set (by the caller, with no lock held), when
//! its link has moved (looked at after each event, and once a second
//! while a watched link is away from home), and when events were lost.
//!
//! Nothing here runs on the packet path: the workers read the resolved
//! copy under the router's read lock.

use crate::sys::netlink::Where;
use crate::sys::routes::{RouteEvent, RouteEvents};
use crate::wg::interface::Interface;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A watched interface, and where its routes were last read.
struct Watched {
    ifc: Weak<Interface>,
    read_at: Option<Where>,
}

struct Watcher {
    list: Mutex<Vec<Watched>>,
}

static WATCHER: OnceLock<std::io::Result<Watcher>> = OnceLock::new();

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The watcher, started the first time (its socket opened before the
/// first dump, so that no change between the two is missed).
fn watcher() -> Option<&'static Watcher> {
    let w = WATCHER.get_or_init(|| {
        let events = RouteEvents::open()?;
        std::thread::Builder::new()
            .name("routewatch".into())
            .spawn(move || run(events))?;
        Ok(Watcher {
            list: Mutex::new(Vec::new()),
        })
    });
    match w {
        Ok(w) => Some(w),
        Err(e) => {
            crate::log::error(format!(
                "cannot watch routes: {}",
                proto::errno::describe(e)
            ));
            None
        }
    }
}

/// Keep `ifc`'s route copy from now on (`on`), or stop.
pub fn watch(ifc: &Arc<Interface>, on: bool) {
    let Some(w) = watcher() else {
        return;
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
    if on {
        reload(w, ifc);
    }
}

/// Read `ifc`'s routes afresh and remember where.
fn reload(w: &Watcher, ifc: &Arc<Interface>) {
    let at = match ifc.reload_routes() {
        Ok(at) => Some(at),
        Err(e) => {
            crate::log::error(format!(
                "{}: cannot read routes: {}",
                ifc.name(),
                proto::errno::describe(&e)
            ));
            None
        }
    };
    if let Some(x) = lock(&w.list)
        .iter_mut()
        .find(|x| std::ptr::eq(x.ifc.as_ptr(), Arc::as_ptr(ifc)))
    {
        x.read_at = at;
    }
}

/// The watched interfaces that are alive.
fn alive(w: &Watcher) -> Vec<(Arc<Interface>, Option<Where>)> {
    let mut list = lock(&w.list);
    list.retain(|x| x.ifc.strong_count() > 0);
    list.iter()
        .filter_map(|x| Some((x.ifc.upgrade()?, x.read_at)))
        .collect()
}

fn run(mut events: RouteEvents) {
    let mut batch = Vec::new();
    // The watcher is set once this thread runs its first round.
    let w = loop {
        if let Some(Ok(w)) = WATCHER.get() {
            break w;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let mut away = false;
    loop {
        events.next(
            &mut batch,
            away.then_some(std::time::Duration::from_secs(1)),
        );
        let watched = alive(w);
        away = watched.iter().any(|(i, _)| i.place().nsid.is_some());
        for e in &batch {
            match *e {
                RouteEvent::Changed { nsid, oif, change } => {
                    let at = Where { nsid, index: oif };
                    if let Some((ifc, _)) = watched.iter().find(|(i, _)| i.place() == at) {
                        ifc.route_changed(change);
                    }
                }
                RouteEvent::Lost => {
                    for (ifc, _) in &watched {
                        reload(w, ifc);
                    }
                }
            }
        }
        // A link that moved since its routes were read: read them where
        // it is now.
        for (ifc, read_at) in &watched {
            if *read_at != Some(ifc.place()) && ifc.is_multipoint() {
                reload(w, ifc);
            }
        }
    }
}
