//! The kernel's routes, for link2 interfaces: a dump of a namespace's
//! routes, and a subscription to route changes in the home namespace and
//! in every namespace that has an id there (NETLINK_LISTEN_ALL_NSID, as
//! the link events), each parsed into what a route copy keeps: the
//! routes that lead over a given link, with their gateway if any.
//!
//! A route counts for a link when it is a unicast route (not a cloned
//! cache entry) whose output interface is that link, or one of whose
//! next hops (multipath) leaves through it; its gateway is RTA_GATEWAY,
//! or RTA_VIA (an IPv4 route through an IPv6 next hop).

use super::netlink::{
    Subscription, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
};
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteType, RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use proto::Prefix;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The routing table the kernel consults for ordinary traffic.
pub const MAIN_TABLE: u32 = 254;

/// A route over one link: table, destination, metric (together the
/// kernel's identity of a route) and its gateways over that link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub table: u32,
    pub dst: Prefix,
    pub metric: u32,
    pub gateways: Gateways,
}

/// The gateways of a route over one link, in the kernel's order: none
/// for a direct route, one, or several for a multipath route (the first
/// `MAX_GATEWAYS` of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Gateways([Option<IpAddr>; MAX_GATEWAYS]);

pub const MAX_GATEWAYS: usize = 8;

impl Gateways {
    pub fn one(g: Option<IpAddr>) -> Gateways {
        let mut x = Gateways::default();
        x.0[0] = g;
        x
    }

    /// Add one (unless full or already there).
    pub fn push(&mut self, g: IpAddr) {
        if self.iter().any(|x| x == g) {
            return;
        }
        if let Some(slot) = self.0.iter_mut().find(|x| x.is_none()) {
            *slot = Some(g);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.0.iter().map_while(|x| *x)
    }

    pub fn first(&self) -> Option<IpAddr> {
        self.0[0]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteChange {
    /// Added or replaced.
    Put(Route),
    /// Deleted (the gateway is not part of its identity).
    Delete(Route),
}

/// A change of a route over link `oif` of the namespace `nsid` (none:
/// home), or news that some were lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteEvent {
    Changed {
        nsid: Option<i32>,
        oif: u32,
        change: RouteChange,
    },
    /// The socket overran: dump again.
    Lost,
    /// Link `index` changed (flags, state) or lost an address: the kernel
    /// may have flushed its IPv4 routes without a word (it does, going
    /// down or losing an address), so they are read again.
    Link { nsid: Option<i32>, index: u32 },
}

fn address(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn via(v: &RouteVia) -> Option<IpAddr> {
    match v {
        RouteVia::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteVia::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

/// The gateway among these attributes.
fn gateway_of(attrs: &[RouteAttribute]) -> Option<IpAddr> {
    attrs.iter().find_map(|a| match a {
        RouteAttribute::Gateway(g) => address(g),
        RouteAttribute::Via(v) => via(v),
        _ => None,
    })
}

fn unspecified(h: &RouteHeader) -> Option<IpAddr> {
    match h.address_family {
        AddressFamily::Inet => Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        AddressFamily::Inet6 => Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)),
        _ => None,
    }
}

/// What route message `m` (`new`: RTM_NEWROUTE, else RTM_DELROUTE) says
/// of each link it leads over: one change per output link.
pub fn parse(m: &RouteMessage, new: bool, out: &mut Vec<(u32, RouteChange)>) {
    let h = &m.header;
    if h.kind != RouteType::Unicast || h.flags.contains(RouteFlags::Cloned) {
        return;
    }
    let (mut dst, mut table, mut metric, mut oif) = (None, u32::from(h.table), 0, None);
    let mut hops = None;
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(d) => dst = address(d),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Priority(p) => metric = *p,
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::MultiPath(n) => hops = Some(n),
            _ => {}
        }
    }
    let Some(dst) = dst
        .or_else(|| unspecified(h))
        .and_then(|d| Prefix::new(d, h.destination_prefix_length))
    else {
        return;
    };
    let route = |gateway| Route {
        table,
        dst,
        metric,
        gateways: Gateways::one(gateway),
    };
    let change = |r| {
        if new {
            RouteChange::Put(r)
        } else {
            RouteChange::Delete(r)
        }
    };
    if let Some(i) = oif {
        out.push((i, change(route(gateway_of(&m.attributes)))));
    }
    // Each link once, with every gateway its next hops have on it.
    for n in hops.into_iter().flatten() {
        let i = n.interface_index;
        let gw = gateway_of(&n.attributes);
        match out.iter_mut().find(|(o, _)| *o == i) {
            Some((_, RouteChange::Put(r) | RouteChange::Delete(r))) => {
                if let Some(g) = gw {
                    r.gateways.push(g);
                }
            }
            None => out.push((i, change(route(gw)))),
        }
    }
}

/// Parse a datagram of route notifications from namespace `nsid`.
pub fn parse_events(mut buf: &[u8], nsid: Option<i32>, out: &mut Vec<RouteEvent>) {
    let mut each = Vec::new();
    while !buf.is_empty() {
        let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf) else {
            return;
        };
        each.clear();
        match &msg.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r)) => {
                parse(r, true, &mut each)
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(r)) => {
                parse(r, false, &mut each)
            }
            NetlinkPayload::InnerMessage(
                RouteNetlinkMessage::NewLink(l) | RouteNetlinkMessage::DelLink(l),
            ) => out.push(RouteEvent::Link {
                nsid,
                index: l.header.index,
            }),
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelAddress(a)) => {
                out.push(RouteEvent::Link {
                    nsid,
                    index: a.header.index,
                })
            }
            _ => {}
        }
        out.extend(
            each.iter()
                .map(|&(oif, change)| RouteEvent::Changed { nsid, oif, change }),
        );
        let len = (msg.header.length as usize + 3) & !3;
        if len == 0 || len > buf.len() {
            return;
        }
        buf = &buf[len..];
    }
}

/// Every route of the namespace this thread's requests go to (see
/// `netlink::in_netns`), both families, every table: (output link,
/// route) for each link a route leads over.
pub fn dump() -> io::Result<Vec<(u32, Route)>> {
    let mut out = Vec::new();
    let mut each = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut req = RouteMessage::default();
        req.header.address_family = family;
        for m in super::netlink::dump(RouteNetlinkMessage::GetRoute(req))? {
            if let RouteNetlinkMessage::NewRoute(r) = m {
                each.clear();
                parse(&r, true, &mut each);
                out.extend(each.iter().filter_map(|(oif, c)| match c {
                    RouteChange::Put(r) => Some((*oif, *r)),
                    RouteChange::Delete(_) => None,
                }));
            }
        }
    }
    Ok(out)
}

/// A subscription to route changes at home and in every namespace with
/// an id there, holding none of them open.
pub struct RouteEvents(Subscription);

impl RouteEvents {
    pub fn open() -> io::Result<RouteEvents> {
        let groups = RTMGRP_IPV4_ROUTE
            | RTMGRP_IPV6_ROUTE
            | RTMGRP_LINK
            | RTMGRP_IPV4_IFADDR
            | RTMGRP_IPV6_IFADDR;
        Subscription::open(groups).map(RouteEvents)
    }

    /// The socket, to wait on with others.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.0.fd()
    }

    /// The next datagram of events, waiting at most `wait` (`None`: until
    /// one comes); an error when none came (or the socket failed).
    pub fn next(
        &mut self,
        out: &mut Vec<RouteEvent>,
        wait: Option<std::time::Duration>,
    ) -> io::Result<()> {
        out.clear();
        self.0.wait_at_most(wait)?;
        match self.0.recv() {
            Ok((buf, nsid)) => {
                parse_events(buf, nsid, out);
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                out.push(RouteEvent::Lost);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_route::route::{RouteNextHop, RouteProtocol};

    fn msg(dst: &str, len: u8, attrs: Vec<RouteAttribute>) -> RouteMessage {
        let mut m = RouteMessage::default();
        let ip: IpAddr = dst.parse().unwrap();
        m.header.address_family = if ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        m.header.destination_prefix_length = len;
        m.header.table = 254;
        m.header.kind = RouteType::Unicast;
        m.header.protocol = RouteProtocol::Static;
        m.attributes.push(RouteAttribute::Destination(ip.into()));
        m.attributes.extend(attrs);
        m
    }

    fn one(m: &RouteMessage, new: bool) -> Vec<(u32, RouteChange)> {
        let mut out = Vec::new();
        parse(m, new, &mut out);
        out
    }

    #[test]
    fn gateway_via_and_direct_routes() {
        let m = msg(
            "10.1.0.0",
            16,
            vec![
                RouteAttribute::Oif(7),
                RouteAttribute::Gateway("10.0.0.2".parse::<IpAddr>().unwrap().into()),
                RouteAttribute::Priority(20),
            ],
        );
        let r = Route {
            table: 254,
            dst: "10.1.0.0/16".parse().unwrap(),
            metric: 20,
            gateways: Gateways::one(Some("10.0.0.2".parse().unwrap())),
        };
        assert_eq!(one(&m, true), vec![(7, RouteChange::Put(r))]);
        assert_eq!(one(&m, false), vec![(7, RouteChange::Delete(r))]);
        // An IPv4 route through an IPv6 link-local next hop.
        let ll: Ipv6Addr = "fe80::1".parse().unwrap();
        let m = msg(
            "10.2.0.0",
            24,
            vec![
                RouteAttribute::Oif(7),
                RouteAttribute::Via(RouteVia::Inet6(ll)),
            ],
        );
        let got = one(&m, true);
        assert!(
            matches!(got[0].1, RouteChange::Put(r) if r.gateways.first() == Some(IpAddr::V6(ll)))
        );
        // A direct route, in another table.
        let m = msg(
            "fd00::",
            64,
            vec![RouteAttribute::Oif(7), RouteAttribute::Table(1000)],
        );
        let got = one(&m, true);
        assert!(
            matches!(got[0].1, RouteChange::Put(r) if r.gateways.first().is_none() && r.table == 1000)
        );
    }

    #[test]
    fn multipath_counts_once_per_link_and_other_kinds_not_at_all() {
        let hop = |i: u32, gw: &str| {
            let mut h = RouteNextHop::default();
            h.interface_index = i;
            h.attributes = vec![RouteAttribute::Gateway(
                gw.parse::<IpAddr>().unwrap().into(),
            )];
            h
        };
        let m = msg(
            "0.0.0.0",
            0,
            vec![RouteAttribute::MultiPath(vec![
                hop(7, "10.0.0.2"),
                hop(8, "10.9.0.2"),
                hop(7, "10.0.0.3"),
            ])],
        );
        let got = one(&m, true);
        assert_eq!(got.len(), 2);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.2".parse().unwrap(), "10.0.0.3".parse().unwrap());
        assert!(matches!(got[0], (7, RouteChange::Put(r))
            if r.gateways.iter().collect::<Vec<_>>() == [a, b]
                && r.dst == "0.0.0.0/0".parse().unwrap()));
        assert_eq!(got[1].0, 8);
        let mut m = msg("10.3.0.0", 16, vec![RouteAttribute::Oif(7)]);
        m.header.kind = RouteType::Unreachable;
        assert!(one(&m, true).is_empty());
        let mut m = msg("10.3.0.1", 32, vec![RouteAttribute::Oif(7)]);
        m.header.flags = RouteFlags::Cloned;
        assert!(one(&m, true).is_empty());
    }

    #[test]
    fn events_from_bytes_and_garbage() {
        let m = msg("10.1.0.0", 16, vec![RouteAttribute::Oif(3)]);
        let mut nl = NetlinkMessage::from(RouteNetlinkMessage::NewRoute(m));
        nl.finalize();
        let mut buf = vec![0u8; nl.buffer_len()];
        nl.serialize(&mut buf);
        let mut out = Vec::new();
        parse_events(&buf, Some(4), &mut out);
        assert!(matches!(
            out[..],
            [RouteEvent::Changed {
                nsid: Some(4),
                oif: 3,
                change: RouteChange::Put(_)
            }]
        ));
        out.clear();
        parse_events(&buf[..buf.len() / 2], None, &mut out);
        parse_events(&[0xff; 64], None, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn the_fuzz_seeds_are_real_notifications() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/route_events");
        for (name, want) in [
            ("gateway", 1),
            ("via6", 1),
            ("del", 1),
            ("multipath", 2),
            ("two", 2),
        ] {
            let data = std::fs::read(dir.join(name)).unwrap();
            let mut out = Vec::new();
            parse_events(&data, None, &mut out);
            assert_eq!(out.len(), want, "{name}: {out:?}");
        }
    }
}
