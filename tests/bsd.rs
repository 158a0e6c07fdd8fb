//! The BSD commands of `make install-bsd`, typed literally: two
//! namespaces, `kldload if_wg`, a tunnel made with `ifconfig`, a ping
//! across; every message and exit status compared exactly, and bad input
//! changing nothing. `ifconfig lo` and `ifconfig -a` with and without
//! net-tools on PATH.

mod common;
use common::*;
use std::process::Command;

/// The commands installed under a PREFIX of our own.
struct Installed {
    prefix: String,
}

impl Installed {
    fn new() -> Installed {
        let prefix = format!("/tmp/wgt-bsd-{}", unique());
        let build = bin("wgd").parent().unwrap().display().to_string();
        let root = env!("CARGO_MANIFEST_DIR");
        ok(&format!(
            "make -s -C {root} install-bsd PREFIX={prefix} BUILD={build} >/dev/null"
        ));
        Installed { prefix }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

/// A namespace where a BSD administrator types commands: our sbin
/// first on PATH (and the system's after it, when `system`), and a
/// control socket of its own.
struct Shell<'a> {
    ns: &'a Ns,
    path: String,
    sock: String,
}

struct Typed {
    code: Option<i32>,
    out: String,
    err: String,
}

impl<'a> Shell<'a> {
    fn new(ns: &'a Ns, i: &Installed, system: bool) -> Shell<'a> {
        let sys = if system {
            ":/usr/sbin:/usr/bin:/sbin:/bin"
        } else {
            ":/usr/bin:/bin"
        };
        Shell {
            ns,
            path: format!("{}/sbin{sys}", i.prefix),
            sock: format!("/tmp/wgt-bsd-{}.sock", unique()),
        }
    }

    fn without_system(&self) -> Shell<'a> {
        Shell {
            ns: self.ns,
            path: self.path.split(':').take(1).collect::<Vec<_>>().join(":") + ":/usr/bin:/bin",
            sock: self.sock.clone(),
        }
    }

    fn type_as(&self, user: Option<&str>, line: &str) -> Typed {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns.name]);
        if let Some(u) = user {
            c.args([
                "setpriv",
                &format!("--reuid={u}"),
                "--regid=65534",
                "--clear-groups",
            ]);
        }
        let o = c
            .arg("env")
            .arg(format!("PATH={}", self.path))
            .arg(format!("WGD_SOCKET={}", self.sock))
            .args(["sh", "-c", line])
            .output()
            .expect("sh");
        Typed {
            code: o.status.code(),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    fn typed(&self, line: &str) -> Typed {
        self.type_as(None, line)
    }

    /// Must succeed; its standard output.
    fn ok(&self, line: &str) -> String {
        let t = self.typed(line);
        assert_eq!(t.code, Some(0), "`{line}`: {}{}", t.out, t.err);
        t.out
    }

    /// Must fail with this status, this one stderr line and no output.
    fn fails(&self, line: &str, code: i32, err: &str) {
        let t = self.typed(line);
        let want = if err.is_empty() {
            String::new()
        } else {
            format!("{err}\n")
        };
        assert_eq!(
            (t.code, t.err.as_str(), t.out.as_str()),
            (Some(code), want.as_str(), ""),
            "`{line}`"
        );
    }

    fn pidfile(&self) -> String {
        format!("{}.pid", self.sock.trim_end_matches(".sock"))
    }

    fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pidfile())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

/// A daemon kldload started is not our child: end it by the pid it
/// wrote, if the test stops before kldunload did.
impl Drop for Shell<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            if exe.ends_with("sbin/wgd") {
                let _ = sh(&format!("kill -TERM {pid}"));
                wait_until(10, || !alive(pid));
            }
        }
        let _ = std::fs::remove_file(&self.sock);
        let _ = std::fs::remove_file(self.pidfile());
    }
}

/// Running (a zombie has ended; whoever adopted it reaps it later).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

#[test]
fn kldload_ifconfig_ping_kldunload() {
    require_root();
    let inst = Installed::new();
    let u = Underlay::new();
    let (a, b) = (Shell::new(&u.a, &inst, true), Shell::new(&u.b, &inst, true));
    let (wa, wb) = (format!("wg{}", unique()), format!("wg{}", unique()));

    // Not loaded: the BSD commands' own words, and nothing starts.
    a.fails("kldstat -q -m if_wg", 1, "");
    a.fails(
        "kldstat -m if_wg",
        1,
        "kldstat: can't find module if_wg: No such file or directory",
    );
    a.fails("kldunload if_wg", 1, "kldunload: can't find file if_wg");
    a.fails(
        &format!("ifconfig {wa} create"),
        1,
        &format!(
            "ifconfig: cannot reach wgd at {}: No such file or directory (is if_wg loaded?)",
            a.sock
        ),
    );
    a.fails(
        "kldload foo",
        1,
        "kldload: can't load foo: No such file or directory",
    );
    a.fails(
        "kldunload",
        64,
        "usage: kldunload [-fv] -i id ...\n       kldunload [-fv] [-n] name ...",
    );
    let t = a.type_as(Some("65534"), "kldload if_wg");
    assert_eq!(
        (t.code, t.err.as_str()),
        (
            Some(1),
            "kldload: can't load if_wg: Operation not permitted\n"
        )
    );
    assert!(
        a.pid().is_none() && !u.a.link_exists(&wa),
        "nothing changed"
    );
    assert_eq!(
        a.ok("kldstat"),
        "Id Refs Address                Size Name\n"
    );

    // Loaded: the pid file rc.d/if_wg uses, and FreeBSD's answers.
    assert_eq!(a.ok("kldload if_wg"), "");
    assert_eq!(b.ok("kldload if_wg.ko"), "");
    let pid = a.pid().expect("pid file");
    assert!(alive(pid));
    a.fails(
        "kldload if_wg",
        1,
        "kldload: can't load if_wg: module already loaded or in kernel",
    );
    assert_eq!(a.ok("kldload -n if_wg"), "");
    assert_eq!(a.ok("kldstat -q -m if_wg"), "");
    assert_eq!(a.ok("kldstat -q -n if_wg"), "");
    assert_eq!(
        a.ok("kldstat -m if_wg"),
        format!("Id  Refs Name\n{pid:3}    1 if_wg\n")
    );
    let st = a.ok("kldstat");
    let lines: Vec<&str> = st.lines().collect();
    assert_eq!(lines[0], "Id Refs Address                Size Name");
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        (cols[0], cols[1], cols[4]),
        (pid.to_string().as_str(), "1", "if_wg.ko"),
        "{st}"
    );
    assert!(
        cols[2].starts_with("0x") && u64::from_str_radix(cols[3], 16).unwrap() > 0,
        "{st}"
    );
    assert_eq!(a.pid(), Some(pid), "the failed loads changed nothing");

    // A tunnel, with ifconfig.
    let (ka, kb) = (genkey(), genkey());
    let pa = ok(&format!("echo {ka} | wg pubkey")).trim().to_string();
    let pb = ok(&format!("echo {kb} | wg pubkey")).trim().to_string();
    assert_eq!(a.ok(&format!("ifconfig {wa} create")), "");
    assert_eq!(b.ok(&format!("ifconfig {wb} create")), "");
    a.ok(&format!(
        "ifconfig {wa} wgkey {ka} wgport 42001 wgpeer {pb} wgendpoint {} 42002 wgaip 10.252.0.2/32",
        u.b4
    ));
    b.ok(&format!(
        "ifconfig {wb} wgkey {kb} wgport 42002 wgpeer {pa} wgendpoint {} 42001 wgaip 10.252.0.1/32",
        u.a4
    ));
    a.ok(&format!("ifconfig {wa} inet 10.252.0.1 10.252.0.2 up"));
    b.ok(&format!("ifconfig {wb} inet 10.252.0.2 10.252.0.1 up"));
    assert!(
        u.a.ping("10.252.0.2", 3),
        "ping across the tunnel made with ifconfig"
    );
    let st = a.ok(&format!("ifconfig {wa}"));
    assert!(
        st.starts_with(&format!("{wa}: flags=")) && st.contains(&format!("\twgpeer: {pb}")),
        "{st}"
    );
    assert_eq!(a.ok("ifconfig -C"), "wg\n");
    assert_eq!(a.ok("ifconfig -g wg"), format!("{wa}\n"));
    assert_eq!(
        a.ok("kldstat -m if_wg"),
        format!("Id  Refs Name\n{pid:3}    2 if_wg\n")
    );
    // Through the dispatcher, ifconfig-wg's messages begin with ifconfig:.
    a.fails(
        &format!("ifconfig {wa} mtu 1"),
        1,
        &format!("ifconfig: {wa}: SIOCSWG: Invalid argument"),
    );
    a.fails(
        "ifconfig wg999 up",
        1,
        "ifconfig: interface wg999 does not exist",
    );

    // A module in use cannot be unloaded; nothing changes.
    a.fails(
        "kldunload if_wg",
        1,
        "kldunload: can't unload file: Device busy",
    );
    let t = a.type_as(Some("65534"), "kldunload -f if_wg");
    assert_eq!(
        (t.code, t.err.as_str()),
        (
            Some(1),
            "kldunload: can't unload file: Operation not permitted\n"
        )
    );
    assert!(alive(pid) && u.a.link_exists(&wa));
    assert!(u.a.ping("10.252.0.2", 1), "the tunnel still carries");

    // Destroyed, then unloaded: process, socket and pid file gone.
    assert_eq!(a.ok(&format!("ifconfig {wa} destroy")), "");
    assert_eq!(a.ok("kldunload if_wg"), "");
    assert!(!alive(pid), "wgd ended");
    assert!(!std::path::Path::new(&a.sock).exists() && a.pid().is_none());
    a.fails("kldstat -q -m if_wg", 1, "");
    // -f destroys the interfaces first.
    let pid_b = b.pid().expect("pid file");
    assert_eq!(
        b.ok("kldunload -v -f if_wg"),
        format!("Unloading if_wg.ko, id={pid_b}\n")
    );
    assert!(!alive(pid_b) && !u.b.link_exists(&wb));
}

#[test]
fn other_interfaces_with_and_without_net_tools() {
    require_root();
    assert!(
        std::path::Path::new("/usr/sbin/ifconfig").exists(),
        "net-tools is not installed (tests/run installs it)"
    );
    let inst = Installed::new();
    let u = Underlay::new();
    let with = Shell::new(&u.a, &inst, true);
    let without = with.without_system();

    // lo goes to net-tools unchanged, else BSD format from the kernel.
    let theirs = u.a.run("/usr/sbin/ifconfig lo");
    assert_eq!(with.ok("ifconfig lo"), theirs);
    let lo = "lo: flags=49<UP,LOOPBACK,RUNNING> metric 0 mtu 65536\n\
              \tinet 127.0.0.1 netmask 0xff000000\n\tinet6 ::1 prefixlen 128\n";
    assert_eq!(without.ok("ifconfig lo"), lo);
    let t = with.typed("ifconfig nosuch0");
    assert_eq!(
        (t.code, t.err.as_str()),
        (
            Some(1),
            "nosuch0: error fetching interface information: Device not found\n"
        )
    );
    without.fails(
        "ifconfig nosuch0",
        1,
        "ifconfig: interface nosuch0 does not exist",
    );
    without.fails(
        &format!("ifconfig {} mtu 1400", u.va),
        1,
        &format!("ifconfig: {}: not a wg interface, and there is no system ifconfig to configure it (install net-tools, or use ip(8))", u.va),
    );
    assert_eq!(
        u.a.run(&format!("cat /sys/class/net/{}/mtu", u.va)).trim(),
        "1500"
    );

    // -a lists every link in BSD format, wg ones as ifconfig-wg shows
    // them, the same with and without net-tools.
    assert_eq!(with.ok("kldload if_wg"), "");
    let w = format!("wg{}", unique());
    with.ok(&format!("ifconfig {w} create"));
    with.ok(&format!("ifconfig {w} inet 10.253.0.1/24"));
    let all = with.ok("ifconfig -a");
    assert_eq!(all, without.ok("ifconfig"));
    assert_eq!(all, without.ok("ifconfig -a"));
    assert_eq!(with.ok("ifconfig -l"), format!("lo {} {w}\n", u.va));
    assert_eq!(with.ok("ifconfig -l -d"), format!("{w}\n"));
    let mac = u.a.run(&format!("cat /sys/class/net/{}/address", u.va));
    let wg = with.ok(&format!("ifconfig {w}"));
    assert!(all.starts_with(lo), "{all}");
    assert!(all.ends_with(&wg), "{all}");
    let veth = &all[lo.len()..all.len() - wg.len()];
    assert!(
        veth.starts_with(&format!(
            "{}: flags=8043<UP,BROADCAST,RUNNING,MULTICAST> metric 0 mtu 1500\n\tether {}\n\tinet {} netmask 0xffffff00 broadcast ",
            u.va,
            mac.trim(),
            u.a4
        )) && veth.contains(&format!("\tinet6 {} prefixlen 64\n", u.a6))
            && veth.ends_with("\tstatus: active\n"),
        "{veth}"
    );
    assert!(
        wg.starts_with(&format!("{w}: flags=80<NOARP> metric 0 mtu 1420\n")),
        "{wg}"
    );
    assert_eq!(with.ok("kldunload -f if_wg"), "");
}
