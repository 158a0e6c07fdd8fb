//! Micro-benchmarks of the packet path, `cargo bench` (release build,
//! no external harness): per-packet encapsulate and decapsulate as the
//! workers call them, the same for one GSO batch (45 segments of a 64 KiB
//! super-packet written back to back, as the transmit queue holds them),
//! and the allowed-IP lookup with 100 000 prefixes.
//!
//! Each case runs for about a second; the figure is the mean. Instruction
//! counts that do not depend on the machine's noise come from
//! `valgrind --tool=callgrind target/release/deps/packet-*`.

use boringtun::noise::{Tunn, TunnResult};
use boringtun::x25519::{PublicKey, StaticSecret};
use proto::Prefix;
use rand_core::OsRng;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};
use wgd::wg::allowed_ips::AllowedIps;

/// Run `f` repeatedly for about a second; nanoseconds per call.
fn time(mut f: impl FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let mut n = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(1) {
        for _ in 0..64 {
            f();
        }
        n += 64;
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Two tunnels with a session between them.
fn pair() -> (Tunn, Tunn) {
    let (a, b) = (
        StaticSecret::random_from_rng(OsRng),
        StaticSecret::random_from_rng(OsRng),
    );
    let (pa, pb) = (PublicKey::from(&a), PublicKey::from(&b));
    let mut ta = Tunn::new(a, pb, None, None, 1, None);
    let mut tb = Tunn::new(b, pa, None, None, 2, None);
    let mut buf = vec![0u8; 2048];
    let mut out = vec![0u8; 2048];
    let init = match ta.format_handshake_initiation(&mut buf, false) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        _ => panic!("initiation"),
    };
    let resp = match tb.decapsulate(None, &init, &mut out) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        _ => panic!("response"),
    };
    let keepalive = match ta.decapsulate(None, &resp, &mut buf) {
        TunnResult::WriteToNetwork(m) => m.to_vec(),
        _ => panic!("keepalive"),
    };
    let _ = tb.decapsulate(None, &keepalive, &mut out);
    (ta, tb)
}

/// An IPv4 packet of `len` bytes to 10.0.0.2.
fn packet(len: usize) -> Vec<u8> {
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[9] = 17;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p
}

fn main() {
    let (mut ta, mut tb) = pair();
    let p = packet(1420);
    let mut msg = vec![0u8; 2048];
    let mut plain = vec![0u8; 2048];

    let ns = time(|| {
        black_box(ta.encapsulate(black_box(&p), &mut msg));
    });
    println!(
        "encapsulate 1420 B        {:8.0} ns/packet  {:6.2} Gbit/s",
        ns,
        1420.0 * 8.0 / ns
    );

    // Fresh messages for decapsulation (the replay window refuses repeats).
    let msgs: Vec<Vec<u8>> = (0..200_000)
        .map(|_| match ta.encapsulate(&p, &mut msg) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("encapsulate"),
        })
        .collect();
    // Each message once: a repeat would be refused by the replay window.
    let start = Instant::now();
    let mut ok = 0;
    for m in &msgs {
        if let TunnResult::WriteToTunnelV4(..) = tb.decapsulate(None, black_box(m), &mut plain) {
            ok += 1;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / msgs.len() as f64;
    assert_eq!(ok, msgs.len(), "every message decrypts");
    println!(
        "decapsulate 1420 B        {:8.0} ns/packet  {:6.2} Gbit/s",
        ns,
        1420.0 * 8.0 / ns
    );

    // One GSO batch: 45 segments of 1420 bytes encrypted into one
    // contiguous buffer, the shape of a UDP GSO send.
    let segs = 45;
    let mut batch = vec![0u8; segs * (1420 + 32)];
    let ns = time(|| {
        let mut off = 0;
        for _ in 0..segs {
            if let TunnResult::WriteToNetwork(m) = ta.encapsulate(&p, &mut batch[off..]) {
                off += m.len();
            }
        }
        black_box(off);
    });
    println!(
        "encapsulate GSO batch     {:8.0} ns/batch   {:6.2} Gbit/s  ({segs} x 1420 B)",
        ns,
        (segs * 1420) as f64 * 8.0 / ns
    );

    let mut t = AllowedIps::default();
    for i in 0..100_000u32 {
        let a = Ipv4Addr::from(0x0b00_0000 | (i << 8));
        t.insert(&Prefix::new(IpAddr::V4(a), 24).unwrap(), i);
    }
    t.insert(&"0.0.0.0/0".parse::<Prefix>().unwrap(), u32::MAX);
    let mut k = 0u32;
    let ns = time(|| {
        k = k.wrapping_add(0x9e37_79b9);
        black_box(t.lookup(IpAddr::V4(Ipv4Addr::from(0x0b00_0000 | (k & 0x00ff_ffff)))));
    });
    println!("allowed-IP lookup (100k)  {:8.0} ns/lookup", ns);
}
