//! Link configuration over rtnetlink: up/down, IFF_MULTICAST, MTU,
//! addresses, and turning off the automatic IPv6 link-local address.
//!
//! Messages are built with netlink-packet-route and sent on a blocking
//! netlink-sys socket; each call waits for the kernel's ack. Requests go
//! to the home namespace unless made inside `in_netns` (a moved link).

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, LinkAttribute, LinkFlags, LinkMessage,
};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use proto::IfAddr;
use std::cell::Cell;
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

mod events;
mod subscription;
pub use events::{LinkEvent, LinkEvents};
pub use subscription::*;

thread_local! {
    /// The namespace this thread's netlink requests go to (`in_netns`);
    /// none = home.
    static TARGET: Cell<Option<RawFd>> = const { Cell::new(None) };
}

/// Run `f` with every netlink request it makes sent in namespace `ns`
/// (`None`: home), where a moved link is.
pub fn in_netns<T>(ns: Option<BorrowedFd<'_>>, f: impl FnOnce() -> T) -> T {
    let before = TARGET.with(|t| t.replace(ns.map(|n| n.as_raw_fd())));
    let r = f();
    TARGET.with(|t| t.set(before));
    r
}

fn new_socket() -> io::Result<Socket> {
    match TARGET.with(|t| t.get()) {
        None => Socket::new(NETLINK_ROUTE),
        Some(fd) => {
            // SAFETY: `in_netns` keeps the descriptor borrowed for as long
            // as TARGET holds it.
            let ns = unsafe { BorrowedFd::borrow_raw(fd) };
            crate::sys::netns::run_in(ns, || Socket::new(NETLINK_ROUTE))
        }
    }
}

/// Open a netlink socket and send one request on it.
fn send(msg: RouteNetlinkMessage, flags: u16) -> io::Result<Socket> {
    let mut sock = new_socket()?;
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

/// Set one attribute of a link.
fn set_link(ifindex: u32, a: LinkAttribute) -> io::Result<()> {
    let mut m = link_msg(ifindex);
    m.attributes.push(a);
    request(RouteNetlinkMessage::SetLink(m), 0)
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
    set_link(ifindex, LinkAttribute::Group(group))
}

/// Delete every link of `group` in one request: the kernel unregisters
/// them as one batch, paying its synchronisation once instead of once
/// per link (about 20 ms each).
pub fn delete_group(group: u32) -> io::Result<()> {
    let mut m = link_msg(0);
    m.attributes.push(LinkAttribute::Group(group));
    request(RouteNetlinkMessage::DelLink(m), 0)
}

/// Give the link the `noqueue` root queueing discipline (as WireGuard's
/// own links have), before it first goes up. A multi-queue TUN device
/// has 256 transmit queues, and the default `mq` discipline would make
/// one pfifo_fast for each on every up, and free them on delete; the TUN
/// device drops itself when its ring is full, so they never held anything.
pub fn no_queue(ifindex: u32) -> io::Result<()> {
    let mut m = TcMessage::default();
    m.header.index = ifindex as i32;
    m.header.parent = TcHandle::ROOT;
    m.attributes.push(TcAttribute::Kind("noqueue".into()));
    request(
        RouteNetlinkMessage::NewQueueDiscipline(m),
        NLM_F_CREATE | NLM_F_REPLACE,
    )
}

/// Rename a link (it must be down).
pub fn set_name(ifindex: u32, name: &str) -> io::Result<()> {
    set_link(ifindex, LinkAttribute::IfName(name.to_string()))
}

/// Move a link into namespace `ns` (it keeps its name).
pub fn move_to(ifindex: u32, ns: BorrowedFd<'_>) -> io::Result<()> {
    set_link(ifindex, LinkAttribute::NetNsFd(ns.as_raw_fd()))
}

/// The index of the link called `name`.
pub fn index_of(name: &str) -> io::Result<u32> {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    let mut index = None;
    exchange(RouteNetlinkMessage::GetLink(m), NLM_F_ACK, |r| {
        if let RouteNetlinkMessage::NewLink(l) = r {
            index = Some(l.header.index);
        }
    })?;
    index.ok_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))
}

/// The id the home namespace has for namespace `ns`, giving it one if
/// it has none (events from there then reach us).
pub fn nsid_of(ns: BorrowedFd<'_>) -> io::Result<i32> {
    let ask = || {
        let mut m = NsidMessage::default();
        m.attributes.push(NsidAttribute::Fd(ns.as_raw_fd() as u32));
        m
    };
    // -1: none assigned.
    let get = || -> io::Result<i32> {
        let mut id = -1;
        exchange(RouteNetlinkMessage::GetNsId(ask()), NLM_F_ACK, |r| {
            if let RouteNetlinkMessage::NewNsId(m) = r {
                for a in &m.attributes {
                    if let NsidAttribute::Id(i) = a {
                        id = *i;
                    }
                }
            }
        })?;
        Ok(id)
    };
    let id = get()?;
    if id >= 0 {
        return Ok(id);
    }
    let mut m = ask();
    m.attributes.push(NsidAttribute::Id(-1));
    request(RouteNetlinkMessage::NewNsId(m), 0)?;
    let id = get()?;
    if id < 0 {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    }
    Ok(id)
}

/// The most segments the kernel may put in one segmentation-offload
/// super-packet it hands the link.
pub fn set_gso_max_segs(ifindex: u32, segs: u32) -> io::Result<()> {
    set_link(ifindex, LinkAttribute::GsoMaxSegs(segs))
}

pub fn set_mtu(ifindex: u32, mtu: u32) -> io::Result<()> {
    set_link(ifindex, LinkAttribute::Mtu(mtu))
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
pub(super) fn dump(msg: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
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

/// Which link an event is about: its index in the namespace the event
/// came from, and that namespace's id as seen from home (`None`: home).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Where {
    pub nsid: Option<i32>,
    pub index: u32,
}

/// Receives on `sock` wait at most `d` (zero: until something comes).
pub fn set_recv_timeout(sock: &Socket, d: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: setsockopt with a timeval that lives through the call.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    (r >= 0).then_some(()).ok_or_else(io::Error::last_os_error)
}

/// The name of interface `index` in our namespace, if it exists (a
/// scope id's name).
pub fn name_of(index: u32) -> Option<String> {
    nix::net::if_::if_indextoname(index)
        .ok()
        .and_then(|c| c.into_string().ok())
}
