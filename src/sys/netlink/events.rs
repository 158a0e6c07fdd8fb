//! The kernel's link and address notifications, from every namespace:
//! what the link watcher (`crate::linkwatch`) reads.

use super::subscription::*;
use super::Where;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::link::LinkFlags;
use netlink_packet_route::route::{RouteAttribute, RouteType};
use netlink_packet_route::RouteNetlinkMessage;
use std::io;
use std::time::Duration;

pub enum LinkEvent {
    /// Flags, MTU, name or addresses of a link may have changed, or IPv6
    /// came back on it (the kernel's multicast route for ff00::/8
    /// reappeared).
    Changed(Where),
    /// Deleted, or moved to another namespace.
    Deleted(Where),
    /// Linux dropped the link's IPv6 addresses at this event: it was
    /// down, or its IPv6 started afresh (it may be up again, or IPv6
    /// back, by the time the event is read).
    Ipv6Lost(Where),
    /// Events were lost (socket buffer overrun): recheck everything.
    Lost,
    /// A second without events: time to look at what events cannot say
    /// (a namespace torn down takes its links without telling us).
    Quiet,
}

/// A subscription to the kernel's link and address notifications, in
/// the home namespace and in every namespace that has an id there (one
/// that a link of ours was moved to gets one), without holding any of
/// them open.
pub struct LinkEvents(Subscription);

impl LinkEvents {
    pub fn open() -> io::Result<LinkEvents> {
        let groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE;
        Subscription::open(groups).map(LinkEvents)
    }

    /// From now on `next` waits at most `d` (`None`: until an event).
    pub fn wait_at_most(&mut self, d: Option<Duration>) -> io::Result<()> {
        self.0.wait_at_most(d)
    }

    /// Block for the next batch of events (at most as long as
    /// `wait_at_most` said).
    pub fn next(&mut self, out: &mut Vec<LinkEvent>) {
        out.clear();
        let (buf, nsid) = match self.0.recv() {
            Ok(r) => r,
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                out.push(LinkEvent::Lost);
                return;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                out.push(LinkEvent::Quiet);
                return;
            }
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                return;
            }
        };
        let at = |index: u32| Where { nsid, index };
        let mut off = 0;
        while off < buf.len() {
            let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[off..]) else {
                break;
            };
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    if !m.header.flags.contains(LinkFlags::Up) {
                        out.push(LinkEvent::Ipv6Lost(at(m.header.index)));
                    }
                    out.push(LinkEvent::Changed(at(m.header.index)))
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) => {
                    out.push(LinkEvent::Deleted(at(m.header.index)))
                }
                NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewAddress(m) | RouteNetlinkMessage::DelAddress(m),
                ) => out.push(LinkEvent::Changed(at(m.header.index))),
                // IPv6 (re)starting on a link adds this route; every other
                // route change is none of our business.
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(r))
                    if r.header.kind == RouteType::Multicast
                        && r.header.destination_prefix_length == 8 =>
                {
                    if let Some(oif) = r.attributes.iter().find_map(|a| match a {
                        RouteAttribute::Oif(i) => Some(*i),
                        _ => None,
                    }) {
                        out.push(LinkEvent::Ipv6Lost(at(oif)));
                        out.push(LinkEvent::Changed(at(oif)));
                    }
                }
                _ => {}
            }
            if len == 0 {
                break;
            }
            off += (len + 3) & !3;
        }
    }
}
