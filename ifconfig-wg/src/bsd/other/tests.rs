//! The words, the plan and the messages, without a kernel.

use super::plan::ENOMASK;
use super::*;
use crate::bsd::links::{linux, Address as LinkAddr, Link};
use crate::bsd::rtnl::Addr;
use nix::errno::Errno;
use std::net::{IpAddr, Ipv4Addr};

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

fn p(s: &str) -> Result<Line, String> {
    parse("eth0", &words(s))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn kaddr(s: &str, len: u8, brd: Option<&str>) -> Addr {
    Addr {
        local: ip(s),
        prefix_len: len,
        peer: None,
        broadcast: brd.map(ip),
    }
}

/// A veth-like link: 192.0.2.1/24 first, then 198.51.100.1/24, and
/// 2001:db8::1/64.
fn eth0() -> Link {
    let a = |s: &str, len: u8, brd: Option<&str>| LinkAddr {
        ip: proto::IfAddr {
            addr: ip(s),
            prefix_len: len,
            dest: None,
        },
        broadcast: brd.map(ip),
    };
    Link {
        name: "eth0".into(),
        index: 2,
        flags: linux::UP | linux::BROADCAST | linux::MULTICAST | linux::RUNNING,
        mtu: Some(1500),
        ether: Some([2, 0, 0, 0, 0, 1]),
        description: None,
        addrs: vec![
            a("192.0.2.1", 24, Some("192.0.2.255")),
            a("198.51.100.1", 24, Some("198.51.100.255")),
            a("2001:db8::1", 64, None),
        ],
    }
}

fn plan_of(s: &str) -> Result<Plan, String> {
    let names = vec!["lo".to_string(), "eth0".to_string(), "eth1".to_string()];
    plan(&p(s)?, &eth0(), &names, Some((68, 9000)))
}

fn addr_op(s: &str) -> (Vec<Addr>, Option<Addr>) {
    match plan_of(s).unwrap().ops.pop() {
        Some(Op::Address { delete, add }) => (delete, add),
        other => panic!("`{s}`: {other:?}"),
    }
}

#[test]
fn inet_aton_reads_what_bsd_reads() {
    assert_eq!(
        inet_aton("0xffffff00"),
        Some(Ipv4Addr::new(255, 255, 255, 0))
    );
    assert_eq!(
        inet_aton("255.255.255.0"),
        Some(Ipv4Addr::new(255, 255, 255, 0))
    );
    assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
    assert_eq!(
        inet_aton("127.1.65535"),
        Some(Ipv4Addr::new(127, 1, 255, 255))
    );
    for bad in [
        "",
        "1.2.3.4.5",
        "256.1.1.1",
        "1.2.3.256",
        "x",
        "0x",
        "09",
        "1..2",
    ] {
        assert_eq!(inet_aton(bad), None, "{bad}");
    }
}

#[test]
fn masks_default_to_the_class() {
    assert_eq!(classful(Ipv4Addr::new(10, 1, 2, 3)), 8);
    assert_eq!(classful(Ipv4Addr::new(172, 16, 0, 1)), 16);
    assert_eq!(classful(Ipv4Addr::new(192, 0, 2, 9)), 24);
    assert_eq!(classful(Ipv4Addr::new(224, 0, 0, 1)), 24);
}

#[test]
fn alias_adds_beside_the_primary() {
    let (delete, add) = addr_op("inet 192.0.2.2/24 alias");
    assert_eq!(delete, vec![]);
    assert_eq!(add, Some(kaddr("192.0.2.2", 24, Some("192.0.2.255"))));
    // The word may come first, and `add` means the same.
    assert_eq!(addr_op("inet alias 192.0.2.2/24"), (vec![], add.clone()));
    assert_eq!(addr_op("inet add 192.0.2.2/24"), (vec![], add.clone()));
    // Without a family word, the address is inet's.
    assert_eq!(addr_op("192.0.2.2/24 alias"), (vec![], add));
}

#[test]
fn without_alias_inet_replaces_the_first_address() {
    let (delete, add) = addr_op("inet 192.0.2.9 netmask 0xffffff00");
    assert_eq!(delete, vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))]);
    assert_eq!(add, Some(kaddr("192.0.2.9", 24, Some("192.0.2.255"))));
    assert!(plan_of("inet 192.0.2.9 netmask 0xffffff00")
        .unwrap()
        .warnings
        .is_empty());
    assert_eq!(
        addr_op("inet 192.0.2.9 netmask 255.255.0.0").1,
        Some(kaddr("192.0.2.9", 16, Some("192.0.255.255")))
    );
    // Giving the first address again replaces only it.
    let (delete, _) = addr_op("inet 192.0.2.1/16");
    assert_eq!(delete, vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))]);
    // Naming a later one again moves it to the front.
    let (delete, _) = addr_op("inet 198.51.100.1/24");
    assert_eq!(delete.len(), 2);
}

#[test]
fn no_mask_is_the_class_with_freebsds_warning() {
    let pl = plan_of("inet 10.1.2.3").unwrap();
    assert_eq!(pl.warnings, vec![ENOMASK.to_string()]);
    match &pl.ops[0] {
        Op::Address { add: Some(a), .. } => {
            assert_eq!(*a, kaddr("10.1.2.3", 8, Some("10.255.255.255")))
        }
        o => panic!("{o:?}"),
    }
    // Not for a point-to-point link, where the peer is the second word.
    let mut tun = eth0();
    tun.flags = linux::UP | linux::POINTOPOINT | linux::NOARP;
    let pl = plan(&p("inet 10.1.2.3 10.1.2.4").unwrap(), &tun, &[], None).unwrap();
    assert!(pl.warnings.is_empty());
    assert_eq!(
        pl.ops,
        vec![Op::Address {
            delete: vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))],
            add: Some(Addr {
                peer: Some(ip("10.1.2.4")),
                ..kaddr("10.1.2.3", 8, None)
            })
        }]
    );
}

#[test]
fn on_a_broadcast_link_the_second_inet_address_is_the_broadcast() {
    let (_, add) = addr_op("inet 192.0.2.9/24 192.0.2.127");
    assert_eq!(add, Some(kaddr("192.0.2.9", 24, Some("192.0.2.127"))));
    let (_, add) = addr_op("inet 192.0.2.9/24 broadcast 192.0.2.63 alias");
    assert_eq!(add, Some(kaddr("192.0.2.9", 24, Some("192.0.2.63"))));
    // A /31 or /32 has none.
    assert_eq!(
        addr_op("inet 192.0.2.9/32 alias").1,
        Some(kaddr("192.0.2.9", 32, None))
    );
}

#[test]
fn minus_alias_deletes_that_address() {
    for line in [
        "inet 198.51.100.1 -alias",
        "inet -alias 198.51.100.1",
        "198.51.100.1 delete",
        "inet 198.51.100.1/8 remove",
    ] {
        assert_eq!(
            addr_op(line),
            (
                vec![kaddr("198.51.100.1", 24, Some("198.51.100.255"))],
                None
            ),
            "{line}"
        );
    }
    // With no address, inet's first one.
    assert_eq!(
        addr_op("inet -alias"),
        (vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))], None)
    );
    assert_eq!(
        plan_of("inet 192.0.2.77 -alias"),
        Err("ioctl (SIOCDIFADDR): Cannot assign requested address".into())
    );
    assert_eq!(
        plan_of("inet6 -alias"),
        Err("ioctl (SIOCDIFADDR): Cannot assign requested address".into())
    );
    assert_eq!(
        addr_op("inet6 2001:db8::1 delete"),
        (vec![kaddr("2001:db8::1", 64, None)], None)
    );
}

#[test]
fn inet6_adds_with_a_default_prefix_of_64() {
    assert_eq!(
        addr_op("inet6 2001:db8::2/64 alias"),
        (vec![], Some(kaddr("2001:db8::2", 64, None)))
    );
    // Without alias too: inet6 replaces only the same address.
    assert_eq!(
        addr_op("inet6 2001:db8::2"),
        (vec![], Some(kaddr("2001:db8::2", 64, None)))
    );
    assert_eq!(
        addr_op("inet6 2001:db8::1 prefixlen 48"),
        (
            vec![kaddr("2001:db8::1", 64, None)],
            Some(kaddr("2001:db8::1", 48, None))
        )
    );
    assert_eq!(
        addr_op("inet6 fe80::1%eth0/64 alias").1,
        Some(kaddr("fe80::1", 64, None))
    );
    let (_, add) = addr_op("inet6 2001:db8::2/127 2001:db8::3");
    assert_eq!(add.unwrap().peer, Some(ip("2001:db8::3")));
}

#[test]
fn link_words_act_in_order() {
    let pl = plan_of("down mtu 1400 name lan0 descr uplink up").unwrap();
    assert_eq!(
        pl.ops,
        vec![
            Op::Flags {
                word: "down".into(),
                mask: linux::UP,
                on: false
            },
            Op::Mtu(1400),
            Op::Name("lan0".into()),
            Op::Description("uplink".into()),
            Op::Flags {
                word: "up".into(),
                mask: linux::UP,
                on: true
            },
        ]
    );
    assert_eq!(
        plan_of("-arp promisc -description").unwrap().ops,
        vec![
            Op::Flags {
                word: "-arp".into(),
                mask: linux::NOARP,
                on: true
            },
            Op::Flags {
                word: "promisc".into(),
                mask: linux::PROMISC,
                on: true
            },
            Op::Description(String::new()),
        ]
    );
    assert_eq!(plan_of("up").unwrap().ops.len(), 1);
    // A line with an address changes it last.
    let pl = plan_of("inet 192.0.2.2/24 alias up").unwrap();
    assert!(matches!(pl.ops[1], Op::Address { .. }), "{pl:?}");
}

#[test]
fn what_the_kernel_would_refuse_is_refused_first() {
    let mtu = "ioctl SIOCSIFMTU (set mtu): Invalid argument";
    for bad in ["mtu 67", "mtu 9001", "mtu abc", "mtu -1", "up mtu 0"] {
        assert_eq!(plan_of(bad), Err(mtu.into()), "{bad}");
    }
    // atoi(3) reads the leading digits.
    assert_eq!(plan_of("mtu 1400x").unwrap().ops, vec![Op::Mtu(1400)]);
    assert_eq!(
        plan_of("name eth1"),
        Err("ioctl SIOCSIFNAME (set name): File exists".into())
    );
    for bad in ["a/b", "0123456789abcdef", "..", "a:1"] {
        assert_eq!(
            plan_of(&format!("name {bad}")),
            Err("ioctl SIOCSIFNAME (set name): Invalid argument".into()),
            "{bad}"
        );
    }
    // Its own name, or a name freed by an earlier rename, is fine.
    assert!(plan_of("name eth0").is_ok());
    assert!(plan_of("name x name eth0").is_ok());
    assert_eq!(
        plan_of("netmask 255.255.255.0"),
        Err("ioctl (SIOCAIFADDR): Invalid argument".into())
    );
}

#[test]
fn bad_words_get_freebsds_messages() {
    let cases = [
        ("foo", "foo: bad value"),
        ("up bogus", "bogus: bad value"),
        // A family is taken as the first word only.
        ("up inet 192.0.2.2", "inet: bad value"),
        ("inet 192.0.2.2 bogus", "bogus: bad value"),
        (
            "inet 192.0.2.2/33",
            "192.0.2.2/33: bad value (width too large)",
        ),
        ("inet 192.0.2.2/x", "192.0.2.2/x: bad value (width invalid)"),
        ("inet 192.0.2.2 192.0.2.3/24", "192.0.2.3/24: bad value"),
        ("inet6 2001:db8::2/129", "129: bad value"),
        ("inet6 2001:db8::zz", "2001:db8::zz: bad value"),
        ("inet6 2001:db8::2 prefixlen 200", "200: bad value"),
        ("inet netmask 0xfffffffff", "0xfffffffff: bad value"),
        ("mtu", "'mtu' requires argument"),
        ("up name", "'name' requires argument"),
        ("metric 3", "eth0: metric: Operation not supported"),
        ("destroy", "eth0: destroy: Operation not supported"),
        ("up link0", "eth0: link0: Operation not supported"),
        (
            "ether 02:00:00:00:00:01",
            "eth0: ether: Operation not supported",
        ),
        (
            "inet6 2001:db8::2 netmask 0xffff",
            "eth0: netmask: Operation not supported",
        ),
        ("create", "interface eth0 already exists"),
    ];
    for (line, msg) in cases {
        assert_eq!(p(line).map(|_| ()), Err(msg.to_string()), "{line}");
    }
    // `create` before other words is skipped on a link that exists.
    assert_eq!(p("create up").unwrap().steps.len(), 1);
}

#[test]
fn a_family_alone_asks_for_its_status() {
    assert!(p("inet6").unwrap().status_only);
    assert_eq!(p("inet").unwrap().family, Family::Inet);
    assert!(!p("inet up").unwrap().status_only);
    assert!(plan_of("inet").unwrap().ops.is_empty());
}

#[test]
fn failures_are_worded_as_freebsd_words_them() {
    assert_eq!(failed("up", Errno::EPERM), "up: permission denied");
    assert_eq!(
        failed(AIFADDR, Errno::ENODEV),
        "ioctl (SIOCAIFADDR): no such interface"
    );
    assert_eq!(
        failed(MTU, Errno::EPERM),
        "ioctl SIOCSIFMTU (set mtu): Operation not permitted"
    );
    assert_eq!(
        failed(NAME, Errno::EBUSY),
        "ioctl SIOCSIFNAME (set name): Device busy"
    );
    assert_eq!(
        failed(DIFADDR, Errno::ERANGE),
        "ioctl (SIOCDIFADDR): Numerical result out of range"
    );
}
