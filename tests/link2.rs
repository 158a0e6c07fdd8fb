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
//!   counter for it grows); likewise multicast from another peer's
//!   link-local, and a packet forwarded by B whose source the far end
//!   routes via C (asymmetric routes);
//! - static routes: the gateway picks the peer, a route without one falls
//!   back to allowed IPs, a multipath route (gateways listed in opposite
//!   orders at the two ends) carries traffic both ways;
//! - the flag across down/up, -link2 and a SIGUSR2 hand-over.
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

const HOSTS: usize = 4;
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;
const D: usize = 3;
/// 20 pings of 1000 bytes: about 21 kB of WireGuard data each way; the
/// routing daemons' own traffic to one peer in the same second is a few
/// hundred bytes.
const PINGS: u32 = 20;
const SIZE: u32 = 1000;
const BULK: u64 = 20_000;
const QUIET: u64 = 5_000;

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

fn delta(
    before: &std::collections::HashMap<usize, (u64, u64)>,
    after: &std::collections::HashMap<usize, (u64, u64)>,
    peer: usize,
) -> (u64, u64) {
    let (t0, r0) = before.get(&peer).copied().unwrap_or_default();
    let (t1, r1) = after.get(&peer).copied().unwrap_or_default();
    (t1.saturating_sub(t0), r1.saturating_sub(r0))
}

/// 20 pings of 1000 bytes from `from`'s LAN to `to`'s (IPv4): all answered,
/// and `from`'s per-peer counters show the bytes sent to and received
/// from `via` only; `to` received them from `via` and answered through it.
fn traffic_goes_via(m: &Mesh, from: usize, to: usize, via: usize) {
    let (f0, t0) = (m.counters(from), m.counters(to));
    let out = m.hosts[from].ns.exec(&format!(
        "ping -q -c {PINGS} -s {SIZE} -i 0.02 -W 2 -I {} {}",
        lan4(from),
        lan4(to)
    ));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (f1, t1) = (m.counters(from), m.counters(to));
    assert!(
        text.contains(&format!("{PINGS} received")),
        "host {from} -> {to} via {via}: not every ping answered: {text}\n{}",
        m.routes_text()
    );
    let seen: Vec<(usize, (u64, u64))> = (0..m.len())
        .filter(|&o| o != from)
        .map(|o| (o, delta(&f0, &f1, o)))
        .collect();
    eprintln!("link2: {from} -> {to} via {via}: per-peer (tx, rx) deltas at {from}: {seen:?}");
    for &(o, (tx, rx)) in &seen {
        if o == via {
            assert!(
                tx >= BULK && rx >= BULK,
                "host {from}: {tx} bytes sent to / {rx} received from host {via}, want >= {BULK} ({seen:?})"
            );
        } else {
            assert!(
                tx < QUIET && rx < QUIET,
                "host {from}: {tx} bytes sent to / {rx} received from host {o}, which is not the path ({seen:?})"
            );
        }
    }
    // At `to`, the bytes came from (and went back to) the last hop.
    let hop = if via == to { from } else { via };
    let (tx, rx) = delta(&t0, &t1, hop);
    assert!(
        tx >= BULK && rx >= BULK,
        "host {to}: {rx} bytes from / {tx} to host {hop}, want >= {BULK}"
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
fn gone(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(") ").next().unwrap_or("").starts_with('Z'))
        .unwrap_or(true)
}

/// The process serving after a hand-over (not the one the test started),
/// read from the pid file, ended by that PID when dropped.
struct Taker(String);
impl Taker {
    fn pid(&self) -> u32 {
        std::fs::read_to_string(&self.0)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0)
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
        poll(10, || taker.pid() != old && taker.pid() != 0 && gone(old)),
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
