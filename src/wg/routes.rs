//! A link2 interface's copy of the kernel's routes over its link, kept
//! from a dump and then from route events (`crate::sys::routes`), so
//! that the packet path never asks the kernel.
//!
//! A route is known by its table, destination and metric, as the kernel
//! knows it: a new one with the same three replaces it, a deletion names
//! them. For each destination of the main table, the route with the
//! lowest metric is the one the kernel uses (`chosen`).

use crate::sys::routes::{Gateways, Route, RouteChange, MAIN_TABLE};
use proto::Prefix;
use std::collections::{BTreeMap, HashMap};

#[derive(Default, Debug)]
pub struct RouteCopy {
    /// (table, destination) -> metric -> gateways.
    routes: HashMap<(u32, Prefix), BTreeMap<u32, Gateways>>,
}

impl RouteCopy {
    /// Forget everything and take `routes` (a fresh dump).
    pub fn replace_all(&mut self, routes: impl IntoIterator<Item = Route>) {
        self.routes.clear();
        for r in routes {
            self.apply(RouteChange::Put(r));
        }
    }

    /// Apply one change; the destination of the main table whose chosen
    /// route may have changed, if any.
    pub fn apply(&mut self, c: RouteChange) -> Option<Prefix> {
        let (r, put) = match c {
            RouteChange::Put(r) => (r, true),
            RouteChange::Delete(r) => (r, false),
        };
        let key = (r.table, r.dst);
        if put {
            self.routes
                .entry(key)
                .or_default()
                .insert(r.metric, r.gateways);
        } else if let Some(m) = self.routes.get_mut(&key) {
            // IPv6 deletes next hops one at a time: a deletion that
            // names gateways takes only those (the route goes with its
            // last one); IPv4 deletes the whole route.
            let partial = r.dst.addr().is_ipv6() && r.gateways.first().is_some();
            match m.get_mut(&r.metric) {
                Some(have) if partial => {
                    let named = have.iter().any(|g| r.gateways.iter().any(|x| x == g));
                    if named {
                        let mut left = Gateways::default();
                        for g in have.iter().filter(|g| !r.gateways.iter().any(|x| x == *g)) {
                            left.push(g);
                        }
                        if left.first().is_some() {
                            *have = left;
                        } else {
                            m.remove(&r.metric);
                        }
                    }
                }
                _ => {
                    m.remove(&r.metric);
                }
            }
            if m.is_empty() {
                self.routes.remove(&key);
            }
        }
        (r.table == MAIN_TABLE).then_some(r.dst)
    }

    /// The route the kernel uses for destination `dst` in the main
    /// table: `None` without one, else its gateways (none: direct).
    pub fn chosen(&self, dst: &Prefix) -> Option<Gateways> {
        self.routes
            .get(&(MAIN_TABLE, *dst))
            .and_then(|m| m.values().next().copied())
    }

    /// Every destination of the main table with its chosen route.
    pub fn main(&self) -> impl Iterator<Item = (Prefix, Gateways)> + '_ {
        self.routes
            .iter()
            .filter(|((t, _), _)| *t == MAIN_TABLE)
            .filter_map(|((_, d), m)| m.values().next().map(|g| (*d, *g)))
    }

    pub fn len(&self) -> usize {
        self.routes.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(table: u32, dst: &str, metric: u32, gw: Option<&str>) -> Route {
        Route {
            table,
            dst: dst.parse().unwrap(),
            metric,
            gateways: Gateways::one(gw.map(|g| g.parse().unwrap())),
        }
    }

    fn gw(s: &str) -> Option<Gateways> {
        Some(Gateways::one(Some(s.parse().unwrap())))
    }

    #[test]
    fn add_replace_delete_and_flush() {
        let mut c = RouteCopy::default();
        let d: Prefix = "10.1.0.0/16".parse().unwrap();
        assert_eq!(
            c.apply(RouteChange::Put(r(
                254,
                "10.1.0.0/16",
                20,
                Some("10.0.0.2")
            ))),
            Some(d)
        );
        assert_eq!(c.chosen(&d), gw("10.0.0.2"));
        // Same table, destination and metric: replaced.
        c.apply(RouteChange::Put(r(
            254,
            "10.1.0.0/16",
            20,
            Some("10.0.0.3"),
        )));
        assert_eq!(c.chosen(&d), gw("10.0.0.3"));
        assert_eq!(c.len(), 1);
        // A lower metric wins; deleting it brings the other back.
        c.apply(RouteChange::Put(r(254, "10.1.0.0/16", 10, None)));
        assert_eq!(c.chosen(&d), Some(Gateways::default()));
        c.apply(RouteChange::Delete(r(254, "10.1.0.0/16", 10, None)));
        assert_eq!(c.chosen(&d), gw("10.0.0.3"));
        c.apply(RouteChange::Delete(r(254, "10.1.0.0/16", 20, None)));
        assert_eq!(c.chosen(&d), None);
        assert!(c.is_empty());
        // A flush is a fresh dump.
        c.apply(RouteChange::Put(r(
            254,
            "10.1.0.0/16",
            20,
            Some("10.0.0.2"),
        )));
        c.replace_all([r(254, "10.9.0.0/16", 0, None)]);
        assert_eq!(c.chosen(&d), None);
        assert_eq!(c.main().count(), 1);
    }

    #[test]
    fn ipv6_deletes_one_next_hop_at_a_time() {
        let mut c = RouteCopy::default();
        let d: Prefix = "fd05::/64".parse().unwrap();
        let mut both = Gateways::one(Some("fe80::3".parse().unwrap()));
        both.push("fe80::4".parse().unwrap());
        let mut r6 = r(254, "fd05::/64", 1024, None);
        r6.gateways = both;
        c.apply(RouteChange::Put(r6));
        c.apply(RouteChange::Delete(r(
            254,
            "fd05::/64",
            1024,
            Some("fe80::3"),
        )));
        assert_eq!(c.chosen(&d), gw("fe80::4"));
        // Naming a gateway it does not have changes nothing.
        c.apply(RouteChange::Delete(r(
            254,
            "fd05::/64",
            1024,
            Some("fe80::9"),
        )));
        assert_eq!(c.chosen(&d), gw("fe80::4"));
        c.apply(RouteChange::Delete(r(
            254,
            "fd05::/64",
            1024,
            Some("fe80::4"),
        )));
        assert_eq!(c.chosen(&d), None);
        // IPv4: the whole route, whatever gateway the deletion names.
        let d4: Prefix = "10.5.0.0/16".parse().unwrap();
        c.apply(RouteChange::Put(r(254, "10.5.0.0/16", 0, Some("10.0.0.3"))));
        c.apply(RouteChange::Delete(r(
            254,
            "10.5.0.0/16",
            0,
            Some("10.0.0.9"),
        )));
        assert_eq!(c.chosen(&d4), None);
    }

    #[test]
    fn tables_are_kept_apart_and_only_main_is_chosen() {
        let mut c = RouteCopy::default();
        let d: Prefix = "fd00:1::/64".parse().unwrap();
        assert_eq!(
            c.apply(RouteChange::Put(r(100, "fd00:1::/64", 0, Some("fe80::2")))),
            None
        );
        assert_eq!(c.chosen(&d), None);
        c.apply(RouteChange::Put(r(254, "fd00:1::/64", 0, Some("fe80::3"))));
        assert_eq!(c.chosen(&d), gw("fe80::3"));
        // Deleting the other table's route leaves main's alone.
        c.apply(RouteChange::Delete(r(100, "fd00:1::/64", 0, None)));
        assert_eq!(c.chosen(&d), gw("fe80::3"));
        assert_eq!(c.len(), 1);
        // Deleting what is not there changes nothing.
        c.apply(RouteChange::Delete(r(254, "fd00:2::/64", 0, None)));
        assert_eq!(c.len(), 1);
    }
}
