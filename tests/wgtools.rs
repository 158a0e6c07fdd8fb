//! wg(8) and wg-quick(8) against wgd interfaces (Debian's wireguard-tools).

mod common;
use common::*;
use std::time::{SystemTime, UNIX_EPOCH};

fn wg(ns: &Ns, args: &str) -> String {
    ns.run(&format!("wg {args}"))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn wg_show_family_on_a_live_tunnel() {
    require_root();
    let t = Tunnel::new(false);
    assert!(t.u.a.ping(&t.in_b4, 2));
    let (a, ia) = (&t.u.a, &t.ia);
    let pa = pubkey(&t.da, ia);
    let pb = pubkey(&t.db, &t.ib);
    let show = wg(a, &format!("show {ia}"));
    for want in [
        format!("interface: {ia}\n"),
        format!("  public key: {pa}\n"),
        "  private key: (hidden)\n".to_string(),
        format!("  listening port: {}\n", t.port_a),
        format!("peer: {pb}\n"),
        format!("  endpoint: {}:{}\n", t.u.b4, t.port_b),
        "  latest handshake: ".to_string(),
        "  transfer: ".to_string(),
    ] {
        assert!(show.contains(&want), "missing {want:?} in:\n{show}");
    }
    assert!(wg(a, "show all").contains(&format!("interface: {ia}")));
    assert!(wg(a, "show interfaces").split_whitespace().any(|x| x == ia));
    assert_eq!(wg(a, &format!("show {ia} public-key")).trim(), pa);
    let key = field(&t.da.ok(&format!("-k {ia}")), "wgkey").unwrap();
    assert_eq!(wg(a, &format!("show {ia} private-key")).trim(), key);
    assert_eq!(
        wg(a, &format!("show {ia} listen-port")).trim(),
        t.port_a.to_string()
    );
    assert_eq!(wg(a, &format!("show {ia} peers")).trim(), pb);
    assert_eq!(
        wg(a, &format!("show {ia} endpoints")).trim(),
        format!("{pb}\t{}:{}", t.u.b4, t.port_b)
    );
    let hs: u64 = wg(a, &format!("show {ia} latest-handshakes"))
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(now() - hs < 60, "handshake {hs} not recent");
    let tr: Vec<u64> = wg(a, &format!("show {ia} transfer"))
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(tr[0] > 0 && tr[1] > 0, "transfer {tr:?}");
    // One state: ifconfig-wg shows the same counters and handshake time
    // (read back to back; keepalives are 10 s apart, so nothing moved).
    let s = t.da.ok(ia);
    assert!(
        s.contains(&format!(
            "\t\ttx: {} (bytes), rx: {} (bytes)\n",
            tr[1], tr[0]
        )),
        "wg transfer {tr:?} vs\n{s}"
    );
    let ago: u64 = field(&s, "last handshake")
        .as_deref()
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        now() - hs <= ago + 1 && ago <= now() - hs + 1,
        "{ago} s ago vs {hs}"
    );
    let dump = wg(a, &format!("show {ia} dump"));
    let peer_line: Vec<&str> = dump.lines().nth(1).unwrap().split('\t').collect();
    assert_eq!(peer_line[0], pb);
    assert_eq!(peer_line[1], "(none)");
    assert_eq!(peer_line[7], "off");
    let allowed = wg(a, &format!("show {ia} allowed-ips"));
    assert!(allowed.contains(&format!("{}/32", t.in_b4)), "{allowed}");
}

#[test]
fn setconf_addconf_syncconf_showconf() {
    require_root();
    let ns = Ns::new("w");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    let dir = format!("/tmp/wgt-conf-{}", unique());
    ok(&format!("mkdir -p {dir}"));
    let _cleanup = Cleanup(dir.clone());
    let key = ok("wg genkey").trim().to_string();
    let (p1, p2, p3) = (
        ok("wg genkey | wg pubkey").trim().to_string(),
        ok("wg genkey | wg pubkey").trim().to_string(),
        ok("wg genkey | wg pubkey").trim().to_string(),
    );
    d.ok(&format!("{i} create"));
    let conf = format!(
        "[Interface]\nPrivateKey = {key}\nListenPort = 51234\n\n[Peer]\nPublicKey = {p1}\nAllowedIPs = 10.1.0.0/16\nEndpoint = 127.0.0.1:1111\nPersistentKeepalive = 25\n\n[Peer]\nPublicKey = {p2}\nAllowedIPs = 10.2.0.0/16\n"
    );
    std::fs::write(format!("{dir}/a.conf"), &conf).unwrap();
    wg(&ns, &format!("setconf {i} {dir}/a.conf"));
    let s = d.ok(&i);
    assert!(
        s.contains(&format!("\twgpeer: {p1}\n")) && s.contains(&format!("\twgpeer: {p2}\n")),
        "{s}"
    );
    assert!(
        s.contains("\twgport: 51234\n") && s.contains("\t\twgpka: 25 (seconds)\n"),
        "{s}"
    );
    let shown = wg(&ns, &format!("showconf {i}"));
    assert!(shown.contains(&format!("PrivateKey = {key}")), "{shown}");
    // setconf of what showconf printed changes nothing.
    std::fs::write(format!("{dir}/b.conf"), &shown).unwrap();
    wg(&ns, &format!("setconf {i} {dir}/b.conf"));
    assert_eq!(wg(&ns, &format!("showconf {i}")), shown);
    // addconf adds p3 and keeps the others.
    std::fs::write(
        format!("{dir}/c.conf"),
        format!("[Peer]\nPublicKey = {p3}\nAllowedIPs = 10.3.0.0/16\n"),
    )
    .unwrap();
    wg(&ns, &format!("addconf {i} {dir}/c.conf"));
    let peers = wg(&ns, &format!("show {i} peers"));
    assert_eq!(peers.lines().count(), 3, "{peers}");
    // syncconf to p1 only, with new allowed IPs: p2 and p3 go.
    std::fs::write(
        format!("{dir}/d.conf"),
        format!("[Interface]\nPrivateKey = {key}\nListenPort = 51234\n\n[Peer]\nPublicKey = {p1}\nAllowedIPs = 10.9.0.0/16, fd09::/64\n"),
    )
    .unwrap();
    wg(&ns, &format!("syncconf {i} {dir}/d.conf"));
    assert_eq!(wg(&ns, &format!("show {i} peers")).trim(), p1);
    let s = d.ok(&i);
    assert!(
        s.contains("\t\twgaip: 10.9.0.0/16\n") && !s.contains("10.1.0.0"),
        "{s}"
    );
    // wg set, both ways of removing.
    wg(&ns, &format!("set {i} peer {p2} allowed-ips 10.2.0.0/16"));
    wg(&ns, &format!("set {i} peer {p1} remove"));
    assert_eq!(wg(&ns, &format!("show {i} peers")).trim(), p2);
    // The daemon refuses a low-order key; wg(8) reports it and nothing
    // of the request (the new port) is applied.
    let zero = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let o = ns.exec(&format!(
        "wg set {i} listen-port 51235 peer {zero} allowed-ips 10.5.0.0/16"
    ));
    assert!(!o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("Unable to modify interface: Invalid argument\n")
    );
    assert_eq!(wg(&ns, &format!("show {i} listen-port")).trim(), "51234");
    assert_eq!(wg(&ns, &format!("show {i} peers")).trim(), p2);
}

struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn wg_quick_up_and_down() {
    require_root();
    let u = Underlay::new();
    let da = Wgd::start(&u.a);
    let db = Wgd::start(&u.b);
    let (qa, ib, other) = (
        format!("wg{}", unique()),
        format!("wg{}", unique()),
        format!("wg{}", unique()),
    );
    // An interface that wg-quick must leave alone.
    da.ok(&format!("{other} create wgport 52222 up"));
    db.ok(&format!("{ib} create wgkey {} wgport 51821", genkey()));
    let pb = pubkey(&db, &ib);
    let key = ok("wg genkey").trim().to_string();
    let pa = ok(&format!("echo {key} | wg pubkey")).trim().to_string();
    db.ok(&format!(
        "{ib} wgpeer {pa} wgaip 10.44.0.1/32 wgaip fd44::1/128 inet 10.44.0.2/24 inet6 fd44::2/64 up"
    ));
    let dir = format!("/tmp/wgt-quick-{}", unique());
    ok(&format!("mkdir -p {dir} && chmod 700 {dir}"));
    let _cleanup = Cleanup(dir.clone());
    let conf = format!("{dir}/{qa}.conf");
    std::fs::write(
        &conf,
        format!(
            "[Interface]\nPrivateKey = {key}\nListenPort = 51820\nAddress = 10.44.0.1/24, fd44::1/64\nMTU = 1380\n\n[Peer]\nPublicKey = {pb}\nAllowedIPs = 10.44.0.2/32, fd44::2/128\nEndpoint = {}:51821\n",
            u.b4
        ),
    )
    .unwrap();
    ok(&format!("chmod 600 {conf}"));
    let env = format!(
        "env WG_QUICK_USERSPACE_IMPLEMENTATION={} WGD_SOCKET={}",
        bin("wgd").display(),
        da.sock
    );
    u.a.run(&format!("{env} wg-quick up {conf}"));
    let s = da.ok(&qa);
    assert!(
        s.starts_with(&format!(
            "{qa}: flags=c1<UP,RUNNING,NOARP> metric 0 mtu 1380"
        )),
        "{s}"
    );
    assert!(std::path::Path::new(&format!("/var/run/wireguard/{qa}.sock")).exists());
    assert!(u.a.ping("10.44.0.2", 3), "v4 through the wg-quick tunnel");
    assert!(u.a.ping("fd44::2", 3), "v6 through the wg-quick tunnel");
    u.a.run(&format!("{env} wg-quick down {conf}"));
    assert!(
        wait_until(5, || !da.ok("-l").contains(&qa)),
        "{}",
        da.ok("-l")
    );
    assert!(!u.a.link_exists(&qa));
    assert!(!std::path::Path::new(&format!("/var/run/wireguard/{qa}.sock")).exists());
    // The other interface is untouched.
    assert_eq!(da.ok("-l").trim(), other);
    assert!(da
        .ok(&other)
        .starts_with(&format!("{other}: flags=c1<UP,RUNNING,NOARP>")));
}

#[test]
fn launcher_starts_a_daemon_when_none_runs() {
    require_root();
    let ns = Ns::new("l");
    let i = format!("wg{}", unique());
    let sock = format!("/tmp/wgt-launch-{}.sock", unique());
    ns.run(&format!(
        "env WGD_SOCKET={sock} {} {i}",
        bin("wgd").display()
    ));
    // The daemon it started: find it by its socket, end it by that PID.
    let ss = ns.run(&format!("ss -xlpn src {sock}"));
    let pid: u32 = ss
        .split("pid=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {ss}"));
    let listed = ns.run(&format!("{} -S {sock} -l", bin("ifconfig-wg").display()));
    assert!(std::path::Path::new(&format!("/var/run/wireguard/{i}.sock")).exists());
    ok(&format!("kill -TERM {pid}"));
    assert!(wait_until(5, || !std::path::Path::new(&format!(
        "/proc/{pid}"
    ))
    .exists()));
    assert_eq!(listed.trim(), i);
    assert!(!ns.link_exists(&i));
    // A name that is not wgN, as wg-quick takes from the .conf file name.
    let d0 = Wgd::start(&ns);
    let other = format!("wgq{}", unique());
    ns.run(&format!(
        "env WGD_SOCKET={} {} {other}",
        d0.sock,
        bin("wgd").display()
    ));
    assert_eq!(d0.ok("-l").trim(), other);
    assert!(std::path::Path::new(&format!("/var/run/wireguard/{other}.sock")).exists());
    drop(d0);
    // A second launch for an existing name fails.
    let d = Wgd::start(&ns);
    d.ok(&format!("{i} create"));
    let o = ns.exec(&format!(
        "env WGD_SOCKET={} {} {i}",
        d.sock,
        bin("wgd").display()
    ));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("wgd: interface {i} already exists\n")
    );
}

/// IPv6 link-local endpoints with a scope: wg(8) sends the interface
/// name, the daemon takes a name or an index, and both wg(8) and
/// ifconfig-wg show the name; showconf output feeds setconf unchanged.
#[test]
fn scoped_link_local_endpoints_round_trip() {
    require_root();
    let u = Underlay::new();
    let d = Wgd::start(&u.a);
    let i = format!("wg{}", unique());
    let dev = u.va.clone();
    let index =
        u.a.run(&format!("cat /sys/class/net/{dev}/ifindex"))
            .trim()
            .to_string();
    d.ok(&format!("{i} create wgkey {} wgport 51830", genkey()));
    let (k1, k2, k3) = (
        ok("wg genkey | wg pubkey").trim().to_string(),
        ok("wg genkey | wg pubkey").trim().to_string(),
        ok("wg genkey | wg pubkey").trim().to_string(),
    );
    wg(
        &u.a,
        &format!("set {i} peer {k1} endpoint [fe80::2%{dev}]:51820"),
    );
    wg(
        &u.a,
        &format!("set {i} peer {k2} endpoint [fe80::3%{index}]:51821"),
    );
    d.ok(&format!("{i} wgpeer {k3} wgendpoint fe80::4%{dev} 51822"));
    let st = d.ok(&i);
    for (n, port) in [(2, 51820), (3, 51821), (4, 51822)] {
        let want = format!("\t\twgendpoint: fe80::{n}%{dev} {port}\n");
        assert!(st.contains(&want), "missing {want:?} in\n{st}");
    }
    let eps = wg(&u.a, &format!("show {i} endpoints"));
    assert!(eps.contains(&format!("[fe80::2%{dev}]:51820")), "{eps}");
    let conf = wg(&u.a, &format!("showconf {i}"));
    assert!(
        conf.contains(&format!("Endpoint = [fe80::3%{dev}]:51821")),
        "{conf}"
    );
    let path = format!("/tmp/wgt-scoped-{}.conf", unique());
    std::fs::write(&path, &conf).unwrap();
    let o = u.a.exec(&format!("wg setconf {i} {path}"));
    let _ = std::fs::remove_file(&path);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(wg(&u.a, &format!("showconf {i}")), conf);
    // An unknown scope is refused.
    let o = u.a.exec(&format!(
        "wg set {i} peer {k1} endpoint [fe80::9%nosuchif0]:1"
    ));
    assert!(!o.status.success());
    assert!(d.ok(&i).contains(&format!("fe80::2%{dev} 51820")));
}
