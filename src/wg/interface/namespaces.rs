//! Following an interface's link into other network namespaces: where
//! it is now (asked of its TUN device), netlink requests sent there, its
//! UDP sockets made where it was born, and `vnet` / `-vnet`.

use super::{lock, Interface};
use crate::sys::netlink::{self, Where};
use crate::sys::netns;
use crate::sys::udp::Sockets;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What a delete event turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moved {
    /// The link is in another namespace now; followed.
    Moved,
    /// It is where we already knew it to be: an old event.
    Stale,
    /// Deleted.
    Gone,
}

impl Interface {
    /// Run `f`, with its netlink requests going to the namespace the link
    /// is in now (asked of the TUN device, not remembered). Fails when
    /// the link is gone.
    pub fn in_link_ns<T>(&self, f: impl FnOnce() -> T) -> io::Result<T> {
        let tun = self.tun()?;
        let ns = tun.netns()?;
        if netns::id_of(ns.as_fd())? == netns::home()? {
            Ok(f())
        } else {
            Ok(netlink::in_netns(Some(ns.as_fd()), f))
        }
    }

    /// The UDP sockets, made in the namespace the interface was born in
    /// (they stay there wherever the link goes).
    pub(super) fn bind_sockets(&self, port: u16, cookie: u32) -> io::Result<Sockets> {
        match &self.birth {
            None => Sockets::bind(port, cookie),
            Some(ns) => netns::run_in(ns.as_fd(), || Sockets::bind(port, cookie)),
        }
    }

    /// Whether the link still exists (wherever it is).
    pub fn link_alive(&self) -> bool {
        self.tun().is_ok_and(|t| t.netns().is_ok())
    }

    /// The link's delete event arrived: if the TUN device is still
    /// there, the link was moved to another namespace; follow it there.
    pub fn follow_move(&self) -> Moved {
        let Ok(tun) = self.tun() else {
            return Moved::Gone;
        };
        let found = (|| -> io::Result<Where> {
            let ns = tun.netns()?;
            let name = tun.name()?;
            if netns::id_of(ns.as_fd())? == netns::home()? {
                return Ok(Where {
                    nsid: None,
                    index: netlink::index_of(&name)?,
                });
            }
            let nsid = netlink::nsid_of(ns.as_fd())?;
            let index = netlink::in_netns(Some(ns.as_fd()), || netlink::index_of(&name))?;
            Ok(Where {
                nsid: Some(nsid),
                index,
            })
        })();
        let Ok(now) = found else {
            return Moved::Gone;
        };
        let mut cfg = lock(&self.config);
        let mut place = lock(&self.place);
        if *place == now {
            // An event from before a move we already followed (`vnet`
            // follows at once): the link is where we think it is.
            return Moved::Stale;
        }
        *place = now;
        drop(place);
        // A move takes the link down and flushes its addresses.
        cfg.addrs.clear();
        self.v6_dropped.store(false, Ordering::SeqCst);
        crate::log::info(format!(
            "{}: link moved to {}",
            self.name(),
            match now.nsid {
                None => "the home namespace".to_string(),
                Some(id) => format!("namespace id {id}"),
            }
        ));
        Moved::Moved
    }

    /// `vnet NAME` (`home` false) moves the link into namespace NAME;
    /// `-vnet NAME` (`home` true) brings it back from there.
    pub fn vnet(self: &Arc<Self>, name: &str, home: bool) -> io::Result<()> {
        let target = netns::open_named(name)?;
        let tun = self.tun()?;
        let here = netns::id_of(tun.netns()?.as_fd())?;
        let named = netns::id_of(target.as_fd())?;
        let dest = if home {
            // Only from where it is.
            if here != named {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            netns::open_home()?
        } else {
            if here == named {
                return Ok(());
            }
            target
        };
        let index = self.index();
        self.in_link_ns(|| netlink::move_to(index, dest.as_fd()))??;
        // Follow it now rather than when the event arrives, so that the
        // next request finds it where it is.
        if self.follow_move() == Moved::Moved {
            self.sync_link();
        }
        Ok(())
    }
}
