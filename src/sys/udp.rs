//! The interface's UDP sockets: one IPv4 and one IPv6 socket on the same
//! port, driven through quinn-udp: recvmmsg with UDP GRO on receive (one
//! buffer may hold many datagrams of the same sender, `stride` apart),
//! sendmsg with UDP GSO on send (one call carries a run of equal-size
//! datagrams to one destination), and the destination address of every
//! received datagram (IP_PKTINFO / IPV6_RECVPKTINFO). Where the kernel
//! lacks GSO or GRO, quinn-udp falls back to one datagram per buffer.

use quinn_udp::{RecvMeta, Transmit, UdpSockRef, UdpSocketState};
use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

pub use quinn_udp::BATCH_SIZE as RECV_BATCH;

/// One bound socket and quinn-udp's knowledge of what it supports.
pub struct Socket {
    sock: UdpSocket,
    state: UdpSocketState,
}

/// The bound pair. `v6` is `None` when the host has no IPv6.
pub struct Sockets {
    pub v4: Socket,
    pub v6: Option<Socket>,
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

impl Socket {
    fn new(sock: UdpSocket, v6: bool) -> io::Result<Socket> {
        sock.set_nonblocking(true)?;
        let state = UdpSocketState::new(UdpSockRef::from(&sock))?;
        // quinn-udp forbids fragmentation (it probes the path MTU itself);
        // WireGuard leaves that to the kernel, as wireguard-go and the
        // Linux driver do: back to the system default.
        let (level, opt, want) = if v6 {
            (
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                libc::IPV6_PMTUDISC_WANT,
            )
        } else {
            (
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                libc::IP_PMTUDISC_WANT,
            )
        };
        set_int(&sock, level, opt, want)?;
        set_buffers(&sock);
        Ok(Socket { sock, state })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    /// Receive without blocking into `bufs`; `WouldBlock` when nothing is
    /// waiting.
    pub fn recv(&self, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> io::Result<usize> {
        self.state.recv(UdpSockRef::from(&self.sock), bufs, meta)
    }

    /// Datagrams one send may carry (1 without UDP GSO).
    pub fn max_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    /// Send one run (a single datagram, or equal-size segments of
    /// `segment` bytes, the last possibly shorter). A full socket buffer
    /// is waited out briefly rather than dropping the run.
    /// `from`: our address to send from (IP_PKTINFO), else the kernel's
    /// choice.
    pub fn send(
        &self,
        to: SocketAddr,
        data: &[u8],
        segment: Option<usize>,
        from: Option<std::net::IpAddr>,
    ) -> io::Result<()> {
        let t = Transmit {
            destination: to,
            ecn: None,
            contents: data,
            segment_size: segment,
            src_ip: from,
        };
        let mut tries = 0;
        loop {
            match self.state.try_send(UdpSockRef::from(&self.sock), &t) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && tries < 20 => {
                    tries += 1;
                    wait_writable(self.fd());
                }
                r => return r,
            }
        }
    }
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

    /// The bound sockets another wgd handed over (the same kernel
    /// objects: same port, mark and buffers, datagrams already queued
    /// on them included), set up as `bind` sets up its own.
    pub fn adopt(v4: OwnedFd, v6: Option<OwnedFd>) -> io::Result<Sockets> {
        let v4 = UdpSocket::from(v4);
        let port = v4.local_addr()?.port();
        let mark = nix::sys::socket::getsockopt(&v4, nix::sys::socket::sockopt::Mark)?;
        Sockets::finish(v4, v6.map(UdpSocket::from), port, mark)
    }

    fn finish(v4: UdpSocket, v6: Option<UdpSocket>, port: u16, mark: u32) -> io::Result<Sockets> {
        let s = Sockets {
            v4: Socket::new(v4, false)?,
            v6: v6.map(|s| Socket::new(s, true)).transpose()?,
            port,
        };
        s.set_mark(mark)?;
        Ok(s)
    }

    pub fn all(&self) -> impl Iterator<Item = &Socket> {
        std::iter::once(&self.v4).chain(self.v6.iter())
    }

    /// The socket that reaches `to`.
    pub fn for_dest(&self, to: &SocketAddr) -> Option<&Socket> {
        match to {
            SocketAddr::V4(_) => Some(&self.v4),
            SocketAddr::V6(_) => self.v6.as_ref(),
        }
    }

    /// SO_MARK on both sockets (0 clears it).
    pub fn set_mark(&self, mark: u32) -> io::Result<()> {
        for s in self.all() {
            nix::sys::socket::setsockopt(&s.sock, nix::sys::socket::sockopt::Mark, &mark)?;
        }
        Ok(())
    }
}

fn set_int(sock: &UdpSocket, level: i32, opt: i32, value: i32) -> io::Result<()> {
    // SAFETY: a valid socket, an int option and its size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            opt,
            &value as *const i32 as *const libc::c_void,
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The source address the kernel would choose for sending to `to` (from
/// a connected probe socket; nothing is sent).
pub fn kernel_source(to: SocketAddr) -> Option<std::net::IpAddr> {
    let any: SocketAddr = match to {
        SocketAddr::V4(_) => SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0).into(),
    };
    let probe = UdpSocket::bind(any).ok()?;
    probe.connect(to).ok()?;
    Some(probe.local_addr().ok()?.ip())
}

/// Socket buffer size: bursts from a fast sender must not overflow the
/// receive queue before a worker drains it (wireguard-go uses 7 MiB).
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

/// Largest UDP payload, and what one GRO buffer may hold.
pub const MAX_DATAGRAM: usize = 65536;

fn wait_writable(fd: BorrowedFd<'_>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
    let _ = poll(&mut fds, PollTimeout::from(5u16));
}

/// Receive buffers of one worker: `RECV_BATCH` buffers of `MAX_DATAGRAM`
/// bytes (each may hold a GRO train) and their metadata.
pub struct RecvBatch {
    bufs: Vec<Box<[u8]>>,
    meta: Vec<RecvMeta>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: (0..RECV_BATCH)
                .map(|_| vec![0u8; MAX_DATAGRAM].into_boxed_slice())
                .collect(),
            meta: vec![RecvMeta::default(); RECV_BATCH],
        }
    }
}

impl RecvBatch {
    /// Fill from `sock`; the number of buffers filled, 0 when nothing is
    /// waiting.
    pub fn recv(&mut self, sock: &Socket) -> io::Result<usize> {
        let mut slices: [IoSliceMut<'_>; RECV_BATCH] =
            std::array::from_fn(|_| IoSliceMut::new(&mut []));
        for (s, b) in slices.iter_mut().zip(self.bufs.iter_mut()) {
            *s = IoSliceMut::new(b);
        }
        loop {
            match sock.recv(&mut slices, &mut self.meta) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The first `n` buffers as filled, each with its stride (the size
    /// of every datagram in it but the last), to work on in place.
    pub fn trains_mut(&mut self, n: usize) -> impl Iterator<Item = (&mut [u8], usize)> {
        self.bufs
            .iter_mut()
            .zip(self.meta.iter())
            .take(n)
            .map(|(b, m)| (&mut b[..m.len.min(MAX_DATAGRAM)], m.stride.max(1)))
    }

    /// Every datagram of buffer `i`: (payload, sender, our address it
    /// was sent to).
    pub fn datagrams(
        &self,
        i: usize,
    ) -> impl Iterator<Item = (&[u8], SocketAddr, Option<std::net::IpAddr>)> {
        let m = &self.meta[i];
        let stride = m.stride.max(1);
        let from = unmapped(m.addr);
        self.bufs[i][..m.len.min(MAX_DATAGRAM)]
            .chunks(stride)
            .map(move |d| (d, from, m.dst_ip))
    }
}

/// An IPv4-mapped IPv6 sender is an IPv4 peer.
fn unmapped(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, v6.port())),
            None => a,
        },
        a => a,
    }
}
