//! Endpoints by name (wg(4) "Endpoints by name"): a DNS server of the
//! test's own, in namespace a, answers for a test name; daemon a makes a
//! tunnel to daemon b by that name. Status and JSON show the name, a name
//! that does not resolve is refused and changes nothing, a hand-over
//! keeps it, and when b's address moves and the record follows, the
//! tunnel carries traffic again with no command run; down stops the
//! lookups.

mod common;
use common::*;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the test's DNS server answers: one name's A record; every other
/// name does not exist. It counts the A queries for the name.
struct Zone {
    name: String,
    a: Mutex<Ipv4Addr>,
    asked: AtomicU32,
}

/// A minimal DNS server on UDP port 53 of an address in a namespace:
/// enough for glibc's stub resolver (one question per query).
struct Dns {
    zone: Arc<Zone>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The answer to one query, or `None` for something that is not one.
fn answer(q: &[u8], zone: &Zone) -> Option<Vec<u8>> {
    if q.len() < 12 || q[2] & 0x80 != 0 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let n = *q.get(i)? as usize;
        i += 1;
        if n == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + n)?).to_lowercase());
        i += n;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    let question = &q[12..i + 4];
    let ours = labels.join(".") == zone.name;
    if ours && qtype == 1 {
        zone.asked.fetch_add(1, Ordering::SeqCst);
    }
    let mut r = Vec::with_capacity(64);
    r.extend_from_slice(&q[0..2]);
    // QR, the query's RD, RA; NXDOMAIN for names not ours.
    r.push(0x80 | (q[2] & 0x01));
    r.push(if ours { 0x80 } else { 0x83 });
    let records = u16::from(ours && qtype == 1);
    for n in [1, records, 0, 0] {
        r.extend_from_slice(&u16::to_be_bytes(n));
    }
    r.extend_from_slice(question);
    if records == 1 {
        let a = *zone.a.lock().unwrap();
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4]);
        r.extend_from_slice(&a.octets());
    }
    Some(r)
}

impl Dns {
    fn start(ns: &Ns, addr: &str, name: &str, a: Ipv4Addr) -> Dns {
        let (nsname, bind) = (ns.name.clone(), format!("{addr}:53"));
        let sock = std::thread::spawn(move || {
            let f = std::fs::File::open(format!("/var/run/netns/{nsname}")).expect("netns");
            nix::sched::setns(f.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            UdpSocket::bind(&bind).expect("bind port 53")
        })
        .join()
        .expect("namespace thread");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let zone = Arc::new(Zone {
            name: name.to_string(),
            a: Mutex::new(a),
            asked: AtomicU32::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (z, s) = (zone.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !s.load(Ordering::SeqCst) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(r) = answer(&buf[..n], &z) {
                    let _ = sock.send_to(&r, from);
                }
            }
        });
        Dns {
            zone,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, a: Ipv4Addr) {
        *self.zone.a.lock().unwrap() = a;
    }

    fn asked(&self) -> u32 {
        self.zone.asked.load(Ordering::SeqCst)
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// /etc/netns/NS/resolv.conf, which `ip netns exec NS` binds over
/// /etc/resolv.conf; removed on every exit path.
struct ResolvConf(String);

impl ResolvConf {
    fn new(ns: &Ns, server: &str) -> ResolvConf {
        let dir = format!("/etc/netns/{}", ns.name);
        std::fs::create_dir_all(&dir).unwrap();
        let r = ResolvConf(dir);
        std::fs::write(
            format!("{}/resolv.conf", r.0),
            format!("nameserver {server}\noptions timeout:1 attempts:2\n"),
        )
        .unwrap();
        r
    }
}

impl Drop for ResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The process that serves after a hand-over (the pid file's), ended by
/// that pid if it is not the one we started.
struct Successor {
    pidfile: String,
    first: u32,
}

impl Successor {
    fn pid(&self) -> u32 {
        pid_in(&self.pidfile)
    }
}

impl Drop for Successor {
    fn drop(&mut self) {
        let pid = self.pid();
        if pid != 0 && pid != self.first {
            let _ = sh(&format!("kill -TERM {pid}"));
            wait_until(10, || {
                !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
        }
        let _ = std::fs::remove_file(&self.pidfile);
    }
}

/// The peer's `wgendpoint` object of the JSON status: "address port name
/// name_port".
fn json_endpoint(d: &Wgd, ifname: &str) -> String {
    let json = d.ok(&format!("--libxo json {ifname}"));
    let script = r#"
import json, sys
e = json.load(sys.stdin)["interface"][0]["wgpeers"][0]["wgendpoint"]
print(e["address"], e["port"], e.get("name", "-"), e.get("name_port", "-"))
"#;
    let dir = format!("/tmp/wgt-names-{}", unique());
    std::fs::write(&dir, json).unwrap();
    let o = sh(&format!("python3 -c '{script}' < {dir}"));
    let _ = std::fs::remove_file(&dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Ping `to` once a second until one answers or `secs` pass; how long it
/// took.
fn recovers(ns: &Ns, to: &str, secs: u64) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if ns.ping(to, 1) {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn a_tunnel_by_name_follows_its_record_across_a_hand_over() {
    require_root();
    let u = Underlay::new();
    let x = unique() % 250 + 1;
    let net = u.b4.rsplit_once('.').unwrap().0.to_string();
    let (first, second, third) = (
        format!("{net}.10"),
        format!("{net}.11"),
        format!("{net}.12"),
    );
    let name = format!("peer{}.wgd.test", unique());
    // The name server is a's neighbour on the underlay (here, a itself);
    // b has one address, the one that moves.
    let dns = Dns::start(&u.a, &u.a4, &name, first.parse().unwrap());
    // Before daemon a starts: `ip netns exec` binds it at start.
    let _resolv = ResolvConf::new(&u.a, &u.a4);
    u.b.run(&format!("ip addr del {}/24 dev {}", u.b4, u.vb));
    u.b.run(&format!("ip addr add {first}/24 dev {}", u.vb));
    let pidfile = format!("/tmp/wgt-names-{}.pid", unique());
    let da = Wgd::start_with(&u.a, &["-p", &pidfile]);
    let successor = Successor {
        pidfile: pidfile.clone(),
        first: da.pid(),
    };
    let db = Wgd::start(&u.b);
    let (ia, ib) = (format!("wg{}", unique()), format!("wg{}", unique()));
    let (in_a, in_b) = (format!("10.{x}.9.1"), format!("10.{x}.9.2"));
    let (port_a, port_b) = (42000 + x as u16, 43000 + x as u16);
    let key_b = genkey();
    da.ok(&format!("{ia} create wgkey {} wgport {port_a}", genkey()));
    let pa = pubkey(&da, &ia);
    // b knows a's key but not its endpoint: it learns that from a's
    // handshakes. Made again at each move, b is a host that came back
    // elsewhere and cannot reach a: only a's lookups find it.
    let make_b = || {
        db.ok(&format!(
            "{ib} create wgkey {key_b} wgport {port_b} wgpeer {pa} wgaip {in_a}/32 inet {in_b} {in_a} up"
        ))
    };
    let move_b = |from: &str, to: &str| {
        db.ok(&format!("{ib} destroy"));
        u.b.run(&format!("ip addr del {from}/24 dev {}", u.vb));
        u.b.run(&format!("ip addr add {to}/24 dev {}", u.vb));
        make_b();
    };
    make_b();
    let pb = pubkey(&db, &ib);
    da.ok(&format!(
        "{ia} wgpeer {pb} wgendpoint {name} {port_b} wgaip {in_b}/32 inet {in_a} {in_b} debug up"
    ));
    assert!(u.a.ping(&in_b, 1), "no tunnel by name");

    // Status and JSON show the address and the name, without -k, to anyone.
    let ep = format!("{first} {port_b} ({name})");
    assert_eq!(field(&da.ok(&ia), "wgendpoint"), Some(ep.clone()));
    let o = da.ifc_as_nobody(&ia);
    assert_eq!(
        field(&String::from_utf8_lossy(&o.stdout), "wgendpoint"),
        Some(ep.clone())
    );
    assert_eq!(
        json_endpoint(&da, &ia),
        format!("{first} {port_b} {name} {port_b}")
    );

    // A name that does not resolve: refused with the resolver's reason,
    // nothing of the command applied.
    let before = da.ok(&ia);
    let nowhere = format!("nowhere{}.wgd.test", unique());
    da.fails(
        &format!("{ia} wgpeer {pb} wgpka 7 wgendpoint {nowhere} 51820 mtu 1300"),
        &format!("ifconfig-wg: wgendpoint: cannot resolve {nowhere}: Name or service not known"),
    );
    let after = da.ok(&ia);
    for f in ["wgendpoint", "wgpka", "flags"] {
        assert_eq!(field(&after, f), field(&before, f), "{f}");
    }
    assert!(!after.contains("mtu 1300"));

    // A hand-over keeps the name; the new process does the rest.
    let old = da.pid();
    ok(&format!("kill -USR2 {old}"));
    assert!(
        wait_until(15, || successor.pid() != 0 && successor.pid() != old),
        "no hand-over: {}",
        da.log_text()
    );
    assert_eq!(field(&da.ok(&ia), "wgendpoint"), Some(ep.clone()));
    assert!(u.a.ping(&in_b, 1));

    // b comes back at another address and the record follows: traffic
    // again within the bound wg(4) gives (20 s), nothing run on a.
    move_b(&first, &second);
    dns.set(second.parse().unwrap());
    let took = recovers(&u.a, &in_b, 30).unwrap_or_else(|| {
        panic!(
            "no traffic after the move; status:\n{}\nlog:\n{}",
            da.ok(&ia),
            da.log_text()
        )
    });
    eprintln!("traffic again {took:?} after the move");
    assert!(took <= Duration::from_secs(22), "took {took:?}");
    assert_eq!(
        field(&da.ok(&ia), "wgendpoint"),
        Some(format!("{second} {port_b} ({name})")),
        "{}",
        da.log_text()
    );
    assert!(
        da.log_text().contains(&format!(
            "{ia}: Endpoint of peer 1 ({name}) changed from {first}:{port_b} to {second}:{port_b}"
        )),
        "{}",
        da.log_text()
    );

    // b moves again, the record not yet: lookups while the handshakes go
    // unanswered, at most one every 5 s; down stops them; after up, the
    // updated record is found.
    move_b(&second, &third);
    let asked = dns.asked();
    let t0 = Instant::now();
    let ping = {
        let (ns, to) = (u.a.name.clone(), in_b.clone());
        std::thread::spawn(move || {
            sh(&format!(
                "ip netns exec {ns} ping -q -i 0.5 -W 1 -w 24 {to}"
            ));
        })
    };
    ping.join().unwrap();
    let lookups = dns.asked() - asked;
    let secs = t0.elapsed().as_secs() as u32;
    assert!(
        (1..=secs / 5 + 1).contains(&lookups),
        "{lookups} lookups in {secs} s"
    );
    da.ok(&format!("{ia} down"));
    let asked = dns.asked();
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(dns.asked(), asked, "lookups while down");
    dns.set(third.parse().unwrap());
    da.ok(&format!("{ia} up"));
    assert!(
        recovers(&u.a, &in_b, 20).is_some(),
        "not found again after up:\n{}",
        da.log_text()
    );
    assert_eq!(
        field(&da.ok(&ia), "wgendpoint"),
        Some(format!("{third} {port_b} ({name})"))
    );
    drop(successor);
}
