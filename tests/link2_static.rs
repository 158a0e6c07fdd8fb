//! link2 (issue 34) without a routing daemon: static routes over one
//! link2 interface per host (tests/common/mesh.rs builds the hosts), the
//! flag itself, a hand-over, and multicast with another peer's
//! link-local as its source. The meshes under babeld and bird2 are in
//! tests/link2.rs.
//!
//! - a route's gateway chooses the peer (a detour both ways), a source
//!   routed via another peer is refused at the far end (asymmetric
//!   routes), a route without a gateway falls back to allowed IPs;
//! - a multipath route, gateways listed in opposite orders at the two
//!   ends, carries traffic both ways;
//! - LINK2,MULTICAST and the link-locals across down/up, -link2 and back;
//! - a SIGUSR2 hand-over keeps status, the kernel's link-local, multicast
//!   and gateway routing;
//! - multicast from a peer with another peer's link-local as source is
//!   decrypted and dropped; with its own, it reaches the kernel.

mod common;
use common::mesh::*;
use common::*;

/// A four-host mesh without routing daemon, B and C routing A's and D's
/// LANs straight to them.
fn static_mesh() -> Mesh {
    let m = Mesh::new(HOSTS, true);
    for h in [B, C] {
        static_route(&m, h, lan4_net(A), &format!("via {}", tun4(A)));
        static_route(&m, h, lan4_net(D), &format!("via {}", tun4(D)));
    }
    m
}

/// `ip route replace NET HOW dev <h's wg interface>` in host h.
fn static_route(m: &Mesh, h: usize, net: String, how: &str) {
    m.hosts[h].ns.run(&format!(
        "ip route replace {net} {how} dev {}",
        m.hosts[h].wg
    ));
}

/// Static routes, no routing daemon: a route's gateway chooses the peer
/// (a detour through B), a source routed via another peer is refused
/// even from a host that merely forwards it (asymmetric routes), and a
/// route without a gateway falls back to allowed IPs.
#[test]
fn static_routes_over_one_link2_interface() {
    require_root();
    let m = static_mesh();
    let wg = |h: usize| m.hosts[h].wg.clone();
    let route = |h: usize, net: String, via: &str| static_route(&m, h, net, via);
    // A detour through B, both ways.
    route(A, lan4_net(D), &format!("via {}", tun4(B)));
    route(D, lan4_net(A), &format!("via {}", tun4(B)));
    traffic_goes_via(&m, A, D, B);
    traffic_goes_via(&m, D, A, B);

    // Asymmetric: D answers through C, but routes A's LAN via C, so B's
    // forwarding of A's packets is refused at D (they are decrypted, then
    // dropped: D's kernel never sees them).
    route(D, lan4_net(A), &format!("via {}", tun4(C)));
    let wgd = wg(D);
    m.hosts[D].ns.run(&format!(
        "nft -f - <<'EOF'\ntable inet wgtasym {{\n\tchain pre {{\n\t\ttype filter hook prerouting priority -300;\n\t\tiifname \"{wgd}\" ip saddr {} counter\n\t}}\n}}\nEOF",
        lan4(A)
    ));
    let (d0, b0) = (m.counters(D), m.counters(B));
    let answered = m.lan_ping(A, D, false, 10, SIZE);
    let (d1, b1) = (m.counters(D), m.counters(B));
    let (_, drx) = delta(&d0, &d1, B);
    let (btx, _) = delta(&b0, &b1, D);
    eprintln!("link2: asymmetric: B sent {btx} bytes to D, D received {drx} from B");
    assert!(
        !answered,
        "D accepted A's packets from B while routing A via C"
    );
    assert!(btx >= 10_000 && drx >= 10_000, "B did not forward to D");
    let out = m.hosts[D].ns.run("nft list chain inet wgtasym pre");
    assert!(
        out.contains("counter packets 0 "),
        "D's kernel saw A's packets from B: {out}"
    );
    m.hosts[D].ns.run("nft delete table inet wgtasym");

    // A route without a gateway falls back to allowed IPs: D's LAN as an
    // allowed IP of B at A, and a plain device route.
    route(A, lan4_net(D), "");
    route(D, lan4_net(A), &format!("via {}", tun4(B)));
    // (The ranges of one command replace the peer's list.)
    m.hosts[A].d.ok(&format!(
        "{} wgpeer {} wgaip {}/32 wgaip {}",
        wg(A),
        m.hosts[B].pubkey,
        tun4(B),
        lan4_net(D)
    ));
    traffic_goes_via(&m, A, D, B);
    m.hosts[A].d.ok(&format!(
        "{} wgpeer {} wgaip {}/32",
        wg(A),
        m.hosts[B].pubkey,
        tun4(B)
    ));
}

/// A multipath route over the link (two gateways, as OSPF installs for
/// equal-cost paths) carries traffic both ways.
#[test]
fn multipath_route_over_one_link2_interface() {
    require_root();
    let m = static_mesh();
    let wg = |h: usize| m.hosts[h].wg.clone();
    let route = |h: usize, net: String, via: &str| static_route(&m, h, net, via);
    // Multipath: A and D route each other's LAN through B and C at once
    // (listed in opposite orders: whichever gateway each end picks, the
    // other end must accept what comes back through either).
    for (h, o, first, second) in [(A, D, B, C), (D, A, C, B)] {
        route(
            h,
            lan4_net(o),
            &format!("nexthop via {} nexthop via {}", tun4(first), tun4(second)),
        );
        let r = m.route(h, false, &lan4_net(o)).expect("multipath route");
        eprintln!("link2: multipath at {h}: {}", r.line);
    }
    let wgd = wg(D);
    m.hosts[D].ns.run(&format!(
        "nft -f - <<'EOF'\ntable inet wgtmp {{\n\tchain pre {{\n\t\ttype filter hook prerouting priority -300;\n\t\tiifname \"{wgd}\" ip saddr {} counter\n\t}}\n}}\nEOF",
        lan4(A)
    ));
    let (a0, bb0, c0, d0) = (m.counters(A), m.counters(B), m.counters(C), m.counters(D));
    let ok = m.lan_ping(A, D, false, PINGS, SIZE);
    let (a1, bb1, c1, d1) = (m.counters(A), m.counters(B), m.counters(C), m.counters(D));
    let seen_d = m.hosts[D].ns.run("nft list chain inet wgtmp pre");
    eprintln!(
        "link2: multipath: D's (tx, rx) with B {:?}, with C {:?}; D's kernel: {}",
        delta(&d0, &d1, B),
        delta(&d0, &d1, C),
        seen_d
            .lines()
            .find(|l| l.contains("counter"))
            .unwrap_or("")
            .trim()
    );
    let sent: Vec<(usize, (u64, u64))> = (0..HOSTS)
        .filter(|&o| o != A)
        .map(|o| (o, delta(&a0, &a1, o)))
        .collect();
    eprintln!(
        "link2: multipath A -> D: A's per-peer deltas {sent:?}; B's (tx, rx) with D {:?}, C's {:?}",
        delta(&bb0, &bb1, D),
        delta(&c0, &c1, D)
    );
    assert!(
        ok,
        "pings over a multipath route (via B and C) not answered: {sent:?}"
    );
    let (dtx, _) = delta(&a0, &a1, D);
    assert!(
        dtx < QUIET,
        "A sent {dtx} bytes straight to D, routed via B/C"
    );
}

/// The flag itself: status and kernel with link2, across down/up, and
/// after -link2 (plain allowed-IP routing again, as without the flag);
/// the link-local is the same when link2 comes back (derived from the key).
#[test]
fn link2_flag_status_down_up_and_off() {
    require_root();
    let m = Mesh::new(2, true);
    let (d, wg, ll) = (&m.hosts[0].d, m.hosts[0].wg.clone(), m.hosts[0].ll.clone());
    let peer_ll = format!("wgaip: {}/128 (link-local)", m.hosts[1].ll);
    assert!(ll.starts_with("fe80::"), "{ll}");
    d.ok(&format!("{wg} down"));
    d.ok(&format!("{wg} up"));
    let st = d.ok(&wg);
    assert_eq!(status_link_local(&st).as_deref(), Some(ll.as_str()), "{st}");
    assert!(st.contains(&peer_ll), "{st}");
    // Multicast reaches the peer: ping ff02::1 from the link, answered by
    // the other host's link-local.
    let o = m.hosts[0]
        .ns
        .exec(&format!("ping -c 3 -i 0.2 -W 2 ff02::1%{wg}"));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        text.contains(&format!("from {}%{wg}", m.hosts[1].ll)),
        "no answer to ff02::1 from the peer's link-local: {text}"
    );

    d.ok(&format!("{wg} -link2"));
    let st = d.ok(&wg);
    let first = st.lines().next().unwrap_or("");
    assert!(
        !first.contains("LINK2") && !first.contains("MULTICAST"),
        "{first}"
    );
    assert!(
        !st.contains("(link-local)"),
        "-link2 left link-local allowed IPs:\n{st}"
    );
    eprintln!("link2: status after -link2:\n{st}");

    d.ok(&format!("{wg} link2"));
    let st = d.ok(&wg);
    assert_eq!(status_link_local(&st).as_deref(), Some(ll.as_str()), "{st}");
    assert!(st.contains(&peer_ll), "{st}");
}

/// No such process, or a zombie (the old daemon is our child until the
/// mesh reaps it).
/// The process serving after a hand-over (not the one the test started),
/// read from the pid file, ended by that PID when dropped.
struct Taker(String);
impl Taker {
    fn pid(&self) -> u32 {
        pid_in(&self.0)
    }
}
impl Drop for Taker {
    fn drop(&mut self) {
        let pid = self.pid();
        if pid != 0 {
            let _ = sh(&format!("kill -TERM {pid}"));
            poll(10, || {
                !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
        }
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A hand-over (SIGUSR2) of a daemon with a link2 interface: the same
/// link-local in status and kernel, the peers' link-locals still allowed,
/// multicast still reaches every peer, and a route's gateway still picks
/// the peer (the new process rebuilds its copy of the routes).
#[test]
fn link2_survives_a_hand_over() {
    require_root();
    let pidfile = format!("/tmp/wgt-l2ho-{}.pid", unique());
    let m = Mesh::with_args(3, true, &["-p", &pidfile]);
    // Declared after the mesh: dropped first, while its namespace lives.
    let taker = Taker(pidfile.clone());
    let (a, b, c) = (0, 1, 2);
    let route = |h: usize, net: String, via: usize| {
        m.hosts[h].ns.run(&format!(
            "ip route replace {net} via {} dev {}",
            tun4(via),
            m.hosts[h].wg
        ));
    };
    route(b, lan4_net(a), a);
    route(b, lan4_net(c), c);
    route(a, lan4_net(c), b);
    route(c, lan4_net(a), b);
    traffic_goes_via(&m, a, c, b);
    let wg = m.hosts[a].wg.clone();
    let before = m.hosts[a].d.ok(&wg);
    let kernel = |h: usize| {
        m.hosts[h]
            .ns
            .run(&format!("ip -6 addr show dev {} scope link", m.hosts[h].wg))
    };
    let kernel_before = kernel(a);

    let old = m.hosts[a].d.pid();
    assert_eq!(taker.pid(), old, "pid file");
    ok(&format!("kill -USR2 {old}"));
    assert!(
        poll(10, || taker.pid() != old && taker.pid() != 0 && !alive(old)),
        "no hand-over: {}",
        m.hosts[a].d.log_text()
    );
    let after = m.hosts[a].d.ok(&wg);
    let strip = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !l.contains("tx: ") && !l.contains("last handshake"))
            .map(String::from)
            .collect()
    };
    assert_eq!(strip(&after), strip(&before), "status across the hand-over");
    assert_eq!(
        status_link_local(&after).as_deref(),
        Some(m.hosts[a].ll.as_str())
    );
    assert_eq!(kernel(a), kernel_before, "kernel link-local");
    let o = m.hosts[a]
        .ns
        .exec(&format!("ping -c 3 -i 0.3 -W 2 ff02::1%{wg}"));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    for h in [b, c] {
        assert!(
            text.contains(&format!("from {}%{wg}", m.hosts[h].ll)),
            "after the hand-over, no answer to ff02::1 from host {h}: {text}"
        );
    }
    traffic_goes_via(&m, a, c, b);
    drop(taker);
}

/// Multicast is accepted from a peer only with its own link-local (or an
/// allowed IP) as source: C sending to ff02::1 from B's link-local is
/// decrypted at A and dropped there, while C's own link-local gets
/// through to A's kernel (nftables counters on A's wg interface).
#[test]
fn multicast_from_another_peers_link_local_is_dropped() {
    require_root();
    let m = Mesh::new(3, true);
    let (a, b, c) = (0, 1, 2);
    let (wa, wc) = (m.hosts[a].wg.clone(), m.hosts[c].wg.clone());
    let (bll, cll) = (m.hosts[b].ll.clone(), m.hosts[c].ll.clone());
    m.hosts[c]
        .ns
        .run(&format!("ip addr add {bll}/64 dev {wc} nodad"));
    m.hosts[a].ns.run(&format!(
        "nft -f - <<'EOF'\ntable inet wgtmc {{\n\tchain pre {{\n\t\ttype filter hook prerouting priority -300;\n\t\tiifname \"{wa}\" ip6 saddr {bll} ip6 daddr ff02::1 counter\n\t\tiifname \"{wa}\" ip6 saddr {cll} ip6 daddr ff02::1 counter\n\t}}\n}}\nEOF"
    ));
    let count = |src: &str| -> u64 {
        let out = m.hosts[a].ns.run("nft list chain inet wgtmc pre");
        out.lines()
            .find(|l| l.contains(&format!("saddr {src} ")))
            .and_then(|l| l.split("counter packets ").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no counter for {src}: {out}"))
    };
    for (src, legit) in [(bll.clone(), false), (cll.clone(), true)] {
        let (a0, c0) = (m.counters(a), m.counters(c));
        let o = m.hosts[c].ns.exec(&format!(
            "ping -c 10 -i 0.05 -s 500 -W 1 -I {src}%{wc} ff02::1%{wc}"
        ));
        let (a1, c1) = (m.counters(a), m.counters(c));
        let (_, arx) = delta(&a0, &a1, c);
        let (ctx, _) = delta(&c0, &c1, a);
        let n = count(&src);
        eprintln!(
            "link2: multicast from {src} ({}): C sent {ctx} bytes to A, A received {arx}, A's kernel saw {n} packets; ping: {}",
            if legit { "C's own" } else { "B's" },
            String::from_utf8_lossy(&o.stdout).lines().last().unwrap_or("")
        );
        assert!(
            ctx >= 5_000 && arx >= 5_000,
            "C's multicast from {src} never reached A's wgd: the check would prove nothing"
        );
        if legit {
            assert!(n >= 10, "C's own link-local: A's kernel saw {n} of 10");
        } else {
            assert_eq!(
                n, 0,
                "A's kernel accepted multicast from B's link-local sent by C"
            );
        }
    }
}
