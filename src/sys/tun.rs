//! The TUN device that stands in for the wgN ifnet.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

pub struct Tun {
    dev: tun_rs::SyncDevice,
    ifindex: u32,
}

impl Tun {
    /// Create TUN `name`, down, non-blocking. Fails with `AlreadyExists`
    /// if any link of that name exists (we never attach to another one).
    pub fn create(name: &str, mtu: u16) -> io::Result<Tun> {
        if nix::net::if_::if_nametoindex(name).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        let dev = tun_rs::DeviceBuilder::new()
            .name(name)
            .mtu(mtu)
            .enable(false)
            .build_sync()?;
        dev.set_nonblocking(true)?;
        let ifindex = dev.if_index()?;
        Ok(Tun { dev, ifindex })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn fd(&self) -> RawFd {
        self.dev.as_raw_fd()
    }

    /// One packet, or `WouldBlock`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.dev.recv(buf)
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.dev.send(buf)
    }
}
