//! The TUN device that stands in for the wgN ifnet, with Linux's TUN
//! offloads where the kernel has them (IFF_VNET_HDR, TSO4/6, USO4/6):
//! one read returns a whole GSO super-packet, which is cut into
//! MTU-sized packets with their checksums, either into the reader's
//! buffers (`TunPackets::split`, by tun-rs's splitter) or straight into
//! the places the caller gives (`TunPackets::split_into`, by our own in
//! `split`: the transmit queue's messages, so that the packet path
//! copies a segment once and sums it from the read); a lone packet is
//! used where it was read. Writes are coalesced
//! as they are queued (`writes`): the segments of one TCP flow go back
//! into super-packets. Without offloads, one packet per read and
//! per write.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use tun_rs::{VirtioNetHdr, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_HDR_LEN};

mod split;
mod writes;
pub use writes::{Gro, TunWrites};

/// virtio-net header values (linux/virtio_net.h): the packet's checksum
/// is left for us; no segmentation; the ECN bit of a GSO type.
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

pub struct Tun {
    dev: tun_rs::SyncDevice,
    ifindex: u32,
}

/// Largest packet a read can return: a GSO super-packet, or one packet
/// at the largest MTU.
const MAX_READ: usize = 65535;

impl Tun {
    /// Create TUN `name`, down, non-blocking, with offloads if the kernel
    /// has them (super-packets of at most `MAX_SEGMENTS` segments).
    /// Fails with `AlreadyExists` if any link of that name exists (we
    /// never attach to another one).
    pub fn create(name: &str, mtu: u16) -> io::Result<Tun> {
        if nix::net::if_::if_nametoindex(name).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        let dev = open(|b| b.mtu(mtu).enable(false), name)?;
        dev.set_nonblocking(true)?;
        let ifindex = dev.if_index()?;
        cap_segments(ifindex);
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
        // (A device an older wgd made may not have the cap yet.)
        cap_segments(ifindex);
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

    /// Read one packet or super-packet into `into`; the number of
    /// packets, 0 when nothing is waiting. With offloads, a super-packet
    /// is not split yet (`TunPackets::split`, `TunPackets::split_into`)
    /// and a lone packet stays where it was read: no copy.
    pub fn recv(&self, into: &mut TunPackets) -> io::Result<usize> {
        into.count = 0;
        into.at = At::Bufs;
        if !self.offload() {
            return self.recv_plain(into);
        }
        let len = loop {
            match self.dev.recv(&mut into.raw) {
                Ok(len) => break len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        into.take_read(len)
    }

    /// Without offloads: one plain packet per read, into the first buffer.
    fn recv_plain(&self, into: &mut TunPackets) -> io::Result<usize> {
        loop {
            match self.dev.recv(&mut into.bufs[0][PACKET_HEADROOM..]) {
                Ok(len) => {
                    into.sizes[0] = len;
                    into.count = usize::from(len > 0);
                    return Ok(into.count);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The most segments a super-packet read from the device may have: the
/// reader's buffers. The kernel is told (the link's gso_max_segs, 65535
/// by default), so that it never builds a larger one: with a small TCP
/// MSS (200 bytes, say) it would otherwise make super-packets of up to
/// 300 segments, each dropped whole, and the connection crawled.
pub const MAX_SEGMENTS: usize = IDEAL_BATCH_SIZE;

/// Cap the device's super-packets at `MAX_SEGMENTS` segments, in the
/// calling thread's namespace. Best effort: a kernel that refuses keeps
/// its default, and a larger super-packet is dropped, as before.
fn cap_segments(ifindex: u32) {
    let _ = crate::sys::netlink::set_gso_max_segs(ifindex, MAX_SEGMENTS as u32);
}

/// Complete the checksum the kernel left partial (NEEDS_CSUM): the
/// one's complement sum from `csum_start`, seeded with what the field
/// holds (the pseudo-header's sum), written into the field. `None` if
/// the field is not inside the packet.
fn complete_checksum(hdr: &VirtioNetHdr, pkt: &mut [u8]) -> Option<()> {
    let start = usize::from(hdr.csum_start);
    let at = start + usize::from(hdr.csum_offset);
    let field = pkt.get_mut(at..at + 2)?;
    let seed = u16::from_be_bytes([field[0], field[1]]);
    field.fill(0);
    let sum = !tun_rs::checksum(pkt.get(start..)?, u64::from(seed));
    // 0 and 0xffff are the same sum; a zero UDP checksum means "none"
    // (IPv4) or is refused (IPv6), so Linux writes 0xffff, and so do we.
    let sum = if sum == 0 { 0xffff } else { sum };
    pkt[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    Some(())
}

/// A super-packet's header made fit for splitting, and whether it is
/// IPv6, or `None` if it cannot be split. As tun-rs and wireguard-go
/// do, the header length is not taken from the kernel (on a forwarding
/// path it can be the whole first packet) but from the transport
/// header: UDP's 8 bytes, or TCP's data offset.
fn super_header(mut hdr: VirtioNetHdr, pkt: &[u8]) -> Option<(VirtioNetHdr, bool)> {
    let v6 = match pkt.first()? >> 4 {
        4 => false,
        6 => true,
        _ => return None,
    };
    let start = usize::from(hdr.csum_start);
    let transport = if hdr.gso_type & !VIRTIO_NET_HDR_GSO_ECN == VIRTIO_NET_HDR_GSO_UDP_L4 {
        8
    } else {
        let words = usize::from(*pkt.get(start + 12)? >> 4);
        if !(5..=15).contains(&words) {
            return None;
        }
        words * 4
    };
    hdr.hdr_len = u16::try_from(start + transport).ok()?;
    let field_end = start + usize::from(hdr.csum_offset) + 2;
    if hdr.gso_size == 0 || usize::from(hdr.hdr_len) >= pkt.len() || field_end > pkt.len() {
        return None;
    }
    Some((hdr, v6))
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

/// Where a read's packets are.
#[derive(Clone, Copy)]
enum At {
    /// In `bufs` (split, or read without offloads).
    Bufs,
    /// The read's one packet, in `raw` behind the virtio header.
    Raw,
    /// A super-packet in `raw`, not split yet; `sizes` says what each
    /// segment will be. Its header, fit for splitting, and whether IPv6.
    Unsplit(VirtioNetHdr, bool),
}

/// A worker's buffers for reading the TUN device: the raw read (virtio
/// header and packet or super-packet) and the packets a super-packet
/// splits into. Each packet buffer is as large as the largest packet,
/// but only the bytes written are ever touched.
pub struct TunPackets {
    raw: Box<[u8]>,
    /// Bytes of the last read, its virtio header included.
    raw_len: usize,
    bufs: Vec<Box<[u8]>>,
    sizes: Vec<usize>,
    count: usize,
    at: At,
}

impl Default for TunPackets {
    fn default() -> Self {
        TunPackets {
            raw: vec![0u8; VIRTIO_NET_HDR_LEN + MAX_READ].into_boxed_slice(),
            raw_len: 0,
            bufs: (0..MAX_SEGMENTS)
                .map(|_| vec![0u8; MAX_READ + 16].into_boxed_slice())
                .collect(),
            sizes: vec![0; MAX_SEGMENTS],
            count: 0,
            at: At::Bufs,
        }
    }
}

impl TunPackets {
    /// Packet `i`; of a super-packet not split yet, the whole of it (its
    /// headers are every segment's: same addresses).
    pub fn packet(&self, i: usize) -> &[u8] {
        match self.at {
            At::Bufs => &self.bufs[i][PACKET_HEADROOM..PACKET_HEADROOM + self.sizes[i]],
            At::Raw | At::Unsplit(..) => &self.raw[VIRTIO_NET_HDR_LEN..self.raw_len],
        }
    }

    /// Length of packet `i` (of a segment, once split).
    pub fn len_of(&self, i: usize) -> usize {
        self.sizes[i]
    }

    /// Whether the read is a super-packet not split yet.
    pub fn unsplit(&self) -> bool {
        matches!(self.at, At::Unsplit(..))
    }

    /// Take the `len` bytes read into `raw` (a virtio header, then a
    /// packet or super-packet): the number of packets, or `InvalidData`
    /// (the read is dropped) if it cannot be taken.
    fn take_read(&mut self, len: usize) -> io::Result<usize> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_string());
        self.count = 0;
        self.at = At::Bufs;
        if len <= VIRTIO_NET_HDR_LEN || len > self.raw.len() {
            return Err(bad("short read"));
        }
        let hdr = VirtioNetHdr::decode(&self.raw[..VIRTIO_NET_HDR_LEN])?;
        let pkt = &mut self.raw[VIRTIO_NET_HDR_LEN..len];
        self.raw_len = len;
        if hdr.gso_type == VIRTIO_NET_HDR_GSO_NONE {
            if hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
                complete_checksum(&hdr, pkt).ok_or_else(|| bad("checksum out of the packet"))?;
            }
            self.sizes[0] = pkt.len();
            self.count = 1;
            self.at = At::Raw;
            return Ok(1);
        }
        let (hdr, v6) = super_header(hdr, pkt).ok_or_else(|| bad("bad GSO header"))?;
        self.segments(hdr, v6)
            .ok_or_else(|| bad("too many GSO segments"))
    }

    /// Fuzzing: take `read` (a virtio header, then a packet or
    /// super-packet) as if the device had returned it.
    #[doc(hidden)]
    pub fn take_bytes(&mut self, read: &[u8]) -> io::Result<usize> {
        let n = read.len().min(self.raw.len());
        self.raw[..n].copy_from_slice(&read[..n]);
        self.take_read(n)
    }

    /// Take the read as a super-packet with header `hdr` (made fit by
    /// `super_header`): the segments it will split into, and their
    /// lengths. `None` if there are more than the buffers.
    fn segments(&mut self, hdr: VirtioNetHdr, v6: bool) -> Option<usize> {
        let head = usize::from(hdr.hdr_len);
        let gso = usize::from(hdr.gso_size);
        let payload = (self.raw_len - VIRTIO_NET_HDR_LEN).checked_sub(head)?;
        let n = payload.div_ceil(gso);
        if n == 0 || n > self.sizes.len() {
            return None;
        }
        for (k, size) in self.sizes[..n].iter_mut().enumerate() {
            *size = head + gso.min(payload - k * gso);
        }
        self.count = n;
        self.at = At::Unsplit(hdr, v6);
        Some(n)
    }

    /// Split a super-packet into this reader's own buffers (then
    /// `packet(i)` is segment `i`).
    pub fn split(&mut self) -> io::Result<()> {
        let At::Unsplit(hdr, v6) = self.at else {
            return Ok(());
        };
        let input = &mut self.raw[VIRTIO_NET_HDR_LEN..self.raw_len];
        let n = tun_rs::gso_split(
            input,
            hdr,
            &mut self.bufs,
            &mut self.sizes,
            PACKET_HEADROOM,
            v6,
        );
        self.at = At::Bufs;
        self.count = n.inspect_err(|_| self.count = 0)?;
        Ok(())
    }

    /// Split a super-packet straight into `outs`, segment `i` at the
    /// start of `outs[i]`, which must hold it (`len_of(i)` bytes; the
    /// first segment is the largest). Fails, writing nothing, or writes
    /// every segment with the length `len_of` gave.
    pub fn split_into(&mut self, outs: &mut [&mut [u8]]) -> io::Result<()> {
        let At::Unsplit(hdr, v6) = self.at else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        let input = &self.raw[VIRTIO_NET_HDR_LEN..self.raw_len];
        split::split_into(input, &hdr, v6, outs, &self.sizes[..self.count])
    }
}

#[cfg(test)]
mod tests;
