//! The faults operations bring, each on real processes and namespaces:
//! many launchers at once, a stale socket raced by two daemons, a socket
//! that is no longer ours at exit, a hand-over with a link down, from a
//! symbolic link switched meanwhile, or whose old process dies at the
//! last step, a pid file naming an unrelated process, and the daemon's
//! working directory and umask. After each: one owner, nothing lost, a
//! clear message.

mod common;
use common::host::{text, Host};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Every live process whose arguments (after argv[0]) are exactly `args`.
fn processes_with_args(args: &[&str]) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let c = cmdline(pid);
        if c.len() == args.len() + 1 && c[1..].iter().zip(args).all(|(a, b)| a == b) && alive(pid) {
            found.push(pid);
        }
    }
    found
}

/// SIGTERM to `pid` (a daemon this test started) and wait for it to go.
fn stop(pid: u32) {
    let _ = sh(&format!("kill -TERM {pid}"));
    assert!(
        wait_until(10, || !alive(pid)),
        "pid {pid} did not exit on SIGTERM"
    );
}

/// A directory of the test's own, removed with it.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = PathBuf::from(format!("/tmp/wgt-{tag}-{}", unique()));
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Daemons started as `wgd -S SOCKET` on this test's unique socket,
/// stopped at the end whatever happened.
struct Stray(String);

impl Drop for Stray {
    fn drop(&mut self) {
        for pid in processes_with_args(&["-S", &self.0]) {
            let _ = sh(&format!("kill -TERM {pid}"));
            wait_until(10, || !alive(pid));
        }
    }
}

/// A daemon this test started, by pid, stopped at the end if still there.
struct Started(u32);

impl Drop for Started {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = sh(&format!("kill -TERM {}", self.0));
            wait_until(10, || !alive(self.0));
        }
    }
}

#[test]
fn many_launchers_at_once_make_every_interface_and_one_daemon() {
    require_root();
    for round in 0..3 {
        let ns = Ns::new("launch");
        let dir = Dir::new("launch");
        let sock = dir.path("ctl.sock").display().to_string();
        let _stray = Stray(sock.clone());
        if round == 2 {
            // A stale socket left by a crash: replaced, once.
            drop(UnixListener::bind(&sock).unwrap());
            assert!(Path::new(&sock).exists());
        }
        let names: Vec<String> = (0..8).map(|i| format!("wg{}{i}", unique())).collect();
        let launchers: Vec<_> = names
            .iter()
            .map(|n| {
                Command::new("ip")
                    .args(["netns", "exec", &ns.name])
                    .arg(bin("wgd"))
                    .args(["-S", &sock, n])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (n, l) in names.iter().zip(launchers) {
            let o = l.wait_with_output().unwrap();
            assert!(
                o.status.success() && o.stderr.is_empty(),
                "round {round}: launcher of {n}: {:?} {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            );
        }
        for n in &names {
            assert!(ns.link_exists(n), "round {round}: {n} was not made");
            assert!(
                Path::new(&format!("/var/run/wireguard/{n}.sock")).exists(),
                "round {round}: {n} has no UAPI socket"
            );
        }
        let daemons = processes_with_args(&["-S", &sock]);
        assert_eq!(daemons.len(), 1, "round {round}: daemons {daemons:?}");
        let listed = ns.run(&format!("{} -S {sock} -l", bin("ifconfig-wg").display()));
        let mut listed: Vec<&str> = listed.split_whitespace().collect();
        listed.sort();
        let mut want: Vec<&str> = names.iter().map(String::as_str).collect();
        want.sort();
        assert_eq!(listed, want, "round {round}: one daemon serves them all");
        stop(daemons[0]);
        for n in &names {
            assert!(!ns.link_exists(n));
        }
        assert!(!Path::new(&sock).exists(), "socket removed at exit");
        assert!(
            !Path::new(&format!("{sock}.lock")).exists(),
            "lock file removed at exit"
        );
    }
}

#[test]
fn daemons_raced_on_a_stale_socket_leave_one_owner() {
    require_root();
    for round in 0..8 {
        let dir = Dir::new("race");
        let sock = dir.path("ctl.sock").display().to_string();
        let _stray = Stray(sock.clone());
        drop(UnixListener::bind(&sock).unwrap());
        // All on one CPU, started together.
        let starts: Vec<_> = (0..4)
            .map(|_| {
                Command::new("taskset")
                    .args(["-c", "0"])
                    .arg(bin("wgd"))
                    .args(["-S", &sock])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outs: Vec<_> = starts
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let won = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(won, 1, "round {round}: {outs:?}");
        for lost in outs.iter().filter(|o| !o.status.success()) {
            assert_eq!(lost.status.code(), Some(1));
            assert_eq!(
                String::from_utf8_lossy(&lost.stderr),
                format!("wgd: {sock}: another wgd is already serving this socket\n"),
                "round {round}"
            );
        }
        let daemons = processes_with_args(&["-S", &sock]);
        assert_eq!(daemons.len(), 1, "round {round}: {daemons:?}");
        assert!(UnixStream::connect(&sock).is_ok());
        stop(daemons[0]);
        assert!(!Path::new(&sock).exists());
    }
}

#[test]
fn a_daemon_removes_only_the_socket_it_bound() {
    require_root();
    let ns = Ns::new("own");
    let mut d = Wgd::start(&ns);
    let sock = d.sock.clone();
    // Its file replaced by someone else's socket at the same path.
    std::fs::rename(&sock, format!("{sock}.moved")).unwrap();
    let other = UnixListener::bind(&sock).unwrap();
    d.stop();
    assert!(
        UnixStream::connect(&sock).is_ok(),
        "the other socket is still there and answers"
    );
    drop(other);
    let _ = std::fs::remove_file(&sock);
    let _ = std::fs::remove_file(format!("{sock}.moved"));
    assert!(!Path::new(&format!("{sock}.lock")).exists());
}

/// A daemon in `ns` started from `exe` with a pid file; whichever
/// process serves at the end (found by the pid file) is stopped.
struct Served {
    sock: String,
    pidfile: PathBuf,
    log: PathBuf,
    first: std::process::Child,
}

impl Served {
    fn start(ns: &Ns, dir: &Dir, exe: &Path, env: &[(&str, &str)]) -> Served {
        let sock = dir.path("ctl.sock").display().to_string();
        let (pidfile, log) = (dir.path("wgd.pid"), dir.path("log"));
        let first = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(exe)
            .args(["-f", "-S", &sock, "-p"])
            .arg(&pidfile)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        assert!(wait_until(5, || UnixStream::connect(&sock).is_ok()));
        Served {
            sock,
            pidfile,
            log,
            first,
        }
    }

    fn pid(&self) -> u32 {
        pid_in(&self.pidfile)
    }

    fn ifc(&self, ns: &Ns, args: &str) -> String {
        ns.run(&format!(
            "{} -S {} {args}",
            bin("ifconfig-wg").display(),
            self.sock
        ))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGUSR2, and wait for a new process to serve: its pid.
    fn hand_over(&self) -> u32 {
        let old = self.pid();
        ok(&format!("kill -USR2 {old}"));
        let mut new = 0;
        assert!(
            wait_until(20, || {
                new = self.pid();
                new != old && new != 0 && !alive(old)
            }),
            "no hand-over: {}",
            self.log()
        );
        new
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let pid = self.pid();
        if pid != 0 && pid != self.first.id() && alive(pid) {
            let _ = sh(&format!("kill -TERM {pid}"));
            wait_until(10, || !alive(pid));
        }
        end_child(&mut self.first);
    }
}

/// `ip -o link` flags and ifconfig-wg's flags line of `ifname`.
fn flags(ns: &Ns, d: &Served, ifname: &str) -> (String, String) {
    let status = d.ifc(ns, ifname);
    (
        ns.link_flags(ifname).unwrap_or_default(),
        status.lines().next().unwrap_or("").to_string(),
    )
}

#[test]
fn a_hand_over_keeps_each_link_up_or_down() {
    require_root();
    let ns = Ns::new("updown");
    let dir = Dir::new("updown");
    let d = Served::start(&ns, &dir, &bin("wgd"), &[]);
    let (down, up) = (format!("wg{}", unique()), format!("wg{}", unique()));
    d.ifc(&ns, &format!("{down} create wgkey {} wgport 0", genkey()));
    d.ifc(
        &ns,
        &format!(
            "{up} create wgkey {} wgport 0 inet 10.9.8.1/24 up",
            genkey()
        ),
    );
    d.ifc(&ns, &format!("{down} link1"));
    let before = (flags(&ns, &d, &down), flags(&ns, &d, &up));
    assert!(!before.0 .0.contains("UP"), "{before:?}");
    assert!(before.1 .0.contains("UP"), "{before:?}");
    d.hand_over();
    let after = (flags(&ns, &d, &down), flags(&ns, &d, &up));
    assert_eq!(after, before, "{}", d.log());
    // And it still comes up and goes down when told.
    d.ifc(&ns, &format!("{down} up"));
    assert!(ns.link_flags(&down).unwrap().contains("UP"));
}

#[test]
fn a_symlinked_install_hands_over_to_what_the_link_names_then() {
    require_root();
    let ns = Ns::new("symlink");
    let dir = Dir::new("symlink");
    for v in ["v1", "v2", "sbin"] {
        std::fs::create_dir_all(dir.path(v)).unwrap();
    }
    std::fs::copy(bin("wgd"), dir.path("v1/wgd")).unwrap();
    std::fs::copy(bin("wgd"), dir.path("v2/wgd")).unwrap();
    std::os::unix::fs::symlink("../v1/wgd", dir.path("sbin/wgd")).unwrap();
    let d = Served::start(&ns, &dir, &dir.path("sbin/wgd"), &[]);
    let ifname = format!("wg{}", unique());
    d.ifc(
        &ns,
        &format!("{ifname} create wgkey {} wgport 0 up", genkey()),
    );
    let exe = |pid: u32| std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe(d.pid()), dir.path("v1/wgd"));
    // The administrator switches the link (stow, update-alternatives).
    let _ = std::fs::remove_file(dir.path("sbin/wgd"));
    std::os::unix::fs::symlink("../v2/wgd", dir.path("sbin/wgd")).unwrap();
    let new = d.hand_over();
    assert_eq!(exe(new), dir.path("v2/wgd"), "{}", d.log());
    assert!(
        d.log().contains(&format!(
            "handing over to {}",
            dir.path("sbin/wgd").display()
        )),
        "{}",
        d.log()
    );
    assert!(d.ifc(&ns, &ifname).contains("RUNNING"));
}

/// The process `parent` started with `--takeover`, once it has taken
/// everything (its signal thread runs from then on).
fn taker_with_everything(parent: u32) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid != Some(parent) || !cmdline(pid).iter().any(|a| a == "--takeover") {
            continue;
        }
        let threads = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
        let signals = threads.flatten().any(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "signals")
        });
        if signals {
            return Some(pid);
        }
    }
    None
}

#[test]
fn the_old_process_killed_at_the_last_step_leaves_the_new_one_serving() {
    require_root();
    let u = Underlay::new();
    let dir = Dir::new("lastgasp");
    let a = Served::start(
        &u.a,
        &dir,
        &bin("wgd"),
        &[("WGD_TEST_TAKEOVER_PAUSE_MS", "3000")],
    );
    let b = Wgd::start(&u.b);
    let (ia, ib) = (format!("wg{}", unique()), format!("wg{}", unique()));
    let (pa, pb) = (
        41000 + (unique() % 1000) as u16,
        42000 + (unique() % 1000) as u16,
    );
    let x = unique() % 250 + 1;
    let (in_a, in_b) = (format!("10.{x}.1.1"), format!("10.{x}.1.2"));
    a.ifc(&u.a, &format!("{ia} create wgkey {} wgport {pa}", genkey()));
    b.ok(&format!("{ib} create wgkey {} wgport {pb}", genkey()));
    let key_a = field(&a.ifc(&u.a, &ia), "wgpubkey").unwrap();
    let key_b = pubkey(&b, &ib);
    a.ifc(
        &u.a,
        &format!(
            "{ia} wgpeer {key_b} wgendpoint {} {pb} wgaip {in_b}/32 inet {in_a} {in_b} up",
            u.b4
        ),
    );
    b.ok(&format!(
        "{ib} wgpeer {key_a} wgendpoint {} {pa} wgaip {in_a}/32 inet {in_b} {in_a} up",
        u.a4
    ));
    assert!(
        u.a.ping(&in_b, 1),
        "{}\n{}\n{}\n{}",
        text(&u.a.exec(&format!("ping -c 1 -W 2 {in_b}"))),
        a.log(),
        a.ifc(&u.a, &ia),
        b.log_text()
    );
    let link = u.a.run(&format!("ip -o link show dev {ia}"));
    let old = a.pid();
    ok(&format!("kill -USR2 {old}"));
    let mut taker = None;
    assert!(
        wait_until(10, || {
            taker = taker_with_everything(old);
            taker.is_some()
        }),
        "{}",
        a.log()
    );
    let taker = taker.unwrap();
    // Everything is the new process's; the old one dies before it hears
    // "serving".
    ok(&format!("kill -KILL {old}"));
    assert!(
        wait_until(10, || a.log().contains("serving on")),
        "{}",
        a.log()
    );
    assert!(alive(taker));
    assert!(
        wait_until(5, || a.pid() == taker),
        "the pid file names the new process: {}",
        a.log()
    );
    assert_eq!(u.a.run(&format!("ip -o link show dev {ia}")), link);
    assert!(a.ifc(&u.a, &ia).contains("wgpeer"), "control socket serves");
    assert!(
        ok(&format!("wg show {ia} listen-port")).trim() == pa.to_string(),
        "UAPI serves"
    );
    assert!(u.a.ping(&in_b, 3), "the tunnel carries on: {}", a.log());
    stop(taker);
    assert!(!u.a.link_exists(&ia));
    assert!(!Path::new(&a.sock).exists() && !a.pidfile.exists());
    assert!(!Path::new(&format!("/var/run/wireguard/{ia}.sock")).exists());
    assert!(!Path::new(&format!("{}.lock", a.sock)).exists());
}

#[test]
fn a_pid_file_naming_another_process_is_not_the_daemon() {
    require_root();
    let h = Host::new("pidfile", "YES", "");
    let mut other = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = other.id();
    std::fs::write(&h.pidfile, format!("{pid}\n")).unwrap();
    let o = h.rc("if_wg", "status");
    assert_eq!(text(&o), "if_wg is not running.\n");
    let o = h.rc("if_wg", "stop");
    assert_eq!(text(&o), "if_wg not running?\n");
    assert!(alive(pid), "stop signalled an unrelated process");
    let o = h.rc("if_wg", "start");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(text(&o), "Starting if_wg.\n");
    assert!(UnixStream::connect(&h.sock).is_ok());
    let daemon: u32 = std::fs::read_to_string(&h.pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_ne!(daemon, pid);
    let o = h.rc("if_wg", "status");
    assert_eq!(text(&o), format!("if_wg is running as pid {daemon}.\n"));
    let o = h.rc("if_wg", "stop");
    assert!(o.status.success(), "{}", text(&o));
    assert!(!alive(daemon) && alive(pid));
    let _ = other.kill();
    let _ = other.wait();
}

#[test]
fn a_detached_daemon_works_from_root_with_its_own_umask() {
    require_root();
    let ns = Ns::new("hygiene");
    let dir = Dir::new("hygiene");
    // Relative paths, a strict umask, started from the test's directory.
    let o = ns.exec(&format!(
        "sh -c 'cd {} && umask 077 && {} -S ./ctl.sock -p ./wgd.pid'",
        dir.0.display(),
        bin("wgd").display()
    ));
    assert!(o.status.success(), "{}", text(&o));
    let (sock, pidfile) = (dir.path("ctl.sock"), dir.path("wgd.pid"));
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let _started = Started(pid);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap(),
        Path::new("/")
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&pidfile), 0o644);
    assert_eq!(mode(&sock), 0o666);
    // The paths it was given still lead there, from /.
    let ifname = format!("wg{}", unique());
    ns.run(&format!(
        "{} -S {} {ifname} create",
        bin("ifconfig-wg").display(),
        sock.display()
    ));
    stop(pid);
    assert!(!sock.exists() && !pidfile.exists());
    std::thread::sleep(Duration::from_millis(50));
    assert!(!ns.link_exists(&ifname));
}
