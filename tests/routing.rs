//! Routing daemons over wgd tunnels in link1 mode: a triangle of three
//! hosts, one tunnel per neighbour, each host's LAN learned by the others
//! through bird2 (OSPFv2 + OSPFv3 over link-locals) or babeld, with
//! failover when a tunnel goes down or is destroyed, and recovery.
//! Assertions are on the kernel routing tables and on pings.

mod common;
use common::routing::{example, Files};
use common::*;
use std::process::{Child, Command, Stdio};

const PAIRS: [(usize, usize); 3] = [(0, 1), (1, 2), (0, 2)];

struct Host {
    ns: Ns,
    d: Wgd,
    lan: String,
    /// wg interface towards each other host (None for self).
    wg: [Option<String>; 3],
}

/// One tunnel's configuration, so it can be destroyed and re-created.
struct TunnelConf {
    host: usize,
    ifname: String,
    words: String,
}

struct Triangle {
    hosts: Vec<Host>,
    confs: Vec<TunnelConf>,
}

fn lan4(h: usize) -> String {
    format!("10.{}.0.1", h + 1)
}
fn lan6(h: usize) -> String {
    format!("fd0{}::1", h + 1)
}

impl Triangle {
    fn new() -> Triangle {
        let mut hosts: Vec<Host> = (0..3)
            .map(|h| {
                let ns = Ns::new(&format!("r{h}"));
                ns.run("sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0");
                let d = Wgd::start(&ns);
                let lan = format!("lan{}", unique());
                // A veth pair inside the namespace stands in for the LAN
                // (this kernel may lack the dummy driver).
                ns.run(&format!("ip link add {lan} type veth peer name {lan}p"));
                ns.run(&format!("ip link set {lan}p up"));
                ns.run(&format!("ip addr add {}/24 dev {lan}", lan4(h)));
                ns.run(&format!("ip addr add {}/64 dev {lan} nodad", lan6(h)));
                ns.run(&format!("ip link set {lan} up"));
                Host { ns, d, lan, wg: [None, None, None] }
            })
            .collect();
        // Underlay veth per pair, and a key per tunnel end.
        let mut ends = Vec::new();
        for (k, &(i, j)) in PAIRS.iter().enumerate() {
            let n = unique();
            let (vi, vj) = (format!("vr{n}i"), format!("vr{n}j"));
            ok(&format!(
                "ip link add {vi} netns {} type veth peer name {vj} netns {}",
                hosts[i].ns.name, hosts[j].ns.name
            ));
            hosts[i]
                .ns
                .run(&format!("ip addr add 172.31.{k}.1/24 dev {vi}"));
            hosts[j]
                .ns
                .run(&format!("ip addr add 172.31.{k}.2/24 dev {vj}"));
            hosts[i].ns.run(&format!("ip link set {vi} up"));
            hosts[j].ns.run(&format!("ip link set {vj} up"));
            for (me, other, side) in [(i, j, 1), (j, i, 2)] {
                let ifname = format!("wg{}", unique());
                let key = ok("wg genkey").trim().to_string();
                let public = ok(&format!("echo {key} | wg pubkey")).trim().to_string();
                hosts[me].wg[other] = Some(ifname.clone());
                ends.push((k, me, other, side, ifname, key, public));
            }
        }
        let mut confs = Vec::new();
        for (k, me, _other, side, ifname, key, _) in &ends {
            let peer = ends
                .iter()
                .find(|e| e.0 == *k && e.1 != *me)
                .expect("other end");
            let (mine, theirs) = (*side, 3 - *side);
            let words = format!(
                "wgkey {key} wgport {} wgpeer {} wgendpoint 172.31.{k}.{theirs} {} wgaip 0.0.0.0/0 wgaip ::/0 inet 10.255.{k}.{mine} 10.255.{k}.{theirs} inet6 fe80::{k}:{mine}/64 link1 up",
                51000 + 10 * k + mine,
                peer.6,
                51000 + 10 * k + theirs
            );
            hosts[*me].d.ok(&format!("{ifname} create"));
            hosts[*me].d.ok(&format!("{ifname} {words}"));
            confs.push(TunnelConf {
                host: *me,
                ifname: ifname.clone(),
                words,
            });
        }
        Triangle { hosts, confs }
    }

    fn wg(&self, from: usize, to: usize) -> &str {
        self.hosts[from].wg[to].as_deref().expect("tunnel")
    }

    /// The device of `host`'s kernel route to `dst`, if any.
    fn route_dev(&self, host: usize, v6: bool, dst: &str) -> Option<String> {
        let fam = if v6 { "-6" } else { "-4" };
        let out = self.hosts[host]
            .ns
            .run(&format!("ip {fam} route show {dst}"));
        let mut w = out.split_whitespace();
        while let Some(x) = w.next() {
            if x == "dev" {
                return w.next().map(String::from);
            }
        }
        None
    }

    /// Both families of `from`'s route to `to`'s LAN leave through `via`'s tunnel.
    fn routes_via(&self, from: usize, to: usize, via: usize) -> bool {
        let dev = self.wg(from, via);
        self.route_dev(from, false, &format!("10.{}.0.0/24", to + 1))
            .as_deref()
            == Some(dev)
            && self
                .route_dev(from, true, &format!("fd0{}::/64", to + 1))
                .as_deref()
                == Some(dev)
    }

    fn lan_ping(&self, from: usize, to: usize) -> bool {
        let ns = &self.hosts[from].ns;
        ns.exec(&format!("ping -c 1 -W 1 -I {} {}", lan4(from), lan4(to)))
            .status
            .success()
            && ns
                .exec(&format!("ping -c 1 -W 1 -I {} {}", lan6(from), lan6(to)))
                .status
                .success()
    }

    fn all_lans_reachable(&self) -> bool {
        (0..3).all(|a| (0..3).all(|b| a == b || self.lan_ping(a, b)))
    }

    fn recreate(&self, host: usize, to: usize) {
        let name = self.wg(host, to);
        let c = self
            .confs
            .iter()
            .find(|c| c.host == host && c.ifname == name)
            .unwrap();
        let d = &self.hosts[host].d;
        d.ok(&format!("{name} create"));
        d.ok(&format!("{name} {}", c.words));
    }
}

/// A routing daemon we started, ended by its PID.
struct Daemon(Option<Child>);

impl Daemon {
    fn spawn(ns: &Ns, args: &[String]) -> Daemon {
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("routing daemon");
        Daemon(Some(child))
    }
}
impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            end_child(&mut c);
        }
    }
}

/// Failover and recovery for tunnel 0<->2, first with `down`, then with
/// `destroy`, within `bound` seconds each.
fn failover(t: &Triangle, bound: u64) {
    let t0 = std::time::Instant::now();
    let phase = |what: &str| eprintln!("routing: {what} after {:.1} s", t0.elapsed().as_secs_f64());
    assert!(
        wait_until(60, || t.routes_via(0, 2, 2) && t.routes_via(2, 0, 0)),
        "direct routes 0<->2 never learned"
    );
    assert!(
        wait_until(30, || t.routes_via(0, 1, 1) && t.routes_via(1, 2, 2)),
        "other routes"
    );
    assert!(wait_until(20, || t.all_lans_reachable()), "LAN pings");
    phase("converged");

    for destroy in [false, true] {
        let (w02, d0) = (t.wg(0, 2).to_string(), &t.hosts[0].d);
        if destroy {
            d0.ok(&format!("{w02} destroy"));
        } else {
            d0.ok(&format!("{w02} down"));
        }
        assert!(
            wait_until(bound, || t.routes_via(0, 2, 1) && t.routes_via(2, 0, 1)),
            "no reroute through host 1 within {bound} s (destroy={destroy}): {:?} {:?}",
            t.route_dev(0, false, "10.3.0.0/24"),
            t.route_dev(2, false, "10.1.0.0/24")
        );
        assert!(
            wait_until(bound, || t.lan_ping(0, 2) && t.lan_ping(2, 0)),
            "LAN ping over the detour"
        );
        phase("rerouted");
        if destroy {
            t.recreate(0, 2);
        } else {
            d0.ok(&format!("{w02} up"));
        }
        assert!(
            wait_until(4 * bound, || t.routes_via(0, 2, 2) && t.routes_via(2, 0, 0)),
            "direct route not restored (destroy={destroy})"
        );
        phase("restored");
        assert!(wait_until(bound, || t.lan_ping(0, 2) && t.lan_ping(2, 0)));
    }
}

#[test]
fn bird2_ospf_over_link1_tunnels() {
    require_root();
    let t = Triangle::new();
    let mut files = Files(Vec::new());
    let mut daemons = Vec::new();
    for (h, host) in t.hosts.iter().enumerate() {
        let n = unique();
        let conf = format!("/tmp/wgt-bird-{n}.conf");
        let sock = format!("/tmp/wgt-bird-{n}.ctl");
        let text = example("bird.conf")
            .replace("10.1.0.1", &lan4(h))
            .replace("\"lan1\"", &format!("\"{}\"", host.lan));
        std::fs::write(&conf, text).unwrap();
        files.0.extend([conf.clone(), sock.clone()]);
        let args = ["bird", "-f", "-c", &conf, "-s", &sock].map(String::from);
        daemons.push(Daemon::spawn(&host.ns, &args));
    }
    // OSPF dead interval 4 s; allow for SPF and kernel sync.
    failover(&t, 12);
    drop(daemons);
}

#[test]
fn babeld_over_link1_tunnels() {
    require_root();
    let t = Triangle::new();
    let mut files = Files(Vec::new());
    let mut daemons = Vec::new();
    for (h, host) in t.hosts.iter().enumerate() {
        let n = unique();
        let conf = format!("/tmp/wgt-babel-{n}.conf");
        let (pid, state) = (
            format!("/tmp/wgt-babel-{n}.pid"),
            format!("/tmp/wgt-babel-{n}.state"),
        );
        std::fs::write(&conf, example("babeld.conf").replace("lan1", &host.lan)).unwrap();
        files.0.extend([conf.clone(), pid.clone(), state.clone()]);
        let mut args = ["babeld", "-c", &conf, "-I", &pid, "-S", &state]
            .map(String::from)
            .to_vec();
        args.extend((0..3).filter(|&o| o != h).map(|o| t.wg(h, o).to_string()));
        daemons.push(Daemon::spawn(&host.ns, &args));
    }
    // Babel notices a lost neighbour after a few missed hellos (1 s each).
    failover(&t, 20);
    drop(daemons);
}
