//! `ifconfig-wg wgN name NEW`, as on FreeBSD and DragonFly: a live
//! tunnel keeps its configuration, sessions, counters, addresses and
//! groups; the UAPI socket moves to the new name; refusals change
//! nothing.

mod common;

use common::*;
use std::os::unix::net::UnixListener;
use std::path::Path;

fn uapi(name: &str) -> String {
    format!("/var/run/wireguard/{name}.sock")
}

#[test]
fn renaming_a_live_tunnel() {
    require_root();
    let t = Tunnel::new(false);
    let (d, old) = (&t.da, t.ia.clone());
    d.ok(&format!("{old} group egress"));
    assert!(t.u.a.ping(&t.in_b4, 2), "ping before");
    let before = d.ok(&old);
    let new = format!("wan{}", unique());
    assert_eq!(d.ok(&format!("{old} name {new}")), format!("{new}\n"));

    let after = d.ok(&new);
    assert!(after.starts_with(&format!("{new}: flags=")), "{after}");
    // Everything but the name (and the moving counters) is as before.
    let strip = |s: &str, n: &str| {
        s.replacen(n, "IF", 1)
            .lines()
            .filter(|l| !l.contains("tx:") && !l.contains("last handshake"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&after, &new), strip(&before, &old));
    assert!(after.contains("\tgroups: wg egress\n"), "{after}");
    d.fails(
        &old,
        &format!("ifconfig-wg: interface {old} does not exist"),
    );
    assert!(t.u.a.link_exists(&new) && !t.u.a.link_exists(&old));
    assert!(t.u.a.link_flags(&new).unwrap().contains("UP"));
    assert!(Path::new(&uapi(&new)).exists() && !Path::new(&uapi(&old)).exists());
    let show = t.u.a.run(&format!("wg show {new} latest-handshakes"));
    assert!(!show.trim().ends_with("\t0"), "session kept: {show}");
    // The session survived: traffic flows without a new handshake.
    assert!(t.u.a.ping(&t.in_b4, 2), "ping after rename");
    assert!(t.u.b.ping(&t.in_a6, 1), "ping v6 after rename");

    // Refusals: nothing changes.
    let other = format!("wg{}", unique());
    d.ok(&format!("{other} create"));
    let held = format!("held{}", unique());
    let _holder = UnixListener::bind(uapi(&held)).unwrap();
    for (to, err) in [
        (other.clone(), "File exists"),
        ("lo".to_string(), "File exists"),
        ("bad/name".to_string(), "Invalid argument"),
        ("waytoolongname123".to_string(), "Invalid argument"),
    ] {
        d.fails(
            &format!("{new} name {to}"),
            &format!("ifconfig-wg: ioctl SIOCSIFNAME (set name): {err}"),
        );
        assert!(t.u.a.link_exists(&new), "after {to}");
        assert!(Path::new(&uapi(&new)).exists(), "after {to}");
    }
    // A name whose UAPI socket is live is held elsewhere (names are
    // host-wide): the refusal says which socket.
    d.fails(
        &format!("{new} name {held}"),
        &format!(
            "ifconfig-wg: interface {held} exists elsewhere: /var/run/wireguard/{held}.sock is served by another daemon"
        ),
    );
    assert!(t.u.a.link_exists(&new), "after {held}");
    let _ = std::fs::remove_file(uapi(&held));
    assert!(t.u.a.ping(&t.in_b4, 1), "ping after refusals");
    // Not root: refused.
    let o = d.ifc_as_nobody(&format!("{new} name x{}", unique()));
    assert_eq!(o.status.code(), Some(1));
    assert!(t.u.a.link_exists(&new));
}
