//! Addresses are the kernel's: whoever sets them (ip(8), wg-quick,
//! ifconfig-wg), the status shows what the link has, `delete` works on
//! any of them, and `inet A` without `alias` replaces the first IPv4
//! address as BSD ifconfig does.

mod common;

use common::*;

fn kernel(ns: &Ns, ifname: &str) -> String {
    ns.run(&format!("ip -o addr show dev {ifname}"))
}

#[test]
fn addresses_set_by_others_are_shown_and_can_be_deleted() {
    require_root();
    let ns = Ns::new("addr");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    let x = unique() % 250 + 1;
    d.ok(&format!("{i} create inet 10.{x}.0.1/24 up"));
    ns.run(&format!("ip addr add 10.{x}.5.1/24 dev {i}"));
    ns.run(&format!("ip addr add fd{x:x}:5::1/64 dev {i} nodad"));
    let shown = |s: &str| d.ok(&i).contains(s);
    assert!(
        wait_until(5, || shown(&format!(
            "\tinet 10.{x}.5.1 netmask 0xffffff00\n"
        )) && shown(&format!(
            "\tinet6 fd{x:x}:5::1 prefixlen 64\n"
        ))),
        "ip(8)'s addresses not in the status:\n{}",
        d.ok(&i)
    );
    // Removed behind our back: gone from the status too.
    ns.run(&format!("ip addr del 10.{x}.0.1/24 dev {i}"));
    assert!(
        wait_until(5, || !shown(&format!("inet 10.{x}.0.1 "))),
        "{}",
        d.ok(&i)
    );
    // ifconfig-wg deletes what ip(8) added, and adds back what it removed.
    d.ok(&format!("{i} inet 10.{x}.5.1 delete"));
    assert!(!kernel(&ns, &i).contains(&format!("10.{x}.5.1/")));
    d.ok(&format!("{i} inet 10.{x}.0.1/24 alias"));
    assert!(kernel(&ns, &i).contains(&format!("inet 10.{x}.0.1/24")));
    // An address nobody has: refused, nothing changes.
    let before = kernel(&ns, &i);
    d.fails(
        &format!("{i} inet 10.{x}.9.9 delete"),
        &format!("ifconfig-wg: {i}: SIOCSWG: Cannot assign requested address"),
    );
    assert_eq!(kernel(&ns, &i), before);
    // ip(8)'s IPv6 address comes back after down/up, as a BSD
    // interface keeps it.
    d.ok(&format!("{i} down"));
    d.ok(&format!("{i} up"));
    assert!(
        wait_until(5, || kernel(&ns, &i).contains(&format!("fd{x:x}:5::1/64"))),
        "{}",
        kernel(&ns, &i)
    );
    // Deleted by ip(8) while up: not restored after down/up.
    ns.run(&format!("ip addr del fd{x:x}:5::1/64 dev {i}"));
    assert!(wait_until(5, || !shown(&format!("fd{x:x}:5::1 "))));
    d.ok(&format!("{i} down"));
    d.ok(&format!("{i} up"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!kernel(&ns, &i).contains(&format!("fd{x:x}:5::1/64")));
}

#[test]
fn inet_without_alias_replaces_the_first_ipv4_address() {
    require_root();
    let ns = Ns::new("inet");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    let x = unique() % 250 + 1;
    d.ok(&format!("{i} create inet 10.{x}.0.1/24 up"));
    d.ok(&format!("{i} inet 10.{x}.0.7/24"));
    let k = kernel(&ns, &i);
    assert!(k.contains(&format!("inet 10.{x}.0.7/24")), "{k}");
    assert!(!k.contains(&format!("inet 10.{x}.0.1/24")), "{k}");
    d.ok(&format!("{i} inet 10.{x}.1.1/24 alias"));
    d.ok(&format!("{i} inet6 fd{x:x}::1/64"));
    d.ok(&format!("{i} inet6 fd{x:x}::2/64"));
    let k = kernel(&ns, &i);
    for a in [
        format!("10.{x}.0.7/24"),
        format!("10.{x}.1.1/24"),
        format!("fd{x:x}::1/64"),
        format!("fd{x:x}::2/64"),
    ] {
        assert!(k.contains(&a), "{a} missing: {k}");
    }
    let st = d.ok(&i);
    let first = st.find(&format!("inet 10.{x}.0.7 ")).unwrap();
    let alias = st.find(&format!("inet 10.{x}.1.1 ")).unwrap();
    assert!(first < alias, "{st}");
}
