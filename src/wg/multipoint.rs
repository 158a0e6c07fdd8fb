//! The data plane's view of a link2 interface: a multipoint link on which
//! the routing table, not only the allowed IPs, says which peer a packet
//! goes to, and from which peer a source may come.
//!
//! ```text
//!   destination ─ fe80::/10 and a peer's link-local ──> that peer
//!               ─ route copy: a gateway ──> the peer owning the gateway
//!               ─ otherwise (no route, a direct route, an unowned
//!                 gateway) ──> allowed IPs, as without link2
//!   source from P: in P's allowed IPs, P's link-local, or routed
//!                  (route copy) through a gateway P owns
//! ```
//!
//! The routes are resolved to peers when they change and when the peers
//! or their allowed IPs do, so that a packet costs one lookup in the
//! resolved table, then at most one in the allowed IPs.

use crate::sys::routes::Gateways;
use crate::wg::allowed_ips::AllowedIps;
use crate::wg::linklocal;
use crate::wg::routes::RouteCopy;
use proto::Prefix;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// What a destination's chosen route over the link says.
pub enum Hop<P> {
    /// No gateway (or none a peer owns): the allowed IPs decide.
    Direct,
    /// Through gateways these peers own, in the route's order: the first
    /// carries the packets, and sources are accepted from any (a
    /// multipath route's far end may pick another).
    Via(Vec<Arc<P>>),
}

pub struct Multipoint<P> {
    /// Each peer's link-local address.
    link_locals: HashMap<Ipv6Addr, Arc<P>>,
    /// The main table's routes over the link, resolved.
    hops: AllowedIps<Hop<P>>,
}

/// Link-local multicast, which goes to every peer: 224.0.0.0/24 and
/// ff02::/16.
pub fn is_local_multicast(dst: IpAddr) -> bool {
    match dst {
        IpAddr::V4(a) => {
            let o = a.octets();
            o[0] == 224 && o[1] == 0 && o[2] == 0
        }
        IpAddr::V6(a) => a.segments()[0] == 0xff02,
    }
}

impl<P> Multipoint<P> {
    /// Built from every peer (public key and peer), their allowed IPs
    /// and the route copy.
    pub fn build<'a>(
        peers: impl Iterator<Item = (&'a [u8; 32], &'a Arc<P>)>,
        aips: &AllowedIps<Arc<P>>,
        routes: &RouteCopy,
    ) -> Multipoint<P>
    where
        P: 'a,
    {
        let mut m = Multipoint {
            link_locals: peers.map(|(k, p)| (linklocal::of(k), p.clone())).collect(),
            hops: AllowedIps::default(),
        };
        for (dst, gws) in routes.main() {
            m.resolve(dst, Some(gws), aips);
        }
        m
    }

    /// The peer owning `gateway`: by its link-local, else by allowed IPs.
    fn owner(&self, gateway: IpAddr, aips: &AllowedIps<Arc<P>>) -> Option<Arc<P>> {
        if let IpAddr::V6(v6) = gateway {
            if let Some(p) = self.link_locals.get(&v6) {
                return Some(p.clone());
            }
        }
        aips.lookup(gateway).cloned()
    }

    /// Destination `dst`'s chosen route changed to `chosen` (`None`: it
    /// has none any more).
    pub fn resolve(&mut self, dst: Prefix, chosen: Option<Gateways>, aips: &AllowedIps<Arc<P>>) {
        let Some(gws) = chosen else {
            self.hops.remove(&dst);
            return;
        };
        let mut owners: Vec<Arc<P>> = Vec::new();
        for p in gws.iter().filter_map(|g| self.owner(g, aips)) {
            if !owners.iter().any(|o| Arc::ptr_eq(o, &p)) {
                owners.push(p);
            }
        }
        let hop = if owners.is_empty() {
            Hop::Direct
        } else {
            Hop::Via(owners)
        };
        self.hops.insert(&dst, hop);
    }

    /// The peer a unicast packet for `dst` goes to.
    pub fn route<'a>(&'a self, aips: &'a AllowedIps<Arc<P>>, dst: IpAddr) -> Option<&'a Arc<P>> {
        if let IpAddr::V6(v6) = dst {
            if linklocal::is_link_local(&v6) {
                if let Some(p) = self.link_locals.get(&v6) {
                    return Some(p);
                }
            }
        }
        match self.hops.lookup(dst) {
            Some(Hop::Via(p)) if !p.is_empty() => p.first(),
            _ => aips.lookup(dst),
        }
    }

    /// Whether `from` may send packets with source `src`.
    pub fn source_ok(&self, aips: &AllowedIps<Arc<P>>, src: IpAddr, from: &Arc<P>) -> bool {
        if aips.lookup(src).is_some_and(|p| Arc::ptr_eq(p, from)) {
            return true;
        }
        if let IpAddr::V6(v6) = src {
            if self
                .link_locals
                .get(&v6)
                .is_some_and(|p| Arc::ptr_eq(p, from))
            {
                return true;
            }
        }
        matches!(self.hops.lookup(src), Some(Hop::Via(p)) if p.iter().any(|p| Arc::ptr_eq(p, from)))
    }

    /// Every peer's link-local, for status.
    pub fn link_local_of(&self, peer: &Arc<P>) -> Option<Ipv6Addr> {
        self.link_locals
            .iter()
            .find(|(_, p)| Arc::ptr_eq(p, peer))
            .map(|(a, _)| *a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::routes::{Route, RouteChange};

    struct Mesh {
        keys: Vec<[u8; 32]>,
        peers: Vec<Arc<u32>>,
        aips: AllowedIps<Arc<u32>>,
        routes: RouteCopy,
    }

    /// Three peers: 10.0.0.2, .3, .4 as their only allowed IPs.
    fn mesh() -> Mesh {
        let keys: Vec<[u8; 32]> = (2u8..5).map(|i| [i; 32]).collect();
        let peers: Vec<Arc<u32>> = (2u32..5).map(Arc::new).collect();
        let mut aips = AllowedIps::default();
        for p in &peers {
            aips.insert(&format!("10.0.0.{p}/32").parse().unwrap(), p.clone());
        }
        Mesh {
            keys,
            peers,
            aips,
            routes: RouteCopy::default(),
        }
    }

    impl Mesh {
        fn build(&self) -> Multipoint<u32> {
            Multipoint::build(
                self.keys.iter().zip(self.peers.iter()),
                &self.aips,
                &self.routes,
            )
        }
        fn put(&mut self, dst: &str, gw: Option<IpAddr>) {
            self.routes.apply(RouteChange::Put(Route {
                table: 254,
                dst: dst.parse().unwrap(),
                metric: 0,
                gateways: Gateways::one(gw),
            }));
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_route_chooses_the_peer_of_its_gateway() {
        let mut m = mesh();
        m.put("192.168.3.0/24", Some(ip("10.0.0.3")));
        // IPv4 through an IPv6 link-local next hop (babeld's v4-via-v6).
        let ll4 = IpAddr::V6(linklocal::of(&[4; 32]));
        m.put("192.168.4.0/24", Some(ll4));
        m.put("10.0.0.0/24", None);
        m.put("192.168.9.0/24", Some(ip("10.0.0.99")));
        let mp = m.build();
        let to = |d: &str| mp.route(&m.aips, ip(d)).map(|p| **p);
        assert_eq!(to("192.168.3.7"), Some(3));
        assert_eq!(to("192.168.4.7"), Some(4));
        // Direct route, and a gateway nobody owns: allowed IPs decide.
        assert_eq!(to("10.0.0.2"), Some(2));
        assert_eq!(to("192.168.9.1"), None);
        // No route at all: allowed IPs.
        assert_eq!(to("10.0.0.4"), Some(4));
        // A peer's link-local reaches it with no route.
        assert_eq!(
            mp.route(&m.aips, IpAddr::V6(linklocal::of(&[2; 32])))
                .map(|p| **p),
            Some(2)
        );
        assert_eq!(to("fe80::1"), None);
    }

    #[test]
    fn routes_follow_changes_one_destination_at_a_time() {
        let mut m = mesh();
        m.put("192.168.3.0/24", Some(ip("10.0.0.3")));
        let mut mp = m.build();
        // The route moves to peer 2 (a failover), then goes.
        let d: Prefix = "192.168.3.0/24".parse().unwrap();
        mp.resolve(d, Some(Gateways::one(Some(ip("10.0.0.2")))), &m.aips);
        assert_eq!(mp.route(&m.aips, ip("192.168.3.1")).map(|p| **p), Some(2));
        mp.resolve(d, None, &m.aips);
        assert_eq!(mp.route(&m.aips, ip("192.168.3.1")), None);
    }

    #[test]
    fn sources_are_checked_by_reverse_path() {
        let mut m = mesh();
        m.put("192.168.3.0/24", Some(ip("10.0.0.3")));
        let mp = m.build();
        let (p2, p3) = (&m.peers[0], &m.peers[1]);
        // Its own allowed IP, its link-local, a prefix routed via it.
        assert!(mp.source_ok(&m.aips, ip("10.0.0.3"), p3));
        assert!(mp.source_ok(&m.aips, IpAddr::V6(linklocal::of(&[3; 32])), p3));
        assert!(mp.source_ok(&m.aips, ip("192.168.3.9"), p3));
        // Another peer's prefix, another's link-local, an unrouted one.
        assert!(!mp.source_ok(&m.aips, ip("192.168.3.9"), p2));
        assert!(!mp.source_ok(&m.aips, ip("10.0.0.3"), p2));
        assert!(!mp.source_ok(&m.aips, IpAddr::V6(linklocal::of(&[3; 32])), p2));
        assert!(!mp.source_ok(&m.aips, ip("172.16.0.1"), p2));
    }

    #[test]
    fn a_multipath_route_sends_by_its_first_and_accepts_from_any() {
        let m = mesh();
        let mut mp = m.build();
        let d: Prefix = "192.168.5.0/24".parse().unwrap();
        let mut gws = Gateways::one(Some(ip("10.0.0.3")));
        gws.push(ip("10.0.0.2"));
        mp.resolve(d, Some(gws), &m.aips);
        assert_eq!(mp.route(&m.aips, ip("192.168.5.1")).map(|p| **p), Some(3));
        let (p2, p3, p4) = (&m.peers[0], &m.peers[1], &m.peers[2]);
        assert!(mp.source_ok(&m.aips, ip("192.168.5.1"), p2));
        assert!(mp.source_ok(&m.aips, ip("192.168.5.1"), p3));
        assert!(!mp.source_ok(&m.aips, ip("192.168.5.1"), p4));
    }

    #[test]
    fn link_local_multicast_only() {
        for yes in ["224.0.0.5", "224.0.0.255", "ff02::1:6", "ff02::5"] {
            assert!(is_local_multicast(ip(yes)), "{yes}");
        }
        for no in ["224.0.1.1", "239.1.1.1", "ff05::2", "ff0e::1", "10.0.0.1"] {
            assert!(!is_local_multicast(ip(no)), "{no}");
        }
    }
}
