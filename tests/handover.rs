//! Hand-over building blocks on real devices (the daemon does not hand
//! over yet): a second process's TUN queue takes over a live wgN link
//! without the link losing its index, its addresses or its carrier.

mod common;
use common::*;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};
use wgd::sys::netns;
use wgd::sys::tun::{Tun, TunPackets};

fn link_line(ns: &Ns, name: &str) -> String {
    ns.exec(&format!("ip -o link show dev {name}"))
        .stdout
        .iter()
        .map(|b| *b as char)
        .collect()
}

#[test]
fn a_new_queue_takes_over_a_live_tun_link() {
    require_root();
    let ns = Ns::new("hq");
    let name = format!("wg{}", unique());
    let fd = netns::open_named(&ns.name).unwrap();
    let old = netns::run_in(fd.as_fd(), || Tun::create(&name, 1420)).unwrap();
    let index = old.ifindex();
    ns.run(&format!("ip addr add 10.77.0.1/24 dev {name}"));
    ns.run(&format!("ip link set {name} up"));
    assert!(link_line(&ns, &name).contains("LOWER_UP"));
    assert_eq!(
        netns::run_in(fd.as_fd(), || Tun::attach("nosuch0", index))
            .err()
            .and_then(|e| e.raw_os_error()),
        Some(libc::ENXIO),
        "no link of that name: nothing made"
    );
    assert_eq!(
        netns::run_in(fd.as_fd(), || Tun::attach(&name, index + 1000))
            .err()
            .and_then(|e| e.raw_os_error()),
        Some(libc::ENXIO),
        "another index: not ours"
    );
    let new = netns::run_in(fd.as_fd(), || Tun::attach(&name, index)).unwrap();
    drop(old);
    let line = link_line(&ns, &name);
    assert!(line.starts_with(&format!("{index}: {name}:")), "{line}");
    assert!(line.contains("UP,LOWER_UP"), "carrier kept: {line}");
    assert!(ns
        .exec(&format!("ip -o addr show dev {name}"))
        .stdout
        .windows(12)
        .any(|w| w == b"10.77.0.1/24"));
    // Traffic routed into the link now reaches the new queue.
    let mut got = false;
    let mut pkts = TunPackets::default();
    let end = Instant::now() + Duration::from_secs(5);
    while !got && Instant::now() < end {
        let _ = ns.exec("ping -c 1 -W 0.2 10.77.0.2");
        for _ in 0..10 {
            let n = new.recv(&mut pkts).unwrap();
            got |= (0..n).any(|i| {
                let p = pkts.packet(i);
                p.len() >= 20 && p[0] >> 4 == 4 && p[9] == 1 && p[16..20] == [10, 77, 0, 2]
            });
        }
    }
    assert!(got, "the ping reached the new queue");
    drop(new);
    assert!(
        wait_until(5, || !ns
            .exec(&format!("ip link show dev {name}"))
            .status
            .success()),
        "the last queue gone, the link goes"
    );
}

#[test]
fn adopted_sockets_are_the_same_sockets() {
    use std::os::fd::OwnedFd;
    use wgd::sys::udp::{RecvBatch, Sockets};
    let old = Sockets::bind(0, 0).unwrap();
    let dup = |s: &wgd::sys::udp::Socket| -> OwnedFd { s.fd().try_clone_to_owned().unwrap() };
    let new = Sockets::adopt(dup(&old.v4), old.v6.as_ref().map(dup)).unwrap();
    assert_eq!(new.port, old.port);
    assert_eq!(new.all().count(), old.all().count());
    // A datagram queued before the switch is read after it.
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(b"queued", ("127.0.0.1", old.port)).unwrap();
    drop(old);
    let mut batch = RecvBatch::default();
    let end = Instant::now() + Duration::from_secs(2);
    let mut got = Vec::new();
    while got.is_empty() && Instant::now() < end {
        if let Ok(n) = batch.recv(&new.v4) {
            for i in 0..n {
                for (d, from, _) in batch.datagrams(i) {
                    assert_eq!(from, peer.local_addr().unwrap());
                    got.extend_from_slice(d);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(got, b"queued");
}

/// A wiring that serves nothing: the interface alone, without a plane.
struct Unplugged;

impl wgd::wg::interface::Wiring for Unplugged {
    fn serve_tun(
        &self,
        _: &std::sync::Arc<wgd::wg::interface::Interface>,
        _: &std::sync::Arc<Tun>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn serve_sockets(
        &self,
        _: &std::sync::Arc<wgd::wg::interface::Interface>,
        _: &std::sync::Arc<Tun>,
        _: Option<&std::sync::Arc<wgd::sys::udp::Sockets>>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn stop(&self) {}
}

#[test]
fn an_interface_carried_through_a_snapshot_is_the_same_interface() {
    use std::os::fd::OwnedFd;
    use std::sync::Arc;
    use wgd::handover::codec::{Reader, Writer};
    use wgd::wg::interface::Interface;
    require_root();
    let ns = Ns::new("hs");
    let name = format!("wg{}", unique());
    let fd = netns::open_named(&ns.name).unwrap();
    let old = Interface::create(&name, Arc::new(Unplugged), Some(fd.try_clone().unwrap())).unwrap();
    let words = format!(
        "wgkey {} wgport 0 wgpeer {} wgendpoint 192.0.2.7 51820 wgpka 25 wgaip 10.9.0.2/32 wgaip fd00::2/128 wgdescr far wgpeer {} wgpsk {} wgaip 10.9.1.0/24 inet 10.9.0.1/24 mtu 1400 descr hub link1 debug group spokes up",
        proto::Key::new([1; 32]).to_base64(),
        proto::Key::new([2; 32]).to_base64(),
        proto::Key::new([3; 32]).to_base64(),
        proto::Key::new([4; 32]).to_base64(),
    );
    let words: Vec<String> = words.split(' ').map(String::from).collect();
    let ops = ifconfig_wg::words::parse(&words, &mut ifconfig_wg::words::Stdin)
        .unwrap()
        .ops;
    old.set(&ops).unwrap();
    let before = old.status(true, true);
    assert!(before.listen_port.is_some_and(|p| p != 0));

    let now = Instant::now();
    let mut w = Writer::new();
    w.interface(&old.carry(now), now);
    let bytes = w.into_bytes();
    let socks = old.sockets().unwrap();
    let dup = |s: &wgd::sys::udp::Socket| -> OwnedFd { s.fd().try_clone_to_owned().unwrap() };
    let (v4, v6) = (dup(&socks.v4), socks.v6.as_ref().map(dup));
    drop(socks);
    let tun = netns::run_in(fd.as_fd(), || Tun::attach(&name, old.index())).unwrap();

    let carried = Reader::new(&bytes)
        .unwrap()
        .interface(Instant::now())
        .unwrap();
    let new = Interface::adopt(
        &carried,
        tun,
        Some(wgd::sys::udp::Sockets::adopt(v4, v6).unwrap()),
        Arc::new(Unplugged),
        Some(fd.try_clone().unwrap()),
        Instant::now(),
    )
    .unwrap();
    assert_eq!(
        new.status(true, true),
        before,
        "configuration, ids, endpoints, counters"
    );
    assert_eq!(new.index(), old.index());
    assert_eq!(new.sockets().unwrap().port, before.listen_port.unwrap());
    let line = link_line(&ns, &name);
    assert!(
        line.contains("POINTOPOINT,MULTICAST") && line.contains("mtu 1400"),
        "{line}"
    );
    drop(old);
    assert!(
        link_line(&ns, &name).contains("UP,LOWER_UP"),
        "still up with the new queue"
    );
    new.shutdown();
}

/// A daemon started from a copy of the binary (so the test can replace
/// that file), with a pid file; in namespace `ns`.
struct Upgradable {
    dir: std::path::PathBuf,
    sock: String,
    pidfile: std::path::PathBuf,
    first: std::process::Child,
}

impl Upgradable {
    fn start(ns: &Ns) -> Upgradable {
        Upgradable::start_env(ns, &[])
    }

    fn start_env(ns: &Ns, env: &[(&str, &str)]) -> Upgradable {
        let dir = std::path::PathBuf::from(format!("/tmp/wgt-up-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(bin("wgd"), dir.join("wgd")).unwrap();
        let sock = dir.join("ctl.sock").display().to_string();
        let pidfile = dir.join("wgd.pid");
        let first = std::process::Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(dir.join("wgd"))
            .args(["-f", "-S", &sock, "-p"])
            .arg(&pidfile)
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .unwrap();
        assert!(wait_until(5, || std::os::unix::net::UnixStream::connect(
            &sock
        )
        .is_ok()));
        Upgradable {
            dir,
            sock,
            pidfile,
            first,
        }
    }

    fn pid(&self) -> u32 {
        std::fs::read_to_string(&self.pidfile)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0)
    }

    /// Install a new file at the binary's path (a new inode), as
    /// `install` does.
    fn replace(&self, from: &std::path::Path) {
        let tmp = self.dir.join("wgd.new");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, self.dir.join("wgd")).unwrap();
    }

    fn ifc(&self, ns: &Ns, args: &str) -> String {
        ns.run(&format!(
            "{} -S {} {args}",
            bin("ifconfig-wg").display(),
            self.sock
        ))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Upgradable {
    fn drop(&mut self) {
        // Whichever process serves now: the one in the pid file (ours,
        // or started by ours), then the first one.
        let pid = self.pid();
        if pid != 0 && pid != self.first.id() {
            let _ = sh(&format!("kill -TERM {pid}"));
            wait_until(10, || {
                !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
        }
        end_child(&mut self.first);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

fn inode(p: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0)
}

fn latest_handshake(ifname: &str) -> String {
    ok(&format!("wg show {ifname} latest-handshakes"))
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string()
}

/// Ping loss in percent over `count` pings every 10 ms.
fn ping_loss(ns: &Ns, to: &str, count: u32) -> std::thread::JoinHandle<f64> {
    let name = ns.name.clone();
    let to = to.to_string();
    std::thread::spawn(move || {
        let out = sh(&format!(
            "ip netns exec {name} ping -q -i 0.01 -W 1 -c {count} {to}"
        ));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split(',')
            .find_map(|p| {
                p.trim()
                    .strip_suffix("% packet loss")
                    .map(|v| v.trim().parse().unwrap_or(100.0))
            })
            .unwrap_or(100.0)
    })
}

#[test]
fn sigusr2_and_wgd_r_hand_over_with_the_tunnel_up_and_a_broken_binary_changes_nothing() {
    require_root();
    let u = Underlay::new();
    let a = Upgradable::start(&u.a);
    let db = Wgd::start(&u.b);
    let n = unique();
    let (ia, ib) = (format!("wg{n}"), format!("wg{}", unique()));
    let x = n % 250 + 1;
    let (in_a, in_b) = (format!("10.{x}.0.1"), format!("10.{x}.0.2"));
    a.ifc(
        &u.a,
        &format!("{ia} create wgkey {} wgport 41000", genkey()),
    );
    db.ok(&format!("{ib} create wgkey {} wgport 51000", genkey()));
    let pa = field(&a.ifc(&u.a, &ia), "wgpubkey").unwrap();
    let pb = pubkey(&db, &ib);
    a.ifc(
        &u.a,
        &format!(
            "{ia} wgpeer {pb} wgendpoint {} 51000 wgaip {in_b}/32 inet {in_a} {in_b} link1 up",
            u.b4
        ),
    );
    db.ok(&format!(
        "{ib} wgpeer {pa} wgendpoint {} 41000 wgaip {in_a}/32 inet {in_b} {in_a} up",
        u.a4
    ));
    assert!(u.a.ping(&in_b, 1));
    let link = |ns: &Ns| {
        ns.run(&format!("ip -o link show dev {ia}")) + &ns.run(&format!("ip -o addr show dev {ia}"))
    };
    let before_link = link(&u.a);
    let before_status = a.ifc(&u.a, &ia);
    let handshake = latest_handshake(&ia);
    assert_ne!(handshake, "0");

    // 1. SIGUSR2 after a new binary was installed at the path.
    let old = a.pid();
    assert_eq!(old, a.first.id());
    a.replace(&bin("wgd"));
    let new_inode = inode(&a.dir.join("wgd"));
    let loss = ping_loss(&u.a, &in_b, 300);
    let mut server = std::process::Command::new("ip")
        .args([
            "netns", "exec", &u.b.name, "iperf3", "-s", "-1", "-B", &in_b,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let client = std::process::Command::new("ip")
        .args(["netns", "exec", &u.a.name, "iperf3", "-c", &in_b, "-t", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    ok(&format!("kill -USR2 {old}"));
    assert!(
        wait_until(10, || a.pid() != old && !alive(old)),
        "handed over: {}",
        a.log()
    );
    let new = a.pid();
    assert!(alive(new));
    let exe = std::fs::read_link(format!("/proc/{new}/exe")).unwrap();
    assert_eq!(exe, a.dir.join("wgd"), "runs the installed file");
    assert_eq!(inode(&exe), new_inode);
    let loss = loss.join().unwrap();
    assert!(loss <= 1.0, "{loss}% of pings lost");
    let iperf = client.wait_with_output().unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        iperf.status.success(),
        "iperf3 across the hand-over: {}{}",
        String::from_utf8_lossy(&iperf.stdout),
        String::from_utf8_lossy(&iperf.stderr)
    );
    assert_eq!(link(&u.a), before_link, "same index, flags, addresses");
    let status = a.ifc(&u.a, &ia);
    let strip = |s: &str| -> String {
        s.lines()
            .filter(|l| !l.contains("last handshake") && !l.contains("bytes"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&status), strip(&before_status), "same configuration");
    assert_eq!(latest_handshake(&ia), handshake, "no new handshake");
    assert!(u.a.ping(&in_b, 3));

    // 2. `wgd -R` does the same and says so.
    let loss = ping_loss(&u.a, &in_b, 300);
    std::thread::sleep(Duration::from_millis(800));
    let out =
        u.a.exec(&format!("{} -R -S {}", a.dir.join("wgd").display(), a.sock));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = a.pid();
    assert_ne!(again, new);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("wgd: handed over to pid {again}\n")
    );
    assert!(wait_until(5, || !alive(new)));
    let loss = loss.join().unwrap();
    assert!(loss <= 1.0, "{loss}% of pings lost");
    assert_eq!(link(&u.a), before_link);
    assert_eq!(latest_handshake(&ia), handshake, "no new handshake");

    // 3. A broken binary: the daemon keeps serving, the pid file stays.
    let broken = a.dir.join("broken");
    std::fs::write(&broken, "#!/bin/sh\nexit 1\n").unwrap();
    ok(&format!("chmod +x {}", broken.display()));
    a.replace(&broken);
    let out =
        u.a.exec(&format!("{} -R -S {}", bin("wgd").display(), a.sock));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.starts_with(&format!(
            "wgd: {}: hand-over failed: the new wgd (pid ",
            a.sock
        )),
        "{err}"
    );
    assert!(
        err.ends_with(") did not start: unexpected end of file\n"),
        "{err}"
    );
    assert_eq!(a.pid(), again);
    assert!(alive(again));
    assert!(u.a.ping(&in_b, 3), "still serving");
    assert_eq!(link(&u.a), before_link);

    // 4. SIGTERM still stops it cleanly.
    a.replace(&bin("wgd"));
    ok(&format!("kill -TERM {again}"));
    assert!(wait_until(10, || !alive(again)));
    assert!(
        !u.a.exec(&format!("ip link show dev {ia}")).status.success(),
        "link destroyed"
    );
    assert!(!a.pidfile.exists() && !std::path::Path::new(&a.sock).exists());
}

/// The process `parent` started with `--takeover`, if any.
fn taker_of(parent: u32) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(parent) && cmd.windows(10).any(|w| w == b"--takeover") {
            return Some(pid);
        }
    }
    None
}

#[test]
fn a_new_process_killed_in_mid_hand_over_leaves_the_old_one_serving() {
    require_root();
    let u = Underlay::new();
    let a = Upgradable::start_env(&u.a, &[("WGD_TEST_TAKEOVER_PAUSE_MS", "3000")]);
    let db = Wgd::start(&u.b);
    let n = unique();
    let (ia, ib) = (format!("wg{n}"), format!("wg{}", unique()));
    let x = n % 250 + 1;
    let (in_a, in_b) = (format!("10.{x}.0.1"), format!("10.{x}.0.2"));
    a.ifc(
        &u.a,
        &format!("{ia} create wgkey {} wgport 41001", genkey()),
    );
    db.ok(&format!("{ib} create wgkey {} wgport 51001", genkey()));
    let pa = field(&a.ifc(&u.a, &ia), "wgpubkey").unwrap();
    let pb = pubkey(&db, &ib);
    a.ifc(
        &u.a,
        &format!(
            "{ia} wgpeer {pb} wgendpoint {} 51001 wgaip {in_b}/32 inet {in_a} {in_b} up",
            u.b4
        ),
    );
    db.ok(&format!(
        "{ib} wgpeer {pa} wgendpoint {} 41001 wgaip {in_a}/32 inet {in_b} {in_a} up",
        u.a4
    ));
    assert!(u.a.ping(&in_b, 1));
    let index = u.a.run(&format!("ip -o link show dev {ia}"));
    let old = a.pid();
    ok(&format!("kill -USR2 {old}"));
    let mut taker = None;
    assert!(wait_until(5, || {
        taker = taker_of(old);
        taker.is_some()
    }));
    let taker = taker.unwrap();
    // It has the snapshot and serves too, but has not said so yet.
    std::thread::sleep(Duration::from_millis(1000));
    ok(&format!("kill -KILL {taker}"));
    assert!(
        wait_until(5, || a.log().contains("hand-over failed, still serving")),
        "{}",
        a.log()
    );
    assert!(alive(old));
    assert_eq!(a.pid(), old, "pid file unchanged");
    assert_eq!(
        u.a.run(&format!("ip -o link show dev {ia}")),
        index,
        "the link as it was"
    );
    // Its sessions went (the new process may have sent with them): the
    // next packets handshake again, and get through.
    assert!(
        u.a.ping(&in_b, 5),
        "still serving: {}\n{}\n{}",
        a.log(),
        a.ifc(&u.a, &ia),
        db.log_text()
    );
    assert!(a.ifc(&u.a, &ia).contains("wgpeer"));
}

/// bird2's OSPFv2 neighbour states on `ns`'s control socket `sock`.
fn ospf_states(ns: &Ns, sock: &str) -> String {
    String::from_utf8_lossy(
        &ns.exec(&format!("birdc -s {sock} show ospf neighbors ospf4"))
            .stdout,
    )
    .into_owned()
}

/// bird daemons we started, with their files: ended by PID and removed
/// on every exit path.
struct Birds(Vec<(std::process::Child, String, String)>);

impl Drop for Birds {
    fn drop(&mut self) {
        for (c, file, sock) in self.0.iter_mut() {
            end_child(c);
            let _ = std::fs::remove_file(&*file);
            let _ = std::fs::remove_file(&*sock);
        }
    }
}

#[test]
fn ospf_over_a_link1_tunnel_stays_full_across_a_hand_over() {
    require_root();
    let u = Underlay::new();
    let a = Upgradable::start(&u.a);
    let db = Wgd::start(&u.b);
    let n = unique();
    let (ia, ib) = (format!("wg{n}"), format!("wg{}", unique()));
    a.ifc(
        &u.a,
        &format!("{ia} create wgkey {} wgport 41002", genkey()),
    );
    db.ok(&format!("{ib} create wgkey {} wgport 51002", genkey()));
    let pa = field(&a.ifc(&u.a, &ia), "wgpubkey").unwrap();
    let pb = pubkey(&db, &ib);
    a.ifc(&u.a, &format!("{ia} wgpeer {pb} wgendpoint {} 51002 wgaip 0.0.0.0/0 wgaip ::/0 inet 10.254.0.1 10.254.0.2 inet6 fe80::254:1/64 link1 up", u.b4));
    db.ok(&format!("{ib} wgpeer {pa} wgendpoint {} 41002 wgaip 0.0.0.0/0 wgaip ::/0 inet 10.254.0.2 10.254.0.1 inet6 fe80::254:2/64 link1 up", u.a4));
    let conf =
        std::fs::read_to_string(format!("{}/examples/bird.conf", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let mut birds = Birds(Vec::new());
    let mut socks = Vec::new();
    for (ns, id) in [(&u.a, "10.254.0.1"), (&u.b, "10.254.0.2")] {
        let m = unique();
        let (file, sock) = (
            format!("/tmp/wgt-hb-{m}.conf"),
            format!("/tmp/wgt-hb-{m}.ctl"),
        );
        std::fs::write(&file, conf.replace("10.1.0.1", id)).unwrap();
        birds.0.push((
            std::process::Command::new("ip")
                .args([
                    "netns", "exec", &ns.name, "bird", "-f", "-c", &file, "-s", &sock,
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap(),
            file,
            sock.clone(),
        ));
        socks.push(sock);
    }
    let full = |ns: &Ns, s: &str| ospf_states(ns, s).contains("Full");
    assert!(
        wait_until(30, || full(&u.a, &socks[0]) && full(&u.b, &socks[1])),
        "adjacency never Full: {}",
        ospf_states(&u.a, &socks[0])
    );
    let old = a.pid();
    a.replace(&bin("wgd"));
    // Watch both sides every 100 ms from before the switch until 6 s
    // after it (beyond the 4 s dead interval).
    let watch = {
        let (na, nb) = (u.a.name.clone(), u.b.name.clone());
        let (sa, sb) = (socks[0].clone(), socks[1].clone());
        std::thread::spawn(move || {
            let end = Instant::now() + Duration::from_secs(8);
            let mut bad = Vec::new();
            while Instant::now() < end {
                for (ns, s) in [(&na, &sa), (&nb, &sb)] {
                    let out = sh(&format!(
                        "ip netns exec {ns} birdc -s {s} show ospf neighbors ospf4"
                    ));
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    if !text.contains("Full") {
                        bad.push(text);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            bad
        })
    };
    std::thread::sleep(Duration::from_millis(1000));
    ok(&format!("kill -USR2 {old}"));
    assert!(
        wait_until(10, || a.pid() != old && !alive(old)),
        "{}",
        a.log()
    );
    let bad = watch.join().unwrap();
    drop(birds);
    assert!(bad.is_empty(), "the adjacency left Full: {bad:?}");
}
