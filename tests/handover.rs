//! Handing a live daemon over to a new wgd (SIGUSR2, `wgd -R`) on real
//! namespaces: tunnels, routing adjacencies and links stay; a broken
//! binary or a new process killed in mid-hand-over leaves the old one
//! serving. The pieces it is built from: tests/handover_parts.rs.

mod common;
use common::*;
use std::time::{Duration, Instant};

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
        pid_in(&self.pidfile)
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

/// One tunnel between an upgradable daemon in `u.a` and a plain one in
/// `u.b`, on ports `port` (a) and `port + 10000` (b): each side's last
/// words (allowed IPs, addresses, flags) after its peer.
fn tunnel(
    u: &Underlay,
    a: &Upgradable,
    db: &Wgd,
    port: u16,
    a_words: &str,
    b_words: &str,
) -> String {
    let (ia, ib) = (format!("wg{}", unique()), format!("wg{}", unique()));
    let port_b = port + 10000;
    a.ifc(
        &u.a,
        &format!("{ia} create wgkey {} wgport {port}", genkey()),
    );
    db.ok(&format!("{ib} create wgkey {} wgport {port_b}", genkey()));
    let pa = field(&a.ifc(&u.a, &ia), "wgpubkey").unwrap();
    let pb = pubkey(db, &ib);
    a.ifc(
        &u.a,
        &format!("{ia} wgpeer {pb} wgendpoint {} {port_b} {a_words}", u.b4),
    );
    db.ok(&format!(
        "{ib} wgpeer {pa} wgendpoint {} {port} {b_words}",
        u.a4
    ));
    ia
}

/// Inner addresses for a tunnel: (a's, b's).
fn inner() -> (String, String) {
    let x = unique() % 250 + 1;
    (format!("10.{x}.0.1"), format!("10.{x}.0.2"))
}

#[test]
fn sigusr2_and_wgd_r_hand_over_with_the_tunnel_up_and_a_broken_binary_changes_nothing() {
    require_root();
    let u = Underlay::new();
    let a = Upgradable::start(&u.a);
    let db = Wgd::start(&u.b);
    let (in_a, in_b) = inner();
    let ia = tunnel(
        &u,
        &a,
        &db,
        41000,
        &format!("wgaip {in_b}/32 inet {in_a} {in_b} link1 up"),
        &format!("wgaip {in_a}/32 inet {in_b} {in_a} up"),
    );
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
    let (in_a, in_b) = inner();
    let ia = tunnel(
        &u,
        &a,
        &db,
        41001,
        &format!("wgaip {in_b}/32 inet {in_a} {in_b} up"),
        &format!("wgaip {in_a}/32 inet {in_b} {in_a} up"),
    );
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
    let all = "wgaip 0.0.0.0/0 wgaip ::/0";
    tunnel(
        &u,
        &a,
        &db,
        41002,
        &format!("{all} inet 10.254.0.1 10.254.0.2 inet6 fe80::254:1/64 link1 up"),
        &format!("{all} inet 10.254.0.2 10.254.0.1 inet6 fe80::254:2/64 link1 up"),
    );
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
