//! Link configuration over rtnetlink: up/down, IFF_MULTICAST, MTU,
//! addresses, and turning off the automatic IPv6 link-local address.
//!
//! Messages are built with netlink-packet-route and sent on a blocking
//! netlink-sys socket; each call waits for the kernel's ack.

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute, LinkFlags, LinkMessage,
};
use netlink_packet_route::route::{RouteAttribute, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use proto::IfAddr;
use std::io;
use std::net::IpAddr;

/// Open a netlink socket and send one request on it.
fn send(msg: RouteNetlinkMessage, flags: u16) -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    // Dumps honour the filters in the request (an address dump only
    // the link asked for), instead of listing the whole host.
    sock.set_netlink_get_strict_chk(true)?;
    sock.bind_auto()?;
    sock.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | flags;
    header.sequence_number = 1;
    let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
    nl.finalize();
    let mut buf = vec![0u8; nl.buffer_len()];
    nl.serialize(&mut buf);
    sock.send(&buf, 0)?;
    Ok(sock)
}

/// Send a request and read the kernel's replies until it is done (an
/// ack, an error, or the end of a dump), handing each message to `each`.
fn exchange(
    msg: RouteNetlinkMessage,
    flags: u16,
    mut each: impl FnMut(RouteNetlinkMessage),
) -> io::Result<()> {
    let sock = send(msg, flags)?;
    let mut rbuf = vec![0u8; 65536];
    loop {
        let n = sock.recv(&mut &mut rbuf[..], 0)?;
        let mut off = 0;
        while off < n {
            let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[off..n])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let len = reply.header.length as usize;
            match reply.payload {
                NetlinkPayload::Error(e) => {
                    return match e.code {
                        None => Ok(()),
                        Some(c) => Err(io::Error::from_raw_os_error(-c.get())),
                    }
                }
                NetlinkPayload::Done(_) => return Ok(()),
                NetlinkPayload::InnerMessage(m) => each(m),
                _ => {}
            }
            if len == 0 {
                break;
            }
            off += (len + 3) & !3;
        }
    }
}

/// Send a request and wait for the kernel's ack.
fn request(msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
    exchange(msg, NLM_F_ACK | flags, |_| {})
}

fn link_msg(ifindex: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = ifindex;
    m
}

/// Set or clear IFF_UP and IFF_MULTICAST; leave the other flags alone.
pub fn set_flags(ifindex: u32, up: Option<bool>, multicast: Option<bool>) -> io::Result<()> {
    let mut m = link_msg(ifindex);
    for (want, flag) in [(up, LinkFlags::Up), (multicast, LinkFlags::Multicast)] {
        if let Some(on) = want {
            m.header.change_mask |= flag;
            if on {
                m.header.flags |= flag;
            }
        }
    }
    request(RouteNetlinkMessage::SetLink(m), 0)
}

/// Put a link in link group `group` (IFLA_GROUP).
pub fn set_group(ifindex: u32, group: u32) -> io::Result<()> {
    let mut m = link_msg(ifindex);
    m.attributes.push(LinkAttribute::Group(group));
    request(RouteNetlinkMessage::SetLink(m), 0)
}

/// Delete every link of `group` in one request: the kernel unregisters
/// them as one batch, paying its synchronisation once instead of once
/// per link (about 20 ms each).
pub fn delete_group(group: u32) -> io::Result<()> {
    let mut m = link_msg(0);
    m.attributes.push(LinkAttribute::Group(group));
    request(RouteNetlinkMessage::DelLink(m), 0)
}

/// Rename a link (it must be down).
pub fn set_name(ifindex: u32, name: &str) -> io::Result<()> {
    let mut m = link_msg(ifindex);
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    request(RouteNetlinkMessage::SetLink(m), 0)
}

pub fn set_mtu(ifindex: u32, mtu: u32) -> io::Result<()> {
    let mut m = link_msg(ifindex);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    request(RouteNetlinkMessage::SetLink(m), 0)
}

/// No automatic IPv6 link-local address, as on a BSD wg interface.
pub fn disable_ipv6_autoconf(ifindex: u32) -> io::Result<()> {
    let mut m = link_msg(ifindex);
    m.attributes
        .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
            vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
        )]));
    match request(RouteNetlinkMessage::SetLink(m), 0) {
        // A host without IPv6 has nothing to turn off.
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => Ok(()),
        r => r,
    }
}

fn addr_msg(ifindex: u32, a: &IfAddr) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.index = ifindex;
    m.header.prefix_len = a.prefix_len;
    m.header.family = match a.addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.attributes.push(AddressAttribute::Local(a.addr));
    // IFA_ADDRESS is the peer on a point-to-point link, else the address.
    m.attributes
        .push(AddressAttribute::Address(a.dest.unwrap_or(a.addr)));
    m
}

pub fn add_address(ifindex: u32, a: &IfAddr) -> io::Result<()> {
    request(
        RouteNetlinkMessage::NewAddress(addr_msg(ifindex, a)),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

pub fn delete_address(ifindex: u32, a: &IfAddr) -> io::Result<()> {
    match request(RouteNetlinkMessage::DelAddress(addr_msg(ifindex, a)), 0) {
        // Already gone (Linux drops IPv6 addresses on down): fine.
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
        r => r,
    }
}

/// IPv6 on a link as the kernel has it now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv6 {
    /// None at all: the host has no IPv6, it is disabled on the link, or
    /// the MTU is below 1280 (Linux then drops the link's IPv6 state).
    Off,
    /// Working; `auto_off` is false when the kernel would generate a
    /// link-local address again (its state was rebuilt with defaults).
    On { auto_off: bool },
}

/// The kernel's view of a link.
pub struct LinkState {
    pub up: bool,
    pub mtu: u32,
    pub ipv6: Ipv6,
}

fn ipv6_of(m: &LinkMessage) -> Ipv6 {
    let mut ipv6 = Ipv6::Off;
    for a in &m.attributes {
        let LinkAttribute::AfSpecUnspec(specs) = a else {
            continue;
        };
        for spec in specs {
            let AfSpecUnspec::Inet6(attrs) = spec else {
                continue;
            };
            let mut disabled = false;
            let mut auto_off = false;
            for a in attrs {
                match a {
                    AfSpecInet6::DevConf(c) => disabled = c.disable_ipv6 != 0,
                    AfSpecInet6::AddrGenMode(m) => auto_off = *m == In6AddrGenMode::None,
                    _ => {}
                }
            }
            if !disabled {
                ipv6 = Ipv6::On { auto_off };
            }
        }
    }
    ipv6
}

pub fn link_state(ifindex: u32) -> io::Result<LinkState> {
    let sock = send(RouteNetlinkMessage::GetLink(link_msg(ifindex)), 0)?;
    let mut rbuf = vec![0u8; 65536];
    let n = sock.recv(&mut &mut rbuf[..], 0)?;
    let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rbuf[..n])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
    match reply.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
            let up = m.header.flags.contains(LinkFlags::Up);
            let mtu = m
                .attributes
                .iter()
                .find_map(|a| match a {
                    LinkAttribute::Mtu(v) => Some(*v),
                    _ => None,
                })
                .unwrap_or(0);
            Ok(LinkState {
                up,
                mtu,
                ipv6: ipv6_of(&m),
            })
        }
        NetlinkPayload::Error(e) => Err(match e.code {
            Some(c) => io::Error::from_raw_os_error(-c.get()),
            None => io::Error::from(io::ErrorKind::InvalidData),
        }),
        _ => Err(io::Error::from(io::ErrorKind::InvalidData)),
    }
}

/// Send a dump request and collect every message of the reply.
fn dump(msg: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut out = Vec::new();
    exchange(msg, NLM_F_DUMP, |m| out.push(m))?;
    Ok(out)
}

/// Every address of a link, as the kernel has it now, in its order
/// (the primary IPv4 address first).
pub fn addresses(ifindex: u32) -> io::Result<Vec<IfAddr>> {
    let mut req = AddressMessage::default();
    req.header.index = ifindex;
    let mut out = Vec::new();
    for m in dump(RouteNetlinkMessage::GetAddress(req))? {
        let RouteNetlinkMessage::NewAddress(a) = m else {
            continue;
        };
        if a.header.index == ifindex {
            out.extend(if_addr(&a));
        }
    }
    Ok(out)
}

/// IFA_LOCAL is our address; IFA_ADDRESS is the peer on a point-to-point
/// link and the address itself otherwise.
fn if_addr(a: &AddressMessage) -> Option<IfAddr> {
    let (mut local, mut address) = (None, None);
    for x in &a.attributes {
        match x {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    let addr = local.or(address)?;
    Some(IfAddr {
        addr,
        prefix_len: a.header.prefix_len,
        dest: address.filter(|d| *d != addr),
    })
}

/// The IPv6 link-local addresses of a link.
pub fn link_locals(ifindex: u32) -> io::Result<Vec<IfAddr>> {
    Ok(addresses(ifindex)?
        .into_iter()
        .filter(|a| matches!(a.addr, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
        .collect())
}

pub enum LinkEvent {
    /// Flags, MTU, name or addresses of a link may have changed, or IPv6
    /// came back on it (the kernel's multicast route for ff00::/8
    /// reappeared).
    Changed(u32),
    Deleted(u32),
    /// Linux dropped the link's IPv6 addresses at this event: it was
    /// down, or its IPv6 started afresh (it may be up again, or IPv6
    /// back, by the time the event is read).
    Ipv6Lost(u32),
    /// Events were lost (socket buffer overrun): recheck everything.
    Lost,
}

/// A subscription to the kernel's link and address notifications.
pub struct LinkEvents {
    sock: Socket,
    buf: Vec<u8>,
}

const RTMGRP_LINK: u32 = 1;
const RTMGRP_IPV4_IFADDR: u32 = 0x10;
const RTMGRP_IPV6_IFADDR: u32 = 0x100;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;

impl LinkEvents {
    pub fn open() -> io::Result<LinkEvents> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        let groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE;
        sock.bind(&SocketAddr::new(0, groups))?;
        Ok(LinkEvents {
            sock,
            buf: vec![0u8; 1 << 16],
        })
    }

    /// Block for the next batch of events.
    pub fn next(&mut self, out: &mut Vec<LinkEvent>) {
        out.clear();
        let n = match self.sock.recv(&mut &mut self.buf[..], 0) {
            Ok(n) => n,
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                out.push(LinkEvent::Lost);
                return;
            }
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(100));
                return;
            }
        };
        let mut off = 0;
        while off < n {
            let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
            else {
                break;
            };
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    if !m.header.flags.contains(LinkFlags::Up) {
                        out.push(LinkEvent::Ipv6Lost(m.header.index));
                    }
                    out.push(LinkEvent::Changed(m.header.index))
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) => {
                    out.push(LinkEvent::Deleted(m.header.index))
                }
                NetlinkPayload::InnerMessage(
                    RouteNetlinkMessage::NewAddress(m) | RouteNetlinkMessage::DelAddress(m),
                ) => out.push(LinkEvent::Changed(m.header.index)),
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
                        out.push(LinkEvent::Ipv6Lost(oif));
                        out.push(LinkEvent::Changed(oif));
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
