//! The BSD `ifconfig` on links that are not wg, typed literally: FreeBSD's
//! meaning of the words (alias, -alias, a replaced first address, mtu,
//! down/up, name) done on a veth, every message exact and a refused line
//! changing nothing; a wgN link wgd does not serve is another link; output
//! into a closed pipe ends quietly.

mod common;
use common::bsd::*;
use common::*;

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
