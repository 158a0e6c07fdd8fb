//! link2 on an interface: keeping the data plane's multipoint view
//! (`crate::wg::multipoint`) in step with the peers, their allowed IPs
//! and the route copy. The route copy is filled from outside (the route
//! watcher, through `Wiring::watch_routes`): a dump when link2 is set or
//! the link moved, then one change at a time.
//!
//! Lock order: `Interface::router` → `Interface::routes`.

use super::{lock, Interface};
use crate::sys::netlink::Where;
use crate::sys::routes::{self, RouteChange};
use crate::wg::linklocal;
use crate::wg::multipoint::Multipoint;
use crate::wg::router::Router;
use std::io;
use std::net::Ipv6Addr;
use std::sync::Arc;

impl Interface {
    /// Rebuild the multipoint view (link2 on) or drop it (off), under
    /// the router's write lock: the peers, their allowed IPs or link2
    /// changed.
    pub(super) fn rebuild_multipoint(&self, router: &mut Router, link2: bool) {
        router.multipoint = link2.then(|| {
            let routes = lock(&self.routes);
            Box::new(Multipoint::build(
                router.by_key.iter(),
                &router.allowed_ips,
                &routes,
            ))
        });
    }

    /// A route over our link changed (the route watcher saw it).
    pub fn route_changed(&self, change: RouteChange) {
        let Some(dst) = lock(&self.routes).apply(change) else {
            return;
        };
        let mut router = self.router.write().unwrap_or_else(|e| e.into_inner());
        let Router {
            multipoint,
            allowed_ips,
            ..
        } = &mut *router;
        if let Some(mp) = multipoint {
            let chosen = lock(&self.routes).chosen(&dst);
            mp.resolve(dst, chosen, allowed_ips);
        }
    }

    /// Read every route over our link afresh, where the link is now
    /// (link2 was set, the link moved, or events were lost); the place
    /// the routes were read at.
    pub fn reload_routes(&self) -> io::Result<Where> {
        let place = self.place();
        let all = self.in_link_ns(routes::dump)??;
        let mine = all
            .into_iter()
            .filter(|(oif, _)| *oif == place.index)
            .map(|(_, r)| r);
        lock(&self.routes).replace_all(mine);
        let mut router = self.router.write().unwrap_or_else(|e| e.into_inner());
        let link2 = router.multipoint.is_some();
        self.rebuild_multipoint(&mut router, link2);
        Ok(place)
    }

    /// Start or stop keeping the route copy when link2 was set or
    /// cleared: called with no lock but this one held, so that two
    /// requests cannot cross (one turning it on while the other turns it
    /// off). A watch that could not start is tried again at the next
    /// request.
    pub(super) fn follow_link2(self: &Arc<Self>) {
        let mut watched = lock(&self.routes_watched);
        let on = self.is_multipoint() && !self.destroyed.load(std::sync::atomic::Ordering::SeqCst);
        if *watched == on {
            return;
        }
        if !on {
            lock(&self.routes).replace_all([]);
        }
        if self.wiring.watch_routes(self, on) || !on {
            *watched = on;
        }
    }

    /// Whether the interface is a multipoint link (link2) and alive.
    pub fn is_multipoint(&self) -> bool {
        self.router().multipoint.is_some()
    }

    /// A peer's link-local address, while link2 is set.
    pub(super) fn link_local_of(router: &Router, key: &[u8; 32]) -> Option<Ipv6Addr> {
        router.multipoint.as_ref().map(|_| linklocal::of(key))
    }
}
