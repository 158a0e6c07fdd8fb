//! Booting like a BSD host: rc.d/if_wg starts wgd when rc.conf says
//! if_wg_load="YES", rc.d/wg brings interfaces up from wg.conf(5) files,
//! and both stop cleanly. Each test has its own rc.conf and config
//! directory (RC_CONF), socket and pidfile.

mod common;
use common::*;
use std::path::Path;

struct Host {
    ns: Ns,
    dir: String,
    rc_conf: String,
    sock: String,
    pidfile: String,
}

impl Host {
    fn new(tag: &str, load: &str, interfaces: &str) -> Host {
        let ns = Ns::new(tag);
        let dir = format!("/tmp/wgt-boot-{}", unique());
        ok(&format!(
            "mkdir -p {dir}/wireguard && chmod 700 {dir}/wireguard"
        ));
        let (sock, pidfile) = (format!("{dir}/wgd.sock"), format!("{dir}/wgd.pid"));
        let rc_conf = format!("{dir}/rc.conf");
        std::fs::write(
            &rc_conf,
            format!(
                "if_wg_load=\"{load}\"\nif_wg_socket=\"{sock}\"\nif_wg_pidfile=\"{pidfile}\"\nif_wg_program=\"{}\"\nwg_enable=\"YES\"\nwg_interfaces=\"{interfaces}\"\nwg_config_dir=\"{dir}/wireguard\"\nwg_ifconfig_program=\"{}\"\n",
                bin("wgd").display(),
                bin("ifconfig-wg").display()
            ),
        )
        .unwrap();
        Host {
            ns,
            dir,
            rc_conf,
            sock,
            pidfile,
        }
    }

    fn rc(&self, script: &str, args: &str) -> std::process::Output {
        self.ns.exec(&format!(
            "env RC_CONF={} {}/rc.d/{script} {args}",
            self.rc_conf,
            env!("CARGO_MANIFEST_DIR")
        ))
    }

    fn conf(&self, ifname: &str, text: &str) -> String {
        let p = format!("{}/wireguard/{ifname}.conf", self.dir);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn ifc(&self, args: &str) -> String {
        self.ns.run(&format!(
            "{} -S {} {args}",
            bin("ifconfig-wg").display(),
            self.sock
        ))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // The wgd that if_wg started: end it by the PID it wrote.
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = sh(&format!("kill -TERM {}", pid.trim()));
            let p = format!("/proc/{}", pid.trim());
            wait_until(5, || !Path::new(&p).exists());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn rc_d_brings_up_two_hosts_that_talk_and_stops_cleanly() {
    require_root();
    let (ia, ib) = (format!("wg{}", unique()), format!("wg{}", unique()));
    let a = Host::new("ba", "YES", &ia);
    let b = Host::new("bb", "YES", &ib);
    let n = unique();
    let (va, vb) = (format!("vb{n}a"), format!("vb{n}b"));
    ok(&format!(
        "ip link add {va} netns {} type veth peer name {vb} netns {}",
        a.ns.name, b.ns.name
    ));
    a.ns.run(&format!("ip addr add 192.168.201.1/24 dev {va}"));
    b.ns.run(&format!("ip addr add 192.168.201.2/24 dev {vb}"));
    a.ns.run(&format!("ip link set {va} up"));
    b.ns.run(&format!("ip link set {vb} up"));
    let (ka, kb) = (
        ok("wg genkey").trim().to_string(),
        ok("wg genkey").trim().to_string(),
    );
    let pa = ok(&format!("echo {ka} | wg pubkey")).trim().to_string();
    let pb = ok(&format!("echo {kb} | wg pubkey")).trim().to_string();
    let psk = ok("wg genpsk").trim().to_string();
    let hook = format!("{}/postup", a.dir);
    a.conf(
        &ia,
        &format!(
            "# host a\n[Interface]\nPrivateKey = {ka}\nListenPort = 51820\nAddress = 10.201.0.1/24, fd20:1::1/64\nMTU = 1400\nDescription = boot test\nFwMark = 0x10\nPostUp = echo up %i > {hook}\n\n[Peer]\nPublicKey = {pb}\nPresharedKey = {psk}\nEndpoint = 192.168.201.2:51821\nAllowedIPs = 10.201.0.2/32, fd20:1::2/128\nPersistentKeepalive = 25\nDescription = host b\n\n[Peer]\n# a disabled peer is not configured\nPublicKey = {}\nAllowedIPs = 10.201.0.9/32\nEnabled = no\n",
            ok("wg genkey | wg pubkey").trim()
        ),
    );
    b.conf(
        &ib,
        &format!(
            "[Interface]\nPrivateKey = {kb}\nListenPort = 51821\nAddress = 10.201.0.2/24, fd20:1::2/64\n\n[Peer]\nPublicKey = {pa}\nPresharedKey = {psk}\nEndpoint = 192.168.201.1:51820\nAllowedIPs = 10.201.0.1/32, fd20:1::1/128\n"
        ),
    );
    for h in [&a, &b] {
        let o = h.rc("if_wg", "start");
        assert!(o.status.success(), "{}", text(&o));
        assert!(Path::new(&h.sock).exists() && Path::new(&h.pidfile).exists());
        let o = h.rc("wg", "start");
        assert!(o.status.success(), "{}", text(&o));
    }
    assert!(a.ns.ping("10.201.0.2", 3), "v4 a -> b");
    assert!(b.ns.ping("fd20:1::1", 3), "v6 b -> a");
    assert_eq!(
        std::fs::read_to_string(&hook).unwrap(),
        format!("up {ia}\n")
    );
    let s = a.ifc(&format!("-k {ia}"));
    for want in [
        format!("{ia}: flags=c1<UP,RUNNING,NOARP> metric 0 mtu 1400\n\tdescription: boot test\n\tinet 10.201.0.1 netmask 0xffffff00\n\tinet6 fd20:1::1 prefixlen 64\n\twgport: 51820\n\twgcookie: 16\n"),
        format!("\t\twgdescr: host b\n\t\twgpsk: {psk}\n\t\twgpka: 25 (seconds)\n\t\twgendpoint: 192.168.201.2 51821\n"),
    ] {
        assert!(s.contains(&want), "missing {want:?} in\n{s}");
    }
    assert_eq!(
        s.matches("\twgpeer: ").count(),
        1,
        "disabled peer configured:\n{s}"
    );

    // status shows each interface.
    let o = a.rc("wg", "status");
    assert!(o.status.success());
    assert!(
        text(&o).starts_with(&format!("{ia}: flags=c1<UP,RUNNING,NOARP>")),
        "{}",
        text(&o)
    );
    assert!(a.rc("if_wg", "status").status.success());

    // Starting again skips the existing interface with a warning.
    let o = a.rc("wg", "start");
    assert!(o.status.success());
    assert!(
        text(&o).contains(&format!("interface {ia} already exists, skipped")),
        "{}",
        text(&o)
    );

    for h in [&a, &b] {
        let o = h.rc("wg", "stop");
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(h.ifc("-l").trim(), "");
        let o = h.rc("if_wg", "stop");
        assert!(o.status.success(), "{}", text(&o));
        assert!(!Path::new(&h.sock).exists() && !Path::new(&h.pidfile).exists());
    }
    assert!(!a.ns.link_exists(&ia) && !b.ns.link_exists(&ib));
    let o = a.rc("if_wg", "status");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(text(&o), "if_wg is not running.\n");
}

#[test]
fn malformed_files_name_file_and_line_and_leave_nothing() {
    require_root();
    let (good, bad, nokey, runtime) = (
        // Not wgN: created as `wg create name ...`.
        format!("home{}", unique()),
        format!("wg{}", unique()),
        format!("wg{}", unique()),
        format!("wg{}", unique()),
    );
    let h = Host::new("bm", "YES", &format!("{good} {bad}"));
    assert!(h.rc("if_wg", "start").status.success());
    h.conf(
        &good,
        &format!("[Interface]\nPrivateKey = {}\n", ok("wg genkey").trim()),
    );
    let badp = h.conf(
        &bad,
        &format!(
            "[Interface]\nPrivateKey = {}\n\n[Peer]\nPublicKey = {}\nAllowedIPs 10.0.0.1/32\n",
            ok("wg genkey").trim(),
            ok("wg genkey | wg pubkey").trim()
        ),
    );
    let o = h.rc("wg", "start");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "wg: {badp}:6: malformed line: AllowedIPs 10.0.0.1/32\n"
        )),
        "{}",
        text(&o)
    );
    // The good one came up; the bad one left nothing.
    assert_eq!(h.ifc("-l").trim(), good);

    let nokeyp = h.conf(&nokey, "# no key\n\n[Interface]\nListenPort = 51820\n");
    let o = h.rc("wg", &format!("start {nokey}"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o),
        format!("wg: {nokeyp}:3: [Interface] has no PrivateKey\n")
    );

    let missing = format!("wg{}", unique());
    let o = h.rc("wg", &format!("start {missing}"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o),
        format!("wg: {}/wireguard/{missing}.conf: cannot read\n", h.dir)
    );

    // Valid syntax the daemon refuses (a low-order peer key): the half-made
    // interface is destroyed again.
    h.conf(
        &runtime,
        &format!(
            "[Interface]\nPrivateKey = {}\n[Peer]\nPublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            ok("wg genkey").trim()
        ),
    );
    let o = h.rc("wg", &format!("start {runtime}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!(
            "wg: {runtime}: configuration failed, interface destroyed"
        )),
        "{}",
        text(&o)
    );
    assert_eq!(h.ifc("-l").trim(), good);
    assert!(!h.ns.link_exists(&runtime));
}

#[test]
fn if_wg_load_no_starts_nothing_and_onestart_forces_it() {
    require_root();
    let h = Host::new("bn", "NO", "");
    let o = h.rc("if_wg", "start");
    assert!(o.status.success());
    assert!(
        text(&o).starts_with("Cannot 'start' if_wg. Set if_wg_load to YES"),
        "{}",
        text(&o)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!Path::new(&h.sock).exists() && !Path::new(&h.pidfile).exists());
    let o = h.rc("if_wg", "onestart");
    assert!(o.status.success(), "{}", text(&o));
    assert!(Path::new(&h.sock).exists());
    assert_eq!(h.ifc("-C").trim(), "wg");
    let o = h.rc("if_wg", "onestop");
    assert!(o.status.success(), "{}", text(&o));
    assert!(!Path::new(&h.sock).exists());
}

#[test]
fn parser_checks_numbers_as_numbers() {
    require_root();
    let h = Host::new("bp", "YES", "");
    assert!(h.rc("if_wg", "start").status.success());
    let key = ok("wg genkey").trim().to_string();
    for (line, error) in [
        ("ListenPort = 70000", Some("bad ListenPort: 70000")),
        ("ListenPort = 7000", None),
        ("MTU = 67", Some("bad MTU: 67")),
        ("MTU = 9000", None),
        ("MTU = 65456", Some("bad MTU: 65456")),
        ("FwMark = 0x1f", None),
        ("FwMark = bogus", Some("bad FwMark: bogus")),
        (
            "Address = 10.0.0.1/24, nonsense",
            Some("bad address: nonsense"),
        ),
        (
            "Address = 10.63.0.300/24",
            Some("bad address: 10.63.0.300/24"),
        ),
        ("Address = 10.63.0.3/33", Some("bad address: 10.63.0.3/33")),
        ("Address = fd00::1/129", Some("bad address: fd00::1/129")),
        ("Address = 1::2::3/64", Some("bad address: 1::2::3/64")),
        ("Address = 10.0.0/8", Some("bad address: 10.0.0/8")),
        ("Address = 10.63.0.3/24, fd63::3/64, ::ffff:10.0.0.1", None),
    ] {
        let i = format!("wg{}", unique());
        let p = h.conf(&i, &format!("[Interface]\nPrivateKey = {key}\n{line}\n"));
        let o = h.rc("wg", &format!("start {i}"));
        match error {
            Some(e) => {
                assert_eq!(o.status.code(), Some(1), "{line}");
                assert_eq!(text(&o), format!("wg: {p}:3: {e}\n"), "{line}");
                assert!(!h.ns.link_exists(&i));
            }
            None => {
                assert!(o.status.success(), "{line}: {}", text(&o));
                h.ifc(&format!("{i} destroy"));
            }
        }
    }
}

#[test]
fn spec_variables_only_with_wgd_socket_and_path() {
    require_root();
    // Only the rc.conf variables of the spec; the socket from WGD_SOCKET,
    // the programs from PATH, two namespaces with a daemon each.
    let dirs: Vec<String> = (0..2)
        .map(|_| format!("/tmp/wgt-spec-{}", unique()))
        .collect();
    let _cleanup: Vec<Dir> = dirs.iter().map(|d| Dir(d.clone())).collect();
    let names: Vec<String> = (0..2).map(|_| format!("wg{}", unique())).collect();
    let nss = [Ns::new("sa"), Ns::new("sb")];
    let keys: Vec<String> = (0..2).map(|_| ok("wg genkey").trim().to_string()).collect();
    let pubs: Vec<String> = keys
        .iter()
        .map(|k| ok(&format!("echo {k} | wg pubkey")).trim().to_string())
        .collect();
    let n = unique();
    ok(&format!(
        "ip link add vs{n}a netns {} type veth peer name vs{n}b netns {}",
        nss[0].name, nss[1].name
    ));
    for i in 0..2 {
        let other = 1 - i;
        nss[i].run(&format!(
            "ip addr add 192.168.202.{}/24 dev vs{n}{}",
            i + 1,
            ["a", "b"][i]
        ));
        nss[i].run(&format!("ip link set vs{n}{} up", ["a", "b"][i]));
        ok(&format!("mkdir -p {0}/wireguard", dirs[i]));
        std::fs::write(
            format!("{}/rc.conf", dirs[i]),
            format!("if_wg_load=\"YES\"\nwg_enable=\"YES\"\nwg_interfaces=\"{}\"\nwg_config_dir=\"{}/wireguard\"\n", names[i], dirs[i]),
        )
        .unwrap();
        std::fs::write(
            format!("{}/wireguard/{}.conf", dirs[i], names[i]),
            format!(
                "[Interface]\nPrivateKey = {}\nListenPort = 5182{i}\nAddress = 10.202.0.{}/24\n\n[Peer]\nPublicKey = {}\nEndpoint = 192.168.202.{}:5182{other}\nAllowedIPs = 10.202.0.{}/32\n",
                keys[i],
                i + 1,
                pubs[other],
                other + 1,
                other + 1
            ),
        )
        .unwrap();
    }
    let path = format!(
        "{}:/usr/sbin:/usr/bin:/sbin:/bin",
        bin("wgd").parent().unwrap().display()
    );
    let rc = |i: usize, script: &str, arg: &str| {
        nss[i].exec(&format!(
            "env PATH={path} RC_CONF={0}/rc.conf WGD_SOCKET={0}/wgd.sock {1}/rc.d/{script} {arg}",
            dirs[i],
            env!("CARGO_MANIFEST_DIR")
        ))
    };
    for (i, dir) in dirs.iter().enumerate() {
        let o = rc(i, "if_wg", "start");
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            Path::new(&format!("{dir}/wgd.pid")).exists(),
            "pidfile next to the socket"
        );
        let o = rc(i, "wg", "start");
        assert!(o.status.success(), "{}", text(&o));
    }
    assert!(nss[0].ping("10.202.0.2", 3));
    for i in 0..2 {
        let o = rc(i, "wg", "status");
        assert!(
            text(&o).starts_with(&format!("{}: flags=c1<UP,RUNNING,NOARP>", names[i])),
            "{}",
            text(&o)
        );
        assert!(rc(i, "wg", "stop").status.success());
        assert!(rc(i, "if_wg", "stop").status.success());
        assert!(!Path::new(&format!("{}/wgd.sock", dirs[i])).exists());
        assert!(!nss[i].link_exists(&names[i]));
    }
}

struct Dir(String);
impl Drop for Dir {
    fn drop(&mut self) {
        // A daemon left running by a failed assertion: end it by its PID.
        if let Ok(pid) = std::fs::read_to_string(format!("{}/wgd.pid", self.0)) {
            let _ = sh(&format!("kill -TERM {}", pid.trim()));
            let p = format!("/proc/{}", pid.trim());
            wait_until(5, || !Path::new(&p).exists());
        }
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn values_reach_ifconfig_as_the_words_they_stand_for() {
    require_root();
    let h = Host::new("bq", "YES", "");
    assert!(h.rc("if_wg", "start").status.success());
    let key = ok("wg genkey").trim().to_string();
    let good = ok("wg genkey | wg pubkey").trim().to_string();
    let evil = ok("wg genkey | wg pubkey").trim().to_string();
    // Blanks of every kind inside an Endpoint could smuggle in words
    // (here a second peer taking over 0.0.0.0/0).
    for sep in ["\t", "\x0b", "\x0c", "\r"] {
        let i = format!("wg{}", unique());
        let p = h.conf(
            &i,
            &format!(
                "[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {good}\nAllowedIPs = 10.0.0.0/8\nEndpoint = 192.0.2.1{sep}wgpeer{sep}{evil}{sep}wgaip{sep}0.0.0.0/0{sep}wgendpoint{sep}192.0.2.9:51820\n"
            ),
        );
        let o = h.rc("wg", &format!("start {i}"));
        assert_eq!(o.status.code(), Some(1), "{sep:?}: {}", text(&o));
        assert!(
            text(&o).starts_with(&format!("wg: {p}:6: bad Endpoint: ")),
            "{sep:?}: {}",
            text(&o)
        );
        assert!(!h.ns.link_exists(&i));
    }
    // A well-formed one arrives as exactly host and port.
    let i = format!("wg{}", unique());
    h.conf(
        &i,
        &format!(
            "[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {good}\nEndpoint = [fd00::7]:51820\nAllowedIPs = 10.0.0.0/8\n"
        ),
    );
    let o = h.rc("wg", &format!("start {i}"));
    assert!(o.status.success(), "{}", text(&o));
    let st = h.ifc(&i);
    assert_eq!(field(&st, "wgendpoint").as_deref(), Some("fd00::7 51820"));
    assert_eq!(st.matches("wgpeer: ").count(), 1, "{st}");
}

#[test]
fn fwmark_is_read_as_wg8_reads_it_and_failures_leave_nothing() {
    require_root();
    let h = Host::new("bf", "YES", "");
    assert!(h.rc("if_wg", "start").status.success());
    let key = ok("wg genkey").trim().to_string();
    for (v, want) in [
        ("08", Ok(Some("8"))),
        ("010", Ok(Some("10"))),
        ("0x10", Ok(Some("16"))),
        ("0xffffffff", Ok(Some("4294967295"))),
        ("4294967295", Ok(Some("4294967295"))),
        ("off", Ok(None)),
        ("0X10", Err(())),
        ("4294967296", Err(())),
        ("0x100000000", Err(())),
        ("-1", Err(())),
    ] {
        let i = format!("wg{}", unique());
        let p = h.conf(
            &i,
            &format!("[Interface]\nPrivateKey = {key}\nFwMark = {v}\n"),
        );
        let o = h.rc("wg", &format!("start {i}"));
        match want {
            Ok(cookie) => {
                assert!(o.status.success(), "{v}: {}", text(&o));
                assert_eq!(field(&h.ifc(&i), "wgcookie").as_deref(), cookie, "{v}");
                h.ifc(&format!("{i} destroy"));
            }
            Err(()) => {
                assert_eq!(o.status.code(), Some(1), "{v}");
                assert_eq!(text(&o), format!("wg: {p}:3: bad FwMark: {v}\n"));
                assert!(!h.ns.link_exists(&i), "{v}: interface left behind");
            }
        }
    }
}

/// `rc.d/if_wg foreground` (what wgd.service runs) starts wgd in the
/// foreground with rc.conf's socket and flags, as `start` would.
#[test]
fn foreground_honours_rc_conf_socket_and_flags() {
    require_root();
    let h = Host::new("bg", "YES", "");
    let mut conf = std::fs::read_to_string(&h.rc_conf).unwrap();
    conf.push_str("if_wg_flags=\"-w 1\"\n");
    std::fs::write(&h.rc_conf, conf).unwrap();
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &h.ns.name, "env"])
        .arg(format!("RC_CONF={}", h.rc_conf))
        .arg(format!("{}/rc.d/if_wg", env!("CARGO_MANIFEST_DIR")))
        .arg("foreground")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_until(5, || std::path::Path::new(&h.sock).exists()));
    assert_eq!(h.ifc("-C").trim(), "wg");
    // One data-plane worker, as the flags asked: the threads are the
    // worker, the clock, the link watcher, the signal thread and main.
    let threads = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .count();
    let names: Vec<String> = std::fs::read_dir(format!("/proc/{}/task", child.id()))
        .unwrap()
        .map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).unwrap_or_default())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("worker")).count(),
        1,
        "{names:?} ({threads})"
    );
    end_child(&mut child);
}

/// The rc.subr stand-in answers rcvar, enabled and describe as FreeBSD's
/// does, stops a running daemon that is not enabled, and rc.d/wg says so
/// when a setting is misspelt.
#[test]
fn rc_subr_commands_and_misspelt_settings() {
    require_root();
    let h = Host::new("br", "NO", "");
    let o = h.rc("if_wg", "rcvar");
    assert_eq!(
        text(&o),
        "# if_wg\n#\nif_wg_load=\"NO\"\n#   (default: \"\")\n"
    );
    assert_eq!(h.rc("if_wg", "enabled").status.code(), Some(1));
    assert_eq!(
        text(&h.rc("if_wg", "describe")),
        "WireGuard driver daemon (wgd)\n"
    );
    // Started by hand although not enabled: `stop` still stops it.
    assert!(h.rc("if_wg", "onestart").status.success());
    assert!(Path::new(&h.sock).exists());
    let o = h.rc("if_wg", "stop");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(text(&o), "Stopping if_wg.\n");
    assert!(wait_until(5, || !Path::new(&h.sock).exists()));
    // Not running and not enabled: refused, as before.
    let o = h.rc("if_wg", "stop");
    assert!(text(&o).starts_with("Cannot 'stop' if_wg."), "{}", text(&o));

    let mut conf = std::fs::read_to_string(&h.rc_conf).unwrap();
    conf.push_str("wg_interface=\"wg0\"\n");
    std::fs::write(&h.rc_conf, conf).unwrap();
    assert_eq!(h.rc("wg", "enabled").status.code(), Some(0));
    let o = h.rc("wg", "start");
    assert_eq!(
        text(&o),
        "wg: WARNING: unknown rc.conf variable wg_interface (known: wg_enable, wg_interfaces, wg_config_dir, wg_ifconfig_program, wg_resolve_timeout)\nwg: WARNING: wg_interfaces is empty: no interface to start\n"
    );
}

/// An Endpoint name that resolves only after a while (DNS not up yet at
/// boot) is waited for; one that never resolves fails with the file and
/// line before anything is created; a failure after create runs the Down
/// hooks around the destroy.
#[test]
fn endpoint_names_are_waited_for_and_failures_run_down_hooks() {
    require_root();
    let h = Host::new("bd", "YES", "");
    assert!(h.rc("if_wg", "start").status.success());
    // ip netns exec binds /etc/netns/NAME/hosts over /etc/hosts.
    let etc = format!("/etc/netns/{}", h.ns.name);
    std::fs::create_dir_all(&etc).unwrap();
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(etc.clone());
    let hosts = format!("{etc}/hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    // Names not in hosts are asked of loopback only, where nobody answers.
    std::fs::write(format!("{etc}/resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    let key = ok("wg genkey").trim().to_string();
    let peer = ok("wg genkey | wg pubkey").trim().to_string();
    let late = format!("late{}.example", unique());
    let i = format!("wg{}", unique());
    h.conf(
        &i,
        &format!("[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {peer}\nEndpoint = {late}:51820\n"),
    );
    let writer = {
        let (hosts, late) = (hosts.clone(), late.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(2));
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&hosts)
                .unwrap();
            use std::io::Write;
            writeln!(f, "192.0.2.55 {late}").unwrap();
        })
    };
    let o = h.rc("wg", &format!("start {i}"));
    writer.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        field(&h.ifc(&i), "wgendpoint").as_deref(),
        Some("192.0.2.55 51820")
    );

    // Never resolves: refused with file and line, nothing created.
    let mut conf = std::fs::read_to_string(&h.rc_conf).unwrap();
    conf.push_str("wg_resolve_timeout=\"1\"\n");
    std::fs::write(&h.rc_conf, conf).unwrap();
    let j = format!("wg{}", unique());
    let p = h.conf(
        &j,
        &format!("[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {peer}\nEndpoint = never{}.example:1\n", unique()),
    );
    let o = h.rc("wg", &format!("start {j}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).starts_with(&format!("wg: {p}:5: cannot resolve never")),
        "{}",
        text(&o)
    );
    assert!(!h.ns.link_exists(&j));

    // Fails after create (a low-order key the daemon refuses): Down hooks run.
    let k = format!("wg{}", unique());
    let log = format!("{}/hooks.log", h.dir);
    h.conf(
        &k,
        &format!("[Interface]\nPrivateKey = {key}\nPreDown = echo predown %i >> {log}\nPostDown = echo postdown %i >> {log}\n[Peer]\nPublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
    );
    let o = h.rc("wg", &format!("start {k}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(!h.ns.link_exists(&k));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap_or_default(),
        format!("predown {k}\npostdown {k}\n")
    );
}
