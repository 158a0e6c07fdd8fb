//! link2 (issue 34): ONE multipoint wg interface per host carries a whole
//! routed mesh. Four hosts on a bridged underlay, each with one wgd and one
//! link2 interface whose peers are the three others (allowed IPs: only each
//! peer's tunnel address), each with a LAN that babeld or bird2 announces
//! over the wg interface (tests/common/mesh.rs builds it).
//!
//! What is checked, on the kernel tables, on pings between LAN addresses,
//! on wgd's per-peer tx/rx counters and on nftables counters:
//! - the link2 status: LINK2,MULTICAST, the key-derived link-local, each
//!   peer's link-local as an implicit allowed IP (the same address the
//!   peer shows as its own);
//! - every host learns the three other LANs, IPv4 and IPv6, through the
//!   wg interface with the owner as gateway (babel: IPv4 next hops, or
//!   IPv6 link-local ones with no IPv4 on the link; OSPF: ptmp and
//!   broadcast);
//! - LAN-to-LAN traffic goes to the owning peer only: 20 pings of 1000
//!   bytes show up in the per-peer counters of that peer, not the others;
//! - a pair's underlay cut (nftables in one host): the two reroute through
//!   the third host within the protocol's timers, the counters show the
//!   bytes going to it, and everything comes back direct when restored;
//! - reverse path: host C sends with a source inside B's LAN (routed via
//!   B) to A; A's wgd receives and decrypts it (A's rx from C grows) but
//!   A's kernel never sees it (an nftables prerouting counter on A's wg
//!   interface stays 0), while C's own LAN address gets through (the same
//!   counter for it grows). Multicast from another peer's link-local,
//!   asymmetric routes, static routes, the flag and a hand-over are in
//!   tests/link2_static.rs.
//!
//! About a minute of wall time for the file (its tests run in parallel;
//! the routing ones wait for babel's and OSPF's timers).
//! Host D is a costly transit (babel rxcost 512, OSPF cost 100): with a
//! pair cut there are two detours of equal hops, and wgd's reverse-path
//! check accepts a packet only from the peer its source is routed through,
//! so both ends must pick the same detour.

mod common;
use common::mesh::*;
use common::routing::{example, Files};
use common::*;
use std::time::Instant;

fn phase(t0: Instant, what: &str) {
    eprintln!("link2: {what} after {:.1} s", t0.elapsed().as_secs_f64());
}

/// Every host routes every other LAN straight to its owner (both families),
/// within `bound` s; then every LAN answers every LAN.
fn converge(m: &Mesh, bound: u64, t0: Instant) {
    assert!(
        poll(bound, || m.all_direct(true)),
        "not every LAN routed straight to its owner within {bound} s:\n{}",
        m.routes_text()
    );
    phase(t0, "every LAN learned, direct");
    let all = || {
        (0..HOSTS).all(|a| {
            (0..HOSTS).all(|b| {
                a == b || (m.lan_ping(a, b, false, 1, 56) && m.lan_ping(a, b, true, 1, 56))
            })
        })
    };
    assert!(poll(20, all), "LAN pings:\n{}", m.routes_text());
    phase(t0, "every LAN answers every LAN");
}

/// The gateways of `from`'s routes to `to`'s LAN have the expected form:
/// IPv4 next hop (v4-via-v6 false) or the owner's link-local (true), and
/// the IPv6 route always the owner's link-local.
fn check_gateway_form(m: &Mesh, from: usize, to: usize, v4_via_v6: bool) {
    let r4 = m.route(from, false, &lan4_net(to)).expect("IPv4 route");
    let r6 = m.route(from, true, &lan6_net(to)).expect("IPv6 route");
    let want4 = if v4_via_v6 {
        format!("via inet6 {} ", m.hosts[to].ll)
    } else {
        format!("via {} ", tun4(to))
    };
    assert!(r4.line.contains(&want4), "want `{want4}`: {}", r4.line);
    assert!(
        r6.line.contains(&format!("via {} ", m.hosts[to].ll)),
        "IPv6 route not via {}: {}",
        m.hosts[to].ll,
        r6.line
    );
}
/// Cut A<->B, see both reroute through C (bounded), traffic through C,
/// then restore and see both direct again.
fn cut_and_restore(m: &Mesh, bound: u64, t0: Instant) {
    m.cut(A, B, true);
    let cut_at = Instant::now();
    assert!(
        poll(bound, || m.routes_via(A, B, C, true)
            && m.routes_via(B, A, C, true)),
        "A<->B cut: no reroute through C within {bound} s:\n{}",
        m.routes_text()
    );
    eprintln!(
        "link2: A<->B cut: rerouted through C in {:.1} s",
        cut_at.elapsed().as_secs_f64()
    );
    assert!(
        poll(20, || m.lan_ping(A, B, false, 1, 56)
            && m.lan_ping(A, B, true, 1, 56)),
        "LAN ping A -> B over the detour"
    );
    traffic_goes_via(m, A, B, C);
    traffic_goes_via(m, B, A, C);
    // Others are untouched: C and D still go straight to A and B.
    assert!(m.routes_via(D, A, A, true) && m.routes_via(D, B, B, true));
    phase(t0, "rerouted through C");

    m.cut(A, B, false);
    let back_at = Instant::now();
    assert!(
        poll(bound, || m.routes_via(A, B, B, true)
            && m.routes_via(B, A, A, true)),
        "A<->B restored: not direct again within {bound} s:\n{}",
        m.routes_text()
    );
    eprintln!(
        "link2: A<->B restored: direct again in {:.1} s",
        back_at.elapsed().as_secs_f64()
    );
    assert!(poll(20, || m.lan_ping(A, B, false, 1, 56)));
    traffic_goes_via(m, A, B, B);
    phase(t0, "direct again");
}

/// The packets counted by the nftables rule of A's prerouting chain that
/// matches `saddr`.
fn nft_count(m: &Mesh, saddr: &str) -> u64 {
    let out = m.hosts[A].ns.run("nft list chain inet wgtspoof pre");
    out.lines()
        .find(|l| l.contains(&format!("saddr {saddr} ")))
        .and_then(|l| l.split("counter packets ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no counter for {saddr}: {out}"))
}

/// Reverse path: C sends to A's LAN from an address inside B's LAN (routed
/// via B at A): A's wgd gets the bytes, A's kernel never sees the packets.
/// C's own LAN address gets through (the control).
fn spoof_is_dropped(m: &Mesh) {
    let (spoof4, spoof6) = ("10.77.2.99", "fd77:2::99");
    let c = &m.hosts[C].ns;
    // On lo: no routing daemon here announces lo (babel redistributes
    // only `lan`, OSPF has no lo interface), so A keeps routing these
    // addresses via B.
    c.run(&format!("ip addr add {spoof4}/32 dev lo"));
    c.run(&format!("ip addr add {spoof6}/128 dev lo nodad"));
    let wg = &m.hosts[A].wg;
    m.hosts[A].ns.run(&format!(
        "nft -f - <<'EOF'\ntable inet wgtspoof {{\n\tchain pre {{\n\t\ttype filter hook prerouting priority -300;\n\t\tiifname \"{wg}\" ip saddr {spoof4} counter\n\t\tiifname \"{wg}\" ip saddr {} counter\n\t\tiifname \"{wg}\" ip6 saddr {spoof6} counter\n\t\tiifname \"{wg}\" ip6 saddr {} counter\n\t}}\n}}\nEOF",
        lan4(C),
        lan6(C)
    ));
    for (src, dst, legit) in [
        (spoof4.to_string(), lan4(A), lan4(C)),
        (spoof6.to_string(), lan6(A), lan6(C)),
    ] {
        assert_eq!(
            m.next_hop(A, src.contains(':'), B),
            Some(B),
            "A must route B's LAN via B"
        );
        let (c0, a0) = (m.counters(C), m.counters(A));
        let answered = m.ping_from(C, &src, &dst, 10, SIZE);
        let (c1, a1) = (m.counters(C), m.counters(A));
        let (ctx, _) = delta(&c0, &c1, A);
        let (_, arx) = delta(&a0, &a1, C);
        eprintln!(
            "link2: spoofed {src} -> {dst}: C sent {ctx} bytes to A, A received {arx} from C"
        );
        assert!(
            !answered,
            "A answered C's packets from {src} (routed via B)"
        );
        assert!(
            ctx >= 10_000 && arx >= 10_000,
            "the spoofed packets did not even reach A's wgd ({ctx} sent, {arx} received): the check would prove nothing"
        );
        assert_eq!(
            nft_count(m, &src),
            0,
            "A's kernel saw packets from {src} on {wg}"
        );
        assert!(
            m.ping_from(C, &legit, &dst, 10, SIZE),
            "C's own LAN address {legit} does not reach A"
        );
        assert!(
            nft_count(m, &legit) >= 10,
            "control: A's counter for {legit} did not count"
        );
    }
    c.run(&format!("ip addr del {spoof4}/32 dev lo"));
    c.run(&format!("ip addr del {spoof6}/128 dev lo"));
    m.hosts[A].ns.run("nft delete table inet wgtspoof");
}

fn start_babeld(m: &Mesh, files: &mut Files) -> Vec<Proc> {
    let mut daemons = Vec::new();
    for (h, host) in m.hosts.iter().enumerate() {
        let n = unique();
        let conf = format!("/tmp/wgt-l2babel-{n}.conf");
        let (pid, state, log) = (
            format!("/tmp/wgt-l2babel-{n}.pid"),
            format!("/tmp/wgt-l2babel-{n}.state"),
            format!("/tmp/wgt-l2babel-{n}.log"),
        );
        let mut text = example("babeld-link2.conf");
        text.push_str(&format!(
            "interface {}{}\n",
            host.wg,
            if h == D { " rxcost 512" } else { "" }
        ));
        std::fs::write(&conf, text).unwrap();
        files
            .0
            .extend([conf.clone(), pid.clone(), state.clone(), log.clone()]);
        let args = ["babeld", "-c", &conf, "-I", &pid, "-S", &state].map(String::from);
        daemons.push(Proc::spawn(&host.ns, &args, Some(&log)));
    }
    daemons
}

fn babel_mesh(v4_tunnel: bool) {
    require_root();
    let t0 = Instant::now();
    let m = Mesh::new(HOSTS, v4_tunnel);
    phase(t0, "mesh up");
    let mut files = Files(Vec::new());
    let daemons = start_babeld(&m, &mut files);
    converge(&m, 60, t0);
    for (a, b) in [(A, B), (B, C), (C, D), (D, A)] {
        check_gateway_form(&m, a, b, !v4_tunnel);
    }
    traffic_goes_via(&m, A, B, B);
    traffic_goes_via(&m, C, D, D);
    spoof_is_dropped(&m);
    phase(t0, "spoofed source dropped");
    // Babel drops a neighbour after two missed hellos (1 s); the rest is
    // the feasibility dance (a seqno request through C).
    cut_and_restore(&m, 60, t0);
    drop(daemons);
}

#[test]
fn babeld_mesh_over_one_link2_interface_ipv4_next_hops() {
    babel_mesh(true);
}

#[test]
fn babeld_mesh_over_one_link2_interface_v4_via_v6() {
    babel_mesh(false);
}

/// bird.conf for host h: examples/bird-link2.conf with its router id,
/// neighbour lists (tunnel addresses and link-locals of the others),
/// cost, and OSPF interface type.
fn bird_conf(m: &Mesh, h: usize, ptmp: bool) -> String {
    let others: Vec<usize> = (0..HOSTS).filter(|&o| o != h).collect();
    let n4: String = others.iter().map(|&o| format!("{}; ", tun4(o))).collect();
    let n6: String = others
        .iter()
        .map(|&o| format!("{}; ", m.hosts[o].ll))
        .collect();
    let (k4, k6) = (
        "neighbors { 10.77.0.2; 10.77.0.3; 10.77.0.4; };",
        "neighbors { fe80::2; fe80::3; fe80::4; };",
    );
    let text = example("bird-link2.conf");
    assert!(text.contains(k4) && text.contains(k6), "example changed");
    let mut text = text
        .replace("router id 10.77.1.1;", &format!("router id {};", lan4(h)))
        .replace(
            k4,
            &if ptmp {
                format!("neighbors {{ {n4}}};")
            } else {
                String::new()
            },
        )
        .replace(
            k6,
            &if ptmp {
                format!("neighbors {{ {n6}}};")
            } else {
                String::new()
            },
        );
    if !ptmp {
        text = text.replace("type ptmp;", "type broadcast;");
    }
    if h == D {
        text = text.replace("cost 10;", "cost 100;");
    }
    text
}

fn start_bird(m: &Mesh, files: &mut Files, ptmp: bool) -> (Vec<Proc>, Vec<String>) {
    let mut daemons = Vec::new();
    let mut socks = Vec::new();
    for h in 0..HOSTS {
        let n = unique();
        let (conf, sock) = (
            format!("/tmp/wgt-l2bird-{n}.conf"),
            format!("/tmp/wgt-l2bird-{n}.ctl"),
        );
        std::fs::write(&conf, bird_conf(m, h, ptmp)).unwrap();
        files.0.extend([conf.clone(), sock.clone()]);
        let args = ["bird", "-f", "-c", &conf, "-s", &sock].map(String::from);
        daemons.push(Proc::spawn(&m.hosts[h].ns, &args, None));
        socks.push(sock);
    }
    (daemons, socks)
}

/// Full adjacencies of one bird's protocol.
fn full(sock: &str, proto: &str) -> usize {
    let o = sh(&format!("birdc -s {sock} show ospf neighbors {proto}"));
    String::from_utf8_lossy(&o.stdout).matches("Full").count()
}

#[test]
fn bird2_ospf_ptmp_mesh_over_one_link2_interface() {
    require_root();
    let t0 = Instant::now();
    let m = Mesh::new(HOSTS, true);
    phase(t0, "mesh up");
    let mut files = Files(Vec::new());
    let (daemons, socks) = start_bird(&m, &mut files, true);
    // ptmp: every router adjacent to every other, both protocols.
    assert!(
        poll(60, || socks.iter().all(
            |s| full(s, "ospf4") == HOSTS - 1 && full(s, "ospf6") == HOSTS - 1
        )),
        "not every adjacency Full: {:?}",
        socks
            .iter()
            .map(|s| (full(s, "ospf4"), full(s, "ospf6")))
            .collect::<Vec<_>>()
    );
    phase(t0, "every adjacency Full");
    converge(&m, 30, t0);
    check_gateway_form(&m, A, B, false);
    traffic_goes_via(&m, A, B, B);
    spoof_is_dropped(&m);
    // Dead interval 4 s, then SPF and the kernel sync.
    cut_and_restore(&m, 30, t0);
    drop(daemons);
}

#[test]
fn bird2_ospf_broadcast_mesh_over_one_link2_interface() {
    // Broadcast needs multicast to every peer (224.0.0.5/6, ff02::5/6):
    // convergence and direct paths only (see examples/bird-link2.conf for
    // why broadcast cannot route around a cut pair).
    require_root();
    let t0 = Instant::now();
    let m = Mesh::new(HOSTS, true);
    phase(t0, "mesh up");
    let mut files = Files(Vec::new());
    let (daemons, _socks) = start_bird(&m, &mut files, false);
    converge(&m, 60, t0);
    check_gateway_form(&m, B, C, false);
    traffic_goes_via(&m, B, C, C);
    drop(daemons);
}
