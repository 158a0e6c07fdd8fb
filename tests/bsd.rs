//! The BSD commands of `make install-bsd`, typed literally: two
//! namespaces, `kldload if_wg`, a tunnel made with `ifconfig`, a ping
//! across; every message and exit status compared exactly, and bad input
//! changing nothing. `ifconfig lo` and `ifconfig -a` the same with and
//! without net-tools on PATH; links that are not wg configured with
//! FreeBSD's meaning of the words (alias, -alias, a replaced first
//! address, mtu, down/up, name), a wgN link wgd does not serve, and
//! output into a closed pipe.

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

    // lo in BSD format from the kernel, whether or not net-tools' ifconfig
    // (which reads the words differently) is on PATH: it is never run.
    let lo = "lo: flags=49<UP,LOOPBACK,RUNNING> metric 0 mtu 65536\n\
              \tinet 127.0.0.1 netmask 0xff000000\n\tinet6 ::1 prefixlen 128\n";
    assert_eq!(with.ok("ifconfig lo"), lo);
    assert_eq!(without.ok("ifconfig lo"), lo);
    for sh in [&with, &without] {
        sh.fails(
            "ifconfig nosuch0",
            1,
            "ifconfig: interface nosuch0 does not exist",
        );
        sh.fails(
            "ifconfig nosuch0 mtu 1400",
            1,
            "ifconfig: interface nosuch0 does not exist",
        );
    }
    assert_eq!(without.ok(&format!("ifconfig {} mtu 1400", u.va)), "");
    assert_eq!(
        u.a.run(&format!("cat /sys/class/net/{}/mtu", u.va)).trim(),
        "1400"
    );
    assert_eq!(with.ok(&format!("ifconfig {} mtu 1500", u.va)), "");

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

/// A namespace with a veth pair inside it, no IPv6 duplicate address
/// detection (so `ip addr` does not change by itself), 192.0.2.1/24 on
/// the first end, both up.
fn veth_ns() -> (Ns, String, String) {
    let ns = Ns::new("bsdo");
    ns.run("sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0");
    let n = unique();
    let (v, peer) = (format!("vo{n}"), format!("vp{n}"));
    ns.run(&format!("ip link add {v} type veth peer name {peer}"));
    ns.run(&format!("ip addr add 192.0.2.1/24 brd + dev {v}"));
    ns.run(&format!("ip link set {v} up"));
    ns.run(&format!("ip link set {peer} up"));
    (ns, v, peer)
}

/// Everything `ip` says about the namespace's links and addresses.
fn state(ns: &Ns) -> String {
    ns.run("ip addr") + &ns.run("ip -d link")
}

/// The link's addresses of one family (`-4`, `-6`), in the kernel's
/// order: "inet A/len [brd B] [secondary]".
fn addrs_of(ns: &Ns, family: &str, dev: &str) -> Vec<String> {
    ns.run(&format!("ip -o {family} addr show dev {dev}"))
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            // "N: dev inet A/len [brd B] scope ... [secondary] ..."
            let mut s = format!("{} {}", w[2], w[3]);
            if let Some(i) = w.iter().position(|x| *x == "brd") {
                s += &format!(" brd {}", w[i + 1]);
            }
            if w.contains(&"secondary") {
                s += " secondary";
            }
            s
        })
        .collect()
}

#[test]
fn other_links_take_freebsds_meaning() {
    require_root();
    let inst = Installed::new();
    let (ns, v, _peer) = veth_ns();
    // net-tools on PATH too: it must not be what runs.
    let sh = Shell::new(&ns, &inst, true);
    let primary = "inet 192.0.2.1/24 brd 192.0.2.255".to_string();

    // alias adds, and keeps the primary address and its /24.
    assert_eq!(sh.ok(&format!("ifconfig {v} inet 192.0.2.2/24 alias")), "");
    assert_eq!(
        addrs_of(&ns, "-4", &v),
        vec![
            primary.clone(),
            "inet 192.0.2.2/24 brd 192.0.2.255 secondary".into()
        ]
    );
    // -alias deletes that address, and only it.
    assert_eq!(sh.ok(&format!("ifconfig {v} inet 192.0.2.2 -alias")), "");
    assert_eq!(addrs_of(&ns, "-4", &v), vec![primary.clone()]);
    // inet6 ... alias adds.
    assert_eq!(
        sh.ok(&format!("ifconfig {v} inet6 2001:db8::2/64 alias")),
        ""
    );
    assert_eq!(addrs_of(&ns, "-4", &v), vec![primary.clone()]);
    let six = addrs_of(&ns, "-6", &v);
    assert!(six.contains(&"inet6 2001:db8::2/64".to_string()), "{six:?}");

    // Refused whole, with FreeBSD's words, changing nothing; on FreeBSD
    // the mtu before the bad word would have been set.
    let before = state(&ns);
    let refused = [
        (
            format!("ifconfig {v} mtu 1300 192.0.2.7/24 frob"),
            "ifconfig: frob: bad value".to_string(),
        ),
        (
            format!("ifconfig {v} frob"),
            "ifconfig: frob: bad value".into(),
        ),
        (
            format!("ifconfig {v} inet 192.0.2.7/33 alias"),
            "ifconfig: 192.0.2.7/33: bad value (width too large)".into(),
        ),
        (
            format!("ifconfig {v} inet 192.0.2.77 down -alias"),
            "ifconfig: ioctl (SIOCDIFADDR): Cannot assign requested address".into(),
        ),
        (
            format!("ifconfig {v} down mtu 40"),
            "ifconfig: ioctl SIOCSIFMTU (set mtu): Invalid argument".into(),
        ),
        (
            format!("ifconfig {v} up name lo"),
            "ifconfig: ioctl SIOCSIFNAME (set name): File exists".into(),
        ),
        (
            format!("ifconfig {v} down metric 2"),
            format!("ifconfig: {v}: metric: Operation not supported"),
        ),
        (
            format!("ifconfig {v} mtu"),
            "ifconfig: 'mtu' requires argument".into(),
        ),
    ];
    for (line, msg) in &refused {
        sh.fails(line, 1, msg);
    }
    let t = sh.type_as(Some("65534"), &format!("ifconfig {v} mtu 1300"));
    assert_eq!(
        (t.code, t.err.as_str()),
        (
            Some(1),
            "ifconfig: ioctl SIOCSIFMTU (set mtu): Operation not permitted\n"
        )
    );
    assert_eq!(state(&ns), before, "the refused lines changed nothing");

    // Without alias, inet replaces the first address (FreeBSD's
    // clearaddr), here with a hex netmask; IPv6 stays.
    assert_eq!(
        sh.ok(&format!("ifconfig {v} inet 192.0.2.9 netmask 0xffffff00")),
        ""
    );
    assert_eq!(
        addrs_of(&ns, "-4", &v),
        vec!["inet 192.0.2.9/24 brd 192.0.2.255"]
    );
    assert_eq!(addrs_of(&ns, "-6", &v), six);
    // A second address survives the replacement of the first (Linux
    // drops a primary's secondaries with it; they are put back).
    sh.ok(&format!("ifconfig {v} inet 192.0.2.10/24 alias"));
    sh.ok(&format!("ifconfig {v} inet 192.0.2.11/24"));
    assert_eq!(
        addrs_of(&ns, "-4", &v),
        vec![
            "inet 192.0.2.10/24 brd 192.0.2.255",
            "inet 192.0.2.11/24 brd 192.0.2.255 secondary"
        ]
    );
    // Without a mask: the class's, with FreeBSD's warning.
    let t = sh.typed(&format!("ifconfig {v} inet 10.1.2.3 alias"));
    assert_eq!(
        (t.code, t.err.as_str()),
        (
            Some(0),
            "ifconfig: WARNING: setting interface address without mask is deprecated,\ndefault mask may not be correct.\n"
        )
    );
    assert!(addrs_of(&ns, "-4", &v).contains(&"inet 10.1.2.3/8 brd 10.255.255.255".into()));

    // mtu, down, up, description, and name (which FreeBSD prints).
    assert_eq!(sh.ok(&format!("ifconfig {v} mtu 1400")), "");
    assert!(ns
        .run(&format!("ip link show dev {v}"))
        .contains(" mtu 1400 "));
    assert_eq!(sh.ok(&format!("ifconfig {v} down")), "");
    assert!(!ns.link_flags(&v).unwrap().split(',').any(|f| f == "UP"));
    assert_eq!(sh.ok(&format!("ifconfig {v} up descr uplink")), "");
    assert!(ns.link_flags(&v).unwrap().split(',').any(|f| f == "UP"));
    let st = sh.ok(&format!("ifconfig {v}"));
    assert!(
        st.starts_with(&format!(
            "{v}: flags=8043<UP,BROADCAST,RUNNING,MULTICAST> metric 0 mtu 1400\n\tdescription: uplink\n\tether "
        )) && st.contains("\tinet 192.0.2.10 netmask 0xffffff00 broadcast 192.0.2.255\n"),
        "{st}"
    );
    let lan = format!("lan{}", unique());
    assert_eq!(
        sh.ok(&format!("ifconfig {v} down name {lan} up")),
        format!("{lan}\n")
    );
    assert!(!ns.link_exists(&v) && ns.link_exists(&lan));
    assert!(ns.link_flags(&lan).unwrap().split(',').any(|f| f == "UP"));
    // Its addresses in the kernel's order (a secondary after the
    // primaries), labels renamed with the link.
    assert_eq!(
        sh.ok(&format!("ifconfig {lan} inet")),
        format!(
            "{lan}: flags=8043<UP,BROADCAST,RUNNING,MULTICAST> metric 0 mtu 1400\n\tdescription: uplink\n\
             \tinet 192.0.2.10 netmask 0xffffff00 broadcast 192.0.2.255\n\
             \tinet 10.1.2.3 netmask 0xff000000 broadcast 10.255.255.255\n\
             \tinet 192.0.2.11 netmask 0xffffff00 broadcast 192.0.2.255\n"
        )
    );
}

#[test]
fn a_wg_link_wgd_does_not_serve_is_another_link() {
    require_root();
    let inst = Installed::new();
    let ns = Ns::new("bsdt");
    let sh = Shell::new(&ns, &inst, false);
    let t = format!("wg{}", unique());
    ns.run(&format!("ip tuntap add {t} mode tun"));

    // No wgd answers on the shell's socket: the TUN device is shown and
    // configured as the kernel has it.
    assert_eq!(
        sh.ok(&format!("ifconfig {t}")),
        format!("{t}: flags=8090<POINTOPOINT,NOARP,MULTICAST> metric 0 mtu 1500\n")
    );
    assert!(sh.ok("ifconfig -l").contains(&t));
    // Point-to-point: the second address is the other end, and no
    // warning for the missing mask.
    assert_eq!(
        sh.ok(&format!("ifconfig {t} inet 10.9.0.1 10.9.0.2 up")),
        ""
    );
    assert!(
        ns.run(&format!("ip -o addr show dev {t}"))
            .contains("inet 10.9.0.1 peer 10.9.0.2/8 "),
        "{}",
        ns.run("ip addr")
    );
    assert!(sh
        .ok(&format!("ifconfig {t}"))
        .contains("\tinet 10.9.0.1 --> 10.9.0.2 netmask 0xff000000\n"));
    // Creating it, or a wgN that exists nowhere, is still ifconfig-wg's.
    let unreachable = format!(
        "ifconfig: cannot reach wgd at {}: No such file or directory (is if_wg loaded?)",
        sh.sock
    );
    sh.fails(&format!("ifconfig {t} create"), 1, &unreachable);
    sh.fails("ifconfig wg create", 1, &unreachable);
    sh.fails(&format!("ifconfig wg{} up", unique()), 1, &unreachable);
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    require_root();
    let inst = Installed::new();
    let ns = Ns::new("bsdp");
    let sh = Shell::new(&ns, &inst, false);
    let ifconfig_wg = format!("{}/sbin/ifconfig-wg", inst.prefix);
    // The reader is gone before the command writes: its write fails with
    // EPIPE. The command's own status goes to stderr.
    for cmd in [
        "kldstat -v",
        "kldstat",
        "ifconfig -a",
        "ifconfig -l",
        "ifconfig lo",
        &format!("{ifconfig_wg} -h"),
    ] {
        let t = sh.typed(&format!("(sleep 0.3; {cmd}; echo status $? >&2) | true"));
        assert_eq!((t.code, t.err.as_str()), (Some(0), "status 0\n"), "`{cmd}`");
    }
    let t = sh.typed("ifconfig -a | head -1");
    assert_eq!((t.code, t.err.as_str()), (Some(0), ""));
    assert!(t.out.starts_with("lo: flags="), "{}", t.out);
}
