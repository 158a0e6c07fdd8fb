//! Coalescing on the way to the TUN device. The strongest check: what
//! is written, split again the way the kernel would (tun-rs's splitter,
//! which writes every segment's checksums), gives back the very packets
//! that were queued.

use super::*;

/// A packet's flow, as `flow` gives it.
type Flow = Option<([u8; 38], usize)>;

const BOTH: Gro = Gro {
    tcp: true,
    udp: true,
};

/// A TCP segment with correct checksums: `v6` or IPv4 (ID `id`),
/// sequence `seq`, flags `flags`, `payload` bytes of data.
fn tcp(v6: bool, id: u16, seq: u32, ack: u32, flags: u8, payload: usize) -> Vec<u8> {
    let iph = if v6 { 40 } else { 20 };
    let th = 32; // with a timestamp option
    let mut p = vec![0u8; iph + th + payload];
    let tl = (th + payload) as u16;
    if v6 {
        p[0] = 0x60;
        p[1] = 0x01;
        p[4..6].copy_from_slice(&tl.to_be_bytes());
        p[6] = TCP;
        p[7] = 64;
        p[8..24].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p[24..40].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    } else {
        p[0] = 0x45;
        p[2..4].copy_from_slice(&((iph + th + payload) as u16).to_be_bytes());
        p[4..6].copy_from_slice(&id.to_be_bytes());
        p[6] = 0x40;
        p[8] = 64;
        p[9] = TCP;
        p[12..16].copy_from_slice(&[10, 0, 0, 1]);
        p[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let sum = !tun_rs::checksum(&p[..20], 0);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    let t = &mut p[iph..];
    t[0..2].copy_from_slice(&5201u16.to_be_bytes());
    t[2..4].copy_from_slice(&40000u16.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[8..12].copy_from_slice(&ack.to_be_bytes());
    t[12] = ((th / 4) as u8) << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&512u16.to_be_bytes());
    t[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9]);
    for (k, b) in t[th..].iter_mut().enumerate() {
        *b = (seq as usize + k) as u8;
    }
    transport_checksum(&mut p, v6);
    p
}

/// A UDP datagram with correct checksums (IPv4 ID `id`).
fn udp(v6: bool, id: u16, payload: usize, fill: u8) -> Vec<u8> {
    let mut p = tcp(v6, id, 0, 0, TCP_ACK, 0);
    let iph = if v6 { 40 } else { 20 };
    p.truncate(iph + 8);
    p.resize(iph + 8 + payload, fill);
    let ul = (8 + payload) as u16;
    if v6 {
        p[4..6].copy_from_slice(&ul.to_be_bytes());
        p[6] = UDP;
    } else {
        p[2..4].copy_from_slice(&((iph + 8 + payload) as u16).to_be_bytes());
        p[9] = UDP;
        p[10..12].fill(0);
        let sum = !tun_rs::checksum(&p[..20], 0);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
    }
    p[iph + 4..iph + 6].copy_from_slice(&ul.to_be_bytes());
    transport_checksum(&mut p, v6);
    p
}

fn transport_checksum(p: &mut [u8], v6: bool) {
    let (iph, proto, addrs) = if v6 {
        (40, p[6], 8..40)
    } else {
        (20, p[9], 12..20)
    };
    let at = iph + if proto == TCP { 16 } else { 6 };
    p[at..at + 2].fill(0);
    let len = (p.len() - iph) as u64;
    let pseudo = tun_rs::checksum_no_fold(&p[addrs], u64::from(proto) + len);
    let sum = !tun_rs::checksum(&p[iph..], pseudo);
    p[at..at + 2].copy_from_slice(&sum.to_be_bytes());
}

/// What `w` writes, each split again into the packets it carries.
fn written_split(w: &mut TunWrites) -> Vec<Vec<Vec<u8>>> {
    split_back(w.written())
}

/// Written buffers (virtio header and packet), each split again.
fn split_back(out: Vec<Vec<u8>>) -> Vec<Vec<Vec<u8>>> {
    out.into_iter()
        .map(|mut b| {
            let hdr = VirtioNetHdr::decode(&b[..VIRTIO_NET_HDR_LEN]).unwrap();
            let p = &mut b[VIRTIO_NET_HDR_LEN..];
            if hdr.gso_type == 0 {
                assert_eq!(hdr.flags, 0);
                return vec![p.to_vec()];
            }
            assert_eq!(hdr.flags, NEEDS_CSUM);
            let v6 = p[0] >> 4 == 6;
            let mut outs = vec![vec![0u8; 65536]; 128];
            let mut sizes = vec![0usize; 128];
            let n = tun_rs::gso_split(p, hdr, &mut outs, &mut sizes, 0, v6).unwrap();
            (0..n).map(|i| outs[i][..sizes[i]].to_vec()).collect()
        })
        .collect()
}

/// Ten TCP segments of 1 300 bytes in sequence, IPv4 IDs counting up.
/// A write queue that coalesces TCP and UDP.
fn coalescing() -> TunWrites {
    let mut w = TunWrites::default();
    w.set_gro(BOTH);
    w
}

fn ten_segments(v6: bool) -> Vec<Vec<u8>> {
    (0..10u32)
        .map(|k| tcp(v6, 100 + k as u16, 1000 + k * 1300, 77, TCP_ACK, 1300))
        .collect()
}

fn queue(w: &mut TunWrites, packets: &[Vec<u8>]) {
    for p in packets {
        w.push(p);
    }
}

#[test]
fn a_run_of_tcp_segments_is_written_as_one_and_splits_back_into_them() {
    for v6 in [false, true] {
        let mut w = coalescing();
        let segs = ten_segments(v6);
        queue(&mut w, &segs);
        assert_eq!((w.len(), w.segments()), (1, 10));
        let out = w.written();
        let hdr = VirtioNetHdr::decode(&out[0][..VIRTIO_NET_HDR_LEN]).unwrap();
        let iph = if v6 { 40 } else { 20 };
        assert_eq!(
            (
                hdr.gso_type,
                hdr.gso_size,
                hdr.hdr_len,
                hdr.csum_start,
                hdr.csum_offset
            ),
            (
                if v6 {
                    VIRTIO_NET_HDR_GSO_TCPV6
                } else {
                    VIRTIO_NET_HDR_GSO_TCPV4
                },
                1300,
                iph as u16 + 32,
                iph as u16,
                16
            )
        );
        assert_eq!(split_back(out), vec![segs], "v6 {v6}");
    }
}

#[test]
fn a_shorter_segment_ends_a_super_packet_and_psh_is_kept_on_the_last() {
    let mut w = coalescing();
    let mut segs = vec![
        tcp(false, 1, 0, 5, TCP_ACK, 1000),
        tcp(false, 2, 1000, 5, TCP_ACK, 1000),
        tcp(false, 3, 2000, 5, TCP_ACK, 400),
        tcp(false, 4, 2400, 5, TCP_ACK, 1000),
        tcp(false, 5, 3400, 5, TCP_ACK | TCP_PSH, 1000),
        tcp(false, 6, 4400, 5, TCP_ACK, 1000),
    ];
    queue(&mut w, &segs);
    let got = written_split(&mut w);
    // The splitter puts PSH on the last segment of a super-packet only.
    let last = segs.drain(3..).collect::<Vec<_>>();
    assert_eq!(
        got,
        vec![segs, last[..2].to_vec(), last[2..].to_vec()],
        "three writes: up to the shorter one, up to PSH, the rest"
    );
}

#[test]
fn a_gap_another_ack_or_other_options_start_a_new_super_packet() {
    let a = tcp(false, 1, 0, 5, TCP_ACK, 1000);
    let gap = tcp(false, 2, 1500, 5, TCP_ACK, 1000);
    let other_ack = tcp(false, 2, 1000, 6, TCP_ACK, 1000);
    let mut other_opts = tcp(false, 2, 1000, 5, TCP_ACK, 1000);
    other_opts[20 + 31] ^= 1;
    transport_checksum(&mut other_opts, false);
    let mut other_ttl = tcp(false, 2, 1000, 5, TCP_ACK, 1000);
    other_ttl[8] = 63;
    let mut other_df = tcp(false, 2, 1000, 5, TCP_ACK, 1000);
    other_df[6] = 0;
    let mut other_window = tcp(false, 2, 1000, 5, TCP_ACK, 1000);
    other_window[20 + 14..20 + 16].copy_from_slice(&1024u16.to_be_bytes());
    transport_checksum(&mut other_window, false);
    let mut ae_bit = tcp(false, 2, 1000, 5, TCP_ACK, 1000);
    ae_bit[20 + 12] |= 0x01;
    transport_checksum(&mut ae_bit, false);
    for b in [
        gap,
        other_ack,
        other_opts,
        other_ttl,
        other_df,
        other_window,
        ae_bit,
    ] {
        let mut w = coalescing();
        queue(&mut w, &[a.clone(), b.clone()]);
        assert_eq!(w.len(), 2);
        assert_eq!(written_split(&mut w), vec![vec![a.clone()], vec![b]]);
    }
}

#[test]
fn ipv6_traffic_class_and_flow_label_must_match() {
    let a = tcp(true, 0, 0, 5, TCP_ACK, 1000);
    for at in [1, 3] {
        let mut b = tcp(true, 0, 1000, 5, TCP_ACK, 1000);
        b[at] ^= 0x01;
        let mut w = coalescing();
        queue(&mut w, &[a.clone(), b]);
        assert_eq!(w.len(), 2, "byte {at}");
    }
}

#[test]
fn nothing_is_appended_to_a_segment_with_psh() {
    let mut w = coalescing();
    let a = tcp(false, 1, 0, 5, TCP_ACK | TCP_PSH, 1000);
    let b = tcp(false, 2, 1000, 5, TCP_ACK, 1000);
    queue(&mut w, &[a.clone(), b.clone()]);
    assert_eq!(written_split(&mut w), vec![vec![a], vec![b]]);
}

/// A written super-packet checked as the kernel and a receiver would:
/// length fields, IPv4 header checksum, and the transport checksum the
/// kernel completes from the pseudo-header sum we leave in its field.
#[test]
fn a_super_packet_has_its_lengths_and_sums_made() {
    for v6 in [false, true] {
        let mut w = coalescing();
        let segs = ten_segments(v6);
        queue(&mut w, &segs);
        let mut out = w.written();
        let p = &mut out[0][VIRTIO_NET_HDR_LEN..];
        assert_eq!(p.len(), segs[0].len() + 9 * 1300);
        let iph = if v6 { 40 } else { 20 };
        if v6 {
            assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])), p.len() - 40);
        } else {
            assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
            assert_eq!(tun_rs::checksum(&p[..20], 0), 0xffff, "IPv4 header sum");
        }
        // What the kernel does with NEEDS_CSUM: sum from csum_start, the
        // field included, and write the complement there.
        let done = !tun_rs::checksum(&p[iph..], 0);
        p[iph + 16..iph + 18].copy_from_slice(&done.to_be_bytes());
        let addrs = if v6 { 8..40 } else { 12..20 };
        let pseudo = tun_rs::checksum_no_fold(&p[addrs], 6 + (p.len() - iph) as u64);
        assert_eq!(tun_rs::checksum(&p[iph..], pseudo), 0xffff, "v6 {v6}");
    }
}

#[test]
fn a_packet_of_the_flow_that_is_not_coalesced_closes_it() {
    let mut w = coalescing();
    let d1 = tcp(false, 1, 0, 5, TCP_ACK, 1000);
    let fin = tcp(false, 2, 1000, 5, TCP_ACK | 0x01, 0);
    let d2 = tcp(false, 3, 1000, 5, TCP_ACK, 1000);
    queue(&mut w, &[d1.clone(), fin.clone(), d2.clone()]);
    assert_eq!(
        written_split(&mut w),
        vec![vec![d1], vec![fin], vec![d2]],
        "nothing of the flow passes the FIN"
    );
}

#[test]
fn interleaved_flows_are_coalesced_apart_in_order() {
    let mut w = coalescing();
    let other = |id: u16, seq: u32| {
        let mut p = tcp(false, id, seq, 5, TCP_ACK, 1000);
        p[20..22].copy_from_slice(&5202u16.to_be_bytes());
        transport_checksum(&mut p, false);
        p
    };
    let (a0, a1) = (
        tcp(false, 1, 0, 5, TCP_ACK, 1000),
        tcp(false, 2, 1000, 5, TCP_ACK, 1000),
    );
    let (b0, b1) = (other(9, 0), other(10, 1000));
    queue(&mut w, &[a0.clone(), b0.clone(), a1.clone(), b1.clone()]);
    assert_eq!(written_split(&mut w), vec![vec![a0, a1], vec![b0, b1]]);
}

#[test]
fn udp_is_coalesced_only_where_the_device_takes_it() {
    for v6 in [false, true] {
        let d: Vec<_> = (0..5).map(|k| udp(v6, k, 1200, k as u8)).collect();
        let last = udp(v6, 5, 300, 9);
        let mut all = d.clone();
        all.push(last);
        let mut w = coalescing();
        queue(&mut w, &all);
        assert_eq!(written_split(&mut w), vec![all.clone()], "v6 {v6}");
        let mut w = TunWrites::default();
        w.set_gro(Gro {
            tcp: true,
            udp: false,
        });
        queue(&mut w, &all);
        assert_eq!(w.len(), all.len());
    }
    // IPv4 without a checksum: not coalesced.
    let mut w = coalescing();
    let mut bare: Vec<_> = (0..3).map(|k| udp(false, k, 100, 1)).collect();
    for p in &mut bare {
        p[26..28].fill(0);
    }
    queue(&mut w, &bare);
    assert_eq!(w.len(), 3);
}

#[test]
fn what_is_not_plain_tcp_or_udp_goes_alone_and_unchanged() {
    let mut frag = tcp(false, 1, 0, 5, TCP_ACK, 1000);
    frag[6] = 0x20; // more fragments
    let mut opts = tcp(false, 1, 0, 5, TCP_ACK, 1000);
    opts[0] = 0x46;
    let mut short_len = tcp(false, 1, 0, 5, TCP_ACK, 1000);
    short_len[3] ^= 1;
    let syn = tcp(false, 1, 0, 5, 0x02, 0);
    let weird = vec![0x45, 0, 0, 8, 1, 2, 3, 4];
    let tiny = vec![0x60];
    for p in [frag, opts, short_len, syn, weird, tiny] {
        let mut w = coalescing();
        queue(&mut w, &[p.clone(), p.clone()]);
        let out = w.written();
        assert_eq!(out.len(), 2);
        for b in out {
            assert_eq!(&b[..VIRTIO_NET_HDR_LEN], &[0; VIRTIO_NET_HDR_LEN]);
            assert_eq!(&b[VIRTIO_NET_HDR_LEN..], &p[..]);
        }
    }
}

#[test]
fn without_offloads_nothing_is_coalesced() {
    let mut w = TunWrites::default();
    let segs: Vec<_> = (0..4u32)
        .map(|k| tcp(false, k as u16, k * 1000, 5, TCP_ACK, 1000))
        .collect();
    queue(&mut w, &segs);
    assert_eq!(w.len(), 4);
    assert_eq!(
        written_split(&mut w),
        segs.into_iter().map(|s| vec![s]).collect::<Vec<_>>()
    );
}

#[test]
fn a_super_packet_stops_at_the_largest_ip_packet() {
    let mut w = coalescing();
    let segs: Vec<_> = (0..60u32)
        .map(|k| tcp(false, k as u16, k * 1400, 5, TCP_ACK, 1400))
        .collect();
    queue(&mut w, &segs);
    let got = written_split(&mut w);
    // (65535 - 52) / 1400 = 46 segments in the first.
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), vec![46, 14]);
    assert_eq!(got.concat(), segs);
}

/// Anything at all may be pushed: no panic, and what is written splits
/// back into packets of the lengths pushed; where nothing was mangled,
/// into the very packets pushed, each flow's in its order.
#[test]
fn arbitrary_packets_are_taken_without_harm() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut merged, mut clean) = (0, 0);
    for _ in 0..3000 {
        let mut w = coalescing();
        let mut pushed = Vec::new();
        let (mut sent, mut mangled, mangle) = (Vec::new(), false, rnd() % 2 == 0);
        // Each flow's next segment, mostly in sequence, some mangled.
        let mut next = [0u32; 4];
        for _ in 0..(rnd() % 24) {
            let kind = (rnd() % 4) as usize;
            let k = next[kind];
            next[kind] += 1;
            let len = if rnd() % 5 == 0 { 100 } else { 200 };
            let flags = if rnd() % 7 == 0 {
                TCP_ACK | TCP_PSH
            } else {
                TCP_ACK
            };
            let mut p = match kind {
                0 | 1 => tcp(kind == 1, k as u16, k * 200, 5, flags, len),
                _ => udp(kind == 3, k as u16, len, k as u8),
            };
            if rnd() % 3 != 0 || !mangle {
                pushed.push(p.len());
                w.push(&p);
                sent.push(p);
                continue;
            }
            mangled = true;
            for _ in 0..(rnd() % 4) {
                let at = (rnd() as usize) % p.len();
                p[at] = rnd() as u8;
            }
            p.truncate(p.len() - (rnd() as usize % 3) * (rnd() as usize % p.len()) / 3);
            pushed.push(p.len());
            w.push(&p);
        }
        merged += w.segments() - w.len();
        let out = split_back(w.written()).concat();
        if !mangled {
            // Every packet back as it was, each flow in its order.
            let of = |f: &[Vec<u8>]| {
                let mut by: Vec<(Flow, Vec<u8>)> = f.iter().map(|p| (flow(p), p.clone())).collect();
                // (Stable: each flow's packets keep their order.)
                by.sort_by_key(|e| e.0);
                by
            };
            assert_eq!(of(&out), of(&sent));
            clean += 1;
        }
        let mut got: Vec<usize> = out.iter().map(Vec::len).collect();
        got.sort_unstable();
        pushed.sort_unstable();
        assert_eq!(got, pushed);
    }
    assert!(merged > 1000, "segments were coalesced: {merged}");
    assert!(clean > 1000, "batches checked byte for byte: {clean}");
}
