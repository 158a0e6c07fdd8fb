//! Interface flags in the status and in the kernel (spec §4).

mod common;
use common::*;

fn has(flags: &str, f: &str) -> bool {
    flags.split(',').any(|x| x == f)
}

fn first_line(d: &Wgd, i: &str) -> String {
    d.ok(i).lines().next().unwrap_or_default().to_string()
}

#[test]
fn link0_link1_debug_up_in_status_and_kernel() {
    require_root();
    let ns = Ns::new("f");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create"));
    assert_eq!(
        first_line(&d, &i),
        format!("{i}: flags=80<NOARP> metric 0 mtu 1420")
    );
    let k = ns.link_flags(&i).unwrap();
    assert!(
        !has(&k, "MULTICAST") && !has(&k, "UP"),
        "fresh kernel flags {k}"
    );

    d.ok(&format!("{i} up"));
    assert_eq!(
        first_line(&d, &i),
        format!("{i}: flags=c1<UP,RUNNING,NOARP> metric 0 mtu 1420")
    );
    assert!(has(&ns.link_flags(&i).unwrap(), "UP"));

    d.ok(&format!("{i} link1"));
    assert_eq!(
        first_line(&d, &i),
        format!("{i}: flags=a0d1<UP,POINTOPOINT,RUNNING,NOARP,LINK1,MULTICAST> metric 0 mtu 1420")
    );
    assert!(has(&ns.link_flags(&i).unwrap(), "MULTICAST"));

    d.ok(&format!("{i} -link1"));
    assert_eq!(
        first_line(&d, &i),
        format!("{i}: flags=c1<UP,RUNNING,NOARP> metric 0 mtu 1420")
    );
    assert!(!has(&ns.link_flags(&i).unwrap(), "MULTICAST"));

    d.ok(&format!("{i} link1"));
    d.ok(&format!("{i} link0"));
    assert_eq!(
        first_line(&d, &i),
        format!("{i}: flags=10c1<UP,RUNNING,NOARP,LINK0> metric 0 mtu 1420")
    );
    assert!(!has(&ns.link_flags(&i).unwrap(), "MULTICAST"));

    d.ok(&format!("{i} -link0 debug link2 mtu 1280"));
    assert_eq!(
        first_line(&d, &i),
        format!("{i}: flags=c0c5<UP,DEBUG,RUNNING,NOARP,LINK2,MULTICAST> metric 0 mtu 1280")
    );
    // link2 (a multipoint link, issue 34) is multicast too, in the kernel.
    assert!(has(&ns.link_flags(&i).unwrap(), "MULTICAST"));
    let mtu = ns.run(&format!("cat /sys/class/net/{i}/mtu"));
    assert_eq!(mtu.trim(), "1280");

    d.ok(&format!("{i} -debug -link2 down"));
    assert_eq!(
        first_line(&d, &i),
        format!("{i}: flags=80<NOARP> metric 0 mtu 1280")
    );
    assert!(!has(&ns.link_flags(&i).unwrap(), "UP"));
    assert!(!has(&ns.link_flags(&i).unwrap(), "MULTICAST"));
}

#[test]
fn point_to_point_addresses() {
    require_root();
    let ns = Ns::new("f");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create"));
    d.ok(&format!(
        "{i} inet 10.6.66.1 10.6.66.2 inet6 fd00:6:66::1/64 inet6 fe80::1/64 link1 up description uplink"
    ));
    let s = d.ok(&i);
    let idx = ns.run(&format!("cat /sys/class/net/{i}/ifindex"));
    let want = format!(
        "{i}: flags=a0d1<UP,POINTOPOINT,RUNNING,NOARP,LINK1,MULTICAST> metric 0 mtu 1420\n\tdescription: uplink\n\tinet 10.6.66.1 --> 10.6.66.2 netmask 0xffffffff\n\tinet6 fd00:6:66::1 prefixlen 64\n\tinet6 fe80::1%{i} prefixlen 64 scopeid 0x{:x}\n",
        idx.trim().parse::<u32>().unwrap()
    );
    assert!(s.starts_with(&want), "{s}");
    let k = ns.run(&format!("ip -o addr show dev {i}"));
    assert!(k.contains("inet 10.6.66.1 peer 10.6.66.2/32"), "{k}");
    assert!(k.contains("inet6 fe80::1/64"), "{k}");
    // Remove addresses again.
    d.ok(&format!(
        "{i} inet 10.6.66.1 -alias inet6 fe80::1 delete -description"
    ));
    let s = d.ok(&i);
    assert!(
        !s.contains("10.6.66.1") && !s.contains("fe80::1") && !s.contains("description"),
        "{s}"
    );
    let k = ns.run(&format!("ip -o addr show dev {i}"));
    assert!(!k.contains("10.6.66.1") && !k.contains("fe80::1"), "{k}");
}

/// Linux drops a link's IPv6 state below an MTU of 1280 (and when IPv6
/// is disabled on it) and rebuilds it with an automatic link-local
/// address; a BSD interface keeps its addresses and never gets one.
#[test]
fn ipv6_addresses_survive_a_small_mtu_and_disable_ipv6() {
    require_root();
    let ns = Ns::new("v6");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!(
        "{i} create wgkey {} inet6 fd66::1/64 up",
        genkey()
    ));
    let v6 = || ns.run(&format!("ip -6 -o addr show dev {i}"));
    let settled = |why: &str| {
        assert!(
            wait_until(3, || {
                let a = v6();
                a.contains("fd66::1/64") && !a.contains("fe80:")
            }),
            "after {why}: {}",
            v6()
        );
    };
    settled("up");
    d.ok(&format!("{i} mtu 1200"));
    assert!(wait_until(3, || !v6().contains("fd66::1")));
    d.ok(&format!("{i} mtu 1420"));
    settled("ifconfig-wg mtu 1200, mtu 1420");
    ns.run(&format!("ip link set {i} mtu 1000"));
    ns.run(&format!("ip link set {i} mtu 1400"));
    settled("ip link set mtu 1000, 1400");
    ns.run(&format!("sysctl -qw net.ipv6.conf.{i}.disable_ipv6=1"));
    ns.run(&format!("sysctl -qw net.ipv6.conf.{i}.disable_ipv6=0"));
    settled("disable_ipv6 1, 0");
    // Still listed once, and the kernel and the status agree on the MTU.
    let st = d.ok(&i);
    assert_eq!(st.matches("inet6 fd66::1 ").count(), 1, "{st}");
    assert!(st.lines().next().unwrap().ends_with("mtu 1400"), "{st}");
}
