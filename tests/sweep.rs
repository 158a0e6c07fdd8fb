//! Every packet size through the offloaded path: UDP datagrams of every
//! payload size up to the tunnel MTU, inner IPv4 and IPv6, over outer
//! IPv4 and IPv6, each echoed back byte for byte; and TCP streams large
//! enough to be read from TUN as segmentation-offload super-packets and
//! written back coalesced, checked end to end by SHA-256, one of them
//! with an MSS of 200 bytes. One datagram is made to sum to 0xffff, the
//! checksum tun-rs wrote as 0.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};

const MTU: usize = 1420;

/// A UDP echo server and a TCP hash server on `addr` in `ns`, both
/// ending after `secs`.
fn servers(ns: &Ns, addr: &str, secs: u32) -> Child {
    let script = format!(
        r#"
import socket, hashlib, threading, time
fam = socket.AF_INET6 if ":" in "{addr}" else socket.AF_INET
u = socket.socket(fam, socket.SOCK_DGRAM); u.bind(("{addr}", 7777))
t = socket.socket(fam, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("{addr}", 7778)); t.listen(4)
def echo():
    while True:
        d, a = u.recvfrom(65535); u.sendto(d, a)
def hashes():
    while True:
        c, _ = t.accept()
        h = hashlib.sha256(); n = int.from_bytes(c.recv(8, socket.MSG_WAITALL), "big")
        while n > 0:
            d = c.recv(min(n, 1 << 20))
            if not d: break
            h.update(d); n -= len(d)
        c.sendall(h.digest()); c.close()
threading.Thread(target=echo, daemon=True).start()
threading.Thread(target=hashes, daemon=True).start()
time.sleep({secs})
"#
    );
    let c = Command::new("ip")
        .args(["netns", "exec", &ns.name, "/usr/bin/python3", "-c", &script])
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 servers");
    std::thread::sleep(std::time::Duration::from_millis(500));
    c
}

/// From `ns`, every UDP payload size to `addr`'s echo server, then
/// `mb` MiB over TCP to its hash server. Ok, or what went wrong.
fn client(ns: &Ns, addr: &str, max_payload: usize, mb: usize) -> Result<(), String> {
    let script = format!(
        r#"
import socket, hashlib, os, sys
fam = socket.AF_INET6 if ":" in "{addr}" else socket.AF_INET
u = socket.socket(fam, socket.SOCK_DGRAM); u.settimeout(1.0)
for size in range(1, {max_payload} + 1):
    d = os.urandom(size)
    for attempt in range(3):
        u.sendto(d, ("{addr}", 7777))
        try:
            r, _ = u.recvfrom(65535)
        except socket.timeout:
            continue
        if r != d:
            print("size %d came back different" % size); sys.exit(1)
        break
    else:
        print("size %d never came back" % size); sys.exit(1)
t = socket.create_connection(("{addr}", 7778), timeout=30)
data = os.urandom({mb} << 20)
t.sendall(len(data).to_bytes(8, "big")); t.sendall(data)
if t.recv(32, socket.MSG_WAITALL) != hashlib.sha256(data).digest():
    print("TCP stream corrupted"); sys.exit(1)
"#
    );
    python_in(ns, &script)
}

/// From `ns`, one UDP datagram to `addr`'s echo server whose one's
/// complement sum (pseudo-header included) is 0xffff, so that its
/// checksum, which the kernel leaves to the TUN device's reader, must
/// be sent as 0xffff: a 0 there is refused by UDP over IPv6. The echo
/// sums the same (addresses and ports swapped), so both directions
/// carry one. Ok, or what went wrong.
fn zero_sum(ns: &Ns, addr: &str) -> Result<(), String> {
    let script = format!(
        r#"
import socket, struct, sys
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); u.settimeout(1.0)
u.connect(("{addr}", 7777))
me, port = u.getsockname()[:2]
def words(b): return sum(struct.unpack("!%dH" % (len(b) // 2), b))
d = bytearray(b"sums to 0xffff\0\0")
n = 8 + len(d)
s = words(socket.inet_pton(socket.AF_INET6, me)) + words(socket.inet_pton(socket.AF_INET6, "{addr}"))
s += n + 17 + port + 7777 + n + words(bytes(d))
while s > 0xffff: s = (s >> 16) + (s & 0xffff)
d[-2:] = struct.pack("!H", ~s & 0xffff)
for attempt in range(3):
    u.send(bytes(d))
    try:
        r = u.recv(65535)
    except socket.timeout:
        continue
    sys.exit(0 if r == d else "came back different")
sys.exit("the datagram whose sum is 0xffff never came back")
"#
    );
    python_in(ns, &script)
}

/// From `ns`, 8 MiB to `addr`'s hash server over a TCP connection whose
/// MSS is 200 bytes: the kernel would make super-packets of up to 300
/// such segments, more than a read can split, and each was dropped
/// whole (thousands of retransmissions, 2 MB/s); the device's
/// gso_max_segs keeps them to what a read takes. Ok if the stream
/// arrived intact with next to no retransmission.
fn small_mss(ns: &Ns, addr: &str) -> Result<(), String> {
    let script = format!(
        r#"
import socket, hashlib, os, struct, sys
fam = socket.AF_INET6 if ":" in "{addr}" else socket.AF_INET
t = socket.socket(fam, socket.SOCK_STREAM); t.settimeout(30)
t.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 200)
t.connect(("{addr}", 7778))
data = os.urandom(8 << 20)
t.sendall(len(data).to_bytes(8, "big")); t.sendall(data)
if t.recv(32, socket.MSG_WAITALL) != hashlib.sha256(data).digest():
    sys.exit("TCP stream corrupted")
info = t.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
retrans = struct.unpack_from("I", info, 100)[0]
if retrans > 50:
    sys.exit("%d segments retransmitted" % retrans)
"#
    );
    python_in(ns, &script)
}

/// Run a Python client `script` in `ns`: Ok if it exits 0, else what it
/// printed.
fn python_in(ns: &Ns, script: &str) -> Result<(), String> {
    let o = Command::new("ip")
        .args(["netns", "exec", &ns.name, "/usr/bin/python3", "-c", script])
        .output()
        .expect("python3 client");
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

fn sweep(outer_v6: bool, args: &[&str]) {
    require_root();
    let t = Tunnel::with_args(outer_v6, args);
    assert!(t.u.a.ping(&t.in_b4, 1));
    // The TUN devices really use segmentation offload.
    let features = t.u.a.run(&format!("ethtool -k {}", t.ia));
    assert!(
        features.contains("tcp-segmentation-offload: on"),
        "{features}"
    );
    let mut sb4 = servers(&t.u.b, &t.in_b4, 120);
    let mut sb6 = servers(&t.u.b, &t.in_b6, 120);
    let mut sa4 = servers(&t.u.a, &t.in_a4, 120);
    let results = [
        zero_sum(&t.u.a, &t.in_b6).map_err(|e| format!("a->b inner v6: {e}")),
        client(&t.u.a, &t.in_b4, MTU - 28, 16).map_err(|e| format!("a->b inner v4: {e}")),
        client(&t.u.a, &t.in_b6, MTU - 48, 16).map_err(|e| format!("a->b inner v6: {e}")),
        client(&t.u.b, &t.in_a4, MTU - 28, 16).map_err(|e| format!("b->a inner v4: {e}")),
        small_mss(&t.u.a, &t.in_b4).map_err(|e| format!("a->b MSS 200: {e}")),
    ];
    for c in [&mut sb4, &mut sb6, &mut sa4] {
        let _ = c.kill();
        let _ = c.wait();
    }
    for r in results {
        r.unwrap();
    }
}

#[test]
fn every_size_over_outer_ipv4() {
    sweep(false, &[]);
}

/// Four workers on any machine: idle ones lend a hand with large
/// batches (`sys::crew`), so every size and the hashed TCP streams also
/// go through shared sealing and opening.
#[test]
fn every_size_over_outer_ipv6() {
    sweep(true, &["-w", "4"]);
}
