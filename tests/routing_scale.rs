//! Routing daemons over many link1 tunnels of one wgd (issue 23, the small
//! size of bench/routing-scale): a hub with one tunnel to each of SPOKES
//! spokes, a ring among the spokes (spoke i <-> i+1) as the other path,
//! every namespace on one bridge in a middle namespace. Each spoke
//! announces a LAN; bird2 (examples/bird.conf) or babeld
//! (examples/babeld.conf) must bring every hub adjacency up and every LAN
//! into the hub's kernel table through its own tunnel; a blackholed hub
//! tunnel (nftables drop in the spoke) must move the traffic to the ring
//! and back, and two spokes away from it see no route change for anyone
//! else.

mod common;
use common::mesh::Proc;
use common::routing::{example, Files};
use common::*;
use std::time::Instant;

const SPOKES: usize = 8;
/// The spoke whose hub tunnel is blackholed, and two at ring distance 2
/// and 3 from it.
const FAILED: usize = 4;
const WATCHED: [usize; 2] = [6, 7];

fn under(n: usize) -> String {
    format!("100.64.0.{}", n + 1)
}
fn hub_side(k: usize) -> String {
    format!("10.64.0.{}", 2 * k)
}
fn spoke_side(k: usize) -> String {
    format!("10.64.0.{}", 2 * k + 1)
}
fn ring_a(i: usize) -> String {
    format!("10.65.0.{}", 2 * i)
}
fn ring_b(i: usize) -> String {
    format!("10.65.0.{}", 2 * i + 1)
}
fn lan(i: usize) -> String {
    format!("10.100.{i}.1")
}
fn lan_net(i: usize) -> String {
    format!("10.100.{i}.0/24")
}
fn next(i: usize) -> usize {
    i % SPOKES + 1
}
fn prev(i: usize) -> usize {
    (i + SPOKES - 2) % SPOKES + 1
}
const HUB_LAN: &str = "10.99.0.1";

struct Spoke {
    d: Wgd,
    ns: Ns,
}

/// Everything but the routing daemons; fields drop in this order.
struct Star {
    spokes: Vec<Spoke>,
    hubd: Wgd,
    hub: Ns,
    _mid: Ns,
    /// Host-wide interface names: wg9<base><role><index>.
    base: String,
}

impl Star {
    fn new() -> Star {
        let mid = Ns::new("rsm");
        let hub = Ns::new("rsh");
        let spokes_ns: Vec<Ns> = (1..=SPOKES).map(|_| Ns::new("rss")).collect();
        let base = format!("wg9{:06}", unique());
        mid.run("ip link add br0 type bridge");
        mid.run("ip link set br0 up");
        for (n, ns) in std::iter::once(&hub).chain(spokes_ns.iter()).enumerate() {
            mid.run(&format!(
                "ip link add p{n} type veth peer name ul netns {}",
                ns.name
            ));
            mid.run(&format!("ip link set p{n} master br0 up"));
            ns.run("sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0");
            ns.run(&format!("ip addr add {}/24 dev ul", under(n)));
            ns.run("ip link set ul up");
            // The LAN: a veth pair inside the namespace (no dummy driver here).
            ns.run("ip link add lan type veth peer name lanp");
            ns.run("ip link set lanp up");
            let a = if n == 0 { HUB_LAN.to_string() } else { lan(n) };
            ns.run(&format!("ip addr add {a}/24 dev lan"));
            ns.run("ip link set lan up");
        }
        let hubd = Wgd::start(&hub);
        let spokes: Vec<Spoke> = spokes_ns
            .into_iter()
            .map(|ns| Spoke {
                d: Wgd::start_with(&ns, &["-w", "1"]),
                ns,
            })
            .collect();
        let keys: Vec<[String; 4]> = (0..=SPOKES)
            .map(|_| [genkey(), genkey(), genkey(), genkey()])
            .collect();
        let public = |k: &str| ok(&format!("echo {k} | wg pubkey")).trim().to_string();
        let star = Star {
            spokes,
            hubd,
            hub,
            _mid: mid,
            base,
        };
        let tunnel = |key: &str,
                      port: u16,
                      peer: &str,
                      ep: &str,
                      ep_port: u16,
                      a: &str,
                      b: &str,
                      ll: u8| {
            format!(
                "wgkey {key} wgport {port} wgpeer {} wgendpoint {ep} {ep_port} wgaip 0.0.0.0/0 wgaip ::/0 inet {a} {b} inet6 fe80::{ll}/64 link1 up",
                public(peer)
            )
        };
        // keys[i]: [hub end of i, spoke i's hub end, i's ring end to i+1, i+1's end to i]
        for i in 1..=SPOKES {
            let (j, p) = (next(i), prev(i));
            let d = &star.spokes[i - 1].d;
            let w = tunnel(
                &keys[i][1],
                51000,
                &keys[i][0],
                &under(0),
                20000 + i as u16,
                &spoke_side(i),
                &hub_side(i),
                2,
            );
            d.ok(&format!("{} create {w}", star.to_hub(i)));
            let w = tunnel(
                &keys[i][2],
                51001,
                &keys[i][3],
                &under(j),
                51002,
                &ring_a(i),
                &ring_b(i),
                1,
            );
            d.ok(&format!("{} create {w}", star.ring_right(i)));
            let w = tunnel(
                &keys[p][3],
                51002,
                &keys[p][2],
                &under(p),
                51001,
                &ring_b(p),
                &ring_a(p),
                2,
            );
            d.ok(&format!("{} create {w}", star.ring_left(i)));
        }
        // The hub last, one ifconfig-wg command per interface.
        for (k, key) in keys.iter().enumerate().skip(1) {
            let w = tunnel(
                &key[0],
                20000 + k as u16,
                &key[1],
                &under(k),
                51000,
                &hub_side(k),
                &spoke_side(k),
                1,
            );
            star.hubd.ok(&format!("{} create {w}", star.hub_if(k)));
        }
        star
    }

    fn hub_if(&self, k: usize) -> String {
        format!("{}1{k}", self.base)
    }
    fn to_hub(&self, i: usize) -> String {
        format!("{}2{i}", self.base)
    }
    fn ring_right(&self, i: usize) -> String {
        format!("{}3{i}", self.base)
    }
    /// In spoke i, the ring tunnel to spoke i-1.
    fn ring_left(&self, i: usize) -> String {
        format!("{}4{}", self.base, prev(i))
    }
    fn ring_pattern(&self) -> String {
        format!("\"{b}3*\", \"{b}4*\"", b = self.base)
    }

    fn hub_route_dev(&self, net: &str) -> Option<String> {
        let out = self.hub.run(&format!("ip -4 route show {net}"));
        let mut w = out.split_whitespace();
        while let Some(x) = w.next() {
            if x == "dev" {
                return w.next().map(String::from);
            }
        }
        None
    }

    /// The device of spoke `i`'s route to `net`.
    fn spoke_route_dev(&self, i: usize, net: &str) -> Option<String> {
        let out = self.spokes[i - 1]
            .ns
            .run(&format!("ip -4 route show {net}"));
        let mut w = out.split_whitespace();
        while let Some(x) = w.next() {
            if x == "dev" {
                return w.next().map(String::from);
            }
        }
        None
    }

    /// Spoke `i` routes every other spoke's LAN through the hub (the ring
    /// costs more): the steady state.
    fn spoke_settled(&self, i: usize) -> bool {
        let hub = self.to_hub(i);
        (1..=SPOKES)
            .filter(|&j| j != i)
            .all(|j| self.spoke_route_dev(i, &lan_net(j)).as_deref() == Some(hub.as_str()))
    }

    /// How many spoke LANs the hub routes through their own tunnel.
    fn direct_lans(&self) -> usize {
        (1..=SPOKES)
            .filter(|&k| {
                self.hub_route_dev(&lan_net(k)).as_deref() == Some(self.hub_if(k).as_str())
            })
            .count()
    }

    fn ping_lan(&self, i: usize) -> bool {
        self.hub
            .exec(&format!("ping -c 1 -W 1 -I {HUB_LAN} {}", lan(i)))
            .status
            .success()
    }

    fn blackhole(&self, i: usize, on: bool) {
        let ns = &self.spokes[i - 1].ns;
        if on {
            let (h, port) = (under(0), 20000 + i);
            ns.run("nft add table inet wgtblk");
            ns.run("nft 'add chain inet wgtblk i { type filter hook input priority 0; }'");
            ns.run("nft 'add chain inet wgtblk o { type filter hook output priority 0; }'");
            ns.run(&format!(
                "nft add rule inet wgtblk i ip saddr {h} udp sport {port} drop"
            ));
            ns.run(&format!(
                "nft add rule inet wgtblk o ip daddr {h} udp dport {port} drop"
            ));
        } else {
            ns.run("nft delete table inet wgtblk");
        }
    }
}

fn strings(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// Convergence, failover of FAILED's hub tunnel to the ring and back, and
/// the route monitors of WATCHED: returns their lines that are not about
/// FAILED's LAN and all their lines.
fn converge_and_fail(
    s: &Star,
    files: &mut Files,
    full: &dyn Fn() -> usize,
    bound: u64,
) -> (Vec<String>, Vec<String>) {
    let t0 = Instant::now();
    let phase = |what: &str| {
        eprintln!(
            "routing_scale: {what} after {:.1} s",
            t0.elapsed().as_secs_f64()
        )
    };
    assert!(
        wait_until(30, || full() >= SPOKES && s.direct_lans() == SPOKES),
        "not converged in 30 s: {} adjacencies, {} of {SPOKES} LANs direct",
        full(),
        s.direct_lans()
    );
    assert!(
        wait_until(10, || (1..=SPOKES).all(|i| s.ping_lan(i))),
        "LAN pings"
    );
    phase("converged");
    // The watched spokes must have settled too before they are watched.
    assert!(
        wait_until(20, || WATCHED.iter().all(|&w| s.spoke_settled(w))),
        "spokes {WATCHED:?} do not route every LAN through the hub"
    );
    phase("watched spokes settled");

    let mut monitors = Vec::new();
    let mut outs = Vec::new();
    for &w in &WATCHED {
        let f = format!("/tmp/wgt-rsmon-{}.txt", unique());
        files.0.push(f.clone());
        let cmd = strings(&["ip", "monitor", "route"]);
        monitors.push(Proc::spawn_to(&s.spokes[w - 1].ns, &cmd, &f));
        outs.push(f);
    }
    std::thread::sleep(std::time::Duration::from_millis(500));

    let direct = s.hub_if(FAILED);
    s.blackhole(FAILED, true);
    assert!(
        wait_until(bound, || s
            .hub_route_dev(&lan_net(FAILED))
            .is_some_and(|d| d != direct)),
        "hub did not reroute spoke {FAILED}'s LAN within {bound} s: {:?}",
        s.hub_route_dev(&lan_net(FAILED))
    );
    assert!(
        wait_until(bound, || s.ping_lan(FAILED)),
        "LAN ping over the ring"
    );
    phase("rerouted over the ring");
    s.blackhole(FAILED, false);
    assert!(
        wait_until(2 * bound, || s.hub_route_dev(&lan_net(FAILED)).as_deref()
            == Some(direct.as_str())),
        "direct route not restored: {:?}",
        s.hub_route_dev(&lan_net(FAILED))
    );
    assert!(
        wait_until(bound, || s.ping_lan(FAILED)),
        "LAN ping, direct again"
    );
    assert_eq!(s.direct_lans(), SPOKES, "every LAN direct again");
    phase("restored");
    std::thread::sleep(std::time::Duration::from_secs(1));
    drop(monitors);
    let mut all = Vec::new();
    for f in &outs {
        all.extend(
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
    }
    let prefix = lan_net(FAILED);
    let others = all
        .iter()
        .filter(|l| !l.contains(&prefix))
        .cloned()
        .collect();
    (others, all)
}

#[test]
fn bird2_ospf_hub_with_many_link1_tunnels() {
    require_root();
    let s = Star::new();
    let mut files = Files(Vec::new());
    let mut daemons = Vec::new();
    let ring = format!(
        "\t\tinterface {} {{ type ptp; cost 100; hello 1; dead 4; }};\n\t\tinterface \"wg*\"",
        s.ring_pattern()
    );
    let hub_sock = format!("/tmp/wgt-rsbird-{}.ctl", unique());
    for n in 0..=SPOKES {
        let u = unique();
        let conf = format!("/tmp/wgt-rsbird-{u}.conf");
        let sock = if n == 0 {
            hub_sock.clone()
        } else {
            format!("/tmp/wgt-rsbird-{u}.ctl")
        };
        let mut text = example("bird.conf").replace("\"lan1\"", "\"lan\"").replace(
            "10.1.0.1",
            &if n == 0 { HUB_LAN.to_string() } else { lan(n) },
        );
        if n > 0 {
            text = text.replace("\t\tinterface \"wg*\"", &ring);
        }
        std::fs::write(&conf, text).unwrap();
        files.0.extend([conf.clone(), sock.clone()]);
        let ns = if n == 0 { &s.hub } else { &s.spokes[n - 1].ns };
        let args = strings(&["bird", "-f", "-c", &conf, "-s", &sock]);
        daemons.push(Proc::spawn(ns, &args, None));
    }
    let full = || {
        let o = sh(&format!("birdc -s {hub_sock} show ospf neighbors ospf4"));
        String::from_utf8_lossy(&o.stdout).matches("Full").count()
    };
    // Dead interval 4 s; allow for SPF and the kernel sync.
    let (_, all) = converge_and_fail(&s, &mut files, &full, 12);
    assert!(
        all.is_empty(),
        "route events in spokes {WATCHED:?} away from the failure: {all:?}"
    );
    drop(daemons);
}

#[test]
fn babeld_hub_with_many_link1_tunnels() {
    require_root();
    let s = Star::new();
    let mut files = Files(Vec::new());
    let mut daemons = Vec::new();
    for n in 0..=SPOKES {
        let u = unique();
        let conf = format!("/tmp/wgt-rsbabel-{u}.conf");
        let (pid, state) = (
            format!("/tmp/wgt-rsbabel-{u}.pid"),
            format!("/tmp/wgt-rsbabel-{u}.state"),
        );
        let mut text = example("babeld.conf").replace("lan1", "lan");
        if n == 0 {
            for k in 1..=SPOKES {
                text.push_str(&format!("interface {}\n", s.hub_if(k)));
            }
        } else {
            text.push_str(&format!(
                "interface {}\ninterface {} rxcost 1024\ninterface {} rxcost 1024\n",
                s.to_hub(n),
                s.ring_right(n),
                s.ring_left(n)
            ));
        }
        std::fs::write(&conf, text).unwrap();
        files.0.extend([conf.clone(), pid.clone(), state.clone()]);
        let ns = if n == 0 { &s.hub } else { &s.spokes[n - 1].ns };
        let args = strings(&["babeld", "-c", &conf, "-I", &pid, "-S", &state]);
        daemons.push(Proc::spawn(ns, &args, None));
    }
    // Babel has no adjacency state to read here: a LAN routed through its
    // own tunnel means the neighbour is up.
    let full = || SPOKES;
    // A lost neighbour is noticed after a few missed hellos (1 s each).
    let (others, all) = converge_and_fail(&s, &mut files, &full, 20);
    // Babel's feasibility condition may move the watched spokes' route to
    // the failed spoke's own LAN for a moment (onto the ring until the hub
    // announces a new sequence number); every other route stays put.
    eprintln!(
        "routing_scale: babel route events for spoke {FAILED}'s LAN in {WATCHED:?}: {}",
        all.len() - others.len()
    );
    assert!(
        others.is_empty(),
        "route events in spokes {WATCHED:?} for other prefixes: {others:?}"
    );
    drop(daemons);
}
