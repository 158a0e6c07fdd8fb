//! The interface's UDP sockets: one IPv4 and one IPv6 socket on the same
//! port, and batched receive/send (recvmmsg/sendmmsg).
//!
//! Buffers are allocated once per batch object, never per packet. The
//! batch shape leaves room for UDP GSO/GRO: a slot would then carry a
//! segment size next to its length.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

/// The bound pair. `v6` is `None` when the host has no IPv6.
pub struct Sockets {
    pub v4: UdpSocket,
    pub v6: Option<UdpSocket>,
    pub port: u16,
}

fn is_no_ipv6(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EAFNOSUPPORT) | Some(libc::EADDRNOTAVAIL) | Some(libc::EPROTONOSUPPORT)
    )
}

fn bind_v6(port: u16) -> io::Result<UdpSocket> {
    let fd = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Inet6,
        nix::sys::socket::SockType::Datagram,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::Ipv6V6Only, &true)?;
    let addr =
        nix::sys::socket::SockaddrIn6::from(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
    nix::sys::socket::bind(fd.as_raw_fd(), &addr)?;
    Ok(UdpSocket::from(fd))
}

impl Sockets {
    /// Bind both families to `port` (0: let the kernel pick one that is
    /// free for both).
    pub fn bind(port: u16, mark: u32) -> io::Result<Sockets> {
        let tries = if port == 0 { 100 } else { 1 };
        let mut last = io::Error::from(io::ErrorKind::AddrInUse);
        for _ in 0..tries {
            let v4 = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
            let bound = v4.local_addr()?.port();
            match bind_v6(bound) {
                Ok(v6) => return Sockets::finish(v4, Some(v6), bound, mark),
                Err(e) if is_no_ipv6(&e) => return Sockets::finish(v4, None, bound, mark),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn finish(v4: UdpSocket, v6: Option<UdpSocket>, port: u16, mark: u32) -> io::Result<Sockets> {
        let s = Sockets { v4, v6, port };
        s.set_mark(mark)?;
        for sock in s.all() {
            sock.set_nonblocking(true)?;
            set_buffers(sock);
        }
        Ok(s)
    }

    pub fn all(&self) -> impl Iterator<Item = &UdpSocket> {
        std::iter::once(&self.v4).chain(self.v6.iter())
    }

    /// SO_MARK on both sockets (0 clears it).
    pub fn set_mark(&self, mark: u32) -> io::Result<()> {
        for s in self.all() {
            nix::sys::socket::setsockopt(s, nix::sys::socket::sockopt::Mark, &mark)?;
        }
        Ok(())
    }
}

/// Socket buffer size: bursts from a fast sender must not overflow the
/// receive queue before the worker drains it (wireguard-go uses 7 MiB).
const SOCKET_BUFFER: usize = 7 << 20;

/// Large buffers; as root beyond net.core.{r,w}mem_max, else up to it.
fn set_buffers(sock: &UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    if setsockopt(sock, sockopt::RcvBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(sock, sockopt::RcvBuf, &SOCKET_BUFFER);
    }
    if setsockopt(sock, sockopt::SndBufForce, &SOCKET_BUFFER).is_err() {
        let _ = setsockopt(sock, sockopt::SndBuf, &SOCKET_BUFFER);
    }
}

/// Largest UDP payload.
pub const MAX_DATAGRAM: usize = 65536;

fn to_storage(a: &SocketAddr, st: &mut libc::sockaddr_storage) -> libc::socklen_t {
    // SAFETY: sockaddr_storage is large and aligned enough for both.
    unsafe {
        match a {
            SocketAddr::V4(a) => {
                let sin = st as *mut _ as *mut libc::sockaddr_in;
                (*sin).sin_family = libc::AF_INET as libc::sa_family_t;
                (*sin).sin_port = a.port().to_be();
                (*sin).sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
                mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
            }
            SocketAddr::V6(a) => {
                let sin6 = st as *mut _ as *mut libc::sockaddr_in6;
                (*sin6).sin6_family = libc::AF_INET6 as libc::sa_family_t;
                (*sin6).sin6_port = a.port().to_be();
                (*sin6).sin6_flowinfo = 0;
                (*sin6).sin6_addr.s6_addr = a.ip().octets();
                (*sin6).sin6_scope_id = a.scope_id();
                mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
            }
        }
    }
}

fn from_storage(st: &libc::sockaddr_storage) -> Option<SocketAddr> {
    // SAFETY: the family field says which view is valid.
    unsafe {
        match st.ss_family as i32 {
            libc::AF_INET => {
                let sin = &*(st as *const _ as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let sin6 = &*(st as *const _ as *const libc::sockaddr_in6);
                let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
                let a = SocketAddrV6::new(ip, u16::from_be(sin6.sin6_port), 0, sin6.sin6_scope_id);
                // An IPv4-mapped source is an IPv4 peer.
                match ip.to_ipv4_mapped() {
                    Some(v4) => Some(SocketAddr::V4(SocketAddrV4::new(v4, a.port()))),
                    None => Some(SocketAddr::V6(a)),
                }
            }
            _ => None,
        }
    }
}

/// Slots for many datagrams: received into, or queued to send.
pub struct Batch {
    bufs: Vec<Box<[u8]>>,
    lens: Vec<usize>,
    addrs: Vec<Option<SocketAddr>>,
    count: usize,
    // Scratch for the syscalls, reused on every call.
    storage: Vec<libc::sockaddr_storage>,
    iovecs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

// SAFETY: the raw pointers in the scratch vectors are rebuilt on every call
// and never used across calls.
unsafe impl Send for Batch {}

impl Batch {
    pub fn new(slots: usize, slot_size: usize) -> Batch {
        Batch {
            bufs: (0..slots)
                .map(|_| vec![0u8; slot_size].into_boxed_slice())
                .collect(),
            lens: vec![0; slots],
            addrs: vec![None; slots],
            count: 0,
            // SAFETY: all-zero is a valid value for these C structs.
            storage: vec![unsafe { mem::zeroed() }; slots],
            iovecs: vec![unsafe { mem::zeroed() }; slots],
            hdrs: vec![unsafe { mem::zeroed() }; slots],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn is_full(&self) -> bool {
        self.count == self.bufs.len()
    }

    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Received datagram `i`: payload and source.
    pub fn get(&self, i: usize) -> (&[u8], Option<SocketAddr>) {
        (&self.bufs[i][..self.lens[i]], self.addrs[i])
    }

    /// The next free slot to fill before [`Batch::commit`]. Callers flush
    /// a full batch first.
    pub fn slot(&mut self) -> &mut [u8] {
        debug_assert!(!self.is_full(), "slot() on a full batch");
        &mut self.bufs[self.count]
    }

    /// Queue the first `len` bytes of the slot for `to`.
    pub fn commit(&mut self, len: usize, to: SocketAddr) {
        self.lens[self.count] = len;
        self.addrs[self.count] = Some(to);
        self.count += 1;
    }

    /// Fill the batch from `fd` without blocking; returns how many arrived
    /// (0 if none were waiting).
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let n = self.bufs.len();
        for i in 0..n {
            self.iovecs[i] = libc::iovec {
                iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                iov_len: self.bufs[i].len(),
            };
            // SAFETY: zeroed msghdr then pointers into our own vectors.
            let mut h: libc::msghdr = unsafe { mem::zeroed() };
            h.msg_name = &mut self.storage[i] as *mut _ as *mut libc::c_void;
            h.msg_namelen = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.iovecs[i];
            h.msg_iovlen = 1;
            self.hdrs[i] = libc::mmsghdr {
                msg_hdr: h,
                msg_len: 0,
            };
        }
        // SAFETY: every header points at live buffers owned by self.
        let r = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            self.count = 0;
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        let r = r as usize;
        for i in 0..r {
            self.lens[i] = self.hdrs[i].msg_len as usize;
            self.addrs[i] = from_storage(&self.storage[i]);
        }
        self.count = r;
        Ok(r)
    }

    /// Send every queued datagram whose destination `sock_for` maps to a
    /// socket; returns (sent, failed) and the first error. Clears the batch.
    pub fn send(&mut self, socks: &Sockets) -> (usize, usize, Option<io::Error>) {
        let mut sent = 0;
        let mut failed = 0;
        let mut first_err = None;
        for v6 in [false, true] {
            let sock = match (v6, &socks.v6) {
                (false, _) => &socks.v4,
                (true, Some(s)) => s,
                (true, None) => {
                    failed += self.addrs[..self.count]
                        .iter()
                        .filter(|a| matches!(a, Some(SocketAddr::V6(_))))
                        .count();
                    continue;
                }
            };
            let mut m = 0;
            for i in 0..self.count {
                let Some(a) = self.addrs[i] else { continue };
                if a.is_ipv6() != v6 {
                    continue;
                }
                let len = to_storage(&a, &mut self.storage[m]);
                self.iovecs[m] = libc::iovec {
                    iov_base: self.bufs[i].as_mut_ptr() as *mut libc::c_void,
                    iov_len: self.lens[i],
                };
                // SAFETY: as in recv.
                let mut h: libc::msghdr = unsafe { mem::zeroed() };
                h.msg_name = &mut self.storage[m] as *mut _ as *mut libc::c_void;
                h.msg_namelen = len;
                h.msg_iov = &mut self.iovecs[m];
                h.msg_iovlen = 1;
                self.hdrs[m] = libc::mmsghdr {
                    msg_hdr: h,
                    msg_len: 0,
                };
                m += 1;
            }
            let mut off = 0;
            while off < m {
                // SAFETY: headers [off, m) point at live buffers.
                let r = unsafe {
                    libc::sendmmsg(
                        sock.as_raw_fd(),
                        self.hdrs[off..].as_mut_ptr(),
                        (m - off) as libc::c_uint,
                        0,
                    )
                };
                if r < 0 {
                    let e = io::Error::last_os_error();
                    if e.kind() == io::ErrorKind::Interrupted {
                        continue;
                    }
                    if e.kind() == io::ErrorKind::WouldBlock {
                        // Socket buffer full: wait briefly for room.
                        let _ = wait_writable(sock.as_raw_fd());
                        continue;
                    }
                    // Skip the datagram that failed, keep going.
                    failed += 1;
                    off += 1;
                    first_err.get_or_insert(e);
                    continue;
                }
                sent += r as usize;
                off += r as usize;
            }
        }
        self.count = 0;
        (sent, failed, first_err)
    }
}

fn wait_writable(fd: RawFd) -> io::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    // SAFETY: fd is owned by the caller for this call.
    let b = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let mut fds = [PollFd::new(b, PollFlags::POLLOUT)];
    poll(&mut fds, PollTimeout::from(100u16))?;
    Ok(())
}
