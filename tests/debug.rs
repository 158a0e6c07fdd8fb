//! The debug log (spec §6): messages appear, word for word, only while
//! DEBUG is set; spoofed sources are dropped.

mod common;
use common::*;

#[test]
fn spoofed_source_is_dropped_and_logged_only_under_debug() {
    require_root();
    let t = Tunnel::new(false);
    assert!(t.u.a.ping(&t.in_b4, 1));
    // a sends from an address that is not among b's allowed IPs for a.
    let spoof = format!("{}.99", t.in_a4.rsplit_once('.').unwrap().0);
    t.da.ok(&format!("{} inet {spoof}/32 alias", t.ia));
    let msg = format!("{}: Packet has disallowed src IP from peer 1", t.ib);
    assert!(
        !t.u.a.ping(&format!("-I {spoof} {}", t.in_b4), 1),
        "spoofed ping answered"
    );
    assert!(!t.db.log_text().contains(&msg), "logged without debug");
    t.db.ok(&format!("{} debug", t.ib));
    assert!(
        !t.u.a.ping(&format!("-I {spoof} {}", t.in_b4), 1),
        "spoofed ping answered"
    );
    assert!(
        wait_until(3, || t.db.log_text().contains(&msg)),
        "{}",
        t.db.log_text()
    );
    // The honest source still works.
    assert!(t.u.a.ping(&t.in_b4, 1));
}

#[test]
fn handshake_messages_under_debug() {
    require_root();
    let u = Underlay::new();
    let da = Wgd::start(&u.a);
    let db = Wgd::start(&u.b);
    let (ia, ib) = (format!("wg{}", unique()), format!("wg{}", unique()));
    da.ok(&format!(
        "{ia} create debug wgkey {} wgport 51820",
        genkey()
    ));
    db.ok(&format!(
        "{ib} create debug wgkey {} wgport 51821",
        genkey()
    ));
    let (pa, pb) = (pubkey(&da, &ia), pubkey(&db, &ib));
    da.ok(&format!(
        "{ia} wgpeer {pb} wgendpoint {} 51821 wgaip 10.5.0.2 inet 10.5.0.1/24 up",
        u.b4
    ));
    db.ok(&format!(
        "{ib} wgpeer {pa} wgaip 10.5.0.1 inet 10.5.0.2/24 up"
    ));
    assert!(u.a.ping("10.5.0.2", 2));
    for (d, lines) in [
        (
            &da,
            vec![
                format!("{ia}: Peer 1 created"),
                format!("{ia}: Sending handshake initiation to peer 1"),
                format!("{ia}: Receiving handshake response from peer 1"),
            ],
        ),
        (
            &db,
            vec![
                format!("{ib}: Peer 1 created"),
                format!("{ib}: Receiving handshake initiation from peer 1"),
                format!("{ib}: Sending handshake response to peer 1"),
            ],
        ),
    ] {
        let log = d.log_text();
        for l in lines {
            assert!(log.lines().any(|x| x == l), "missing `{l}` in:\n{log}");
        }
    }
    // b learned a's endpoint from the authenticated initiation.
    assert!(db
        .ok(&ib)
        .contains(&format!("\t\twgendpoint: {} 51820\n", u.a4)));
    da.ok(&format!("{ia} -wgpeer {pb}"));
    assert!(da
        .log_text()
        .lines()
        .any(|x| x == format!("{ia}: Peer 1 destroyed")));
}

#[test]
fn unanswered_handshake_is_retried_and_no_endpoint_is_reported() {
    require_root();
    let u = Underlay::new();
    let da = Wgd::start(&u.a);
    let ia = format!("wg{}", unique());
    let nobody = ok("wg genkey | wg pubkey").trim().to_string();
    let lonely = ok("wg genkey | wg pubkey").trim().to_string();
    // Nothing listens at b's port 9: initiations go unanswered.
    da.ok(&format!(
        "{ia} create debug wgkey {} wgpeer {nobody} wgendpoint {} 9 wgaip 10.7.0.2 wgpeer {lonely} wgaip 10.7.0.3 inet 10.7.0.1/24 up",
        genkey(),
        u.b4
    ));
    let _ = u.a.exec("ping -c 1 -W 1 10.7.0.2");
    let _ = u.a.exec("ping -c 1 -W 1 10.7.0.3");
    let retry =
        format!("{ia}: Handshake for peer 1 did not complete after 5 seconds, retrying (try 2)");
    assert!(
        wait_until(10, || da.log_text().contains(&retry)),
        "{}",
        da.log_text()
    );
    let log = da.log_text();
    assert!(
        log.contains(&format!("{ia}: Sending handshake initiation to peer 1")),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "{ia}: No valid endpoint has been configured or discovered for peer 2"
        )),
        "{log}"
    );
    // -debug silences it.
    da.ok(&format!("{ia} -debug"));
    let n = da.log_text().len();
    std::thread::sleep(std::time::Duration::from_secs(6));
    assert_eq!(da.log_text().len(), n, "logged after -debug");
}

#[test]
fn invalid_initiation_mac_is_logged() {
    require_root();
    let u = Underlay::new();
    let db = Wgd::start(&u.b);
    let ib = format!("wg{}", unique());
    db.ok(&format!(
        "{ib} create debug wgkey {} wgport 51821 up",
        genkey()
    ));
    // 148 bytes of type 1 with garbage MACs.
    let py = format!(
        "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(bytes([1,0,0,0]) + bytes(144), ('{}', 51821))",
        u.b4
    );
    u.a.run(&format!("python3 -c \"{py}\""));
    let want = format!("{ib}: Invalid initiation MAC");
    assert!(
        wait_until(3, || db.log_text().contains(&want)),
        "{}",
        db.log_text()
    );
}
