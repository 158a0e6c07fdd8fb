//! Multicast through wg: a packet to 224.0.0.0/4 or ff02::/16 goes to the
//! peer whose allowed IPs cover the group, and to no other peer.

mod common;
use common::*;

/// Listen on `ifname` for one datagram to `group` port 9999 (5 s at most);
/// prints what arrived, or nothing.
fn listener(ns: &Ns, ifname: &str, group: &str, local: &str) -> std::process::Child {
    let py = if group.contains(':') {
        format!(
            "import socket,struct; s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('::',9999)); idx=socket.if_nametoindex('{ifname}'); s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_JOIN_GROUP,socket.inet_pton(socket.AF_INET6,'{group}')+struct.pack('@I',idx)); s.settimeout(5)\ntry: print(s.recv(100).decode())\nexcept Exception: pass"
        )
    } else {
        format!(
            "import socket; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(('0.0.0.0',9999)); s.setsockopt(socket.IPPROTO_IP,socket.IP_ADD_MEMBERSHIP,socket.inet_aton('{group}')+socket.inet_aton('{local}')); s.settimeout(5)\ntry: print(s.recv(100).decode())\nexcept Exception: pass"
        )
    };
    std::process::Command::new("ip")
        .args(["netns", "exec", &ns.name, "python3", "-c", &py])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

fn send(ns: &Ns, ifname: &str, group: &str, local: &str) {
    let py = if group.contains(':') {
        format!(
            "import socket; s=socket.socket(socket.AF_INET6,socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_MULTICAST_IF,socket.if_nametoindex('{ifname}')); [s.sendto(b'hello {group}',('{group}',9999,0,socket.if_nametoindex('{ifname}'))) for _ in range(5)]"
        )
    } else {
        format!(
            "import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_IF,socket.inet_aton('{local}')); [s.sendto(b'hello {group}',('{group}',9999)) for _ in range(5)]"
        )
    };
    ns.run(&format!("python3 -c \"{py}\""));
}

#[test]
fn multicast_goes_to_the_peer_whose_aips_cover_it() {
    require_root();
    let hub = Ns::new("m");
    let (b, c) = (Ns::new("mb"), Ns::new("mc"));
    let dh = Wgd::start(&hub);
    let (db, dc) = (Wgd::start(&b), Wgd::start(&c));
    let (ih, ib, ic) = (
        format!("wg{}", unique()),
        format!("wg{}", unique()),
        format!("wg{}", unique()),
    );
    for (k, ns) in [(1, &b), (2, &c)] {
        let (vh, vo) = (format!("vm{}h", unique()), format!("vm{}o", unique()));
        ok(&format!(
            "ip link add {vh} netns {} type veth peer name {vo} netns {}",
            hub.name, ns.name
        ));
        hub.run(&format!("ip addr add 172.30.{k}.1/24 dev {vh}"));
        ns.run(&format!("ip addr add 172.30.{k}.2/24 dev {vo}"));
        hub.run(&format!("ip link set {vh} up"));
        ns.run(&format!("ip link set {vo} up"));
    }
    dh.ok(&format!("{ih} create wgkey {} wgport 51820", genkey()));
    db.ok(&format!("{ib} create wgkey {} wgport 51821", genkey()));
    dc.ok(&format!("{ic} create wgkey {} wgport 51822", genkey()));
    let (ph, pb, pc) = (pubkey(&dh, &ih), pubkey(&db, &ib), pubkey(&dc, &ic));
    // b's allowed IPs cover the groups; c's do not.
    db.ok(&format!("{ib} wgpeer {ph} wgendpoint 172.30.1.1 51820 wgaip 10.8.0.1 wgaip fe80::1 inet 10.8.0.2/24 inet6 fe80::2/64 link1 up"));
    dc.ok(&format!("{ic} wgpeer {ph} wgendpoint 172.30.2.1 51820 wgaip 10.8.0.1 wgaip fe80::1 inet 10.8.0.3/24 inet6 fe80::3/64 link1 up"));
    // The hub comes up last: its first IPv6 packets (MLD, DAD) go to
    // ff02::/16, so to b, and start a handshake at once; were b not yet
    // configured, that initiation would be lost and the next one only
    // due 5 s later (REKEY_TIMEOUT), after the ping below gave up.
    dh.ok(&format!(
        "{ih} wgpeer {pb} wgendpoint 172.30.1.2 51821 wgaip 10.8.0.2 wgaip 224.0.0.0/4 wgaip ff02::/16 wgpeer {pc} wgendpoint 172.30.2.2 51822 wgaip 10.8.0.3 inet 10.8.0.1/24 inet6 fe80::1/64 link1 up"
    ));
    assert!(hub.ping("10.8.0.2", 1) && hub.ping("10.8.0.3", 1));

    for (group, lb, lc, lh) in [
        ("239.1.2.3", "10.8.0.2", "10.8.0.3", "10.8.0.1"),
        ("ff02::1234", "", "", ""),
    ] {
        let rb = listener(&b, &ib, group, lb);
        let rc = listener(&c, &ic, group, lc);
        std::thread::sleep(std::time::Duration::from_millis(500));
        send(&hub, &ih, group, lh);
        let got_b = String::from_utf8_lossy(&rb.wait_with_output().unwrap().stdout).into_owned();
        let got_c = String::from_utf8_lossy(&rc.wait_with_output().unwrap().stdout).into_owned();
        assert_eq!(got_b.trim(), format!("hello {group}"), "covering peer");
        assert_eq!(got_c.trim(), "", "the other peer got {group}");
    }
}
