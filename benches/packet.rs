//! Micro-benchmarks of the packet path, `cargo bench` (release build,
//! no external harness): sealing and opening one data message on a
//! session (`wgd::noise`) as the workers do, one GSO batch (45 segments of
//! a 64 KiB super-packet sealed back to back, as the transmit queue holds
//! them) on one core and shared by two threads, and the allowed-IP lookup
//! with 100 000 prefixes.
//!
//! Each case runs for about a second; the figure is the mean. Instruction
//! counts that do not depend on the machine's noise come from
//! `valgrind --tool=callgrind target/release/deps/packet-*`.

use boringtun::x25519::{PublicKey, StaticSecret};
use proto::Prefix;
use rand_core::OsRng;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};
use wgd::noise::handshake::Responder;
use wgd::noise::index::Table;
use wgd::noise::session::{Session, OVERHEAD};
use wgd::noise::tunnel::Tunnel;
use wgd::sys::boottime::Instant as BootInstant;
use wgd::sys::crew::Crew;
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

/// The two ends of one session, made by a real handshake.
fn pair() -> (Arc<Session>, Arc<Session>) {
    let (a, b) = (
        StaticSecret::random_from_rng(OsRng),
        StaticSecret::random_from_rng(OsRng),
    );
    let (pa, pb) = (PublicKey::from(&a), PublicKey::from(&b));
    let table = Arc::new(Table::<()>::default());
    let mut ta = Tunnel::new(a, pb, None, table.allocator(Weak::new()));
    let mut tb = Tunnel::new(b.clone(), pa, None, table.allocator(Weak::new()));
    let now = BootInstant::now();
    let mut init = vec![0u8; 256];
    let n = ta
        .initiation(&mut init, now, SystemTime::now())
        .expect("initiation");
    let opened = Responder::new(&pb)
        .open(&b, &init[..n])
        .and_then(|c| c.finish(tb.static_static()?))
        .expect("opens");
    let mut resp = vec![0u8; 256];
    let (n, index) = tb.respond(&opened, &mut resp, now).expect("response");
    assert!(ta.consume_response(&resp[..n], now));
    let sa = ta.sending(now).expect("session").clone();
    let sb = tb.session_for(index, now).expect("session").clone();
    (sa, sb)
}

/// Seal `p` into `out` as the workers do.
fn seal(s: &Session, p: &[u8], out: &mut [u8]) -> usize {
    let c = s.reserve(1).expect("counter");
    s.seal(c, p, p.len(), out).expect("room")
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

/// An initiation's cost to the responder before it knows whether the
/// sender is a peer: opening up to the static key (one DH), then, for a
/// known peer, the timestamp with the precomputed static-static DH.
fn handshakes() {
    let (r, i) = (
        StaticSecret::random_from_rng(OsRng),
        StaticSecret::random_from_rng(OsRng),
    );
    let (pr, pi) = (PublicKey::from(&r), PublicKey::from(&i));
    let table = Arc::new(Table::<()>::default());
    let mut ti = Tunnel::new(i, pr, None, table.allocator(Weak::new()));
    let tr = Tunnel::new(r.clone(), pi, None, table.allocator(Weak::new()));
    let mut init = vec![0u8; 256];
    let n = ti
        .initiation(&mut init, BootInstant::now(), SystemTime::now())
        .expect("initiation");
    let responder = Responder::new(&pr);
    let ns = time(|| {
        black_box(responder.open(&r, black_box(&init[..n])));
    });
    println!("initiation, unknown key   {:8.0} ns (one DH)", ns);
    let ns = time(|| {
        let c = responder.open(&r, black_box(&init[..n])).expect("opens");
        black_box(c.finish(tr.static_static().expect("dh")));
    });
    println!(
        "initiation, known peer    {:8.0} ns (one DH, static-static precomputed)",
        ns
    );
}

fn main() {
    handshakes();
    let (ta, tb) = pair();
    let p = packet(1420);
    let mut msg = vec![0u8; 2048];

    let ns = time(|| {
        black_box(seal(&ta, black_box(&p), &mut msg));
    });
    println!(
        "seal 1420 B               {:8.0} ns/packet  {:6.2} Gbit/s",
        ns,
        1420.0 * 8.0 / ns
    );

    // Fresh messages to open (the replay window refuses repeats).
    let msgs: Vec<Vec<u8>> = (0..200_000)
        .map(|_| {
            let n = seal(&ta, &p, &mut msg);
            msg[..n].to_vec()
        })
        .collect();
    let mut msgs = msgs;
    let start = Instant::now();
    let mut ok = 0;
    for m in msgs.iter_mut() {
        if tb.open(black_box(m)) == Some(1420) {
            ok += 1;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / msgs.len() as f64;
    assert_eq!(ok, msgs.len(), "every message opens");
    println!(
        "open 1420 B (in place)    {:8.0} ns/packet  {:6.2} Gbit/s",
        ns,
        1420.0 * 8.0 / ns
    );

    // One GSO batch: 45 segments of 1420 bytes sealed into one contiguous
    // buffer, the shape of a UDP GSO send.
    let segs = 45;
    let step = 1420 + OVERHEAD;
    let mut batch = vec![0u8; segs * step];
    let ns = time(|| {
        for seg in batch.chunks_mut(step) {
            black_box(seal(&ta, &p, seg));
        }
    });
    println!(
        "seal GSO batch            {:8.0} ns/batch   {:6.2} Gbit/s  ({segs} x 1420 B)",
        ns,
        (segs * 1420) as f64 * 8.0 / ns
    );

    // The same batch shared with a second thread through the workers'
    // crew, chunk by chunk, as a worker shares it with an idle one (the
    // helper here spins instead of waiting in epoll).
    let crew = Crew::new(true).expect("eventfd");
    crew.idle.store(1, Ordering::Relaxed);
    let stop = AtomicBool::new(false);
    let ns = std::thread::scope(|sc| {
        sc.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                crew.help();
            }
        });
        let ns = time(|| {
            let chunks: Vec<Mutex<&mut [u8]>> =
                batch.chunks_mut(8 * step).map(Mutex::new).collect();
            let next = AtomicUsize::new(0);
            let job = || loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = chunks.get(k) else { break };
                let mut c = c.lock().unwrap_or_else(|e| e.into_inner());
                for seg in c.chunks_mut(step) {
                    black_box(seal(&ta, &p, seg));
                }
            };
            crew.share(&job, 1);
        });
        stop.store(true, Ordering::Relaxed);
        ns
    });
    println!(
        "seal GSO batch, shared    {:8.0} ns/batch   {:6.2} Gbit/s  ({segs} x 1420 B, 2 threads)",
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
