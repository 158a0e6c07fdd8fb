//! Booting like a BSD host: rc.d/if_wg starts wgd when rc.conf says
//! if_wg_load="YES", rc.d/wg brings interfaces up from wg.conf(5) files,
//! and both stop cleanly. Each test has its own rc.conf and config
//! directory (RC_CONF), socket and pidfile.

mod common;
use common::host::{text, Host};
use common::*;
use std::path::Path;

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
    // `if_wg upgrade`: the daemon hands over to the binary at its path
    // (wgd -R); the pid file follows, the tunnel stays.
    let pid = |i: usize| std::fs::read_to_string(format!("{}/wgd.pid", dirs[i])).unwrap();
    let before = pid(0);
    let o = rc(0, "if_wg", "upgrade");
    assert!(o.status.success(), "{}", text(&o));
    let after = pid(0);
    assert_ne!(after, before);
    assert_eq!(text(&o), format!("wgd: handed over to pid {after}"));
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
