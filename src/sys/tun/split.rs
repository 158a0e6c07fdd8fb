//! Cutting a TCP or UDP super-packet (TSO/USO, as the TUN device hands
//! it over) into MTU-sized packets, straight into the places the caller
//! gives: each segment gets the super-packet's headers with its own
//! lengths, IPv4 ID, TCP sequence number and flags, and its checksums.
//! Every sum is taken from the super-packet, which the read left in the
//! cache, and nothing written into the places is read back: the places
//! (the transmit queue) are seldom in the cache, and a read of a line
//! just written waits for it. tun-rs's splitter sums each segment from
//! its copy. Pure code: no system calls.
//!
//! Sums are taken in the machine's byte order, 32 bits at a time into a
//! 64-bit accumulator, and folded at the end: the one's complement sum
//! does not depend on byte order, so the folded sum stored in the
//! machine's order is the checksum's bytes in network order (RFC 1071,
//! section 2).

use std::io;
use tun_rs::{VirtioNetHdr, VIRTIO_NET_HDR_GSO_UDP_L4};

/// virtio-net GSO types (linux/virtio_net.h) and the ECN bit.
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;
const GSO_ECN: u8 = 0x80;

/// TCP flags cleared on some segments: CWR after the first (as Linux's
/// segmentation does), FIN and PSH before the last.
const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Split `input` (headers `hdr.hdr_len` long, then the payload, cut
/// every `hdr.gso_size` bytes) into `outs`, segment `k` at the start of
/// `outs[k]`, which must hold `sizes[k]` bytes: the lengths the segments
/// come to (the caller worked them out from the same header). Fails,
/// with nothing promised of `outs`, if the header does not describe a
/// TCP or UDP super-packet of the given IP version or the segments are
/// not those lengths.
pub(super) fn split_into(
    input: &[u8],
    hdr: &VirtioNetHdr,
    v6: bool,
    outs: &mut [&mut [u8]],
    sizes: &[usize],
) -> io::Result<()> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    let base = hdr.gso_type & !GSO_ECN;
    let tcp = match base {
        GSO_TCPV4 if !v6 => true,
        GSO_TCPV6 if v6 => true,
        VIRTIO_NET_HDR_GSO_UDP_L4 if hdr.gso_type & GSO_ECN == 0 => false,
        _ => return Err(bad("GSO type does not fit the packet")),
    };
    let start = usize::from(hdr.csum_start);
    let head = usize::from(hdr.hdr_len);
    let gso = usize::from(hdr.gso_size);
    let (field, transport_min, proto) = if tcp { (16, 20, 6) } else { (6, 8, 17) };
    let at = start + field;
    if usize::from(hdr.csum_offset) != field
        || start < if v6 { 40 } else { 20 }
        || head < start + transport_min
        || input.len() <= head
        || gso == 0
    {
        return Err(bad("GSO header does not fit the packet"));
    }
    let payload = input.len() - head;
    let n = payload.div_ceil(gso);
    if n > outs.len() || n > sizes.len() || n > usize::from(u16::MAX) {
        return Err(bad("more segments than buffers"));
    }
    for (k, out) in outs[..n].iter().enumerate() {
        let len = head + gso.min(payload - k * gso);
        if len != sizes[k] || out.len() < len || len > usize::from(u16::MAX) {
            return Err(bad("segment does not fit its buffer"));
        }
    }
    let addrs = if v6 { &input[8..40] } else { &input[12..20] };
    let pseudo = sum(addrs, sum(&[0, proto], 0));
    let id = u16::from_be_bytes([input[4], input[5]]);
    let seq = u32::from_be_bytes([
        input[start + 4],
        input[start + 5],
        input[start + 6],
        input[start + 7],
    ]);
    // The headers' sums but for the fields each segment has its own
    // (IPv4: total length, ID, checksum; TCP: sequence number, the word
    // with the flags, checksum; UDP: length, checksum), added per
    // segment: taken from the input, so that no segment's bytes are
    // read back once written (the transmit queue is seldom in the
    // cache, and a read waits for the line the write asked for).
    let ip_rest = if v6 {
        0
    } else {
        sum(&input[..2], sum(&input[6..10], sum(&input[12..start], 0)))
    };
    let transport_rest = if tcp {
        let t = &input[start..head];
        sum(&t[..4], sum(&t[8..12], sum(&t[14..16], sum(&t[18..], 0))))
    } else {
        sum(&input[start..start + 4], sum(&input[start + 8..head], 0))
    };
    for (k, out) in outs[..n].iter_mut().enumerate() {
        let data = &input[head + k * gso..(head + (k + 1) * gso).min(input.len())];
        let total = head + data.len();
        let out = &mut out[..total];
        out[..head].copy_from_slice(&input[..head]);
        // Lengths fit in 16 bits: checked above.
        if v6 {
            out[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
        } else {
            let len = (total as u16).to_be_bytes();
            let id = id.wrapping_add(k as u16).to_be_bytes();
            out[2..4].copy_from_slice(&len);
            out[4..6].copy_from_slice(&id);
            let ip = !fold(ip_rest + word(len) + word(id));
            out[10..12].copy_from_slice(&ip.to_ne_bytes());
        }
        let length = (total - start) as u16;
        let mut acc = pseudo + word(length.to_be_bytes()) + transport_rest;
        if tcp {
            let s = seq.wrapping_add((gso * k) as u32).to_be_bytes();
            out[start + 4..start + 8].copy_from_slice(&s);
            let mut flags = input[start + 13];
            if k > 0 {
                flags &= !TCP_CWR;
            }
            if k + 1 < n {
                flags &= !(TCP_FIN | TCP_PSH);
            }
            out[start + 13] = flags;
            acc += word([s[0], s[1]]) + word([s[2], s[3]]) + word([input[start + 12], flags]);
        } else {
            out[start + 4..start + 6].copy_from_slice(&length.to_be_bytes());
            acc += word(length.to_be_bytes());
        }
        let acc = copy_sum(&mut out[head..], data, acc);
        let c = !fold(acc);
        // A zero UDP checksum means "none" (IPv4) or is refused (IPv6).
        let c = if !tcp && c == 0 { 0xffff } else { c };
        out[at..at + 2].copy_from_slice(&c.to_ne_bytes());
    }
    Ok(())
}

/// Two bytes as they are in memory, for a sum.
fn word(b: [u8; 2]) -> u64 {
    u64::from(u16::from_ne_bytes(b))
}

/// Add the bytes of `b` to `acc` (see the module's note on byte order).
/// `b` starts at an even offset of what is summed.
fn sum(b: &[u8], acc: u64) -> u64 {
    let mut acc = acc;
    let mut words = b.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_ne_bytes([w[0], w[1], w[2], w[3]]));
    }
    acc + tail(words.remainder())
}

/// Copy `src` into `dst` (as long) and add the bytes of `src` to `acc`:
/// summed from the source, which the read left in the cache, not from
/// the copy.
fn copy_sum(dst: &mut [u8], src: &[u8], acc: u64) -> u64 {
    dst.copy_from_slice(src);
    sum(src, acc)
}

/// The last 0 to 3 bytes, padded with zeros behind them.
fn tail(b: &[u8]) -> u64 {
    let mut w = [0u8; 4];
    w[..b.len()].copy_from_slice(b);
    u64::from(u32::from_ne_bytes(w))
}

/// Fold a sum to 16 bits (in the machine's byte order).
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc >> 16) + (acc & 0xffff);
    }
    acc as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sum in network order, as tun-rs takes it.
    fn reference(b: &[u8]) -> u16 {
        tun_rs::checksum(b, 0)
    }

    #[test]
    fn sums_agree_with_tun_rs_at_every_length_and_offset() {
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 131 + 7) as u8).collect();
        for off in 0..5 {
            for len in 0..260 {
                let src = &bytes[off..off + len];
                let want = reference(src);
                assert_eq!(u16::from_be_bytes(fold(sum(src, 0)).to_ne_bytes()), want);
                let mut dst = vec![0u8; len];
                let got = copy_sum(&mut dst, src, 0);
                assert_eq!(dst, src, "copied, length {len}");
                assert_eq!(
                    u16::from_be_bytes(fold(got).to_ne_bytes()),
                    want,
                    "length {len}"
                );
            }
        }
        // All ones: the accumulator's carries fold back in.
        let ones = vec![0xffu8; 65536];
        let mut dst = vec![0u8; ones.len()];
        assert_eq!(fold(copy_sum(&mut dst, &ones, 0)), 0xffff);
    }

    /// A super-packet: IPv4 or IPv6, TCP (with 12 bytes of options, and
    /// CWR, PSH and FIN set) or UDP, `payload` bytes cut every `gso`.
    fn super_packet(v6: bool, tcp: bool, payload: usize, gso: u16) -> (VirtioNetHdr, Vec<u8>) {
        let ip = if v6 { 40 } else { 20 };
        let transport = if tcp { 32 } else { 8 };
        let total = ip + transport + payload;
        let mut p = vec![0u8; total];
        let proto = if tcp { 6 } else { 17 };
        if v6 {
            p[0] = 0x60;
            p[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
            p[6] = proto;
            p[7] = 64;
            p[8..24].fill(0xfd);
            p[24..40].fill(0x02);
        } else {
            p[0] = 0x45;
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            p[4..6].copy_from_slice(&0xfffeu16.to_be_bytes()); // wraps
            p[8] = 64;
            p[9] = proto;
            p[12..16].copy_from_slice(&[10, 0, 0, 1]);
            p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        }
        p[ip..ip + 2].copy_from_slice(&5000u16.to_be_bytes());
        p[ip + 2..ip + 4].copy_from_slice(&5201u16.to_be_bytes());
        if tcp {
            p[ip + 4..ip + 8].copy_from_slice(&0xffff_fff0u32.to_be_bytes()); // wraps
            p[ip + 12] = 8 << 4;
            p[ip + 13] = TCP_CWR | TCP_PSH | TCP_FIN | 0x10;
            p[ip + 20..ip + 32].copy_from_slice(&[1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
        }
        for (k, b) in p[ip + transport..].iter_mut().enumerate() {
            *b = (k * 37 + 11) as u8;
        }
        let gso_type = match (tcp, v6) {
            (true, false) => GSO_TCPV4,
            (true, true) => GSO_TCPV6,
            (false, _) => VIRTIO_NET_HDR_GSO_UDP_L4,
        };
        let h = VirtioNetHdr {
            flags: 1,
            gso_type,
            hdr_len: (ip + transport) as u16,
            gso_size: gso,
            csum_start: ip as u16,
            csum_offset: if tcp { 16 } else { 6 },
        };
        (h, p)
    }

    /// Every kind of super-packet, odd lengths included, splits into
    /// what tun-rs's splitter makes of it, byte for byte.
    #[test]
    fn segments_are_those_tun_rs_makes() {
        for (v6, tcp) in [(false, true), (true, true), (false, false), (true, false)] {
            for (payload, gso) in [
                (4001, 1000),
                (2999, 1000),
                (1, 1380),
                (65000 - 80, 1380),
                (7, 2),
            ] {
                let (h, mut p) = super_packet(v6, tcp, payload, gso);
                let head = usize::from(h.hdr_len);
                let n = payload.div_ceil(usize::from(gso));
                let sizes: Vec<usize> = (0..n)
                    .map(|k| head + usize::from(gso).min(payload - k * usize::from(gso)))
                    .collect();
                let mut ours = vec![vec![0u8; sizes[0]]; n];
                let mut outs: Vec<&mut [u8]> = ours.iter_mut().map(|b| &mut b[..]).collect();
                split_into(&p, &h, v6, &mut outs, &sizes).unwrap();
                let mut theirs = vec![vec![0u8; sizes[0]]; n];
                let mut got = vec![0usize; n];
                let m = tun_rs::gso_split(&mut p, h, &mut theirs, &mut got, 0, v6).unwrap();
                assert_eq!((m, &got), (n, &sizes));
                for k in 0..n {
                    let what = format!("v6 {v6} tcp {tcp} payload {payload} segment {k}");
                    assert_eq!(ours[k][..sizes[k]], theirs[k][..sizes[k]], "{what}");
                }
            }
        }
    }

    #[test]
    fn headers_and_buffers_that_do_not_fit_are_refused() {
        let (h, p) = super_packet(false, true, 3000, 1000);
        let sizes = [1052, 1052, 1052];
        let mut bufs = vec![vec![0u8; 1052]; 3];
        let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
        assert!(split_into(&p, &h, false, &mut outs, &sizes).is_ok());
        let refused = |h: VirtioNetHdr, v6: bool, outs: &mut [&mut [u8]], sizes: &[usize]| {
            split_into(&p, &h, v6, outs, sizes).is_err()
        };
        assert!(refused(h, true, &mut outs, &sizes), "TCPV4 on IPv6");
        assert!(
            refused(
                VirtioNetHdr {
                    gso_type: 0x85,
                    ..h
                },
                false,
                &mut outs,
                &sizes
            ),
            "UDP with ECN"
        );
        assert!(
            refused(VirtioNetHdr { gso_type: 3, ..h }, false, &mut outs, &sizes),
            "UDP (UFO)"
        );
        assert!(refused(
            VirtioNetHdr {
                csum_offset: 6,
                ..h
            },
            false,
            &mut outs,
            &sizes
        ));
        assert!(refused(
            VirtioNetHdr {
                csum_start: 12,
                ..h
            },
            false,
            &mut outs,
            &sizes
        ));
        assert!(refused(
            VirtioNetHdr { hdr_len: 30, ..h },
            false,
            &mut outs,
            &sizes
        ));
        assert!(refused(
            VirtioNetHdr { hdr_len: 4000, ..h },
            false,
            &mut outs,
            &sizes
        ));
        assert!(refused(
            VirtioNetHdr { gso_size: 0, ..h },
            false,
            &mut outs,
            &sizes
        ));
        assert!(refused(h, false, &mut outs[..2], &sizes), "too few buffers");
        assert!(
            refused(h, false, &mut outs, &[1052, 1052, 1051]),
            "other lengths"
        );
        let mut short = vec![vec![0u8; 1051]; 3];
        let mut outs: Vec<&mut [u8]> = short.iter_mut().map(|b| &mut b[..]).collect();
        assert!(refused(h, false, &mut outs, &sizes), "buffers too small");
    }
}
