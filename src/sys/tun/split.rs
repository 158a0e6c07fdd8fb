//! Cutting a TCP or UDP super-packet (TSO/USO, as the TUN device hands
//! it over) into MTU-sized packets, straight into the places the caller
//! gives: each segment gets the super-packet's headers with its own
//! lengths, IPv4 ID, TCP sequence number and flags, and its checksums.
//! Every sum is taken from the super-packet, which the read left in the
//! cache, and nothing written into the places is read back: the places
//! (the transmit queue) are seldom in the cache, and a read of a line
//! just written waits for it. tun-rs's splitter sums each segment from
//! its copy. Pure code: no system calls.

use std::io;
use tun_rs::{checksum, checksum_no_fold, VirtioNetHdr, VIRTIO_NET_HDR_GSO_UDP_L4};

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
/// writing nothing, if the header does not describe a TCP or UDP
/// super-packet of the given IP version (a transport header of an odd
/// length included: the payload's sum is taken apart from the
/// header's), if there are fewer buffers or sizes than segments, or if
/// a segment is not its size or does not fit its buffer.
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
    let (field, transport_min, proto): (usize, usize, u64) =
        if tcp { (16, 20, 6) } else { (6, 8, 17) };
    let at = start + field;
    if usize::from(hdr.csum_offset) != field
        || start < if v6 { 40 } else { 20 }
        || head < start + transport_min
        || (head - start) % 2 != 0
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
    let pseudo = checksum_no_fold(addrs, proto);
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
        let sum = checksum_no_fold(&input[..2], 0);
        checksum_no_fold(&input[12..start], checksum_no_fold(&input[6..10], sum))
    };
    let transport_rest = if tcp {
        let t = &input[start..head];
        let sum = checksum_no_fold(&t[..4], checksum_no_fold(&t[8..12], 0));
        checksum_no_fold(&t[14..16], checksum_no_fold(&t[18..], sum))
    } else {
        checksum_no_fold(
            &input[start..start + 4],
            checksum_no_fold(&input[start + 8..head], 0),
        )
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
            let ip = !checksum(&[], ip_rest + word(len) + word(id));
            out[10..12].copy_from_slice(&ip.to_be_bytes());
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
        out[head..].copy_from_slice(data);
        let c = !checksum(data, acc);
        // A zero UDP checksum means "none" (IPv4) or is refused (IPv6).
        let c = if !tcp && c == 0 { 0xffff } else { c };
        out[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

/// Two bytes of a header, as a sum takes them (in network order).
fn word(b: [u8; 2]) -> u64 {
    u64::from(u16::from_be_bytes(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a super-packet is made of.
    #[derive(Clone, Copy)]
    struct Kind {
        v6: bool,
        tcp: bool,
        /// IPv4 options, or an IPv6 extension header, of 8 bytes.
        options: bool,
        /// The ECN bit of the GSO type (TCP only).
        ecn: bool,
    }

    /// A super-packet of kind `k`, `payload` bytes cut every `gso`, with
    /// no header field zero that a segment keeps: TOS, DF, TTL, TCP
    /// options, acknowledgement, window, urgent pointer, and in the
    /// checksum field the pseudo-header's partial sum the kernel leaves
    /// there (any value: it must not be summed); CWR, PSH and FIN set;
    /// an IPv4 ID and a TCP sequence number that wrap.
    fn super_packet(k: Kind, payload: usize, gso: u16) -> (VirtioNetHdr, Vec<u8>) {
        let opt = if k.options { 8 } else { 0 };
        let ip = if k.v6 { 40 } else { 20 } + opt;
        let transport = if k.tcp { 32 } else { 8 };
        let total = ip + transport + payload;
        let mut p = vec![0u8; total];
        let proto = if k.tcp { 6 } else { 17 };
        if k.v6 {
            p[0] = 0x6b;
            p[1] = 0x80;
            p[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
            p[6] = if k.options { 60 } else { proto };
            p[7] = 64;
            p[8..24].fill(0xfd);
            p[24..40].fill(0x02);
            if k.options {
                p[40..48].copy_from_slice(&[proto, 0, 1, 4, 0xde, 0xad, 0xbe, 0xef]);
            }
        } else {
            p[0] = 0x45 + (opt / 4) as u8;
            p[1] = 0xb8;
            p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
            p[4..6].copy_from_slice(&0xfffeu16.to_be_bytes());
            p[6] = 0x40;
            p[8] = 64;
            p[9] = proto;
            p[10..12].copy_from_slice(&[0x12, 0x34]);
            p[12..16].copy_from_slice(&[10, 0, 0, 1]);
            p[16..20].copy_from_slice(&[10, 0, 0, 2]);
            if k.options {
                p[20..28].copy_from_slice(&[0x94, 4, 0, 0, 1, 1, 1, 0]);
            }
        }
        let t = &mut p[ip..ip + transport];
        t[..2].copy_from_slice(&5000u16.to_be_bytes());
        t[2..4].copy_from_slice(&5201u16.to_be_bytes());
        if k.tcp {
            t[4..8].copy_from_slice(&0xffff_fff0u32.to_be_bytes());
            t[8..12].copy_from_slice(&0x0102_0304u32.to_be_bytes());
            t[12] = (8 << 4) | 1;
            t[13] = TCP_CWR | TCP_PSH | TCP_FIN | 0x10 | 0x40;
            t[14..16].copy_from_slice(&0xfaf0u16.to_be_bytes());
            t[16..18].copy_from_slice(&0xbeefu16.to_be_bytes());
            t[18..20].copy_from_slice(&0x0a0bu16.to_be_bytes());
            t[20..32].copy_from_slice(&[1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
        } else {
            t[4..6].copy_from_slice(&0x7777u16.to_be_bytes());
            t[6..8].copy_from_slice(&0xbeefu16.to_be_bytes());
        }
        for (i, b) in p[ip + transport..].iter_mut().enumerate() {
            *b = (i * 37 + 11) as u8;
        }
        let gso_type = match (k.tcp, k.v6) {
            (true, false) => GSO_TCPV4,
            (true, true) => GSO_TCPV6,
            (false, _) => VIRTIO_NET_HDR_GSO_UDP_L4,
        } | if k.ecn { GSO_ECN } else { 0 };
        let h = VirtioNetHdr {
            flags: 1,
            gso_type,
            hdr_len: (ip + transport) as u16,
            gso_size: gso,
            csum_start: ip as u16,
            csum_offset: if k.tcp { 16 } else { 6 },
        };
        (h, p)
    }

    /// The segments' lengths, as `TunPackets::segments` works them out.
    fn sizes(h: &VirtioNetHdr, p: &[u8]) -> Vec<usize> {
        let (head, gso) = (usize::from(h.hdr_len), usize::from(h.gso_size));
        let payload = p.len() - head;
        (0..payload.div_ceil(gso))
            .map(|k| head + gso.min(payload - k * gso))
            .collect()
    }

    /// Split by us and by tun-rs, into buffers filled with 0xa5 first.
    fn both(h: VirtioNetHdr, p: &[u8], v6: bool) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let sizes = sizes(&h, p);
        let n = sizes.len();
        let mut ours = vec![vec![0xa5u8; sizes[0]]; n];
        let mut outs: Vec<&mut [u8]> = ours.iter_mut().map(|b| &mut b[..]).collect();
        split_into(p, &h, v6, &mut outs, &sizes).unwrap();
        let mut theirs = vec![vec![0xa5u8; sizes[0]]; n];
        let mut got = vec![0usize; n];
        let mut input = p.to_vec();
        let m = tun_rs::gso_split(&mut input, h, &mut theirs, &mut got, 0, v6).unwrap();
        assert_eq!((m, &got), (n, &sizes));
        for (k, size) in sizes.iter().enumerate() {
            ours[k].truncate(*size);
            theirs[k].truncate(*size);
        }
        (ours, theirs)
    }

    /// IPv4 and IPv6 (with options or an extension header, or not), TCP
    /// (with the ECN bit, or not) and UDP, odd lengths: the segments are
    /// byte for byte those tun-rs's splitter makes.
    #[test]
    fn segments_are_those_tun_rs_makes() {
        let mut kinds = Vec::new();
        for v6 in [false, true] {
            for options in [false, true] {
                for (tcp, ecn) in [(true, false), (true, true), (false, false)] {
                    kinds.push(Kind {
                        v6,
                        tcp,
                        options,
                        ecn,
                    });
                }
            }
        }
        for k in kinds {
            for (payload, gso) in [
                (4001, 1000),
                (2999, 1000),
                (1, 1380),
                (65000 - 96, 1380),
                (7, 2),
            ] {
                let (h, p) = super_packet(k, payload, gso);
                let (ours, theirs) = both(h, &p, k.v6);
                for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
                    assert_eq!(
                        a, b,
                        "v6 {} tcp {} options {} payload {payload} segment {i}",
                        k.v6, k.tcp, k.options
                    );
                }
            }
        }
    }

    /// A UDP segment whose sum comes to 0xffff is sent with 0xffff in
    /// its checksum, never 0 (which means "none" over IPv4, and is
    /// refused over IPv6).
    #[test]
    fn a_udp_segment_summing_to_0xffff_has_0xffff() {
        for v6 in [false, true] {
            let k = Kind {
                v6,
                tcp: false,
                options: false,
                ecn: false,
            };
            let (h, mut p) = super_packet(k, 2000, 1000);
            let at = usize::from(h.csum_start) + 6;
            // Zero the last word of the first segment's payload, then put
            // there what its checksum came to: its sum becomes 0xffff.
            let last = usize::from(h.hdr_len) + 998;
            p[last..last + 2].fill(0);
            let (ours, _) = both(h, &p, v6);
            let c = [ours[0][at], ours[0][at + 1]];
            p[last..last + 2].copy_from_slice(&c);
            let (ours, theirs) = both(h, &p, v6);
            assert_eq!(&ours[0][at..at + 2], &[0xff, 0xff]);
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn headers_and_buffers_that_do_not_fit_are_refused() {
        let v4 = Kind {
            v6: false,
            tcp: true,
            options: false,
            ecn: false,
        };
        let (h, p) = super_packet(v4, 3000, 1000);
        let (h6, p6) = super_packet(Kind { v6: true, ..v4 }, 3000, 1000);
        let sizes = [1052, 1052, 1052];
        let mut bufs = vec![vec![0u8; 1052]; 3];
        let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
        assert!(split_into(&p, &h, false, &mut outs, &sizes).is_ok());
        let refused =
            |p: &[u8], h: VirtioNetHdr, v6: bool, outs: &mut [&mut [u8]], sizes: &[usize]| {
                split_into(p, &h, v6, outs, sizes).is_err()
            };
        let sizes6 = [1072, 1072, 1072];
        let mut bufs6 = vec![vec![0u8; 1072]; 3];
        let mut outs6: Vec<&mut [u8]> = bufs6.iter_mut().map(|b| &mut b[..]).collect();
        assert!(split_into(&p6, &h6, true, &mut outs6, &sizes6).is_ok());
        let tcp4 = VirtioNetHdr {
            gso_type: GSO_TCPV4,
            ..h6
        };
        assert!(
            refused(&p6, tcp4, true, &mut outs6, &sizes6),
            "TCPV4 on IPv6"
        );
        let tcp6 = VirtioNetHdr {
            gso_type: GSO_TCPV6,
            ..h
        };
        assert!(refused(&p, tcp6, false, &mut outs, &sizes), "TCPV6 on IPv4");
        let cases = [
            (
                VirtioNetHdr {
                    gso_type: 0x85,
                    ..h
                },
                "UDP with ECN",
            ),
            (VirtioNetHdr { gso_type: 3, ..h }, "UDP (UFO)"),
            (
                VirtioNetHdr {
                    csum_offset: 6,
                    ..h
                },
                "TCP's checksum elsewhere",
            ),
            (
                VirtioNetHdr {
                    csum_start: 12,
                    ..h
                },
                "IP header too short",
            ),
            (VirtioNetHdr { hdr_len: 30, ..h }, "TCP header too short"),
            (
                VirtioNetHdr { hdr_len: 61, ..h },
                "a transport header of an odd length",
            ),
            (VirtioNetHdr { hdr_len: 4000, ..h }, "headers past the end"),
            (VirtioNetHdr { gso_size: 0, ..h }, "no segment size"),
        ];
        for (bad, what) in cases {
            assert!(refused(&p, bad, false, &mut outs, &sizes), "{what}");
        }
        // Lengths and buffers that would fit such headers.
        let odd = VirtioNetHdr { hdr_len: 61, ..h };
        let mut wide = vec![vec![0u8; 1061]; 3];
        let mut wides: Vec<&mut [u8]> = wide.iter_mut().map(|b| &mut b[..]).collect();
        let odd_sizes = [1061, 1061, 1052];
        assert!(
            refused(&p, odd, false, &mut wides, &odd_sizes),
            "a transport header of an odd length"
        );
        let even = VirtioNetHdr { hdr_len: 60, ..h };
        assert!(split_into(&p, &even, false, &mut wides, &[1060, 1060, 1052]).is_ok());
        assert!(
            refused(&p, h, false, &mut outs[..2], &sizes),
            "too few buffers"
        );
        assert!(
            refused(&p, h, false, &mut outs, &[1052, 1052, 1051]),
            "other lengths"
        );
        let mut short = vec![vec![0xa5u8; 1051]; 3];
        let mut outs: Vec<&mut [u8]> = short.iter_mut().map(|b| &mut b[..]).collect();
        assert!(
            refused(&p, h, false, &mut outs, &sizes),
            "buffers too small"
        );
        assert!(
            short.iter().flatten().all(|b| *b == 0xa5),
            "nothing written"
        );
    }
}
