//! Interface groups as on BSD: every interface is in `wg`; `group` and
//! `-group` change the others; `-g` lists members, `-a -g` shows them.

mod common;

use common::*;

fn groups_line(d: &Wgd, i: &str) -> String {
    d.ok(i)
        .lines()
        .find(|l| l.starts_with("\tgroups:"))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn groups_as_on_bsd() {
    require_root();
    let ns = Ns::new("grp");
    let d = Wgd::start(&ns);
    let (a, b) = (format!("wg{}", unique()), format!("wg{}", unique()));
    d.ok(&format!("{a} create"));
    d.ok(&format!("{b} create"));
    assert_eq!(groups_line(&d, &a), "\tgroups: wg");
    d.ok(&format!("{a} group egress group vpn"));
    assert_eq!(groups_line(&d, &a), "\tgroups: wg egress vpn");
    // Joining a group again is no error and changes nothing (BSD).
    d.ok(&format!("{a} group egress"));
    assert_eq!(groups_line(&d, &a), "\tgroups: wg egress vpn");

    assert_eq!(d.ok("-g egress"), format!("{a}\n"));
    let all = d.ok("-g wg");
    assert!(
        all.lines().any(|l| l == a) && all.lines().any(|l| l == b),
        "{all}"
    );
    assert_eq!(d.ok("-g nosuch"), "");
    let shown = d.ok("-a -g vpn");
    assert!(shown.starts_with(&format!("{a}: flags=")), "{shown}");
    assert!(!shown.contains(&format!("{b}: ")), "{shown}");
    // Anyone may list.
    let o = d.ifc_as_nobody("-g egress");
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{a}\n"));

    // Refusals change nothing.
    for (args, err) in [
        (
            format!("{a} -group lan"),
            "ifconfig-wg: SIOCDIFGROUP: No such file or directory",
        ),
        (
            format!("{a} -group wg"),
            "ifconfig-wg: SIOCDIFGROUP: Operation not permitted",
        ),
        (
            format!("{a} group lan0"),
            "ifconfig-wg: setifgroup: group names may not end in a digit",
        ),
        (
            format!("{a} group abcdefghijklmnop"),
            "ifconfig-wg: setifgroup: group name too long",
        ),
        (
            format!("{a} -group vpn -group lan"),
            "ifconfig-wg: SIOCDIFGROUP: No such file or directory",
        ),
    ] {
        d.fails(&args, err);
        assert_eq!(
            groups_line(&d, &a),
            "\tgroups: wg egress vpn",
            "after {args}"
        );
    }
    let o = d.ifc_as_nobody(&format!("{a} group other"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(groups_line(&d, &a), "\tgroups: wg egress vpn");

    d.ok(&format!("{a} -group egress"));
    assert_eq!(groups_line(&d, &a), "\tgroups: wg vpn");
    assert_eq!(d.ok("-g egress"), "");
}
