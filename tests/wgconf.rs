//! wg.conf(5) files as rc.d/wg reads them: every value checked before
//! anything is created, errors naming the file and line, values reaching
//! ifconfig-wg as exactly the words they stand for, names waited for, and
//! the cleanup when something fails after create.

mod common;
use common::host::{text, Host};
use common::*;

#[test]
fn malformed_files_name_file_and_line_and_leave_nothing() {
    require_root();
    let (good, bad, nokey, runtime) = (
        // Not wgN: created as `wg create name ...`.
        format!("home{}", unique()),
        format!("wg{}", unique()),
        format!("wg{}", unique()),
        format!("wg{}", unique()),
    );
    let h = Host::new("bm", "YES", &format!("{good} {bad}"));
    assert!(h.rc("if_wg", "start").status.success());
    h.conf(
        &good,
        &format!("[Interface]\nPrivateKey = {}\n", ok("wg genkey").trim()),
    );
    let badp = h.conf(
        &bad,
        &format!(
            "[Interface]\nPrivateKey = {}\n\n[Peer]\nPublicKey = {}\nAllowedIPs 10.0.0.1/32\n",
            ok("wg genkey").trim(),
            ok("wg genkey | wg pubkey").trim()
        ),
    );
    let o = h.rc("wg", "start");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "wg: {badp}:6: malformed line: AllowedIPs 10.0.0.1/32\n"
        )),
        "{}",
        text(&o)
    );
    // The good one came up; the bad one left nothing.
    assert_eq!(h.ifc("-l").trim(), good);

    let nokeyp = h.conf(&nokey, "# no key\n\n[Interface]\nListenPort = 51820\n");
    let o = h.rc("wg", &format!("start {nokey}"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o),
        format!("wg: {nokeyp}:3: [Interface] has no PrivateKey\n")
    );

    let missing = format!("wg{}", unique());
    let o = h.rc("wg", &format!("start {missing}"));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o),
        format!("wg: {}/wireguard/{missing}.conf: cannot read\n", h.dir)
    );

    // Valid syntax the daemon refuses (a low-order peer key): the half-made
    // interface is destroyed again.
    h.conf(
        &runtime,
        &format!(
            "[Interface]\nPrivateKey = {}\n[Peer]\nPublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            ok("wg genkey").trim()
        ),
    );
    let o = h.rc("wg", &format!("start {runtime}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains(&format!(
            "wg: {runtime}: configuration failed, interface destroyed"
        )),
        "{}",
        text(&o)
    );
    assert_eq!(h.ifc("-l").trim(), good);
    assert!(!h.ns.link_exists(&runtime));
}

#[test]
fn parser_checks_numbers_as_numbers() {
    require_root();
    let h = Host::new("bp", "YES", "");
    assert!(h.rc("if_wg", "start").status.success());
    let key = ok("wg genkey").trim().to_string();
    for (line, error) in [
        ("ListenPort = 70000", Some("bad ListenPort: 70000")),
        ("ListenPort = 7000", None),
        ("MTU = 67", Some("bad MTU: 67")),
        ("MTU = 9000", None),
        ("MTU = 65456", Some("bad MTU: 65456")),
        ("FwMark = 0x1f", None),
        ("FwMark = bogus", Some("bad FwMark: bogus")),
        (
            "Address = 10.0.0.1/24, nonsense",
            Some("bad address: nonsense"),
        ),
        (
            "Address = 10.63.0.300/24",
            Some("bad address: 10.63.0.300/24"),
        ),
        ("Address = 10.63.0.3/33", Some("bad address: 10.63.0.3/33")),
        ("Address = fd00::1/129", Some("bad address: fd00::1/129")),
        ("Address = 1::2::3/64", Some("bad address: 1::2::3/64")),
        ("Address = 10.0.0/8", Some("bad address: 10.0.0/8")),
        ("Address = 10.63.0.3/24, fd63::3/64, ::ffff:10.0.0.1", None),
    ] {
        let i = format!("wg{}", unique());
        let p = h.conf(&i, &format!("[Interface]\nPrivateKey = {key}\n{line}\n"));
        let o = h.rc("wg", &format!("start {i}"));
        match error {
            Some(e) => {
                assert_eq!(o.status.code(), Some(1), "{line}");
                assert_eq!(text(&o), format!("wg: {p}:3: {e}\n"), "{line}");
                assert!(!h.ns.link_exists(&i));
            }
            None => {
                assert!(o.status.success(), "{line}: {}", text(&o));
                h.ifc(&format!("{i} destroy"));
            }
        }
    }
}

#[test]
fn values_reach_ifconfig_as_the_words_they_stand_for() {
    require_root();
    let h = Host::new("bq", "YES", "");
    assert!(h.rc("if_wg", "start").status.success());
    let key = ok("wg genkey").trim().to_string();
    let good = ok("wg genkey | wg pubkey").trim().to_string();
    let evil = ok("wg genkey | wg pubkey").trim().to_string();
    // Blanks of every kind inside an Endpoint could smuggle in words
    // (here a second peer taking over 0.0.0.0/0).
    for sep in ["\t", "\x0b", "\x0c", "\r"] {
        let i = format!("wg{}", unique());
        let p = h.conf(
            &i,
            &format!(
                "[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {good}\nAllowedIPs = 10.0.0.0/8\nEndpoint = 192.0.2.1{sep}wgpeer{sep}{evil}{sep}wgaip{sep}0.0.0.0/0{sep}wgendpoint{sep}192.0.2.9:51820\n"
            ),
        );
        let o = h.rc("wg", &format!("start {i}"));
        assert_eq!(o.status.code(), Some(1), "{sep:?}: {}", text(&o));
        assert!(
            text(&o).starts_with(&format!("wg: {p}:6: bad Endpoint: ")),
            "{sep:?}: {}",
            text(&o)
        );
        assert!(!h.ns.link_exists(&i));
    }
    // A well-formed one arrives as exactly host and port.
    let i = format!("wg{}", unique());
    h.conf(
        &i,
        &format!(
            "[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {good}\nEndpoint = [fd00::7]:51820\nAllowedIPs = 10.0.0.0/8\n"
        ),
    );
    let o = h.rc("wg", &format!("start {i}"));
    assert!(o.status.success(), "{}", text(&o));
    let st = h.ifc(&i);
    assert_eq!(field(&st, "wgendpoint").as_deref(), Some("fd00::7 51820"));
    assert_eq!(st.matches("wgpeer: ").count(), 1, "{st}");
}

#[test]
fn fwmark_is_read_as_wg8_reads_it_and_failures_leave_nothing() {
    require_root();
    let h = Host::new("bf", "YES", "");
    assert!(h.rc("if_wg", "start").status.success());
    let key = ok("wg genkey").trim().to_string();
    for (v, want) in [
        ("08", Ok(Some("8"))),
        ("010", Ok(Some("10"))),
        ("0x10", Ok(Some("16"))),
        ("0xffffffff", Ok(Some("4294967295"))),
        ("4294967295", Ok(Some("4294967295"))),
        ("off", Ok(None)),
        ("0X10", Err(())),
        ("4294967296", Err(())),
        ("0x100000000", Err(())),
        ("-1", Err(())),
    ] {
        let i = format!("wg{}", unique());
        let p = h.conf(
            &i,
            &format!("[Interface]\nPrivateKey = {key}\nFwMark = {v}\n"),
        );
        let o = h.rc("wg", &format!("start {i}"));
        match want {
            Ok(cookie) => {
                assert!(o.status.success(), "{v}: {}", text(&o));
                assert_eq!(field(&h.ifc(&i), "wgcookie").as_deref(), cookie, "{v}");
                h.ifc(&format!("{i} destroy"));
            }
            Err(()) => {
                assert_eq!(o.status.code(), Some(1), "{v}");
                assert_eq!(text(&o), format!("wg: {p}:3: bad FwMark: {v}\n"));
                assert!(!h.ns.link_exists(&i), "{v}: interface left behind");
            }
        }
    }
}

/// An Endpoint name that resolves only after a while (DNS not up yet at
/// boot) is waited for; one that never resolves fails with the file and
/// line before anything is created; a failure after create runs the Down
/// hooks around the destroy.
#[test]
fn endpoint_names_are_waited_for_and_failures_run_down_hooks() {
    require_root();
    let h = Host::new("bd", "YES", "");
    // ip netns exec binds /etc/netns/NAME/hosts over /etc/hosts, for
    // the daemon too (which resolves the names): before it starts.
    let etc = format!("/etc/netns/{}", h.ns.name);
    std::fs::create_dir_all(&etc).unwrap();
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(etc.clone());
    let hosts = format!("{etc}/hosts");
    std::fs::write(&hosts, "127.0.0.1 localhost\n").unwrap();
    // Names not in hosts are asked of loopback only, where nobody answers.
    std::fs::write(format!("{etc}/resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
    assert!(h.rc("if_wg", "start").status.success());
    let key = ok("wg genkey").trim().to_string();
    let peer = ok("wg genkey | wg pubkey").trim().to_string();
    let late = format!("late{}.example", unique());
    let i = format!("wg{}", unique());
    h.conf(
        &i,
        &format!("[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {peer}\nEndpoint = {late}:51820\n"),
    );
    let writer = {
        let (hosts, late) = (hosts.clone(), late.clone());
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_secs(2));
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&hosts)
                .unwrap();
            use std::io::Write;
            writeln!(f, "192.0.2.55 {late}").unwrap();
        })
    };
    let o = h.rc("wg", &format!("start {i}"));
    writer.join().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // The daemon keeps the name beside the address (wg(4) "Endpoints by
    // name").
    assert_eq!(
        field(&h.ifc(&i), "wgendpoint"),
        Some(format!("192.0.2.55 51820 ({late})"))
    );

    // Never resolves: refused with file and line, nothing created.
    let mut conf = std::fs::read_to_string(&h.rc_conf).unwrap();
    conf.push_str("wg_resolve_timeout=\"1\"\n");
    std::fs::write(&h.rc_conf, conf).unwrap();
    let j = format!("wg{}", unique());
    let p = h.conf(
        &j,
        &format!("[Interface]\nPrivateKey = {key}\n[Peer]\nPublicKey = {peer}\nEndpoint = never{}.example:1\n", unique()),
    );
    let o = h.rc("wg", &format!("start {j}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).starts_with(&format!("wg: {p}:5: cannot resolve never")),
        "{}",
        text(&o)
    );
    assert!(!h.ns.link_exists(&j));

    // Fails after create (a low-order key the daemon refuses): Down hooks run.
    let k = format!("wg{}", unique());
    let log = format!("{}/hooks.log", h.dir);
    h.conf(
        &k,
        &format!("[Interface]\nPrivateKey = {key}\nPreDown = echo predown %i >> {log}\nPostDown = echo postdown %i >> {log}\n[Peer]\nPublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"),
    );
    let o = h.rc("wg", &format!("start {k}"));
    assert_eq!(o.status.code(), Some(1));
    assert!(!h.ns.link_exists(&k));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap_or_default(),
        format!("predown {k}\npostdown {k}\n")
    );
}
