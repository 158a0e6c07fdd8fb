//! The descriptor limit: wgd raises its soft limit to the hard one and
//! brings up hundreds of interfaces under systemd's soft 1024; at a low
//! limit, creation fails with "Too many open files", clients that come
//! then are told so instead of making the daemon spin, and service
//! resumes once descriptors free.

mod common;
use common::*;

use std::fs;
use std::hash::{BuildHasher, RandomState};
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// A wgd started under `prlimit --nofile=SOFT:HARD` in a namespace; the
/// child is wgd itself (`ip netns exec` and `prlimit` exec it).
struct Limited {
    ns: String,
    sock: String,
    log: PathBuf,
    child: Option<Child>,
    /// Interfaces the test may have made: destroyed, and their UAPI
    /// sockets removed, on every exit path.
    names: Vec<String>,
}

impl Limited {
    fn start(ns: &Ns, nofile: &str) -> Limited {
        let n = unique();
        let sock = format!("/tmp/wgt-lim-{n}.sock");
        let log = PathBuf::from(format!("/tmp/wgt-lim-{n}.log"));
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "prlimit"])
            .arg(format!("--nofile={nofile}"))
            .arg("--")
            .arg(bin("wgd"))
            .args(["-f", "-S", &sock])
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start wgd");
        let d = Limited {
            ns: ns.name.clone(),
            sock,
            log,
            child: Some(child),
            names: Vec::new(),
        };
        assert!(
            wait_until(5, || UnixStream::connect(&d.sock).is_ok()),
            "wgd did not start listening"
        );
        assert_eq!(
            fs::read_to_string(format!("/proc/{}/comm", d.pid()))
                .unwrap_or_default()
                .trim(),
            "wgd",
            "the child is wgd itself"
        );
        d
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    fn ifc(&self, args: &str) -> Output {
        sh(&format!(
            "ip netns exec {} {} -S {} {args}",
            self.ns,
            bin("ifconfig-wg").display(),
            self.sock
        ))
    }

    /// One shell in the namespace runs every line of `script`.
    fn script(&self, script: &str) -> Output {
        let path = format!("{}.sh", self.sock);
        fs::write(&path, script).unwrap();
        let o = sh(&format!("ip netns exec {} sh {path}", self.ns));
        let _ = fs::remove_file(&path);
        o
    }

    /// `ifconfig-wg -S sock` as a shell word.
    fn ifconfig(&self) -> String {
        format!("{} -S {}", bin("ifconfig-wg").display(), self.sock)
    }

    /// utime + stime so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name (which may hold spaces): state is
        // field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    }

    /// The soft limit on open files, from /proc/PID/limits.
    fn soft_nofile(&self) -> u64 {
        let limits = fs::read_to_string(format!("/proc/{}/limits", self.pid())).unwrap();
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .expect("Max open files");
        line["Max open files".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for Limited {
    fn drop(&mut self) {
        if !self.names.is_empty() {
            let ifc = self.ifconfig();
            let script: String = self
                .names
                .iter()
                .map(|n| format!("{ifc} {n} destroy 2>/dev/null\n"))
                .collect();
            let _ = self.script(&script);
        }
        if let Some(mut c) = self.child.take() {
            end_child(&mut c);
        }
        for n in &self.names {
            let _ = fs::remove_file(format!("/var/run/wireguard/{n}.sock"));
        }
        let _ = fs::remove_file(&self.sock);
        let _ = fs::remove_file(&self.log);
    }
}

fn key() -> String {
    let s = RandomState::new();
    let mut k = [0u8; 32];
    for (i, c) in k.chunks_mut(8).enumerate() {
        c.copy_from_slice(&s.hash_one(i).to_le_bytes());
    }
    proto::Key::new(k).to_base64()
}

fn clock_ticks() -> u64 {
    ok("getconf CLK_TCK").trim().parse().unwrap()
}

#[test]
fn four_hundred_interfaces_under_a_soft_limit_of_1024() {
    require_root();
    let ns = Ns::new("nofile");
    let mut d = Limited::start(&ns, "1024:8192");
    assert_eq!(d.soft_nofile(), 8192, "the soft limit raised to the hard");
    let base = unique() * 1000;
    d.names = (0..400).map(|i| format!("wg{}", base + i)).collect();
    let ifc = d.ifconfig();
    let script: String = d
        .names
        .iter()
        .map(|n| {
            format!(
                "{ifc} {n} create wgkey {} wgport 0 up || echo FAILED {n}\n",
                key()
            )
        })
        .collect();
    let o = d.script(&script);
    assert!(
        o.status.success() && o.stdout.is_empty(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let all = String::from_utf8_lossy(&d.ifc("-a").stdout).into_owned();
    for n in &d.names {
        let head = format!("{n}: flags=");
        let line = all
            .lines()
            .find(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("{n} missing"));
        assert!(line.contains("<UP,RUNNING,"), "{line}");
    }
    // Four descriptors an interface, and a few of the daemon's own.
    let fds = fs::read_dir(format!("/proc/{}/fd", d.pid()))
        .unwrap()
        .count();
    assert!((1600..1700).contains(&fds), "{fds} descriptors");
}

/// Connect to the control socket; `Some(reply)` if the daemon answered
/// at once (without a request), `None` if it is waiting for one.
fn connect_and_listen(sock: &str) -> (UnixStream, Option<String>) {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    let reply = match s.read(&mut buf) {
        Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        Err(_) => None,
    };
    (s, reply)
}

#[test]
fn at_the_limit_clients_are_told_and_the_daemon_stays_idle() {
    require_root();
    let ns = Ns::new("emfile");
    let mut d = Limited::start(&ns, "64:64");
    assert_eq!(d.soft_nofile(), 64);
    let base = unique() * 1000;

    // Create until creation fails: each interface holds two descriptors.
    let mut made = Vec::new();
    let mut failure = None;
    for i in 0..64 {
        let n = format!("wg{}", base + i);
        d.names.push(n.clone());
        let o = d.ifc(&format!("{n} create"));
        if o.status.success() {
            made.push(n);
        } else {
            failure = Some((n, o));
            break;
        }
    }
    let (failed, o) = failure.expect("creation fails at 64 descriptors");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("ifconfig-wg: {failed}: SIOCSWG: Too many open files\n")
    );
    assert!(made.len() > 10, "only {} interfaces", made.len());

    // Take what descriptors are left with idle control connections, until
    // the daemon answers one at once: "Too many open files".
    let mut held = Vec::new();
    let mut refusal = None;
    for _ in 0..64 {
        let (s, reply) = connect_and_listen(&d.sock);
        match reply {
            None => held.push(s),
            Some(r) => {
                refusal = Some(r);
                break;
            }
        }
    }
    assert_eq!(refusal.as_deref(), Some("errno=24\n\n"));
    let o = d.ifc(&format!("{failed} create"));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("ifconfig-wg: {failed}: SIOCSWG: Too many open files\n")
    );

    // A wg(8) client at the limit is told so, and the daemon does not
    // spin meanwhile (it did: 200 % of a core with a client queued).
    let last = made.last().unwrap().clone();
    let wg = Command::new("ip")
        .args(["netns", "exec", &ns.name, "wg", "show", &last])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wg show");
    let before = d.cpu_ticks();
    std::thread::sleep(Duration::from_secs(2));
    let used = d.cpu_ticks() - before;
    let wg = wg.wait_with_output().unwrap();
    let hz = clock_ticks();
    eprintln!("wgd at the descriptor limit: {used} ticks in 2 s ({hz} a second)");
    assert!(
        used * 100 < 20 * 2 * hz,
        "wgd used {used} ticks of {hz}/s in 2 s at the descriptor limit"
    );
    assert!(!wg.status.success());
    assert_eq!(
        String::from_utf8_lossy(&wg.stderr),
        "Unable to access interface: Too many open files\n"
    );
    // A wg(8) set is refused in its own terms too.
    let o = ns.exec(&format!("wg set {last} listen-port 0"));
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Too many open files"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Free descriptors: the held connections, then a few interfaces.
    drop(held);
    for n in &made[..3] {
        assert!(
            wait_until(2, || d.ifc(&format!("{n} destroy")).status.success()),
            "{n} destroy"
        );
    }
    // Both sockets serve again.
    let some = made[3].clone();
    assert!(wait_until(2, || d.ifc("-l").status.success()));
    let listed = String::from_utf8_lossy(&d.ifc("-l").stdout).into_owned();
    assert!(
        listed.contains(&some) && !listed.contains(&made[0]),
        "{listed}"
    );
    assert!(wait_until(2, || ns
        .exec(&format!("wg show {some}"))
        .status
        .success()));
    assert!(wait_until(2, || ns
        .exec(&format!("wg set {some} listen-port 0"))
        .status
        .success()));
    let o = d.ifc(&format!("{failed} create"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
