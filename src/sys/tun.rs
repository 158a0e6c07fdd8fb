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
        // Nothing but the name: the device stays as it is, up or down
        // (tun-rs brings a device up unless told to leave it).
        let dev = open(|b| b.inherit_enable_state(), name)?;
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
                    if n == 1 && self.offload() {
                        let (hdr, pkt) = (&into.raw[..VIRTIO_NET_HDR_LEN], &mut into.bufs[0]);
                        mend_zero_checksum(hdr, &mut pkt[PACKET_HEADROOM..][..into.sizes[0]]);
                    }
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

/// A packet the kernel left for us to checksum (NEEDS_CSUM, no GSO):
/// tun-rs completes the sum but writes 0 where the result is 0xffff,
/// and a zero UDP checksum means "none" over IPv4 and is refused over
/// IPv6, so about one such UDP packet in 65 536 was lost, every time it
/// was sent again. Linux (skb_checksum_help) writes 0xffff, the same
/// value in one's complement; so do we. `hdr` is the virtio-net header
/// of the read (native byte order), `pkt` the packet.
fn mend_zero_checksum(hdr: &[u8], pkt: &mut [u8]) {
    const NEEDS_CSUM: u8 = 1;
    const GSO_NONE: u8 = 0;
    if hdr.len() < 10 || hdr[0] & NEEDS_CSUM == 0 || hdr[1] != GSO_NONE {
        return;
    }
    let start = usize::from(u16::from_ne_bytes([hdr[6], hdr[7]]));
    let offset = usize::from(u16::from_ne_bytes([hdr[8], hdr[9]]));
    if let Some(field) = pkt.get_mut(start + offset..start + offset + 2) {
        if field == [0, 0] {
            field.copy_from_slice(&[0xff, 0xff]);
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

#[cfg(test)]
mod tests {
    use super::mend_zero_checksum;

    /// A virtio-net header: flags, GSO type, csum_start, csum_offset.
    fn hdr(flags: u8, gso: u8, start: u16, offset: u16) -> [u8; 10] {
        let mut h = [0u8; 10];
        h[0] = flags;
        h[1] = gso;
        h[6..8].copy_from_slice(&start.to_ne_bytes());
        h[8..10].copy_from_slice(&offset.to_ne_bytes());
        h
    }

    /// An IPv6 UDP packet whose payload makes its one's complement sum
    /// (pseudo-header included) 0xffff, so its checksum is 0xffff, never
    /// 0: completed as tun-rs does, it comes out 0 and is mended.
    #[test]
    fn a_udp_sum_of_0xffff_is_sent_as_0xffff() {
        let (src, dst) = ([0xfdu8; 16], [0x02u8; 16]);
        let payload = 10usize;
        let udp_len = 8 + payload;
        let mut p = vec![0u8; 40 + udp_len];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
        p[6] = 17;
        p[7] = 64;
        p[8..24].copy_from_slice(&src);
        p[24..40].copy_from_slice(&dst);
        p[40..42].copy_from_slice(&7777u16.to_be_bytes());
        p[42..44].copy_from_slice(&40000u16.to_be_bytes());
        p[44..46].copy_from_slice(&(udp_len as u16).to_be_bytes());
        p[48..56].copy_from_slice(b"wireguar");
        let pseudo = |p: &[u8]| {
            tun_rs::checksum_no_fold(&[0, 17, 0, udp_len as u8], {
                tun_rs::checksum_no_fold(&p[24..40], tun_rs::checksum_no_fold(&p[8..24], 0))
            })
        };
        // The last two payload bytes bring the sum to 0xffff.
        let sum = tun_rs::checksum(&p[40..], pseudo(&p));
        p[56..58].copy_from_slice(&(!sum).to_be_bytes());
        assert_eq!(tun_rs::checksum(&p[40..], pseudo(&p)), 0xffff);
        // tun-rs's completion: the complement of the sum, here 0.
        let done = !tun_rs::checksum(&p[40..], pseudo(&p));
        p[46..48].copy_from_slice(&done.to_be_bytes());
        assert_eq!(&p[46..48], &[0, 0]);
        mend_zero_checksum(&hdr(1, 0, 40, 6), &mut p);
        assert_eq!(&p[46..48], &[0xff, 0xff]);
        // And the receiver's check holds: everything sums to 0xffff.
        assert_eq!(tun_rs::checksum(&p[40..], pseudo(&p)), 0xffff);
    }

    #[test]
    fn other_packets_are_left_as_they_are() {
        let mut p = vec![0u8; 60];
        p[46..48].copy_from_slice(&[0x12, 0x34]);
        let before = p.clone();
        mend_zero_checksum(&hdr(1, 0, 40, 6), &mut p);
        assert_eq!(p, before, "a checksum that is not 0");
        p[46..48].fill(0);
        let before = p.clone();
        mend_zero_checksum(&hdr(0, 0, 40, 6), &mut p);
        assert_eq!(p, before, "no NEEDS_CSUM: the sender's zero stays");
        mend_zero_checksum(&hdr(1, 3, 40, 6), &mut p);
        assert_eq!(p, before, "GSO: tun-rs's split handles it");
        mend_zero_checksum(&hdr(1, 0, 59, 6), &mut p);
        assert_eq!(p, before, "a field past the end");
        mend_zero_checksum(&[1, 0], &mut p);
        assert_eq!(p, before, "a short header");
    }
}
