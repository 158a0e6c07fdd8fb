//! The TUN device that stands in for the wgN ifnet, with Linux's TUN
//! offloads where the kernel has them (IFF_VNET_HDR, TSO4/6, USO4/6):
//! one read returns a whole GSO super-packet, which tun-rs splits into
//! MTU-sized packets with their checksums; writes go through tun-rs's GRO
//! table, which coalesces TCP and UDP segments of one flow back into
//! super-packets. Without offloads, one packet per read and per write.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use tun_rs::{GROTable, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_LEN};

pub struct Tun {
    dev: tun_rs::SyncDevice,
    ifindex: u32,
}

/// Largest packet a read can return: a GSO super-packet, or one packet
/// at the largest MTU.
const MAX_READ: usize = 65535;

impl Tun {
    /// Create TUN `name`, down, non-blocking, with offloads if the kernel
    /// has them. Fails with `AlreadyExists` if any link of that name
    /// exists (we never attach to another one).
    pub fn create(name: &str, mtu: u16) -> io::Result<Tun> {
        if nix::net::if_::if_nametoindex(name).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        let dev = open(|b| b.mtu(mtu).enable(false), name)?;
        dev.set_nonblocking(true)?;
        let ifindex = dev.if_index()?;
        Ok(Tun { dev, ifindex })
    }

    /// A queue of our own on the live TUN device `name` whose index is
    /// `ifindex` (another wgd's, handing over), in the calling thread's
    /// namespace. Nothing about the link changes. Fails, creating
    /// nothing, if no such link is there.
    pub fn attach(name: &str, ifindex: u32) -> io::Result<Tun> {
        let gone = || io::Error::from_raw_os_error(libc::ENXIO);
        if nix::net::if_::if_nametoindex(name).ok() != Some(ifindex) {
            return Err(gone());
        }
        // Nothing but the name: the device stays as it is.
        let dev = open(|b| b, name)?;
        // Renamed or deleted meanwhile: the name made a new device,
        // which goes away with `dev`.
        if dev.if_index()? != ifindex {
            return Err(gone());
        }
        dev.set_nonblocking(true)?;
        Ok(Tun { dev, ifindex })
    }

    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.dev.as_fd()
    }

    /// The network namespace the device is in now (it may have been
    /// moved: `ip link set wgN netns X`). Fails once the link is gone.
    pub fn netns(&self) -> io::Result<OwnedFd> {
        // TUNGETDEVNETNS = _IO('T', 227).
        const TUNGETDEVNETNS: libc::c_ulong = 0x54e3;
        // SAFETY: an ioctl without argument on our own descriptor; on
        // success it returns a new descriptor that we then own.
        let fd = unsafe { libc::ioctl(self.dev.as_raw_fd(), TUNGETDEVNETNS as _) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// The device's name now (it follows a rename by anyone).
    pub fn name(&self) -> io::Result<String> {
        // TUNGETIFF = _IOR('T', 210, unsigned int).
        const TUNGETIFF: libc::c_ulong = 0x8004_54d2;
        let mut ifr = [0u8; 40];
        // SAFETY: TUNGETIFF writes a struct ifreq (40 bytes) into `ifr`.
        let r = unsafe { libc::ioctl(self.dev.as_raw_fd(), TUNGETIFF as _, ifr.as_mut_ptr()) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        let end = ifr[..16].iter().position(|b| *b == 0).unwrap_or(16);
        Ok(String::from_utf8_lossy(&ifr[..end]).into_owned())
    }

    /// Whether reads carry super-packets (and writes may).
    pub fn offload(&self) -> bool {
        self.dev.tcp_gso()
    }

    /// Read one packet or super-packet and split it into `into`; the
    /// number of packets, 0 when nothing is waiting.
    pub fn recv(&self, into: &mut TunPackets) -> io::Result<usize> {
        loop {
            let r = self.dev.recv_multiple(
                &mut into.raw,
                &mut into.bufs,
                &mut into.sizes,
                PACKET_HEADROOM,
            );
            match r {
                Ok(n) => {
                    into.count = n;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    into.count = 0;
                    return Ok(0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    into.count = 0;
                    return Err(e);
                }
            }
        }
    }
}

/// A multi-queue TUN queue on `name` (the device made if there is none),
/// with offloads if the kernel has them; `more` adds to the builder.
/// Multi-queue, though one queue is read: a new wgd taking over
/// (`Tun::attach`) adds its own queue to the live device, so the link
/// never loses its carrier nor its index.
fn open(
    more: impl Fn(tun_rs::DeviceBuilder) -> tun_rs::DeviceBuilder,
    name: &str,
) -> io::Result<tun_rs::SyncDevice> {
    let build = |offload: bool| {
        more(tun_rs::DeviceBuilder::new())
            .name(name)
            .multi_queue(true)
            .offload(offload)
            .build_sync()
    };
    match build(true) {
        Ok(d) => Ok(d),
        // A kernel without IFF_VNET_HDR/TUNSETOFFLOAD: plain packets.
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => build(false),
        Err(e) => Err(e),
    }
}

/// Room left in front of every split packet (none needed today).
const PACKET_HEADROOM: usize = 0;

/// A worker's buffers for reading the TUN device: the raw read (virtio
/// header and super-packet) and the packets it splits into. Each packet
/// buffer is as large as the largest packet, but only the bytes written
/// are ever touched.
pub struct TunPackets {
    raw: Box<[u8]>,
    bufs: Vec<Box<[u8]>>,
    sizes: Vec<usize>,
    count: usize,
}

impl Default for TunPackets {
    fn default() -> Self {
        TunPackets {
            raw: vec![0u8; VIRTIO_NET_HDR_LEN + MAX_READ].into_boxed_slice(),
            // Room to pad to a multiple of 16 after the packet.
            bufs: (0..IDEAL_BATCH_SIZE)
                .map(|_| vec![0u8; MAX_READ + 16].into_boxed_slice())
                .collect(),
            sizes: vec![0; IDEAL_BATCH_SIZE],
            count: 0,
        }
    }
}

impl TunPackets {
    /// Packet `i`.
    pub fn packet(&self, i: usize) -> &[u8] {
        &self.bufs[i][PACKET_HEADROOM..PACKET_HEADROOM + self.sizes[i]]
    }

    /// Packet `i` (its length) and the whole buffer behind it, for
    /// padding in place.
    pub fn packet_mut(&mut self, i: usize) -> (usize, &mut [u8]) {
        (self.sizes[i], &mut self.bufs[i][PACKET_HEADROOM..])
    }
}

/// Packets a worker will write to one TUN device, each behind room for
/// the virtio header, coalesced by the GRO table when written.
#[derive(Default)]
pub struct TunWrites {
    bufs: Vec<Vec<u8>>,
    count: usize,
    gro: GROTable,
}

impl TunWrites {
    pub fn is_full(&self) -> bool {
        self.count >= IDEAL_BATCH_SIZE
    }

    /// Packets queued.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Forget what is queued, unwritten.
    pub fn clear(&mut self) {
        self.count = 0;
    }

    /// Queue a copy of `packet`.
    pub fn push(&mut self, packet: &[u8]) {
        if self.count == self.bufs.len() {
            // tun-rs coalesces only into a buffer that already has room
            // for a whole super-packet; pages are touched only as used.
            self.bufs
                .push(Vec::with_capacity(2 * VIRTIO_NET_HDR_LEN + MAX_READ));
        }
        let b = &mut self.bufs[self.count];
        b.clear();
        b.resize(VIRTIO_NET_HDR_LEN, 0);
        b.extend_from_slice(packet);
        self.count += 1;
    }

    /// Write what is queued to `tun` (coalesced where it has offloads).
    pub fn flush(&mut self, tun: &Tun) -> io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let n = self.count;
        self.count = 0;
        if tun.offload() {
            tun.dev
                .send_multiple(&mut self.gro, &mut self.bufs[..n], VIRTIO_NET_HDR_LEN)
                .map(|_| ())
        } else {
            let mut r = Ok(());
            for b in &self.bufs[..n] {
                if let Err(e) = tun.dev.send(&b[VIRTIO_NET_HDR_LEN..]) {
                    r = Err(e);
                }
            }
            r
        }
    }
}
