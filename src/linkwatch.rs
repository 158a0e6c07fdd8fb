//! Following the kernel: links are ours, but ip(8) can touch them too.
//! wg-quick brings a link up with `ip link set up` (so we bind the
//! sockets) and takes it down with `ip link delete` (so we destroy the
//! interface, leaving the others untouched). A link moved to another
//! namespace (`ip link set wgN netns X`) is followed there: its events
//! arrive tagged with that namespace's id, and the interface lives on
//! with its sockets at home.

use crate::registry::Registry;
use crate::sys::netlink::{LinkEvent, LinkEvents};
use crate::wg::interface::{Interface, Moved};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn start(reg: Arc<Registry>) -> std::io::Result<()> {
    let mut events = LinkEvents::open()?;
    std::thread::Builder::new()
        .name("linkwatch".into())
        .spawn(move || {
            let mut batch = Vec::new();
            let mut checked = Instant::now();
            loop {
                // A namespace torn down with our link in it: no event
                // reaches us from a dying namespace, but the TUN device
                // knows its link is gone. Looked at once a second, busy
                // or not, while a link is away from home; with all at
                // home the thread sleeps until an event (a link moving
                // away is one).
                let away = reg.all().iter().any(|i| i.place().nsid.is_some());
                let _ = events.wait_at_most(away.then_some(Duration::from_secs(1)));
                events.next(&mut batch);
                if away && checked.elapsed() >= Duration::from_secs(1) {
                    checked = Instant::now();
                    for ifc in reg.all() {
                        if ifc.place().nsid.is_some() && !ifc.link_alive() {
                            destroy(&reg, &ifc, "link deleted with its namespace");
                        }
                    }
                }
                for e in &batch {
                    match *e {
                        // Not found where it was: the delete event follows.
                        LinkEvent::Changed(w) => {
                            if let Some(ifc) = reg.by_place(w) {
                                ifc.sync_link();
                            }
                        }
                        LinkEvent::Ipv6Lost(w) => {
                            if let Some(ifc) = reg.by_place(w) {
                                ifc.ipv6_lost();
                            }
                        }
                        LinkEvent::Deleted(w) => {
                            if let Some(ifc) = reg.by_place(w) {
                                match ifc.follow_move() {
                                    Moved::Moved => {
                                        ifc.sync_link();
                                    }
                                    Moved::Stale => {}
                                    Moved::Gone => destroy(&reg, &ifc, "link deleted"),
                                }
                            }
                        }
                        // Looked for above, once a second while away.
                        LinkEvent::Quiet => {}
                        LinkEvent::Lost => {
                            // Events were dropped: check every link.
                            for ifc in reg.all() {
                                if ifc.sync_link() {
                                    continue;
                                }
                                if ifc.follow_move() == Moved::Gone {
                                    destroy(&reg, &ifc, "link deleted");
                                } else {
                                    ifc.sync_link();
                                }
                            }
                        }
                    }
                }
            }
        })?;
    Ok(())
}

fn destroy(reg: &Registry, ifc: &Arc<Interface>, why: &str) {
    crate::log::info(format!("{}: {why}, destroying", ifc.name()));
    let _ = reg.destroy_this(ifc);
}
