//! Every error of spec §3: exact text on stderr, exit status 1, and the
//! interface exactly as it was before.

mod common;
use common::*;

/// Status without the lines that move on their own (counters, handshake age).
fn config(d: &Wgd, i: &str) -> String {
    d.ok(&format!("-k {i}"))
        .lines()
        .filter(|l| !l.contains("tx: ") && !l.contains("last handshake:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A configured interface to break things against.
fn setup() -> (Ns, Wgd, String, String) {
    let ns = Ns::new("e");
    let d = Wgd::start(&ns);
    let ifname = format!("wg{}", unique());
    let peer = pubkey_of_new_key();
    d.ok(&format!("{ifname} create"));
    d.ok(&format!(
        "{ifname} wgkey {} wgport 51000 wgpeer {peer} wgendpoint 127.0.0.1 51001 wgaip 10.1.0.0/16 wgpka 10 mtu 1400 inet 10.9.0.1/24",
        genkey()
    ));
    (ns, d, ifname, peer)
}

/// Some valid public key.
fn pubkey_of_new_key() -> String {
    // Any key that is not of low order will do; the public key of a random
    // private key is the honest choice.
    let ns = Ns::new("k");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create wgkey {}", genkey()));
    pubkey(&d, &i)
}

#[test]
fn parse_errors_change_nothing() {
    require_root();
    let (_ns, d, i, peer) = setup();
    let before = config(&d, &i);
    let new_peer = pubkey_of_new_key();
    // Each bad word comes after valid ones, which must not be applied either.
    let cases: Vec<(String, String)> = vec![
        (
            "wgport 52000 wgkey bogus".to_string(),
            "wgkey: invalid private key: bogus".into(),
        ),
        (
            "wgport 52000 wgpeer bogus".to_string(),
            "wgpeer: invalid peer key: bogus".into(),
        ),
        (
            "-wgpeer bogus".to_string(),
            "wgpeer: invalid peer key: bogus".into(),
        ),
        (
            format!("wgpeer {new_peer} wgpsk bogus"),
            "wgpsk: invalid key: bogus".into(),
        ),
        (
            format!("wgpeer {new_peer} wgaip 10.0.0.1/33"),
            "wgaip: bad address: 10.0.0.1/33".into(),
        ),
        (
            format!("wgpeer {new_peer} wgaip ::/129"),
            "wgaip: bad address: ::/129".into(),
        ),
        (
            format!("wgpeer {new_peer} wgaip nonsense"),
            "wgaip: bad address: nonsense".into(),
        ),
        (
            "mtu 1300 wgport 65536".to_string(),
            "wgport: invalid port 65536: too large".into(),
        ),
        (
            "wgport -1".to_string(),
            "wgport: invalid port -1: too small".into(),
        ),
        (
            "wgport eighty".to_string(),
            "wgport: invalid port eighty: invalid".into(),
        ),
        (
            format!("wgpeer {new_peer} wgpka 43201"),
            "wgpka: invalid pka 43201: too large".into(),
        ),
        (
            "wgport 52000 wgaip 10.0.0.1/32".to_string(),
            "wgaip: wgpeer not set".into(),
        ),
        (
            format!("wgpsk {}", genkey()),
            "wgpsk: wgpeer not set".into(),
        ),
        (
            "wgendpoint 127.0.0.1 1".to_string(),
            "wgendpoint: wgpeer not set".into(),
        ),
        ("wgpka 5".to_string(), "wgpka: wgpeer not set".into()),
        ("wgdescr x".to_string(), "wgdescr: wgpeer not set".into()),
        (
            format!("wgpeer {new_peer} wgendpoint 127.0.0.1"),
            "'wgendpoint' requires 2 arguments".into(),
        ),
        (
            "wgport 52000 wgkey".to_string(),
            "'wgkey' requires argument".into(),
        ),
        ("wgpeer".to_string(), "'wgpeer' requires argument".into()),
    ];
    for (args, msg) in cases {
        d.fails(&format!("{i} {args}"), &format!("ifconfig-wg: {msg}"));
        assert_eq!(config(&d, &i), before, "state changed by `{args}`");
    }
    assert!(before.contains(&peer));
}

#[test]
fn daemon_refusals_change_nothing() {
    require_root();
    let (_ns, d, i, _peer) = setup();
    let before = config(&d, &i);
    let new_peer = pubkey_of_new_key();
    let einval = format!("ifconfig-wg: {i}: SIOCSWG: Invalid argument");
    // A low-order public key (all zeros, and the order-8 point 1).
    let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let one = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    for args in [
        format!("wgpeer {new_peer} wgaip 10.2.0.0/16 wgpeer {zero}"),
        format!("wgport 52000 wgpeer {one}"),
        format!("wgpeer {new_peer} mtu 67"),
        "wgport 52000 mtu 65456".to_string(),
    ] {
        d.fails(&format!("{i} {args}"), &einval);
        assert_eq!(config(&d, &i), before, "state changed by `{args}`");
    }
    d.fails(
        &format!("{i} wgport 52000 inet 10.77.0.1 -alias"),
        &format!("ifconfig-wg: {i}: SIOCSWG: Cannot assign requested address"),
    );
    assert_eq!(config(&d, &i), before);
}

#[test]
fn busy_port_with_new_peer_is_refused_whole() {
    require_root();
    let (ns, d, i, _peer) = setup();
    // Another interface holds port 53000.
    let other = format!("wg{}", unique());
    d.ok(&format!("{other} create wgport 53000 up"));
    d.ok(&format!("{i} up"));
    let before = config(&d, &i);
    let new_peer = pubkey_of_new_key();
    d.fails(
        &format!("{i} wgport 53000 wgpeer {new_peer} wgaip 10.3.0.0/16"),
        &format!("ifconfig-wg: {i}: SIOCSWG: Address already in use"),
    );
    assert_eq!(config(&d, &i), before);
    assert!(!before.contains(&new_peer));
    // Still bound to its old port.
    let ss = ns.run("ss -Hlun");
    assert!(ss.contains(":51000"), "{ss}");
    // And while down, a busy port is refused the same way.
    d.ok(&format!("{i} down"));
    let before = config(&d, &i);
    d.fails(
        &format!("{i} wgport 53000 wgpeer {new_peer}"),
        &format!("ifconfig-wg: {i}: SIOCSWG: Address already in use"),
    );
    assert_eq!(config(&d, &i), before);
}

#[test]
fn missing_existing_and_unreachable() {
    require_root();
    let ns = Ns::new("m");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    let missing = format!("wg{}", unique());
    d.ok(&format!("{i} create"));
    d.fails(
        &format!("{i} create"),
        &format!("ifconfig-wg: interface {i} already exists"),
    );
    d.fails(
        &missing,
        &format!("ifconfig-wg: interface {missing} does not exist"),
    );
    d.fails(
        &format!("{missing} destroy"),
        &format!("ifconfig-wg: interface {missing} does not exist"),
    );
    // Configuring a missing interface does not create it.
    d.fails(
        &format!("{missing} wgport 1234"),
        &format!("ifconfig-wg: interface {missing} does not exist"),
    );
    assert_eq!(d.ok("-l").trim(), i);
    let gone = format!("/tmp/wgt-none-{}.sock", unique());
    let o = sh(&format!("{} -S {gone} {i}", bin("ifconfig-wg").display()));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("ifconfig-wg: cannot reach wgd at {gone}: No such file or directory (is if_wg loaded?)\n")
    );
    // WGD_SOCKET names the socket too.
    let o = sh(&format!(
        "WGD_SOCKET={gone} {} -l",
        bin("ifconfig-wg").display()
    ));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("cannot reach wgd at {gone}:")));
}

#[test]
fn up_fails_when_its_port_is_taken_and_stays_down() {
    require_root();
    let ns = Ns::new("u");
    let d = Wgd::start(&ns);
    let (i, j) = (format!("wg{}", unique()), format!("wg{}", unique()));
    d.ok(&format!("{i} create wgport 54000"));
    // The port was free when set; now another interface takes it.
    d.ok(&format!("{j} create wgport 54000 up"));
    let before = config(&d, &i);
    d.fails(
        &format!("{i} up"),
        &format!("ifconfig-wg: {i}: SIOCSWG: Address already in use"),
    );
    assert_eq!(config(&d, &i), before);
    assert!(
        before.starts_with(&format!("{i}: flags=80<NOARP>")),
        "{before}"
    );
    let k = ns.link_flags(&i).unwrap();
    assert!(!k.split(',').any(|f| f == "UP"), "kernel link went up: {k}");
    // Once the port is free again, up works.
    d.ok(&format!("{j} destroy"));
    d.ok(&format!("{i} up"));
    assert!(d
        .ok(&i)
        .starts_with(&format!("{i}: flags=c1<UP,RUNNING,NOARP>")));
}

/// BSD habits: no arguments at all shows every interface (as `-a`);
/// host:port in one word, a dotted quad out of range and a name that only
/// `wg create name` can give are refused with a hint; nothing changes.
#[test]
fn bsd_habits_get_bsd_answers() {
    require_root();
    let ns = Ns::new("h");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create wgkey {}", genkey()));
    let peer = ok("wg genkey | wg pubkey").trim().to_string();
    assert_eq!(d.ok(""), d.ok("-a"));
    assert!(d.ok("").starts_with(&format!("{i}: flags=")));
    let before = d.ok(&format!("-k {i}"));
    d.fails(
        &format!("{i} wgpeer {peer} wgendpoint 192.0.2.1:51820 wgaip 10.0.0.1/32"),
        "ifconfig-wg: wgendpoint: host and port are two words: wgendpoint 192.0.2.1 51820",
    );
    d.fails(
        &format!("{i} wgpeer {peer} wgendpoint 192.168.77.256 51820"),
        "ifconfig-wg: wgendpoint: bad address: 192.168.77.256",
    );
    let foo = format!("foo{}", unique() % 1000);
    d.fails(
        &format!("{foo} create"),
        &format!("ifconfig-wg: {foo}: SIOCIFCREATE2: Invalid argument (only wgN names; for another name: ifconfig-wg wg create name {foo})"),
    );
    assert!(!ns.link_exists(&foo));
    // wg and then not only digits is not a unit either.
    let odd = format!("wg{}x1", unique() % 1000);
    d.fails(
        &format!("{odd} create wgport 20001"),
        &format!("ifconfig-wg: {odd}: SIOCIFCREATE2: Invalid argument (only wgN names; for another name: ifconfig-wg wg create name {odd})"),
    );
    assert!(!ns.link_exists(&odd));
    assert_eq!(d.ok(&format!("-k {i}")), before);
    assert_eq!(d.ok("-l").trim(), i);
}
