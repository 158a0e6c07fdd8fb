//! On the wire with the implementations people run: wgd against
//! wireguard-go (Debian) and boringtun-cli (crates.io), each side
//! initiating first, with and without a pre-shared key, over outer IPv4
//! and IPv6, with inner IPv4 and IPv6. Each case pings both ways, runs
//! iperf3 for 3 s each way (wgd sending over inner IPv6 where the outer
//! is IPv6), checks that the far side's kernel found no TCP checksum
//! wrong in what wgd split from its super-packets (the foreign side
//! writes plain packets, which the kernel checks), and reads the far
//! side's wg show.

mod common;
use common::*;
use std::time::{SystemTime, UNIX_EPOCH};

fn iperf_bps(client: &Ns, server_addr: &str, reverse: bool) -> f64 {
    let out = client.run(&format!(
        "iperf3 -J -t 3 -c {server_addr} -p 5301 {}",
        if reverse { "-R" } else { "" }
    ));
    let key = "\"sum_received\":";
    let Some(at) = out.find(key) else {
        panic!("iperf3 to {server_addr} gave no result: {out}");
    };
    let tail = &out[at + key.len()..];
    let bps = &tail[tail.find("\"bits_per_second\":").unwrap() + 18..];
    bps.trim_start()
        .split([',', '\n', '}'])
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Start a one-off iperf3 server in `ns` on port 5301 once the last one
/// has gone (it closes its socket a moment after its client is done; a
/// second server started before that cannot bind, and `-D` hides it),
/// and return when it listens.
fn iperf_server(ns: &Ns) {
    let listening = || !ns.run("ss -Hltn 'sport = :5301'").trim().is_empty();
    assert!(
        wait_until(5, || !listening()),
        "the last iperf3 server is still there"
    );
    ns.run("iperf3 -s -D -1 -p 5301");
    assert!(wait_until(5, listening), "iperf3 -s does not listen");
}

/// TCP segments a namespace's kernel dropped for a bad checksum.
fn tcp_csum_errors(ns: &Ns) -> u64 {
    let snmp = ns.run("cat /proc/net/snmp");
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap(), tcp.next().unwrap());
    let at = names.split_whitespace().position(|n| n == "InCsumErrors");
    values
        .split_whitespace()
        .nth(at.unwrap())
        .unwrap()
        .parse()
        .unwrap()
}

fn case(kind: Impl, wgd_first: bool, psk: bool, outer_v6: bool) {
    require_root();
    let u = Underlay::new();
    let d = Wgd::start(&u.a);
    let n = unique();
    let (ia, ib) = (format!("wg{n}"), format!("wg{}", unique()));
    let f = Foreign::start(kind, &u.b, &ib);
    let x = n % 250 + 1;
    let (a4, b4, a6, b6) = (
        format!("10.{x}.1.1"),
        format!("10.{x}.1.2"),
        format!("fd{x:x}:1::1"),
        format!("fd{x:x}:1::2"),
    );
    let (ua, ub) = if outer_v6 {
        (u.a6.clone(), u.b6.clone())
    } else {
        (u.a4.clone(), u.b4.clone())
    };
    let fmt_ep = |a: &str, p: u16| {
        if a.contains(':') {
            format!("[{a}]:{p}")
        } else {
            format!("{a}:{p}")
        }
    };

    let key_b = ok("wg genkey").trim().to_string();
    let pub_b = ok(&format!("echo {key_b} | wg pubkey")).trim().to_string();
    d.ok(&format!("{ia} create wgkey {} wgport 51820", genkey()));
    let pub_a = pubkey(&d, &ia);
    let psk_val = ok("wg genpsk").trim().to_string();
    let psk_words = if psk {
        format!("wgpsk {psk_val}")
    } else {
        String::new()
    };
    d.ok(&format!(
        "{ia} wgpeer {pub_b} {psk_words} wgendpoint {ub} 51821 wgaip {b4}/32 wgaip {b6}/128 inet {a4}/24 inet6 {a6}/64 up"
    ));
    let keyfile = format!("/tmp/wgt-key-{n}");
    let pskfile = format!("/tmp/wgt-psk-{n}");
    std::fs::write(&keyfile, &key_b).unwrap();
    std::fs::write(&pskfile, &psk_val).unwrap();
    let psk_arg = if psk {
        format!("preshared-key {pskfile}")
    } else {
        String::new()
    };
    u.b.run(&format!(
        "wg set {ib} private-key {keyfile} listen-port 51821 peer {pub_a} {psk_arg} endpoint {} allowed-ips {a4}/32,{a6}/128",
        fmt_ep(&ua, 51820)
    ));
    let _ = std::fs::remove_file(&keyfile);
    let _ = std::fs::remove_file(&pskfile);
    u.b.run(&format!("ip addr add {b4}/24 dev {ib}"));
    u.b.run(&format!("ip addr add {b6}/64 dev {ib} nodad"));
    u.b.run(&format!("ip link set {ib} up"));

    // Whoever pings first initiates the handshake.
    let (first, second, to_second4, to_first4, to_second6, to_first6) = if wgd_first {
        (&u.a, &u.b, &b4, &a4, &b6, &a6)
    } else {
        (&u.b, &u.a, &a4, &b4, &a6, &b6)
    };
    assert!(first.ping(to_second4, 3), "{kind:?}: first -> second v4");
    assert!(second.ping(to_first4, 3), "{kind:?}: second -> first v4");
    assert!(first.ping(to_second6, 3), "{kind:?}: first -> second v6");
    assert!(second.ping(to_first6, 3), "{kind:?}: second -> first v6");

    // iperf3 both ways through the tunnel (server in the foreign side).
    iperf_server(&u.b);
    let inner = if outer_v6 { &b6 } else { &b4 };
    let up = iperf_bps(&u.a, inner, false);
    iperf_server(&u.b);
    let down = iperf_bps(&u.a, &b4, true);
    assert!(up > 0.0 && down > 0.0, "{kind:?}: iperf3 {up} / {down}");
    assert_eq!(
        tcp_csum_errors(&u.b),
        0,
        "{kind:?}: bad TCP checksums from wgd"
    );

    // The far side saw a recent handshake and traffic.
    let hs: u64 =
        u.b.run(&format!("wg show {ib} latest-handshakes"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // boringtun-cli reports the age of the handshake where the UAPI wants
    // a Unix time (its device/api.rs writes time_since_last_handshake).
    let age = match kind {
        Impl::Boringtun => hs,
        Impl::WireguardGo => now.saturating_sub(hs),
    };
    assert!(hs > 0 && age < 120, "{kind:?}: handshake {hs}");
    let tr: Vec<u64> =
        u.b.run(&format!("wg show {ib} transfer"))
            .split_whitespace()
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
    assert!(
        tr[0] > 1_000_000 && tr[1] > 1_000_000,
        "{kind:?}: transfer {tr:?}"
    );
    // And so did we.
    let s = d.ok(&ia);
    assert!(s.contains("\t\tlast handshake: "), "{s}");
    if psk {
        assert!(s.contains("\t\twgpsk: (present)\n"));
    }
    drop(f);
}

macro_rules! cases {
    ($($name:ident: $kind:expr, $wgd_first:expr, $psk:expr, $v6:expr;)*) => {
        $(#[test] fn $name() { case($kind, $wgd_first, $psk, $v6); })*
    };
}

cases! {
    go_wgd_first_v4: Impl::WireguardGo, true, false, false;
    go_wgd_first_psk_v6: Impl::WireguardGo, true, true, true;
    go_go_first_psk_v4: Impl::WireguardGo, false, true, false;
    go_go_first_v6: Impl::WireguardGo, false, false, true;
    go_wgd_first_psk_v4: Impl::WireguardGo, true, true, false;
    go_go_first_psk_v6: Impl::WireguardGo, false, true, true;
    bt_wgd_first_v4: Impl::Boringtun, true, false, false;
    bt_wgd_first_psk_v6: Impl::Boringtun, true, true, true;
    bt_bt_first_psk_v4: Impl::Boringtun, false, true, false;
    bt_bt_first_v6: Impl::Boringtun, false, false, true;
    bt_wgd_first_psk_v4: Impl::Boringtun, true, true, false;
    bt_bt_first_psk_v6: Impl::Boringtun, false, true, true;
}
