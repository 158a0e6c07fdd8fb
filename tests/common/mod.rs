//! Test hosts: network namespaces joined by veth, one wgd per namespace,
//! ifconfig-wg to drive it. Everything is uniquely named and removed on
//! every exit path (Drop runs on panic too); processes are ended by the
//! PID we started.
#![allow(dead_code)]

pub mod bsd;
pub mod capture;
pub mod host;
pub mod mesh;
pub mod noise;
pub mod routing;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A short unique number for names (interface names must fit in 15 bytes).
pub fn unique() -> u32 {
    (std::process::id() % 10_000) * 100 + SEQ.fetch_add(1, Ordering::SeqCst) % 100
}

pub fn require_root() {
    let uid = Command::new("id").arg("-u").output().expect("id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "these tests make namespaces and TUN devices: run them as root"
    );
}

/// target/<profile>/<name>, next to the test binary's deps/ directory.
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built: run cargo build --workspace first",
        p.display()
    );
    p
}

pub fn sh(cmd: &str) -> Output {
    Command::new("sh").arg("-c").arg(cmd).output().expect("sh")
}

pub fn ok(cmd: &str) -> String {
    let o = sh(cmd);
    assert!(
        o.status.success(),
        "`{cmd}` failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Poll `f` every 50 ms until it is true or `secs` pass.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// The PID a pid file names (0 if it names none).
pub fn pid_in(pidfile: impl AsRef<Path>) -> u32 {
    std::fs::read_to_string(pidfile)
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Whether process `pid` runs (a zombie has ended; whoever adopted it
/// reaps it later).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// SIGTERM to a child we started, wait up to 10 s, then SIGKILL.
pub fn end_child(c: &mut Child) -> Option<std::process::ExitStatus> {
    let _ = sh(&format!("kill -TERM {}", c.id()));
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(st)) = c.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = c.kill();
    let _ = c.wait();
    None
}

pub struct Ns {
    pub name: String,
}

impl Ns {
    pub fn new(tag: &str) -> Ns {
        let name = format!("wgt-{tag}-{}", unique());
        ok(&format!("ip netns add {name}"));
        let ns = Ns { name };
        ns.run("ip link set lo up");
        ns
    }

    pub fn exec(&self, cmd: &str) -> Output {
        sh(&format!("ip netns exec {} {cmd}", self.name))
    }

    pub fn run(&self, cmd: &str) -> String {
        ok(&format!("ip netns exec {} {cmd}", self.name))
    }

    /// Kernel flags of a link, as `ip link` shows them: "POINTOPOINT,MULTICAST,NOARP,UP".
    pub fn link_flags(&self, dev: &str) -> Option<String> {
        let o = self.exec(&format!("ip -o link show dev {dev}"));
        if !o.status.success() {
            return None;
        }
        let s = String::from_utf8_lossy(&o.stdout).into_owned();
        let start = s.find('<')? + 1;
        let end = s.find('>')?;
        Some(s[start..end].to_string())
    }

    pub fn link_exists(&self, dev: &str) -> bool {
        self.exec(&format!("ip link show dev {dev}"))
            .status
            .success()
    }

    pub fn ping(&self, addr: &str, count: u32) -> bool {
        self.exec(&format!("ping -c {count} -i 0.2 -W 2 {addr}"))
            .status
            .success()
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = sh(&format!("ip netns del {}", self.name));
    }
}

/// Two namespaces joined by a veth pair with IPv4 and IPv6 underlay
/// addresses: a = 192.168.X.1 / fd99:X::1, b = .2 / ::2.
pub struct Underlay {
    pub a: Ns,
    pub b: Ns,
    /// The veth ends in a and in b.
    pub va: String,
    pub vb: String,
    pub a4: String,
    pub b4: String,
    pub a6: String,
    pub b6: String,
}

impl Underlay {
    pub fn new() -> Underlay {
        let a = Ns::new("a");
        let b = Ns::new("b");
        let n = unique();
        let (va, vb) = (format!("va{n}"), format!("vb{n}"));
        ok(&format!(
            "ip link add {va} netns {} type veth peer name {vb} netns {}",
            a.name, b.name
        ));
        let x = n % 250 + 1;
        let (a4, b4) = (format!("192.168.{x}.1"), format!("192.168.{x}.2"));
        let (a6, b6) = (format!("fd99:{x}::1"), format!("fd99:{x}::2"));
        a.run(&format!("ip addr add {a4}/24 dev {va}"));
        b.run(&format!("ip addr add {b4}/24 dev {vb}"));
        a.run(&format!("ip addr add {a6}/64 dev {va} nodad"));
        b.run(&format!("ip addr add {b6}/64 dev {vb} nodad"));
        a.run(&format!("ip link set {va} up"));
        b.run(&format!("ip link set {vb} up"));
        Underlay {
            a,
            b,
            va,
            vb,
            a4,
            b4,
            a6,
            b6,
        }
    }
}

/// A wgd running in the foreground inside a namespace, its stderr in a file.
pub struct Wgd {
    pub ns: String,
    pub sock: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Wgd {
    pub fn start(ns: &Ns) -> Wgd {
        Wgd::start_with(ns, &[])
    }

    /// A daemon with extra command-line arguments.
    pub fn start_with(ns: &Ns, args: &[&str]) -> Wgd {
        let n = unique();
        let sock = format!("/tmp/wgt-{n}.sock");
        let log = PathBuf::from(format!("/tmp/wgt-{n}.log"));
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(bin("wgd"))
            .args(["-f", "-S", &sock])
            .args(args)
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start wgd");
        let d = Wgd {
            ns: ns.name.clone(),
            sock,
            log,
            child: Some(child),
        };
        assert!(
            wait_until(5, || std::os::unix::net::UnixStream::connect(&d.sock)
                .is_ok()),
            "wgd did not start listening"
        );
        d
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// ifconfig-wg in the daemon's namespace.
    pub fn ifc(&self, args: &str) -> Output {
        sh(&format!(
            "ip netns exec {} {} -S {} {args}",
            self.ns,
            bin("ifconfig-wg").display(),
            self.sock
        ))
    }

    /// ifconfig-wg as an unprivileged user (nobody).
    pub fn ifc_as_nobody(&self, args: &str) -> Output {
        sh(&format!(
            "ip netns exec {} setpriv --reuid=65534 --regid=65534 --clear-groups {} -S {} {args}",
            self.ns,
            bin("ifconfig-wg").display(),
            self.sock
        ))
    }

    /// Must succeed; returns stdout.
    pub fn ok(&self, args: &str) -> String {
        let o = self.ifc(args);
        assert!(
            o.status.success(),
            "ifconfig-wg {args}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Must fail with exit status 1 and exactly this stderr line.
    pub fn fails(&self, args: &str, stderr: &str) {
        let o = self.ifc(args);
        assert_eq!(o.status.code(), Some(1), "ifconfig-wg {args} should fail");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("{stderr}\n"),
            "ifconfig-wg {args}"
        );
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Send SIGTERM to the PID we started and wait for it (bounded).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        end_child(&mut self.child.take()?)
    }
}

impl Drop for Wgd {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_file(&self.sock);
        let _ = fs::remove_file(&self.log);
    }
}

pub fn genkey() -> String {
    ok("head -c 32 /dev/urandom | base64").trim().to_string()
}

/// The value of the first `name: value` line of a status, if any.
pub fn field(status: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}: ");
    status
        .lines()
        .find_map(|l| l.trim().strip_prefix(prefix.as_str()).map(String::from))
}

/// Public key of an interface, read from its status.
pub fn pubkey(d: &Wgd, ifname: &str) -> String {
    field(&d.ok(ifname), "wgpubkey").expect("wgpubkey line")
}

/// A configured tunnel between two daemons: interface `ia` in a, `ib` in b,
/// inner 10.N.0.1/2 and fdN::1/2, outer over IPv4 or IPv6.
pub struct Tunnel {
    pub u: Underlay,
    pub da: Wgd,
    pub db: Wgd,
    pub ia: String,
    pub ib: String,
    pub in_a4: String,
    pub in_b4: String,
    pub in_a6: String,
    pub in_b6: String,
    pub port_a: u16,
    pub port_b: u16,
}

impl Tunnel {
    pub fn new(outer_v6: bool) -> Tunnel {
        Tunnel::with_args(outer_v6, &[])
    }

    /// Both daemons started with extra arguments.
    pub fn with_args(outer_v6: bool, args: &[&str]) -> Tunnel {
        let u = Underlay::new();
        let da = Wgd::start_with(&u.a, args);
        let db = Wgd::start_with(&u.b, args);
        let n = unique();
        let (ia, ib) = (format!("wg{n}"), format!("wg{}", unique()));
        let x = n % 250 + 1;
        let (in_a4, in_b4) = (format!("10.{x}.0.1"), format!("10.{x}.0.2"));
        let (in_a6, in_b6) = (format!("fd{x:x}::1"), format!("fd{x:x}::2"));
        let (port_a, port_b) = (40000 + (n % 10000) as u16, 50000 + (n % 10000) as u16);
        da.ok(&format!("{ia} create"));
        db.ok(&format!("{ib} create"));
        da.ok(&format!("{ia} wgkey {} wgport {port_a}", genkey()));
        db.ok(&format!("{ib} wgkey {} wgport {port_b}", genkey()));
        let (pa, pb) = (pubkey(&da, &ia), pubkey(&db, &ib));
        let (ea, eb) = if outer_v6 {
            (u.a6.clone(), u.b6.clone())
        } else {
            (u.a4.clone(), u.b4.clone())
        };
        da.ok(&format!(
            "{ia} wgpeer {pb} wgendpoint {eb} {port_b} wgaip {in_b4}/32 wgaip {in_b6}/128"
        ));
        db.ok(&format!(
            "{ib} wgpeer {pa} wgendpoint {ea} {port_a} wgaip {in_a4}/32 wgaip {in_a6}/128"
        ));
        da.ok(&format!("{ia} inet {in_a4} {in_b4} inet6 {in_a6}/64 up"));
        db.ok(&format!("{ib} inet {in_b4} {in_a4} inet6 {in_b6}/64 up"));
        Tunnel {
            u,
            da,
            db,
            ia,
            ib,
            in_a4,
            in_b4,
            in_a6,
            in_b6,
            port_a,
            port_b,
        }
    }
}

/// Another WireGuard implementation in a namespace, configured with wg(8)
/// over its UAPI socket, ended by the PID we started.
pub struct Foreign {
    pub ns: String,
    pub ifname: String,
    child: Option<Child>,
}

#[derive(Clone, Copy, Debug)]
pub enum Impl {
    WireguardGo,
    Boringtun,
}

/// boringtun-cli from PATH or ~/.cargo/bin.
pub fn boringtun_cli() -> String {
    for p in [
        "boringtun-cli".to_string(),
        format!(
            "{}/.cargo/bin/boringtun-cli",
            std::env::var("HOME").unwrap_or_default()
        ),
    ] {
        if sh(&format!("command -v {p}")).status.success() {
            return p;
        }
    }
    panic!("boringtun-cli not installed (tests/run installs it with cargo install --locked)");
}

impl Foreign {
    pub fn start(kind: Impl, ns: &Ns, ifname: &str) -> Foreign {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &ns.name]);
        match kind {
            Impl::WireguardGo => {
                cmd.args([
                    "env",
                    "WG_PROCESS_FOREGROUND=1",
                    "LOG_LEVEL=error",
                    "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1",
                    "wireguard-go",
                    "-f",
                    ifname,
                ]);
            }
            Impl::Boringtun => {
                cmd.arg(boringtun_cli()).args([
                    "--foreground",
                    "--disable-drop-privileges",
                    "-v",
                    "error",
                    ifname,
                ]);
            }
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start foreign implementation");
        let f = Foreign {
            ns: ns.name.clone(),
            ifname: ifname.to_string(),
            child: Some(child),
        };
        let sock = format!("/var/run/wireguard/{ifname}.sock");
        assert!(
            wait_until(10, || std::path::Path::new(&sock).exists()
                && ns.link_exists(ifname)),
            "{kind:?} did not come up"
        );
        f
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            end_child(&mut c);
        }
        let _ = fs::remove_file(format!("/var/run/wireguard/{}.sock", self.ifname));
    }
}
