//! The BSD commands of `make install-bsd`, typed literally: two
//! namespaces, `kldload if_wg`, a tunnel made with `ifconfig`, a ping
//! across; every message and exit status compared exactly, and bad input
//! changing nothing. `ifconfig lo` and `ifconfig -a` the same with and
//! without net-tools on PATH. Links that are not wg, a wgN link wgd does
//! not serve and output into a closed pipe: tests/bsd_links.rs.

mod common;
use common::bsd::*;
use common::*;
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
