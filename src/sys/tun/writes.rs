//! Packets a worker writes to one TUN device. Where the device has
//! offloads, the segments of one TCP flow (and, if asked, of one UDP
//! flow) are coalesced as they are queued: each segment's payload is
//! copied once, straight behind the payloads before it, and the whole
//! is written as one super-packet (GRO).
//!
//! A super-packet goes to the kernel with its checksum marked as left
//! to complete (NEEDS_CSUM), which a local receiver takes as valid: as
//! Linux's WireGuard marks every decrypted packet's checksum as checked,
//! the segments' own checksums are not verified. They were sealed by
//! the peer, and ChaCha20-Poly1305 authenticated every byte of them.
//!
//! What may be coalesced follows the kernel's GRO: the same addresses,
//! ports, IP header fields (TOS or traffic class and flow label, DF,
//! TTL or hop limit) and, for TCP, the same acknowledgement, header
//! length, reserved bits, window and options, flags ACK and at most
//! PSH, and the next sequence number. (Stricter than the kernel in two
//! ways, which cost only speed: no FIN, CWR, ECE or URG segment is
//! coalesced, nor IPv4 with options or IPv6 with extension headers.
//! Looser in one: IPv4 IDs are not checked, as wireguard-go does not;
//! they only matter to a router that cuts the packet up again, and it
//! numbers the segments from the first.) Every segment but the last has
//! the first one's length; PSH or a shorter segment ends a super-packet.
//! Segments are appended only to the newest super-packet of their flow,
//! so a flow's packets keep their order.

use super::{Tun, MAX_READ};
use std::io;
use tun_rs::{
    VirtioNetHdr, IDEAL_BATCH_SIZE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_HDR_LEN,
};

/// The virtio header's flag: the checksum is left for the receiver.
const NEEDS_CSUM: u8 = 1;
/// Flows that may take segments at once: the newest super-packets.
const OPEN: usize = 8;
/// Most segments in a UDP super-packet (the kernel's UDP_MAX_SEGMENTS).
const UDP_SEGMENTS: usize = 64;
/// Largest IP packet (a length field's limit).
const MAX_IP: usize = 65535;

const TCP: u8 = 6;
const UDP: u8 = 17;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// What the queue may coalesce, from what the device takes.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub struct Gro {
    pub tcp: bool,
    pub udp: bool,
}

/// A packet parsed for coalescing: its flow, where its payload starts,
/// and (TCP) its sequence number and PSH flag.
#[derive(Clone, Copy)]
struct Segment {
    proto: u8,
    v6: bool,
    /// Length of the IP header.
    iph: usize,
    /// Length of the IP and transport headers: where the payload starts.
    head: usize,
    seq: u32,
    psh: bool,
}

/// A queued packet still taking segments.
#[derive(Clone, Copy)]
struct Open {
    /// Its index in the queue (its segment count is `merged`'s).
    at: usize,
    /// The first packet's header length: every segment's.
    head: usize,
    /// The first segment's payload length (every one's but the last).
    gso: usize,
    /// TCP: the sequence number the next segment must have.
    next_seq: u32,
}

/// Packets queued for one TUN device, each behind room for the virtio
/// header.
#[derive(Default)]
pub struct TunWrites {
    bufs: Vec<Vec<u8>>,
    /// Per queued packet: how many segments it holds (1: not
    /// coalesced), and the first one's payload length.
    merged: Vec<(usize, usize)>,
    count: usize,
    open: Vec<Open>,
    gro: Gro,
}

impl TunWrites {
    pub fn is_full(&self) -> bool {
        self.count >= IDEAL_BATCH_SIZE
    }

    /// Packets queued (a coalesced one counts once).
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Segments queued: every packet pushed since the last flush.
    pub fn segments(&self) -> usize {
        self.merged[..self.count].iter().map(|m| m.0).sum()
    }

    /// Forget what is queued, unwritten.
    pub fn clear(&mut self) {
        self.count = 0;
        self.open.clear();
    }

    /// Coalesce what `tun` takes from now on: TCP where it has offloads.
    /// Not UDP, though the kernel may take UDP super-packets: it must cut
    /// them up again for any socket that did not ask for UDP_GRO, and
    /// Linux's own GRO leaves such datagrams apart. Measured in the UDP
    /// flood (bench/compare), coalescing them cost 10-25 % of what was
    /// received.
    pub fn offloads_of(&mut self, tun: &Tun) {
        self.set_gro(Gro {
            tcp: tun.offload(),
            udp: false,
        });
    }

    /// Coalesce what `gro` says from now on; what is queued is kept.
    pub fn set_gro(&mut self, gro: Gro) {
        if gro != self.gro {
            self.open.clear();
            self.gro = gro;
        }
    }

    /// Queue a copy of `packet` (a whole IP packet), appended to a
    /// queued one of its flow where it can be.
    pub fn push(&mut self, packet: &[u8]) {
        let seg = match self.gro {
            Gro {
                tcp: false,
                udp: false,
            } => None,
            gro => segment(packet, gro),
        };
        let Some(seg) = seg else {
            // Not coalesced; but a packet of an open flow (a FIN, an ACK
            // alone) closes it, so nothing of the flow passes it.
            if !self.open.is_empty() {
                self.close_flow_of(packet);
            }
            return self.queue(packet);
        };
        if let Some(k) = self
            .open
            .iter()
            .position(|o| same_flow(self.first(o), packet, &seg))
        {
            if self.append(k, packet, &seg) {
                return;
            }
            self.open.remove(k);
        }
        let at = self.count;
        self.queue(packet);
        if seg.psh {
            // Nothing may follow it.
            return;
        }
        if self.open.len() == OPEN {
            self.open.remove(0);
        }
        let gso = packet.len() - seg.head;
        self.merged[at].1 = gso;
        self.open.push(Open {
            at,
            head: seg.head,
            gso,
            next_seq: seg.seq.wrapping_add(gso as u32),
        });
    }

    /// The first packet of open super-packet `o`, as queued.
    fn first(&self, o: &Open) -> &[u8] {
        &self.bufs[o.at][VIRTIO_NET_HDR_LEN..]
    }

    /// Close the open super-packet of `packet`'s flow, if any.
    fn close_flow_of(&mut self, packet: &[u8]) {
        let Some(key) = flow(packet) else { return };
        let bufs = &self.bufs;
        self.open
            .retain(|o| flow(&bufs[o.at][VIRTIO_NET_HDR_LEN..]) != Some(key));
    }

    /// Append `packet` (parsed as `seg`, of the same flow) to open
    /// super-packet `k`, if it may follow what it holds (an open one
    /// never ends with PSH: that closes it).
    fn append(&mut self, k: usize, packet: &[u8], seg: &Segment) -> bool {
        let o = self.open[k];
        let payload = &packet[seg.head..];
        let first = self.first(&o);
        let segments = self.merged[o.at].0;
        let fits = payload.len() <= o.gso
            && first.len() + payload.len() <= MAX_IP
            && seg.head == o.head
            && ip_fields_equal(first, packet, seg.v6)
            && match seg.proto {
                TCP => {
                    // Acknowledgement; data offset and reserved bits
                    // (flags are ACK and maybe PSH, checked by
                    // `segment`); window; options.
                    let (t, f, q) = (seg.iph, first, packet);
                    seg.seq == o.next_seq
                        && f[t + 8..t + 13] == q[t + 8..t + 13]
                        && f[t + 14..t + 16] == q[t + 14..t + 16]
                        && f[t + 20..seg.head] == q[t + 20..seg.head]
                }
                _ => segments < UDP_SEGMENTS,
            };
        if !fits {
            return false;
        }
        self.bufs[o.at].extend_from_slice(payload);
        self.merged[o.at].0 = segments + 1;
        self.open[k].next_seq = seg.seq.wrapping_add(payload.len() as u32);
        if seg.psh {
            self.bufs[o.at][VIRTIO_NET_HDR_LEN + seg.iph + 13] |= TCP_PSH;
        }
        // A shorter segment, or PSH, ends it.
        if payload.len() < o.gso || seg.psh {
            self.open.remove(k);
        }
        true
    }

    /// Queue a copy of `packet` as a packet of its own.
    fn queue(&mut self, packet: &[u8]) {
        if self.count == self.bufs.len() {
            // Room for a whole super-packet; pages are touched only as
            // used.
            self.bufs
                .push(Vec::with_capacity(VIRTIO_NET_HDR_LEN + MAX_READ));
            self.merged.push((0, 0));
        }
        let b = &mut self.bufs[self.count];
        b.clear();
        b.resize(VIRTIO_NET_HDR_LEN, 0);
        b.extend_from_slice(packet);
        self.merged[self.count] = (1, 0);
        self.count += 1;
    }

    /// The queued packets as they will be written: virtio header and
    /// packet, a coalesced one's lengths, checksums and header made.
    fn finish(&mut self) -> &[Vec<u8>] {
        self.open.clear();
        for (b, &(n, gso)) in self.bufs[..self.count].iter_mut().zip(&self.merged) {
            let hdr = match n {
                1 => None,
                _ => super_packet(&mut b[VIRTIO_NET_HDR_LEN..], gso),
            }
            .unwrap_or_default();
            let _ = hdr.encode(&mut b[..VIRTIO_NET_HDR_LEN]);
        }
        &self.bufs[..self.count]
    }

    /// Write what is queued to `tun` (coalesced where it has offloads).
    pub fn flush(&mut self, tun: &Tun) -> io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let offload = tun.offload();
        let mut r = Ok(());
        for b in self.finish() {
            let sent = if offload {
                tun.dev.send(b)
            } else {
                tun.dev.send(&b[VIRTIO_NET_HDR_LEN..])
            };
            if let Err(e) = sent {
                r = Err(e);
            }
        }
        self.count = 0;
        r
    }

    /// Tests and fuzzing: the queued packets as they would be written.
    #[doc(hidden)]
    pub fn written(&mut self) -> Vec<Vec<u8>> {
        let out = self.finish().to_vec();
        self.count = 0;
        out
    }
}

/// `packet` parsed for coalescing, or `None` if it may not be: an IPv4
/// packet without options nor fragments, or an IPv6 one without
/// extension headers, whose length fields agree with its length; a TCP
/// segment with data and flags ACK and at most PSH, or a UDP datagram
/// with data (over IPv4, with a checksum).
fn segment(p: &[u8], gro: Gro) -> Option<Segment> {
    let (v6, iph, proto) = match p.first()? >> 4 {
        4 => {
            let total = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
            if p[0] != 0x45 || total != p.len() || p.len() < 20 || p[6] & 0x3f != 0 || p[7] != 0 {
                return None;
            }
            (false, 20, p[9])
        }
        6 => {
            let payload = usize::from(u16::from_be_bytes([*p.get(4)?, *p.get(5)?]));
            if p.len() < 40 || payload + 40 != p.len() {
                return None;
            }
            (true, 40, p[6])
        }
        _ => return None,
    };
    let t = p.get(iph..)?;
    let (head, seq, psh) = match proto {
        TCP if gro.tcp => {
            let th = usize::from(*t.get(12)? >> 4) * 4;
            let flags = *t.get(13)?;
            if th < 20 || t.len() < th || flags & !TCP_PSH != TCP_ACK {
                return None;
            }
            let seq = u32::from_be_bytes(t[4..8].try_into().ok()?);
            (iph + th, seq, flags & TCP_PSH != 0)
        }
        UDP if gro.udp => {
            let len = usize::from(u16::from_be_bytes([*t.get(4)?, *t.get(5)?]));
            let no_sum = t.get(6..8)? == [0, 0];
            if len != t.len() || (!v6 && no_sum) {
                return None;
            }
            (iph + 8, 0, false)
        }
        _ => return None,
    };
    if head >= p.len() {
        return None;
    }
    Some(Segment {
        proto,
        v6,
        iph,
        head,
        seq,
        psh,
    })
}

/// A TCP or UDP packet's flow: version, protocol, addresses and ports
/// (as bytes: 2 + 32 + 4 at most).
fn flow(p: &[u8]) -> Option<([u8; 38], usize)> {
    let mut key = [0u8; 38];
    let (addrs, proto, iph) = match p.first()? >> 4 {
        4 if p.len() >= 20 => (&p[12..20], p[9], usize::from(p[0] & 0x0f) * 4),
        6 if p.len() >= 40 => (&p[8..40], p[6], 40),
        _ => return None,
    };
    if proto != TCP && proto != UDP {
        return None;
    }
    let ports = p.get(iph..iph + 4)?;
    key[0] = p[0] >> 4;
    key[1] = proto;
    key[2..2 + addrs.len()].copy_from_slice(addrs);
    key[2 + addrs.len()..6 + addrs.len()].copy_from_slice(ports);
    Some((key, 6 + addrs.len()))
}

/// Whether `packet` (parsed as `seg`) is of the flow of `first`, an
/// open super-packet's first packet: same version, protocol, addresses
/// and ports.
fn same_flow(first: &[u8], packet: &[u8], seg: &Segment) -> bool {
    let (addrs, proto_at) = if seg.v6 { (8..40, 6) } else { (12..20, 9) };
    first.len() > seg.iph + 4
        && first[0] >> 4 == packet[0] >> 4
        && first[proto_at] == seg.proto
        && first[addrs.clone()] == packet[addrs]
        && first[seg.iph..seg.iph + 4] == packet[seg.iph..seg.iph + 4]
}

/// Whether the IP header fields that must not change within a
/// super-packet are equal: IPv4's TOS, flags and TTL; IPv6's traffic
/// class, flow label and hop limit.
fn ip_fields_equal(a: &[u8], b: &[u8], v6: bool) -> bool {
    if v6 {
        a[..4] == b[..4] && a[7] == b[7]
    } else {
        a[1] == b[1] && a[6] == b[6] && a[8] == b[8]
    }
}

/// Make `p` (a first packet with the payloads of more segments of `gso`
/// bytes, the last one maybe shorter, behind it) a super-packet: its
/// length fields, IPv4 header checksum, and in the transport checksum
/// field the pseudo-header's sum, for the kernel to complete; the
/// virtio header that says so.
fn super_packet(p: &mut [u8], gso: usize) -> Option<VirtioNetHdr> {
    let v6 = p.first()? >> 4 == 6;
    let (iph, proto) = if v6 { (40, p[6]) } else { (20, p[9]) };
    let len = p.len();
    let transport_len = u16::try_from(len - iph).ok()?;
    let (head, csum_offset, gso_type): (usize, u16, u8) = match (proto, v6) {
        (TCP, false) => (
            iph + usize::from(p[iph + 12] >> 4) * 4,
            16,
            VIRTIO_NET_HDR_GSO_TCPV4,
        ),
        (TCP, true) => (
            iph + usize::from(p[iph + 12] >> 4) * 4,
            16,
            VIRTIO_NET_HDR_GSO_TCPV6,
        ),
        (UDP, _) => (iph + 8, 6, VIRTIO_NET_HDR_GSO_UDP_L4),
        _ => return None,
    };
    if v6 {
        p[4..6].copy_from_slice(&transport_len.to_be_bytes());
    } else {
        p[2..4].copy_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
        p[10..12].fill(0);
        let sum = !tun_rs::checksum(&p[..20], 0);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    if proto == UDP {
        p[iph + 4..iph + 6].copy_from_slice(&transport_len.to_be_bytes());
    }
    let addrs = if v6 { &p[8..40] } else { &p[12..20] };
    let pseudo = tun_rs::checksum_no_fold(addrs, u64::from(proto) + u64::from(transport_len));
    let sum = tun_rs::checksum(&[], pseudo);
    let at = iph + usize::from(csum_offset);
    p[at..at + 2].copy_from_slice(&sum.to_be_bytes());
    Some(VirtioNetHdr {
        flags: NEEDS_CSUM,
        gso_type,
        hdr_len: u16::try_from(head).ok()?,
        gso_size: u16::try_from(gso).ok()?,
        csum_start: u16::try_from(iph).ok()?,
        csum_offset,
    })
}

#[cfg(test)]
mod tests;
