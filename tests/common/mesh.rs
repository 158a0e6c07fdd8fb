//! A mesh of hosts, each with one wgd and ONE link2 (multipoint) wg
//! interface whose peers are all the other hosts (issue 34). The hosts'
//! underlay is a bridge in a middle namespace; every host has a LAN (a
//! veth pair inside it: this kernel may lack the dummy driver) that a
//! routing daemon announces over the wg interface.
//!
//! Host h (0-based) has underlay 100.64.0.(h+1)/24 port 51820, tunnel
//! address 10.77.0.(h+1)/24 (unless the mesh is built without IPv4 on the
//! tunnel), LAN 10.77.(h+1).1/24 and fd77:(h+1)::1/64, and the IPv6
//! link-local that wgd derives from its public key (read from its own
//! status). A peer's allowed IPs are only its tunnel address.
//!
//! Namespaces are uniquely named, wg interface names are `wg{unique()}`
//! (host-wide), addresses are namespace-local; everything goes on every
//! exit path (Drop), processes are ended by the PID we started.

use super::{end_child, genkey, pubkey, unique, Ns, Wgd};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PORT: u16 = 51820;

pub fn under(h: usize) -> String {
    format!("100.64.0.{}", h + 1)
}
pub fn tun4(h: usize) -> String {
    format!("10.77.0.{}", h + 1)
}
pub fn lan4(h: usize) -> String {
    format!("10.77.{}.1", h + 1)
}
pub fn lan4_net(h: usize) -> String {
    format!("10.77.{}.0/24", h + 1)
}
pub fn lan6(h: usize) -> String {
    format!("fd77:{}::1", h + 1)
}
pub fn lan6_net(h: usize) -> String {
    format!("fd77:{}::/64", h + 1)
}

pub struct MeshHost {
    /// Field order is drop order: the daemon before its namespace.
    pub d: Wgd,
    pub ns: Ns,
    pub wg: String,
    pub pubkey: String,
    /// The link-local wgd derived from the key (no %scope, no prefix).
    pub ll: String,
}

pub struct Mesh {
    pub hosts: Vec<MeshHost>,
    _mid: Ns,
    /// Whether the wg interfaces carry an IPv4 tunnel address.
    pub v4_tunnel: bool,
}

/// The first IPv6 link-local address of a status, `inet6 fe80::…%wgN prefixlen 64 …`.
pub fn status_link_local(status: &str) -> Option<String> {
    status.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("inet6 fe80:")?;
        let addr = format!("fe80:{}", rest.split_whitespace().next()?);
        Some(addr.split('%').next()?.to_string())
    })
}

/// Per-peer counters of a status: public key -> (tx, rx) bytes.
pub fn peer_counters(status: &str) -> HashMap<String, (u64, u64)> {
    let mut out = HashMap::new();
    let mut peer: Option<String> = None;
    for l in status.lines() {
        let t = l.trim();
        if let Some(k) = t.strip_prefix("wgpeer: ") {
            peer = Some(k.to_string());
        } else if let (Some(k), Some(rest)) = (&peer, t.strip_prefix("tx: ")) {
            let mut it = rest.split(" (bytes), rx: ");
            let tx = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
            let rx = it
                .next()
                .and_then(|x| x.trim_end_matches(" (bytes)").parse().ok())
                .unwrap_or(0);
            out.insert(k.clone(), (tx, rx));
        }
    }
    out
}

/// A kernel route as `ip route show PREFIX` prints it.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub dev: Option<String>,
    /// The gateway (IPv4, or IPv6 for `via inet6 …` and IPv6 routes).
    pub via: Option<String>,
    pub line: String,
}

pub fn parse_route(out: &str) -> Option<Route> {
    let line = out.lines().next()?.trim().to_string();
    if line.is_empty() {
        return None;
    }
    let w: Vec<&str> = line.split_whitespace().collect();
    let after = |key: &str| w.iter().position(|x| *x == key).map(|i| i + 1);
    let dev = after("dev").and_then(|i| w.get(i)).map(|s| s.to_string());
    let via = after("via").and_then(|i| match w.get(i) {
        Some(&"inet6") | Some(&"inet") => w.get(i + 1).map(|s| s.to_string()),
        other => other.map(|s| s.to_string()),
    });
    Some(Route { dev, via, line })
}

/// Poll `f` every 200 ms until it holds or `secs` pass (the routing tests
/// share two CPUs with many daemons: a slower poll than wait_until).
pub fn poll(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    f()
}

impl Mesh {
    /// `n` hosts, each wg interface with link2 and up; with `v4_tunnel`
    /// false the wg interfaces have no IPv4 address (only the derived
    /// link-local), so babeld announces IPv4 routes with IPv6 next hops.
    pub fn new(n: usize, v4_tunnel: bool) -> Mesh {
        Mesh::with_args(n, v4_tunnel, &[])
    }

    /// The same, host 0's wgd started with extra arguments.
    pub fn with_args(n: usize, v4_tunnel: bool, first: &[&str]) -> Mesh {
        let mid = Ns::new("l2m");
        mid.run("ip link add br0 type bridge");
        mid.run("ip link set br0 up");
        let mut hosts = Vec::new();
        for h in 0..n {
            let ns = Ns::new(&format!("l2h{h}"));
            mid.run(&format!(
                "ip link add p{h} type veth peer name ul netns {}",
                ns.name
            ));
            mid.run(&format!("ip link set p{h} master br0 up"));
            // Routers: forwarding on, no reverse-path filter in the kernel
            // (wgd's own check is under test), no ICMP redirects (a host
            // that forwards between two peers of the same wg interface
            // would otherwise tell the sender to go direct).
            ns.run(
                "sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
                 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
                 net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0 \
                 net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.default.accept_redirects=0 \
                 net.ipv6.conf.all.accept_redirects=0 net.ipv6.conf.default.accept_redirects=0",
            );
            ns.run(&format!("ip addr add {}/24 dev ul", under(h)));
            ns.run("ip link set ul up");
            ns.run("ip link add lan type veth peer name lanp");
            ns.run("ip link set lanp up");
            ns.run(&format!("ip addr add {}/24 dev lan", lan4(h)));
            ns.run(&format!("ip addr add {}/64 dev lan nodad", lan6(h)));
            ns.run("ip link set lan up");
            let d = Wgd::start_with(&ns, if h == 0 { first } else { &[] });
            let wg = format!("wg{}", unique());
            d.ok(&format!("{wg} create wgkey {} wgport {PORT}", genkey()));
            let pubkey = pubkey(&d, &wg);
            hosts.push(MeshHost {
                d,
                ns,
                wg,
                pubkey,
                ll: String::new(),
            });
        }
        for h in 0..n {
            let mut words = String::new();
            for (o, other) in hosts.iter().enumerate().filter(|(o, _)| *o != h) {
                words.push_str(&format!(
                    " wgpeer {} wgendpoint {} {PORT} wgaip {}/32",
                    other.pubkey,
                    under(o),
                    tun4(o)
                ));
            }
            let inet = if v4_tunnel {
                format!(" inet {}/24", tun4(h))
            } else {
                String::new()
            };
            let host = &hosts[h];
            host.d.ok(&format!("{}{words}{inet} link2 up", host.wg));
        }
        for host in hosts.iter_mut() {
            let st = host.d.ok(&host.wg);
            host.ll = status_link_local(&st).unwrap_or_else(|| {
                panic!(
                    "{}: no `inet6 fe80::…` line in its status after link2:\n{st}",
                    host.wg
                )
            });
        }
        let mesh = Mesh {
            hosts,
            _mid: mid,
            v4_tunnel,
        };
        mesh.check_link2_status();
        mesh
    }

    /// The status shows LINK2 and MULTICAST, the own link-local, and each
    /// peer's link-local (as that peer shows it) as an implicit allowed IP;
    /// the kernel has the link-local too and the link is multicast.
    fn check_link2_status(&self) {
        for (h, host) in self.hosts.iter().enumerate() {
            let st = host.d.ok(&host.wg);
            let first = st.lines().next().unwrap_or("");
            assert!(
                first.contains("LINK2") && first.contains("MULTICAST") && first.contains("UP"),
                "{}: flags line {first:?}",
                host.wg
            );
            assert!(
                st.contains(&format!(
                    "inet6 {}%{} prefixlen 64 scopeid 0x",
                    host.ll, host.wg
                )),
                "{}: link-local line:\n{st}",
                host.wg
            );
            for (o, other) in self.hosts.iter().enumerate().filter(|(o, _)| *o != h) {
                let want = format!("wgaip: {}/128 (link-local)", other.ll);
                assert!(
                    st.contains(&want),
                    "host {h}'s status lacks `{want}` for host {o}:\n{st}"
                );
            }
            let k = host
                .ns
                .run(&format!("ip -6 addr show dev {} scope link", host.wg));
            assert!(
                k.contains(&format!("inet6 {}/64", host.ll)),
                "kernel lacks the link-local {} on {}: {k}",
                host.ll,
                host.wg
            );
            let flags = host.ns.link_flags(&host.wg).unwrap_or_default();
            assert!(flags.contains("MULTICAST"), "{}: {flags}", host.wg);
        }
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// The host a gateway address belongs to (tunnel address or link-local).
    pub fn owner(&self, gw: &str) -> Option<usize> {
        self.hosts
            .iter()
            .enumerate()
            .find(|(h, host)| host.ll == gw || tun4(*h) == gw)
            .map(|(h, _)| h)
    }

    pub fn route(&self, h: usize, v6: bool, prefix: &str) -> Option<Route> {
        let fam = if v6 { "-6" } else { "-4" };
        let o = self.hosts[h]
            .ns
            .exec(&format!("ip {fam} route show {prefix}"));
        parse_route(&String::from_utf8_lossy(&o.stdout))
    }

    /// The host through which `from` routes `to`'s LAN (one family), if the
    /// route leaves through the wg interface with a gateway.
    pub fn next_hop(&self, from: usize, v6: bool, to: usize) -> Option<usize> {
        let net = if v6 { lan6_net(to) } else { lan4_net(to) };
        let r = self.route(from, v6, &net)?;
        if r.dev.as_deref() != Some(self.hosts[from].wg.as_str()) {
            return None;
        }
        self.owner(r.via.as_deref()?)
    }

    /// Both families of `from`'s routes to `to`'s LAN go through `via`.
    pub fn routes_via(&self, from: usize, to: usize, via: usize, v6_too: bool) -> bool {
        self.next_hop(from, false, to) == Some(via)
            && (!v6_too || self.next_hop(from, true, to) == Some(via))
    }

    /// Every host routes every other LAN straight to its owner.
    pub fn all_direct(&self, v6_too: bool) -> bool {
        let n = self.len();
        (0..n).all(|a| (0..n).all(|b| a == b || self.routes_via(a, b, b, v6_too)))
    }

    /// What every host routes, for failure messages.
    pub fn routes_text(&self) -> String {
        let mut s = String::new();
        for (h, host) in self.hosts.iter().enumerate() {
            let r4 = host.ns.exec("ip -4 route show");
            let r6 = host.ns.exec("ip -6 route show");
            s.push_str(&format!(
                "-- host {h} ({}, ll {}):\n{}{}",
                host.wg,
                host.ll,
                String::from_utf8_lossy(&r4.stdout),
                String::from_utf8_lossy(&r6.stdout)
            ));
        }
        s
    }

    /// `count` pings of `size` bytes from `from`'s LAN address to `to`'s,
    /// 20 ms apart; true if every one was answered.
    pub fn lan_ping(&self, from: usize, to: usize, v6: bool, count: u32, size: u32) -> bool {
        let (src, dst) = if v6 {
            (lan6(from), lan6(to))
        } else {
            (lan4(from), lan4(to))
        };
        self.ping_from(from, &src, &dst, count, size)
    }

    pub fn ping_from(&self, h: usize, src: &str, dst: &str, count: u32, size: u32) -> bool {
        self.hosts[h]
            .ns
            .exec(&format!(
                "ping -q -c {count} -s {size} -i 0.02 -W 2 -I {src} {dst}"
            ))
            .status
            .success()
    }

    /// Host h's per-peer counters, by peer host index.
    pub fn counters(&self, h: usize) -> HashMap<usize, (u64, u64)> {
        let host = &self.hosts[h];
        let by_key = peer_counters(&host.d.ok(&host.wg));
        self.hosts
            .iter()
            .enumerate()
            .filter_map(|(o, other)| by_key.get(&other.pubkey).map(|c| (o, *c)))
            .collect()
    }

    /// Cut (or restore) the underlay between hosts a and b: nftables in
    /// a's namespace drops UDP to and from b's underlay address.
    pub fn cut(&self, a: usize, b: usize, on: bool) {
        let ns = &self.hosts[a].ns;
        let t = format!("wgtcut{b}");
        if on {
            let peer = under(b);
            ns.run(&format!(
                "nft -f - <<'EOF'\ntable inet {t} {{\n\tchain i {{ type filter hook input priority 0; ip saddr {peer} meta l4proto udp drop; }}\n\tchain o {{ type filter hook output priority 0; ip daddr {peer} meta l4proto udp drop; }}\n}}\nEOF"
            ));
        } else {
            ns.run(&format!("nft delete table inet {t}"));
        }
    }
}

/// A process we started in a namespace (a routing daemon, a route
/// monitor), ended by its PID (SIGTERM, then SIGKILL after 10 s) when
/// dropped.
pub struct Proc(Option<Child>);

impl Proc {
    /// `cmd` in `ns`, its standard error into the file `log` if given.
    pub fn spawn(ns: &Ns, cmd: &[String], log: Option<&str>) -> Proc {
        Proc::start(ns, cmd, Stdio::null(), Proc::into_file(log))
    }

    /// `cmd` in `ns`, its standard output into the file `out`.
    pub fn spawn_to(ns: &Ns, cmd: &[String], out: &str) -> Proc {
        Proc::start(ns, cmd, Proc::into_file(Some(out)), Stdio::null())
    }

    fn into_file(f: Option<&str>) -> Stdio {
        f.map_or_else(Stdio::null, |f| {
            Stdio::from(std::fs::File::create(f).expect("output file"))
        })
    }

    fn start(ns: &Ns, cmd: &[String], stdout: Stdio, stderr: Stdio) -> Proc {
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .args(cmd)
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("spawn");
        Proc(Some(child))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            end_child(&mut c);
        }
    }
}

/// The hosts of the link2 tests, and how much traffic tells a path.
pub const HOSTS: usize = 4;
pub const A: usize = 0;
pub const B: usize = 1;
pub const C: usize = 2;
pub const D: usize = 3;
/// 20 pings of 1000 bytes: about 21 kB of WireGuard data each way; the
/// routing daemons' own traffic to one peer in the same second is a few
/// hundred bytes.
pub const PINGS: u32 = 20;
pub const SIZE: u32 = 1000;
pub const BULK: u64 = 20_000;
pub const QUIET: u64 = 5_000;

pub fn delta(
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
pub fn traffic_goes_via(m: &Mesh, from: usize, to: usize, via: usize) {
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
