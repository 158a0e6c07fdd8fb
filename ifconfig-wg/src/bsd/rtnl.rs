//! The few rtnetlink requests `ifconfig` makes on links that are not
//! wg: link flags, MTU, name and description (RTM_SETLINK), one address
//! added or deleted (RTM_NEWADDR / RTM_DELADDR), and a link's MTU range
//! (RTM_GETLINK). Each request is one message on a fresh socket,
//! answered by the kernel's ack; a refusal comes back as its errno.
//!
//! Messages are encoded by hand (this crate depends on proto and nix
//! only): a header, the family's fixed part, then type-length-value
//! attributes, each padded to four bytes (rtnetlink(7)).

use nix::errno::Errno;
use nix::sys::socket::{
    bind, recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;

const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_IFALIAS: u16 = 20;
const IFLA_MIN_MTU: u16 = 50;
const IFLA_MAX_MTU: u16 = 51;

const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;

const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
/// RT_SCOPE_HOST, which ip(8) gives addresses in 127/8.
const SCOPE_HOST: u8 = 254;

const HEADER: usize = 16;

/// An address as the kernel keeps it: the local address, its prefix
/// length, the other end of a point-to-point link, the broadcast address.
#[derive(Debug, Clone, PartialEq)]
pub struct Addr {
    pub local: IpAddr,
    pub prefix_len: u8,
    pub peer: Option<IpAddr>,
    pub broadcast: Option<IpAddr>,
}

struct Msg(Vec<u8>);

impl Msg {
    fn new(kind: u16, flags: u16) -> Msg {
        let mut b = vec![0u8; HEADER];
        b[4..6].copy_from_slice(&kind.to_ne_bytes());
        b[6..8].copy_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        b[8..12].copy_from_slice(&1u32.to_ne_bytes());
        Msg(b)
    }

    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
        while !self.0.len().is_multiple_of(4) {
            self.0.push(0);
        }
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) {
        let len = (4 + payload.len()) as u16;
        self.0.extend_from_slice(&len.to_ne_bytes());
        self.0.extend_from_slice(&kind.to_ne_bytes());
        self.bytes(payload);
    }

    fn ip(&mut self, kind: u16, ip: IpAddr) {
        match ip {
            IpAddr::V4(a) => self.attr(kind, &a.octets()),
            IpAddr::V6(a) => self.attr(kind, &a.octets()),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.0.len() as u32;
        self.0[0..4].copy_from_slice(&len.to_ne_bytes());
        self.0
    }
}

/// ifinfomsg: family, type, index, flags, change mask.
fn link_msg(kind: u16, index: u32, flags: u32, change: u32) -> Msg {
    let mut m = Msg::new(kind, NLM_F_ACK);
    let mut fixed = [0u8; 16];
    fixed[4..8].copy_from_slice(&index.to_ne_bytes());
    fixed[8..12].copy_from_slice(&flags.to_ne_bytes());
    fixed[12..16].copy_from_slice(&change.to_ne_bytes());
    m.bytes(&fixed);
    m
}

/// ifaddrmsg: family, prefix length, flags, scope, index.
fn addr_msg(kind: u16, flags: u16, index: u32, a: &Addr) -> Msg {
    let mut m = Msg::new(kind, NLM_F_ACK | flags);
    let family = if a.local.is_ipv4() { AF_INET } else { AF_INET6 };
    let scope = match a.local {
        IpAddr::V4(v4) if v4.octets()[0] == 127 && kind == RTM_NEWADDR => SCOPE_HOST,
        _ => 0,
    };
    let mut fixed = [0u8; 8];
    fixed[0] = family;
    fixed[1] = a.prefix_len;
    fixed[3] = scope;
    fixed[4..8].copy_from_slice(&index.to_ne_bytes());
    m.bytes(&fixed);
    m.ip(IFA_LOCAL, a.local);
    m.ip(IFA_ADDRESS, a.peer.unwrap_or(a.local));
    if let (Some(b), RTM_NEWADDR) = (a.broadcast, kind) {
        m.ip(IFA_BROADCAST, b);
    }
    m
}

fn open() -> Result<OwnedFd, Errno> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC,
        SockProtocol::NetlinkRoute,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
    Ok(fd)
}

/// Send one request; hand every reply message (type, body) to `each`
/// until the kernel acks, refuses (its errno) or ends a dump.
fn exchange(msg: Vec<u8>, mut each: impl FnMut(u16, &[u8])) -> Result<(), Errno> {
    let fd = open()?;
    sendto(
        fd.as_raw_fd(),
        &msg,
        &NetlinkAddr::new(0, 0),
        MsgFlags::empty(),
    )?;
    let mut buf = vec![0u8; 65536];
    loop {
        let n = recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
        let mut off = 0;
        while off + HEADER <= n {
            let len = u32::from_ne_bytes(buf[off..off + 4].try_into().unwrap()) as usize;
            let kind = u16::from_ne_bytes(buf[off + 4..off + 6].try_into().unwrap());
            if len < HEADER || off + len > n {
                return Err(Errno::EPROTO);
            }
            let body = &buf[off + HEADER..off + len];
            match kind {
                NLMSG_ERROR => {
                    let code = body
                        .get(0..4)
                        .map(|b| i32::from_ne_bytes(b.try_into().unwrap()))
                        .ok_or(Errno::EPROTO)?;
                    return if code == 0 {
                        Ok(())
                    } else {
                        Err(Errno::from_raw(-code))
                    };
                }
                NLMSG_DONE => return Ok(()),
                _ => each(kind, body),
            }
            off += (len + 3) & !3;
        }
    }
}

fn request(msg: Msg) -> Result<(), Errno> {
    exchange(msg.finish(), |_, _| {})
}

/// Set (`on`) or clear the Linux flag bits `mask` (IFF_UP, IFF_NOARP,
/// IFF_PROMISC, IFF_DEBUG); the others stay as they are.
pub fn set_flags(index: u32, mask: u32, on: bool) -> Result<(), Errno> {
    request(link_msg(
        RTM_SETLINK,
        index,
        if on { mask } else { 0 },
        mask,
    ))
}

pub fn set_mtu(index: u32, mtu: u32) -> Result<(), Errno> {
    let mut m = link_msg(RTM_SETLINK, index, 0, 0);
    m.attr(IFLA_MTU, &mtu.to_ne_bytes());
    request(m)
}

pub fn set_name(index: u32, name: &str) -> Result<(), Errno> {
    let mut m = link_msg(RTM_SETLINK, index, 0, 0);
    let mut z = name.as_bytes().to_vec();
    z.push(0);
    m.attr(IFLA_IFNAME, &z);
    request(m)
}

/// The link's description (Linux's ifalias); empty removes it.
pub fn set_description(index: u32, text: &str) -> Result<(), Errno> {
    let mut m = link_msg(RTM_SETLINK, index, 0, 0);
    m.attr(IFLA_IFALIAS, text.as_bytes());
    request(m)
}

/// Add an address that the link does not have (EEXIST if it has).
pub fn add_addr(index: u32, a: &Addr) -> Result<(), Errno> {
    request(addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, a))
}

/// Delete an address exactly as the kernel keeps it.
pub fn del_addr(index: u32, a: &Addr) -> Result<(), Errno> {
    request(addr_msg(RTM_DELADDR, 0, index, a))
}

/// The MTUs the link's driver accepts, when the kernel says.
pub fn mtu_range(index: u32) -> Result<Option<(u32, u32)>, Errno> {
    let m = link_msg(RTM_GETLINK, index, 0, 0);
    let (mut min, mut max) = (None, None);
    exchange(m.finish(), |kind, body| {
        if kind != RTM_NEWLINK || body.len() < 16 {
            return;
        }
        let mut at = 16;
        while at + 4 <= body.len() {
            let len = u16::from_ne_bytes([body[at], body[at + 1]]) as usize;
            let t = u16::from_ne_bytes([body[at + 2], body[at + 3]]) & 0x3fff;
            if len < 4 || at + len > body.len() {
                break;
            }
            let v = &body[at + 4..at + len];
            if v.len() == 4 {
                let n = u32::from_ne_bytes(v.try_into().unwrap());
                match t {
                    IFLA_MIN_MTU => min = Some(n),
                    IFLA_MAX_MTU => max = Some(n),
                    _ => {}
                }
            }
            at += (len + 3) & !3;
        }
    })?;
    Ok(min.zip(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_request_is_laid_out_as_rtnetlink_wants() {
        let a = Addr {
            local: "192.0.2.2".parse().unwrap(),
            prefix_len: 24,
            peer: None,
            broadcast: Some("192.0.2.255".parse().unwrap()),
        };
        let b = addr_msg(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, 7, &a).finish();
        assert_eq!(b.len(), 16 + 8 + 3 * 8);
        assert_eq!(
            u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize,
            b.len()
        );
        assert_eq!(&b[16..20], &[AF_INET, 24, 0, 0]);
        assert_eq!(u32::from_ne_bytes(b[20..24].try_into().unwrap()), 7);
        // IFA_LOCAL, IFA_ADDRESS (the local address again), IFA_BROADCAST.
        assert_eq!(&b[24..32], &[8, 0, 2, 0, 192, 0, 2, 2]);
        assert_eq!(&b[32..40], &[8, 0, 1, 0, 192, 0, 2, 2]);
        assert_eq!(&b[40..48], &[8, 0, 4, 0, 192, 0, 2, 255]);
        // A deletion carries no broadcast address.
        assert_eq!(addr_msg(RTM_DELADDR, 0, 7, &a).finish().len(), 16 + 8 + 16);
    }

    #[test]
    fn names_are_padded_and_terminated() {
        let mut m = link_msg(RTM_SETLINK, 3, 0, 0);
        m.attr(IFLA_IFNAME, b"lan0\0");
        let b = m.finish();
        assert_eq!(
            &b[32..44],
            &[9, 0, 3, 0, b'l', b'a', b'n', b'0', 0, 0, 0, 0]
        );
    }

    #[test]
    fn the_loopback_mtu_range_is_read() {
        // Any namespace has lo at index 1; reading needs no privilege.
        let r = mtu_range(1).unwrap();
        assert!(r.is_none_or(|(lo, hi)| lo <= hi), "{r:?}");
    }
}
