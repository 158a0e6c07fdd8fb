//! Secrets must not outlive their use in freed heap: a global allocator
//! that, on every free (and on every move of a reallocated block), scans
//! the block it gives back for registered needles (a key's raw bytes, its
//! base64 or hex) and counts them. The daemon's own code paths are driven
//! in-process: the hand-over snapshot, a status reply with `-k`, and the
//! UAPI's `set=1` and `get=1`.
//!
//! The allocator never allocates itself (fixed tables, a const-initialized
//! thread-local guard), and scans only while a needle is registered.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use wgd::sys::boottime::Instant;

use proto::wire::{read_line, write_message};
use proto::{InterfaceStatus, Key, Op, PeerStatus, Psk};
use wgd::handover::codec::Writer;
use wgd::noise::crypto::Secret;
use wgd::noise::replay::Replay;
use wgd::noise::session::Carried;
use wgd::sys::netlink::Where;
use wgd::wg::interface::CarriedInterface;
use zeroize::{Zeroize, Zeroizing};

const SLOTS: usize = 16;
const MAX_NEEDLE: usize = 64;

#[derive(Clone, Copy)]
struct Needle {
    bytes: [u8; MAX_NEEDLE],
    /// 0: a free slot.
    len: usize,
    hits: usize,
}

const FREE: Needle = Needle {
    bytes: [0; MAX_NEEDLE],
    len: 0,
    hits: 0,
};

static NEEDLES: Mutex<[Needle; SLOTS]> = Mutex::new([FREE; SLOTS]);
/// Needles registered; nothing is scanned while there are none.
static ARMED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread is scanning (the allocator must never re-enter).
    static SCANNING: Cell<bool> = const { Cell::new(false) };
}

/// Occurrences of each registered needle in `block`.
fn tally(block: &[u8]) -> [usize; SLOTS] {
    let mut found = [0; SLOTS];
    let needles = NEEDLES.lock().unwrap_or_else(|e| e.into_inner());
    for (i, n) in needles.iter().enumerate() {
        if n.len == 0 || n.len > block.len() {
            continue;
        }
        let needle = &n.bytes[..n.len];
        found[i] = block.windows(n.len).filter(|w| *w == needle).count();
    }
    found
}

fn charge(found: &[usize; SLOTS]) {
    if found.iter().all(|&n| n == 0) {
        return;
    }
    let mut needles = NEEDLES.lock().unwrap_or_else(|e| e.into_inner());
    for (n, f) in needles.iter_mut().zip(found) {
        n.hits += f;
    }
}

/// Scan `size` bytes at `p`, unless nothing is registered or this thread
/// is already scanning.
///
/// # Safety
/// `p` must point to `size` readable bytes.
unsafe fn scan(p: *const u8, size: usize) -> [usize; SLOTS] {
    if ARMED.load(Ordering::SeqCst) == 0 || p.is_null() || size == 0 {
        return [0; SLOTS];
    }
    let entered = SCANNING.try_with(|s| !s.replace(true)).unwrap_or(false);
    if !entered {
        return [0; SLOTS];
    }
    let found = tally(std::slice::from_raw_parts(p, size));
    let _ = SCANNING.try_with(|s| s.set(false));
    found
}

struct Scanning;

unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        charge(&scan(p, layout.size()));
        System.dealloc(p, layout)
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // What the old block holds is left behind only if it moves.
        let found = scan(p, layout.size());
        let q = System.realloc(p, layout, new_size);
        if !q.is_null() && q != p {
            charge(&found);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

/// Register a needle; its slot.
fn arm(needle: &[u8]) -> usize {
    assert!(!needle.is_empty() && needle.len() <= MAX_NEEDLE);
    let mut needles = NEEDLES.lock().unwrap_or_else(|e| e.into_inner());
    let slot = needles
        .iter()
        .position(|n| n.len == 0)
        .expect("a free slot");
    needles[slot].bytes[..needle.len()].copy_from_slice(needle);
    needles[slot].len = needle.len();
    needles[slot].hits = 0;
    ARMED.fetch_add(1, Ordering::SeqCst);
    slot
}

/// Unregister; the hits counted.
fn disarm(slot: usize) -> usize {
    let mut needles = NEEDLES.lock().unwrap_or_else(|e| e.into_inner());
    let hits = needles[slot].hits;
    needles[slot] = FREE;
    ARMED.fetch_sub(1, Ordering::SeqCst);
    hits
}

fn random_key() -> [u8; 32] {
    let s = RandomState::new();
    let mut k = [0u8; 32];
    for (i, c) in k.chunks_mut(8).enumerate() {
        c.copy_from_slice(&s.hash_one(i).to_le_bytes());
    }
    k
}

#[test]
fn the_allocator_finds_a_freed_secret() {
    let k = random_key();
    let v = k.to_vec();
    let slot = arm(&k);
    drop(v);
    let mut w = Zeroizing::new(k.to_vec());
    w.zeroize();
    drop(w);
    assert_eq!(disarm(slot), 1, "one plain copy freed, one wiped copy");
}

#[test]
fn the_handover_snapshot_leaves_no_key() {
    let (send, recv) = (random_key(), random_key());
    let (private, psk) = (random_key(), random_key());
    let private_b64 = Zeroizing::new(Key::new(private).to_base64());
    let psk_b64 = Zeroizing::new(Key::new(psk).to_base64());
    let carried = Carried {
        local: 1,
        remote: 2,
        age: Duration::from_secs(3),
        initiator: true,
        send: Secret::new(send),
        recv: Secret::new(recv),
        next_counter: 5,
        replay: Replay::default(),
    };
    // An interface's configuration as the hand-over carries it: one
    // request that makes it again.
    let mut ops = vec![Op::PrivateKey(Key::new(private)), Op::ListenPort(51820)];
    for i in 0..8u8 {
        ops.push(Op::Peer(Key::new(random_key())));
        ops.push(Op::PresharedKey(Some(Key::new(psk))));
        ops.push(Op::AllowedIp(format!("10.{i}.0.0/16").parse().unwrap()));
    }
    let ifc = CarriedInterface {
        name: "wg0".to_string(),
        place: Where {
            nsid: None,
            index: 7,
        },
        v6_dropped: false,
        ops,
        peers: Vec::new(),
    };
    let filler = vec![0x5a; 1000];
    let slots = [
        arm(&send),
        arm(&recv),
        arm(&private),
        arm(private_b64.as_bytes()),
        arm(&psk),
        arm(psk_b64.as_bytes()),
    ];
    {
        // A hand-over of many interfaces: the snapshot grows well past
        // its first allocation after the keys are in it.
        let mut w = Writer::new();
        w.interface(&ifc, Instant::now());
        w.session(&carried);
        for _ in 0..64 {
            w.bytes(&filler);
        }
        let bytes = w.into_bytes();
        assert!(bytes.len() > 64_000);
    }
    drop(carried);
    drop(ifc);
    let hits = slots.map(disarm);
    assert_eq!(
        hits, [0; 6],
        "keys found in freed heap: session send, recv; private raw, base64; psk raw, base64"
    );
}

#[test]
fn a_status_reply_with_keys_leaves_no_private_key() {
    let k = random_key();
    let psk = random_key();
    let key = Key::new(k);
    let b64 = Zeroizing::new(key.to_base64());
    let psk_b64 = Zeroizing::new(Key::new(psk).to_base64());
    let mut st = InterfaceStatus::new("wg0");
    st.private_key = Some(key.clone());
    st.public_key = Some(Key::new(random_key()));
    st.listen_port = Some(51820);
    for i in 0..8u8 {
        st.peers.push(PeerStatus {
            description: Some(format!("peer {i}")),
            psk: Psk::Key(Key::new(psk)),
            pka: 25,
            endpoint: Some(format!("192.0.2.{i}:51820").parse().unwrap()),
            tx_bytes: 1,
            rx_bytes: 2,
            allowed_ips: vec![format!("10.{i}.0.0/16").parse().unwrap()],
            ..PeerStatus::new(Key::new(random_key()), i as u64)
        });
    }
    let slots = [
        arm(&k),
        arm(b64.as_bytes()),
        arm(&psk),
        arm(psk_b64.as_bytes()),
    ];
    {
        // What the control server does with `ifconfig-wg -k`'s reply.
        let mut reply = Vec::new();
        st.encode(&mut reply);
        reply.push(("errno".to_string(), "0".to_string()));
        write_message(&mut std::io::sink(), &reply).unwrap();
        for (_, v) in reply.iter_mut() {
            v.zeroize();
        }
    }
    drop(st);
    let hits = slots.map(disarm);
    assert_eq!(
        hits,
        [0, 0, 0, 0],
        "private key (raw, base64), preshared key (raw, base64) found in freed heap"
    );
}

/// A `set=1` request as wg(8) sends it: the private key first, then
/// enough peers that what holds the request grows after the key is in.
fn set_request(hex: &str) -> Zeroizing<String> {
    let mut r = Zeroizing::new(format!(
        "set=1\nprivate_key={hex}\nlisten_port=0\nreplace_peers=true\n"
    ));
    for i in 0..40 {
        r.push_str(&format!(
            "public_key={}\nreplace_allowed_ips=true\nallowed_ip=10.{i}.0.0/16\n",
            Key::new(random_key()).to_hex()
        ));
    }
    r.push('\n');
    r
}

#[test]
fn a_uapi_set_leaves_no_private_key() {
    let k = random_key();
    let hex = Zeroizing::new(Key::new(k).to_hex());
    let request = set_request(&hex);
    let (mut client, server) = UnixStream::pair().unwrap();
    let slots = [arm(&k), arm(hex.as_bytes())];
    client.write_all(request.as_bytes()).unwrap();
    {
        // What a UAPI connection does with it, short of applying it.
        let mut r = wgd::uapi::request_reader(server);
        let mut op = read_line(&mut r, 4096).unwrap().unwrap();
        assert_eq!(op, b"set=1");
        op.zeroize();
        let ops = wgd::uapi::read_set_ops(&mut r).expect("a valid request");
        assert!(matches!(ops.first(), Some(Op::PrivateKey(_))));
        assert!(ops.len() > 100);
    }
    let hits = slots.map(disarm);
    assert_eq!(hits, [0, 0], "private key (raw, hex) found in freed heap");
}

#[test]
fn a_uapi_get_leaves_no_private_key() {
    let k = random_key();
    let hex = Zeroizing::new(Key::new(k).to_hex());
    let mut st = InterfaceStatus::new("wg0");
    st.private_key = Some(Key::new(k));
    st.listen_port = Some(51820);
    for i in 0..40u8 {
        st.peers.push(PeerStatus {
            allowed_ips: vec![format!("10.{i}.0.0/16").parse().unwrap()],
            ..PeerStatus::new(Key::new(random_key()), i as u64)
        });
    }
    let slots = [arm(&k), arm(hex.as_bytes())];
    {
        // What a UAPI connection does for `get=1`.
        let mut body = wgd::uapi::codec::render_get(&st);
        body.push_str("errno=0\n\n");
        std::io::sink().write_all(body.as_bytes()).unwrap();
        // Wiped when dropped (before: zeroized by hand).
        drop(body);
    }
    drop(st);
    let hits = slots.map(disarm);
    assert_eq!(hits, [0, 0], "private key (raw, hex) found in freed heap");
}

#[test]
fn a_control_request_with_keys_leaves_no_private_key() {
    let k = random_key();
    let b64 = Zeroizing::new(Key::new(k).to_base64());
    let mut ops = vec![Op::PrivateKey(Key::new(k)), Op::ListenPort(51820)];
    for i in 0..8u8 {
        ops.push(Op::Peer(Key::new(random_key())));
        ops.push(Op::AllowedIp(format!("10.{i}.0.0/16").parse().unwrap()));
    }
    let request = proto::Request::Set {
        name: "wg0".to_string(),
        ops,
    };
    let mut sent = Zeroizing::new(Vec::new());
    write_message(&mut *sent, &request.encode()).unwrap();
    drop(request);
    let (mut client, server) = UnixStream::pair().unwrap();
    let slots = [arm(&k), arm(b64.as_bytes())];
    client.write_all(&sent).unwrap();
    {
        // What the control server does with `ifconfig-wg wg0 wgkey ...`
        // before the handler applies it.
        let mut r = proto::wipe::Reader::new(server);
        let mut msg = proto::wire::read_message(&mut r, 4096, 1 << 20)
            .unwrap()
            .unwrap();
        let decoded = proto::Request::decode(&msg).unwrap();
        for (_, v) in msg.iter_mut() {
            v.zeroize();
        }
        assert!(matches!(
            decoded,
            proto::Request::Set { ref ops, .. } if matches!(ops.first(), Some(Op::PrivateKey(_)))
        ));
    }
    let hits = slots.map(disarm);
    assert_eq!(
        hits,
        [0, 0],
        "private key (raw, base64) found in freed heap"
    );
}
