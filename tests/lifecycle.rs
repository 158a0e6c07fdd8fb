//! Cloning, down/up and destroy (spec §2).

mod common;
use common::*;

#[test]
fn cloner_auto_unit_list_and_all() {
    require_root();
    let ns = Ns::new("c");
    let d = Wgd::start(&ns);
    assert_eq!(d.ok("-C"), "wg\n");
    assert_eq!(d.ok("-l"), "\n");
    // A fresh daemon in a fresh namespace: the lowest free unit is 0.
    assert_eq!(d.ok("wg create"), "wg0\n");
    assert_eq!(d.ok("wg create"), "wg1\n");
    assert_eq!(d.ok("wg0 destroy"), "");
    assert_eq!(d.ok("-l"), "wg1\n");
    assert_eq!(d.ok("wg create"), "wg0\n");
    assert_eq!(d.ok("-l"), "wg1 wg0\n");
    let all = d.ok("-a");
    assert!(
        all.starts_with("wg1: flags=80<NOARP>") && all.contains("\nwg0: flags=80<NOARP>"),
        "{all}"
    );
    // Silent create and destroy of a named unit.
    let i = format!("wg{}", unique());
    assert_eq!(d.ok(&format!("{i} create")), "");
    assert!(ns.link_exists(&i));
    assert_eq!(d.ok(&format!("{i} destroy")), "");
    assert!(!ns.link_exists(&i));
    // Bad names are refused.
    let o = d.ifc("wg01 create");
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn down_keeps_configuration_destroy_drops_it() {
    require_root();
    let t = Tunnel::new(false);
    assert!(t.u.a.ping(&t.in_b4, 2));
    let with_keys = |d: &Wgd, i: &str| -> Vec<String> {
        d.ok(&format!("-k {i}"))
            .lines()
            .skip(1)
            .filter(|l| !l.contains("tx: ") && !l.contains("last handshake"))
            .map(String::from)
            .collect()
    };
    let before = with_keys(&t.da, &t.ia);
    t.da.ok(&format!("{} down", t.ia));
    assert!(t
        .da
        .ok(&t.ia)
        .starts_with(&format!("{}: flags=80<NOARP>", t.ia)));
    assert_eq!(
        with_keys(&t.da, &t.ia),
        before,
        "down keeps key, port, peers, addresses"
    );
    // Sockets are closed while down.
    let ss = t.u.a.run("ss -Hlun");
    assert!(!ss.contains(&format!(":{}", t.port_a)), "{ss}");
    assert!(!t.u.a.ping(&t.in_b4, 1));
    t.da.ok(&format!("{} up", t.ia));
    // The IPv6 address Linux dropped on down is back, and traffic flows.
    let v6 = t.u.a.run(&format!("ip -6 addr show dev {}", t.ia));
    assert!(v6.contains(&t.in_a6), "{v6}");
    assert!(t.u.a.ping(&t.in_b6, 3), "v6 after down/up");
    assert!(t.u.a.ping(&t.in_b4, 2), "v4 after down/up");

    let old_id: u64 = field(&t.da.ok(&t.ia), "id").unwrap().parse().unwrap();
    t.da.ok(&format!("{} destroy", t.ia));
    assert!(!t.u.a.link_exists(&t.ia));
    t.da.ok(&format!("{} create", t.ia));
    assert_eq!(
        t.da.ok(&format!("-k {}", t.ia)),
        format!(
            "{}: flags=80<NOARP> metric 0 mtu 1420\n\tgroups: wg\n",
            t.ia
        )
    );
    let pb = pubkey(&t.db, &t.ib);
    t.da.ok(&format!("{} wgpeer {pb}", t.ia));
    let new_id: u64 = field(&t.da.ok(&t.ia), "id").unwrap().parse().unwrap();
    assert!(
        new_id > old_id,
        "peer ids never repeat: {old_id} then {new_id}"
    );
}

#[test]
fn port_zero_is_picked_at_bind_and_shown() {
    require_root();
    let ns = Ns::new("z");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create wgport 0"));
    assert!(!d.ok(&i).contains("wgport"));
    d.ok(&format!("{i} up"));
    let port: u16 = field(&d.ok(&i), "wgport")
        .expect("wgport shown after bind")
        .parse()
        .unwrap();
    assert!(port > 0);
    let ss = ns.run("ss -Hlun");
    assert!(
        ss.contains(&format!("0.0.0.0:{port}")) && ss.contains(&format!("[::]:{port}")),
        "{ss}"
    );
}

#[test]
fn keys_from_stdin_and_psk_interop_with_wg_tools() {
    require_root();
    let ns = Ns::new("s");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create"));
    let key = ok("wg genkey").trim().to_string();
    let want_pub = ok(&format!("echo {key} | wg pubkey")).trim().to_string();
    ok(&format!(
        "echo {key} | ip netns exec {} {} -S {} {i} wgkey -",
        ns.name,
        bin("ifconfig-wg").display(),
        d.sock
    ));
    let s = d.ok(&format!("-k {i}"));
    assert!(s.contains(&format!("\twgkey: {key}\n")), "{s}");
    assert!(
        s.contains(&format!("\twgpubkey: {want_pub}\n")),
        "public key as wg(8) derives it: {s}"
    );
    let psk = ok("wg genpsk").trim().to_string();
    let peer = ok("wg genkey | wg pubkey").trim().to_string();
    ok(&format!(
        "echo {psk} | ip netns exec {} {} -S {} {i} wgpeer {peer} wgpsk - wgpka 25 wgdescr 'my peer #1'",
        ns.name,
        bin("ifconfig-wg").display(),
        d.sock
    ));
    let s = d.ok(&format!("-k {i}"));
    assert!(s.contains(&format!("\t\twgpsk: {psk}\n")), "{s}");
    assert!(
        s.contains("\t\twgpka: 25 (seconds)\n\t\ttx: 0 (bytes), rx: 0 (bytes)\n"),
        "{s}"
    );
    assert!(s.contains("\t\twgdescr: my peer #1\n"), "{s}");
    d.ok(&format!("{i} wgpeer {peer} -wgpsk -wgpka -wgdescr"));
    let s = d.ok(&format!("-k {i}"));
    assert!(
        !s.contains("wgpsk") && !s.contains("wgpka") && !s.contains("wgdescr"),
        "{s}"
    );
    // A zero PSK means none.
    d.ok(&format!(
        "{i} wgpeer {peer} wgpsk AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    ));
    assert!(!d.ok(&format!("-k {i}")).contains("wgpsk"));
    // A peer's wgaip lines are shown newest first (spec §5), in ifconfig-wg
    // and in wg(8) alike.
    d.ok(&format!(
        "{i} wgpeer {peer} wgaip 10.1.0.0/16 wgaip fd01::/64 wgaip 10.2.0.0/16"
    ));
    let s = d.ok(&i);
    assert!(
        s.contains("\t\twgaip: 10.2.0.0/16\n\t\twgaip: fd01::/64\n\t\twgaip: 10.1.0.0/16\n"),
        "{s}"
    );
    // -wgpeerall wgpeer X replaces the set.
    let peer2 = ok("wg genkey | wg pubkey").trim().to_string();
    d.ok(&format!("{i} -wgpeerall wgpeer {peer2}"));
    let s = d.ok(&i);
    assert!(s.contains(&peer2) && !s.contains(&peer), "{s}");
    d.ok(&format!("{i} -wgpeer {peer2}"));
    assert!(!d.ok(&i).contains("wgpeer"));
}

#[test]
fn cookie_marks_the_sockets() {
    require_root();
    let ns = Ns::new("k");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create wgport 51999 wgcookie 51820 up"));
    assert!(d.ok(&i).contains("\twgport: 51999\n\twgcookie: 51820\n"));
    // ss shows the mark as fwmark:0xca6c on both sockets.
    let ss = ns.run("ss -Hluen");
    assert_eq!(ss.matches("fwmark:0xca6c").count(), 2, "{ss}");
    d.ok(&format!("{i} -wgcookie"));
    assert!(!d.ok(&i).contains("wgcookie"));
    assert!(!ns.run("ss -Hluen").contains("fwmark"));
}

#[test]
fn create_name_gives_any_valid_name() {
    require_root();
    let ns = Ns::new("n");
    let d = Wgd::start(&ns);
    let name = format!("wgt{}", unique());
    // Like `ifconfig wg create name X`: prints the new name.
    assert_eq!(d.ok(&format!("wg create name {name}")), format!("{name}\n"));
    assert!(ns.link_exists(&name));
    assert!(std::path::Path::new(&format!("/var/run/wireguard/{name}.sock")).exists());
    d.ok(&format!("{name} wgport 51777 up"));
    assert!(d
        .ok(&name)
        .starts_with(&format!("{name}: flags=c1<UP,RUNNING,NOARP>")));
    d.fails(
        &format!("wg create name {name}"),
        &format!("ifconfig-wg: interface {name} already exists"),
    );
    d.fails(
        "wg create name bad/name",
        "ifconfig-wg: wg: SIOCSWG: Invalid argument",
    );
    d.fails(
        &format!("{name} name bad/name"),
        "ifconfig-wg: ioctl SIOCSIFNAME (set name): Invalid argument",
    );
    // A name that is not wgN cannot be created directly; the refusal
    // says how to get it.
    d.fails(
        "foo0 create",
        "ifconfig-wg: foo0: SIOCIFCREATE2: Invalid argument (only wgN names; for another name: ifconfig-wg wg create name foo0)",
    );
    d.ok(&format!("{name} destroy"));
    assert!(!ns.link_exists(&name));
    assert_eq!(d.ok("-l"), "\n");
}
