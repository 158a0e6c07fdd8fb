//! Traffic through a tunnel between two daemons in two namespaces:
//! inner IPv4 and IPv6, over outer IPv4 and IPv6, both directions.

mod common;
use common::*;

fn ping_all_ways(t: &Tunnel) {
    assert!(t.u.a.ping(&t.in_b4, 3), "a -> b inner v4");
    assert!(t.u.b.ping(&t.in_a4, 3), "b -> a inner v4");
    assert!(t.u.a.ping(&t.in_b6, 3), "a -> b inner v6");
    assert!(t.u.b.ping(&t.in_a6, 3), "b -> a inner v6");
}

#[test]
fn ping_over_outer_ipv4() {
    require_root();
    let t = Tunnel::new(false);
    ping_all_ways(&t);
    let s = t.da.ok(&t.ia);
    assert!(
        s.contains(&format!("\t\twgendpoint: {} {}\n", t.u.b4, t.port_b)),
        "{s}"
    );
    assert!(s.contains("\t\tlast handshake: "), "{s}");
}

#[test]
fn ping_over_outer_ipv6() {
    require_root();
    let t = Tunnel::new(true);
    ping_all_ways(&t);
    let s = t.db.ok(&t.ib);
    assert!(
        s.contains(&format!("\t\twgendpoint: {} {}\n", t.u.a6, t.port_a)),
        "{s}"
    );
}

#[test]
fn counters_count_every_byte_both_ways() {
    require_root();
    let t = Tunnel::new(false);
    assert!(t.u.a.ping(&t.in_b4, 2));
    let tx_rx = |s: &str| -> (u64, u64) {
        let l = s.lines().find(|l| l.contains("tx: ")).expect("tx line");
        let n: Vec<u64> = l
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .map(|w| w.parse().unwrap())
            .collect();
        (n[0], n[1])
    };
    let (atx, arx) = tx_rx(&t.da.ok(&t.ia));
    let (btx, brx) = tx_rx(&t.db.ok(&t.ib));
    // Handshake (148 + 92) plus data; what one sent the other received.
    assert!(atx > 240 && arx > 92, "a tx {atx} rx {arx}");
    assert_eq!(atx, brx, "a's tx is b's rx");
    assert_eq!(btx, arx, "b's tx is a's rx");
}

#[test]
fn no_ipv6_link_local_is_added() {
    require_root();
    let t = Tunnel::new(false);
    let addrs = t.u.a.run(&format!("ip -6 addr show dev {}", t.ia));
    assert!(!addrs.contains("fe80"), "{addrs}");
    assert!(addrs.contains(&t.in_a6), "{addrs}");
}

#[test]
fn roaming_follows_authenticated_packets() {
    require_root();
    let t = Tunnel::new(false);
    assert!(t.u.a.ping(&t.in_b4, 1));
    // b learned a's endpoint; now a talks from a second address.
    let dev =
        t.u.a
            .run("ip -o -4 addr show")
            .lines()
            .find(|l| l.contains(&t.u.a4))
            .and_then(|l| l.split_whitespace().nth(1).map(String::from))
            .unwrap();
    let new_a4 = format!("{}.11", t.u.a4.rsplit_once('.').unwrap().0);
    // Delete first: removing a primary address takes its secondaries along.
    t.u.a.run(&format!("ip addr del {}/24 dev {dev}", t.u.a4));
    t.u.a.run(&format!("ip addr add {new_a4}/24 dev {dev}"));
    assert!(t.u.a.ping(&t.in_b4, 2), "ping after a moved");
    let s = t.db.ok(&t.ib);
    assert!(
        s.contains(&format!("\t\twgendpoint: {new_a4} {}\n", t.port_a)),
        "b follows a to its new address: {s}"
    );
}

#[test]
fn packets_queued_before_the_handshake_all_go_out() {
    require_root();
    let t = Tunnel::new(false);
    // b is down: a's initiation goes unanswered and its pings queue in the
    // peer (boringtun keeps up to 256), to leave at once, several send
    // batches' worth, when a's retry completes the handshake.
    t.db.ok(&format!("{} down", t.ib));
    let burst = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &t.u.a.name,
            "ping",
            "-c",
            "95",
            "-i",
            "0.01",
            "-w",
            "20",
            "-q",
            &t.in_b4,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    t.db.ok(&format!("{} up", t.ib));
    let out = String::from_utf8_lossy(&burst.wait_with_output().unwrap().stdout).into_owned();
    let received: u32 = out
        .split(", ")
        .find(|s| s.ends_with("received"))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(received >= 90, "only {received} of 95 answered: {out}");
    // Both daemons are alive and the tunnel still works.
    assert!(t.u.a.ping(&t.in_b4, 2), "after the burst");
    assert!(t.u.b.ping(&t.in_a4, 2));
}

/// A multi-homed host answers from the address its peer contacted
/// (sticky source), so the peer's endpoint does not move to the host's
/// primary address; and keeps sending from it later.
#[test]
fn replies_leave_from_the_address_the_peer_contacted() {
    require_root();
    let u = Underlay::new();
    let da = Wgd::start(&u.a);
    let db = Wgd::start(&u.b);
    let (ia, ib) = (format!("wg{}", unique()), format!("wg{}", unique()));
    let second = format!("{}.11", u.a4.rsplit_once('.').unwrap().0);
    let second6 = format!("{}11", u.a6.trim_end_matches('1'));
    let va = &u.va;
    u.a.run(&format!("ip addr add {second}/24 dev {va}"));
    u.a.run(&format!("ip addr add {second6}/64 dev {va} nodad"));
    da.ok(&format!("{ia} create wgkey {} wgport 51820", genkey()));
    db.ok(&format!("{ib} create wgkey {} wgport 51821", genkey()));
    let (pa, pb) = (pubkey(&da, &ia), pubkey(&db, &ib));
    // a knows no endpoint for b: it learns it, and must answer from the
    // address b used.
    da.ok(&format!(
        "{ia} wgpeer {pb} wgaip 10.61.0.2/32 inet 10.61.0.1/24 up"
    ));
    for (outer, v6) in [(second.clone(), false), (second6.clone(), true)] {
        db.ok(&format!(
            "{ib} wgpeer {pa} wgendpoint {outer} 51820 wgaip 10.61.0.1/32 inet 10.61.0.2/24 up"
        ));
        assert!(u.b.ping("10.61.0.1", 3), "over {outer}");
        assert!(u.a.ping("10.61.0.2", 3), "back over {outer}");
        let ep = field(&db.ok(&ib), "wgendpoint");
        assert_eq!(ep, Some(format!("{outer} 51820")), "v6: {v6}");
        db.ok(&format!("{ib} down"));
    }
}
