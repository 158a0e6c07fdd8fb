//! The TUN reader's checksum completion and super-packet splitting.

use super::*;

fn hdr(flags: u8, gso_type: u8, start: u16, offset: u16) -> VirtioNetHdr {
    VirtioNetHdr {
        flags,
        gso_type,
        csum_start: start,
        csum_offset: offset,
        ..VirtioNetHdr::default()
    }
}

/// An IPv6 UDP packet (10 bytes of payload) as the kernel leaves it
/// for us to checksum: the pseudo-header's sum in the field. Also
/// that sum unfolded, to check the result with.
fn udp6(payload: &[u8; 10]) -> (Vec<u8>, u64) {
    let udp_len = 18u16;
    let mut p = vec![0u8; 40 + 18];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&udp_len.to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].fill(0xfd);
    p[24..40].fill(0x02);
    p[40..42].copy_from_slice(&7777u16.to_be_bytes());
    p[42..44].copy_from_slice(&40000u16.to_be_bytes());
    p[44..46].copy_from_slice(&udp_len.to_be_bytes());
    p[48..58].copy_from_slice(payload);
    let pseudo = tun_rs::checksum_no_fold(
        &[0, 17, 0, udp_len as u8],
        tun_rs::checksum_no_fold(&p[24..40], tun_rs::checksum_no_fold(&p[8..24], 0)),
    );
    let folded = tun_rs::checksum(&[], pseudo);
    p[46..48].copy_from_slice(&folded.to_be_bytes());
    (p, pseudo)
}

#[test]
fn a_partial_checksum_is_completed() {
    let (mut p, pseudo) = udp6(b"wireguard!");
    complete_checksum(&hdr(1, 0, 40, 6), &mut p).unwrap();
    assert_ne!(&p[46..48], &[0, 0]);
    assert_eq!(
        tun_rs::checksum(&p[40..], pseudo),
        0xffff,
        "the receiver's check"
    );
}

/// A datagram whose sum is 0xffff: its checksum is 0xffff, never 0
/// (a zero UDP checksum is "none" over IPv4 and refused over IPv6;
/// tun-rs wrote 0, and one such datagram in 65 536 was lost).
#[test]
fn a_udp_sum_of_0xffff_is_sent_as_0xffff() {
    let (mut p, pseudo) = udp6(b"wireguar\0\0");
    // The last two payload bytes bring the whole sum to 0xffff.
    let field: [u8; 2] = p[46..48].try_into().unwrap();
    p[46..48].fill(0);
    let sum = tun_rs::checksum(&p[40..], pseudo);
    p[56..58].copy_from_slice(&(!sum).to_be_bytes());
    p[46..48].copy_from_slice(&field);
    complete_checksum(&hdr(1, 0, 40, 6), &mut p).unwrap();
    assert_eq!(&p[46..48], &[0xff, 0xff]);
    assert_eq!(tun_rs::checksum(&p[40..], pseudo), 0xffff);
}

#[test]
fn a_checksum_field_past_the_end_is_refused() {
    let (mut p, _) = udp6(b"wireguard!");
    let before = p.clone();
    assert!(complete_checksum(&hdr(1, 0, 57, 6), &mut p).is_none());
    assert!(complete_checksum(&hdr(1, 0, 40, 60), &mut p).is_none());
    assert_eq!(p, before);
}

/// An IPv4 TCP super-packet: 20 + 20 bytes of headers, `payload`
/// bytes of data, segments of `gso` bytes.
fn tcp4_super(payload: usize, gso: u16) -> (VirtioNetHdr, Vec<u8>) {
    let total = 40 + payload;
    let mut p = vec![0u8; total];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[8] = 64;
    p[9] = 6;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p[20..22].copy_from_slice(&5000u16.to_be_bytes());
    p[22..24].copy_from_slice(&5201u16.to_be_bytes());
    p[24..28].copy_from_slice(&1000u32.to_be_bytes());
    p[32] = 5 << 4;
    p[33] = 0x18; // PSH, ACK
    for (k, b) in p[40..].iter_mut().enumerate() {
        *b = k as u8;
    }
    let h = VirtioNetHdr {
        flags: 1,
        gso_type: 1,   // TCPV4
        hdr_len: 1500, // untrusted: taken from the TCP header
        gso_size: gso,
        csum_start: 20,
        csum_offset: 16,
    };
    (h, p)
}

fn unsplit(payload: usize, gso: u16) -> TunPackets {
    let (h, p) = tcp4_super(payload, gso);
    let mut pk = TunPackets::default();
    pk.raw[VIRTIO_NET_HDR_LEN..][..p.len()].copy_from_slice(&p);
    pk.raw_len = VIRTIO_NET_HDR_LEN + p.len();
    let (h, v6) = super_header(h, &p).unwrap();
    assert_eq!((h.hdr_len, v6), (40, false));
    pk.segments(h, v6).unwrap();
    pk
}

/// Split straight into other buffers, a super-packet gives the very
/// segments it gives split into the reader's own.
#[test]
fn split_into_gives_what_split_gives() {
    let mut a = unsplit(250, 100);
    assert!(a.unsplit());
    assert_eq!(
        (0..3).map(|i| a.len_of(i)).collect::<Vec<_>>(),
        [140, 140, 90]
    );
    let mut room = vec![0u8; 3 * 200];
    {
        let mut outs: Vec<&mut [u8]> = room.chunks_mut(200).collect();
        a.split_into(&mut outs).unwrap();
    }
    a.split().unwrap();
    assert!(!a.unsplit());
    for (i, out) in room.chunks(200).enumerate() {
        assert_eq!(a.packet(i), &out[..a.len_of(i)], "segment {i}");
    }
    // Sequence numbers advance by the segment size; PSH only last.
    assert_eq!(&a.packet(1)[24..28], &1100u32.to_be_bytes());
    assert_eq!((a.packet(0)[33], a.packet(2)[33]), (0x10, 0x18));
}

#[test]
fn split_into_refuses_buffers_too_small() {
    let mut a = unsplit(250, 100);
    let mut room = vec![0u8; 3 * 139];
    let mut outs: Vec<&mut [u8]> = room.chunks_mut(139).collect();
    assert!(a.split_into(&mut outs).is_err());
}

#[test]
fn super_headers_that_cannot_be_split() {
    let (h, p) = tcp4_super(250, 100);
    assert!(super_header(VirtioNetHdr { gso_size: 0, ..h }, &p).is_none());
    let mut q = p.clone();
    q[32] = 4 << 4; // a TCP header of 16 bytes
    assert!(super_header(h, &q).is_none());
    q[0] = 0x55; // not IP
    assert!(super_header(h, &q).is_none());
    let udp = VirtioNetHdr {
        gso_type: 5,
        csum_offset: 6,
        ..h
    };
    assert_eq!(super_header(udp, &p).unwrap().0.hdr_len, 28);
    assert!(super_header(h, &p[..40]).is_none(), "headers only");
}
