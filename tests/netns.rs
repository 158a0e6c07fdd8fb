//! Interfaces moved to other network namespaces, as WireGuard's netns
//! documentation and the userspace test suites use them: one daemon in
//! ns0, wg1 moved to ns1 and wg2 to ns2, their UDP sockets staying in
//! ns0 (endpoints on ns0's loopback); and the container pattern, a
//! namespace whose only link is a moved wg interface.

mod common;

use common::*;

struct Topo {
    n0: Ns,
    n1: Ns,
    n2: Ns,
    d: Wgd,
    w1: String,
    w2: String,
    p1: u16,
    pub1: String,
}

/// wg1 and wg2 born in ns0, peers of each other over 127.0.0.1 / ::1,
/// then moved, addressed and brought up where they live.
fn topo() -> Topo {
    let (n0, n1, n2) = (Ns::new("n0"), Ns::new("n1"), Ns::new("n2"));
    let d = Wgd::start(&n0);
    let (w1, w2) = (format!("wg{}", unique()), format!("wg{}", unique()));
    let (p1, p2) = (
        20000 + (unique() % 10000) as u16,
        30000 + (unique() % 10000) as u16,
    );
    d.ok(&format!("{w1} create wgkey {} wgport {p1}", genkey()));
    d.ok(&format!("{w2} create wgkey {} wgport {p2}", genkey()));
    let (pub1, pub2) = (pubkey(&d, &w1), pubkey(&d, &w2));
    d.ok(&format!(
        "{w1} wgpeer {pub2} wgendpoint 127.0.0.1 {p2} wgaip 192.168.241.2/32 wgaip fd00::2/128"
    ));
    d.ok(&format!(
        "{w2} wgpeer {pub1} wgendpoint ::1 {p1} wgaip 192.168.241.1/32 wgaip fd00::1/128"
    ));
    n0.run(&format!("ip link set {w1} netns {}", n1.name));
    n0.run(&format!("ip link set {w2} netns {}", n2.name));
    for (ns, w, a) in [(&n1, &w1, 1), (&n2, &w2, 2)] {
        ns.run(&format!("ip addr add 192.168.241.{a}/24 dev {w}"));
        ns.run(&format!("ip addr add fd00::{a}/64 dev {w} nodad"));
        ns.run(&format!("ip link set {w} up"));
    }
    // wgd binds the sockets when it sees the link come up (an event).
    for w in [&w1, &w2] {
        assert!(wait_until(3, || d.ok(w).contains("RUNNING")), "{}", d.ok(w));
    }
    Topo {
        n0,
        n1,
        n2,
        d,
        w1,
        w2,
        p1,
        pub1,
    }
}

fn iperf(client: &Ns, server: &Ns, addr: &str) {
    let port = 5201 + (unique() % 1000) as u16;
    let mut srv = std::process::Command::new("ip")
        .args(["netns", "exec", &server.name, "iperf3", "-s", "-1", "-p"])
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("iperf3 -s");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = client.exec(&format!("timeout 20 iperf3 -c {addr} -p {port} -t 2 -J"));
    end_child(&mut srv);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "iperf3 to {addr}: {out}");
    assert!(out.contains("\"bits_per_second\""), "{out}");
}

#[test]
fn moved_interfaces_keep_working_with_their_sockets_at_home() {
    require_root();
    let t = topo();
    assert!(t.n1.ping("192.168.241.2", 2), "v4 across");
    assert!(t.n2.ping("fd00::1", 2), "v6 across");
    iperf(&t.n1, &t.n2, "192.168.241.2");
    iperf(&t.n2, &t.n1, "fd00::1");

    // Status from home shows the addresses the link has where it is;
    // wg(8) reaches it from either namespace.
    let st = t.d.ok(&t.w1);
    assert!(
        st.contains("\tinet 192.168.241.1 netmask 0xffffff00\n")
            && st.contains("\tinet6 fd00::1 prefixlen 64\n")
            && st.starts_with(&format!("{}: flags=", t.w1))
            && st.contains("UP"),
        "{st}"
    );
    for ns in [&t.n0, &t.n1] {
        let hs = ns.run(&format!("wg show {} latest-handshakes", t.w1));
        assert!(!hs.trim().ends_with("\t0"), "{hs}");
    }
    // The sockets stayed in ns0.
    let ss = t.n0.run("ss -uln");
    assert!(ss.contains(&format!(":{}", t.p1)), "{ss}");
    assert!(!t.n1.run("ss -uln").contains(&format!(":{}", t.p1)));

    // MTU changed from inside ns1 is followed.
    t.n1.run(&format!("ip link set {} mtu 1300", t.w1));
    assert!(wait_until(3, || t.d.ok(&t.w1).contains(" mtu 1300\n")));
    assert!(t.n1.ping("-s 1250 192.168.241.2", 1));
    t.n1.run(&format!("ip link set {} mtu 1420", t.w1));
    assert!(wait_until(3, || t.d.ok(&t.w1).contains(" mtu 1420\n")));
    assert!(t.n1.ping("-s 1350 192.168.241.2", 1));

    // Roaming when ns0's loopback address changes (as wireguard-go's
    // netns test does): wg2 learns wg1's new source.
    t.n0.run("ip -4 addr del 127.0.0.1/8 dev lo");
    t.n0.run("ip -4 addr add 127.212.121.99/8 dev lo");
    t.n1.run(&format!("wg set {} listen-port 9999", t.w1));
    assert!(t.n1.ping("192.168.241.2", 1), "ping after the move of lo");
    let eps = t.n2.run(&format!("wg show {} endpoints", t.w2));
    assert_eq!(eps.trim(), format!("{}\t127.212.121.99:9999", t.pub1));

    // Deleted from inside ns1: the interface is destroyed.
    t.n1.run(&format!("ip link del {}", t.w1));
    assert!(
        wait_until(3, || !t.d.ok("-l").split_whitespace().any(|n| n == t.w1)),
        "{}",
        t.d.ok("-l")
    );
    assert!(!std::path::Path::new(&format!("/var/run/wireguard/{}.sock", t.w1)).exists());
    assert!(t
        .d
        .log_text()
        .contains(&format!("{}: link deleted, destroying", t.w1)));
}

#[test]
fn followed_back_home_and_on_and_gone_with_its_namespace() {
    require_root();
    let t = topo();
    assert!(t.n1.ping("192.168.241.2", 1));
    // ns1 → home (ns0) → ns1 via vnet → a third namespace → deleted with it.
    t.n1.run(&format!("ip link set {} netns {}", t.w1, t.n0.name));
    assert!(wait_until(3, || t.n0.link_exists(&t.w1)));
    t.n0.run(&format!("ip link set {} mtu 1280", t.w1));
    assert!(
        wait_until(3, || t.d.ok(&t.w1).contains(" mtu 1280\n")),
        "followed home"
    );
    t.d.ok(&format!("{} vnet {}", t.w1, t.n1.name));
    assert!(
        t.n1.link_exists(&t.w1) && !t.n0.link_exists(&t.w1),
        "{}",
        t.d.log_text()
    );
    let n3 = Ns::new("n3");
    t.n1.run(&format!("ip link set {} netns {}", t.w1, n3.name));
    assert!(wait_until(3, || n3.link_exists(&t.w1)));
    n3.run(&format!("ip addr add 192.168.241.1/24 dev {}", t.w1));
    n3.run(&format!("ip link set {} up", t.w1));
    assert!(
        wait_until(3, || t.d.ok(&t.w1).contains("UP")),
        "followed to n3"
    );
    assert!(n3.ping("192.168.241.2", 1), "traffic from n3");
    // -vnet: back from n3 to where wgd runs.
    t.d.ok(&format!("{} -vnet {}", t.w1, n3.name));
    assert!(t.n0.link_exists(&t.w1));
    t.d.ok(&format!("{} vnet {}", t.w1, n3.name));
    // Errors change nothing.
    let nosuch = format!("nosuchns{}", unique());
    t.d.fails(
        &format!("{} vnet {nosuch}", t.w1),
        &format!("ifconfig-wg: vnet: no network namespace {nosuch} (see ip netns list)"),
    );
    assert!(n3.link_exists(&t.w1));
    // The namespace goes, and the link with it: so does the interface.
    drop(n3);
    assert!(
        wait_until(5, || !t.d.ok("-l").split_whitespace().any(|n| n == t.w1)),
        "{}",
        t.d.ok("-l")
    );
    // wg2 is untouched.
    assert!(t.d.ok("-l").split_whitespace().any(|n| n == t.w2));
    let _ = (&t.n2, &t.pub1);
}

#[test]
fn vnet_refuses_a_name_taken_there() {
    require_root();
    let (n0, n1) = (Ns::new("v0"), Ns::new("v1"));
    let d = Wgd::start(&n0);
    let w = format!("wg{}", unique());
    d.ok(&format!("{w} create"));
    n1.run(&format!(
        "ip link add {w} type veth peer name v{}",
        unique()
    ));
    d.fails(
        &format!("{w} vnet {}", n1.name),
        "ifconfig-wg: SIOCSIFVNET: File exists",
    );
    assert!(n0.link_exists(&w));
    d.fails(
        &format!("{w} -vnet {}", n1.name),
        "ifconfig-wg: SIOCSIFRVNET: No such file or directory",
    );
}

/// The container pattern: a namespace whose only link is a moved wg
/// interface reaches a server in another namespace through the tunnel,
/// and nothing else.
#[test]
fn container_reaches_the_world_only_through_the_tunnel() {
    require_root();
    let u = Underlay::new(); // a = host (wgd), b = server side
    let host = Wgd::start(&u.a);
    let srv = Wgd::start(&u.b);
    let boxed = Ns::new("box");
    let (wc, ws) = (format!("wg{}", unique()), format!("wg{}", unique()));
    let x = unique() % 250 + 1;
    host.ok(&format!("{wc} create wgkey {} wgport 51820", genkey()));
    srv.ok(&format!("{ws} create wgkey {} wgport 51821", genkey()));
    let (pc, ps) = (pubkey(&host, &wc), pubkey(&srv, &ws));
    host.ok(&format!(
        "{wc} wgpeer {ps} wgendpoint {} 51821 wgaip 0.0.0.0/0",
        u.b4
    ));
    srv.ok(&format!(
        "{ws} wgpeer {pc} wgaip 10.{x}.9.2/32 inet 10.{x}.9.1/24 up"
    ));
    host.ok(&format!("{wc} vnet {}", boxed.name));
    boxed.run(&format!("ip addr add 10.{x}.9.2/24 dev {wc}"));
    boxed.run(&format!("ip link set {wc} up"));
    boxed.run(&format!("ip route add default dev {wc}"));
    let links = boxed.run("ip -o link show");
    assert_eq!(links.lines().count(), 2, "only lo and the tunnel: {links}");
    assert!(
        boxed.ping(&format!("10.{x}.9.1"), 2),
        "server through the tunnel"
    );
    // The host's own network is not reachable from the box.
    assert!(!boxed.ping(&u.a4, 1), "reached the host's underlay");
    let st = host.ok(&wc);
    let rx: u64 = field(&st, "tx")
        .and_then(|t| {
            t.split(" (bytes), rx: ")
                .nth(1)
                .map(|r| r.trim_end_matches(" (bytes)").to_string())
        })
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    assert!(rx > 0, "{st}");
}

/// The launcher (`wgd wgN`, as wireguard-go is called by wg-quick and by
/// test suites) makes the interface where it runs, with its UDP sockets
/// there, even when the daemon owning the shared socket path runs in
/// another namespace.
#[test]
fn the_launcher_creates_where_it_runs() {
    require_root();
    let (n0, n1) = (Ns::new("l0"), Ns::new("l1"));
    let d = Wgd::start(&n0);
    let w = format!("wg{}", unique());
    let o = n1.exec(&format!("{} -S {} {w}", bin("wgd").display(), d.sock));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(n1.link_exists(&w) && !n0.link_exists(&w));
    let port = 40000 + (unique() % 10000) as u16;
    n1.run(&format!(
        "wg set {w} listen-port {port} private-key /dev/stdin < /dev/null"
    ));
    n1.run(&format!("ip link set {w} up"));
    assert!(
        wait_until(3, || n1.run("ss -uln").contains(&format!(":{port} "))),
        "{}",
        n1.run("ss -uln")
    );
    assert!(!n0.run("ss -uln").contains(&format!(":{port} ")));
    // Followed like any link: deleted there, destroyed here.
    n1.run(&format!("ip link del {w}"));
    assert!(wait_until(3, || !d
        .ok("-l")
        .split_whitespace()
        .any(|n| n == w)));

    // Two such interfaces, in n1 and n2, talk over a veth pair that only
    // n1 and n2 have: their packets leave from where they were born.
    let n2 = Ns::new("l2");
    let (wa, wb) = (format!("wg{}", unique()), format!("wg{}", unique()));
    for (ns, w) in [(&n1, &wa), (&n2, &wb)] {
        let o = ns.exec(&format!("{} -S {} {w}", bin("wgd").display(), d.sock));
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (va, vb) = (format!("va{}", unique()), format!("vb{}", unique()));
    n1.run(&format!(
        "ip link add {va} type veth peer name {vb} netns {}",
        n2.name
    ));
    n1.run(&format!("ip addr add 10.250.0.1/24 dev {va}"));
    n2.run(&format!("ip addr add 10.250.0.2/24 dev {vb}"));
    n1.run(&format!("ip link set {va} up"));
    n2.run(&format!("ip link set {vb} up"));
    let (ka, kb) = (genkey(), genkey());
    let pa = ok(&format!("echo {ka} | wg pubkey")).trim().to_string();
    let pb = ok(&format!("echo {kb} | wg pubkey")).trim().to_string();
    d.ok(&format!(
        "{wa} wgkey {ka} wgport 41001 wgpeer {pb} wgendpoint 10.250.0.2 41002 wgaip 10.251.0.2/32"
    ));
    d.ok(&format!(
        "{wb} wgkey {kb} wgport 41002 wgpeer {pa} wgaip 10.251.0.1/32"
    ));
    n1.run(&format!("ip addr add 10.251.0.1/24 dev {wa}"));
    n2.run(&format!("ip addr add 10.251.0.2/24 dev {wb}"));
    n1.run(&format!("ip link set {wa} up"));
    n2.run(&format!("ip link set {wb} up"));
    for w in [&wa, &wb] {
        assert!(wait_until(3, || d.ok(w).contains("RUNNING")), "{}", d.ok(w));
    }
    assert!(
        n1.ping("10.251.0.2", 2),
        "across the veth only n1 and n2 have"
    );
    let eps = n2.run(&format!("wg show {wb} endpoints"));
    assert_eq!(eps.trim(), format!("{pa}\t10.250.0.1:41001"));
}

/// Interface names are host-wide (the UAPI directory is shared): a name
/// another daemon serves is refused, saying where, and changes nothing;
/// `wg create` skips it.
#[test]
fn a_name_served_in_another_namespace_is_refused_and_skipped() {
    require_root();
    let (n1, n2) = (Ns::new("h1"), Ns::new("h2"));
    let (d1, d2) = (Wgd::start(&n1), Wgd::start(&n2));
    let name = format!("wg{}", unique());
    d1.ok(&format!("{name} create"));
    d2.fails(
        &format!("{name} create"),
        &format!(
            "ifconfig-wg: interface {name} exists elsewhere: /var/run/wireguard/{name}.sock is served by another daemon"
        ),
    );
    assert!(!n2.link_exists(&name), "nothing made");
    assert_eq!(d2.ok("-l").trim(), "", "nothing listed");
    assert!(n1.link_exists(&name));
    // A rename to that name says the same, and changes nothing.
    let mine = format!("wg{}", unique());
    d2.ok(&format!("{mine} create"));
    d2.fails(
        &format!("{mine} name {name}"),
        &format!(
            "ifconfig-wg: interface {name} exists elsewhere: /var/run/wireguard/{name}.sock is served by another daemon"
        ),
    );
    assert_eq!(d2.ok("-l").trim(), mine, "still its old name");
    assert!(n2.link_exists(&mine) && !n2.link_exists(&name));
    d2.ok(&format!("{mine} destroy"));
    // The lowest free unit here may be held there: `wg create` takes the
    // next one.
    let first = d1.ok("wg create").trim().to_string();
    let second = d2.ok("wg create").trim().to_string();
    assert_ne!(first, second);
    assert!(n2.link_exists(&second) && !n2.link_exists(&first));
    d1.ok(&format!("{first} destroy"));
    d2.ok(&format!("{second} destroy"));
}
