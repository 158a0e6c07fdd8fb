//! A subscription to rtnetlink notification groups, at home and in every
//! namespace that has an id there, holding none of them open: what the
//! link and route watchers each read.

use super::set_recv_timeout;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::Duration;

pub const RTMGRP_LINK: u32 = 0x1;
pub const RTMGRP_IPV4_IFADDR: u32 = 0x10;
pub const RTMGRP_IPV4_ROUTE: u32 = 0x40;
pub const RTMGRP_IPV6_IFADDR: u32 = 0x100;
pub const RTMGRP_IPV6_ROUTE: u32 = 0x400;

pub struct Subscription {
    sock: Socket,
    buf: Vec<u8>,
    wait: Option<Duration>,
}

impl Subscription {
    /// Listen to `groups` (`RTMGRP_*`) in every namespace.
    pub fn open(groups: u32) -> io::Result<Subscription> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(0, groups))?;
        sock.set_listen_all_namespaces(true)?;
        Ok(Subscription {
            sock,
            buf: vec![0u8; 1 << 16],
            wait: None,
        })
    }

    /// The socket, to wait on with others.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// From now on `recv` waits at most `d` (`None`, or zero: until a
    /// datagram comes).
    pub fn wait_at_most(&mut self, d: Option<Duration>) -> io::Result<()> {
        if self.wait == d {
            return Ok(());
        }
        let d = d.unwrap_or_default();
        set_recv_timeout(&self.sock, d)?;
        self.wait = (!d.is_zero()).then_some(d);
        Ok(())
    }

    /// The next datagram of notifications, and the id of the namespace
    /// it came from if not home.
    pub fn recv(&mut self) -> io::Result<(&[u8], Option<i32>)> {
        let mut iov = libc::iovec {
            iov_base: self.buf.as_mut_ptr().cast(),
            iov_len: self.buf.len(),
        };
        let mut cbuf = [0u64; 8];
        // SAFETY: a zeroed msghdr is valid; the pointers set below outlive
        // the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        // SAFETY: recvmsg into the buffers described by `msg`.
        let n = unsafe { libc::recvmsg(self.sock.as_raw_fd(), &mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut nsid = None;
        // SAFETY: walking the control messages the kernel wrote into `cbuf`.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_NETLINK
                    && (*c).cmsg_type == libc::NETLINK_LISTEN_ALL_NSID
                {
                    nsid = Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>()));
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok((&self.buf[..n as usize], nsid))
    }
}
