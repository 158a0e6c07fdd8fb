//! The protocol's timers measured on the wire (tcpdump on the underlay),
//! against the values of the reference implementations (wireguard-go and
//! the Linux driver agree): passive keepalive 10 s after data, a new
//! handshake 15 s after an unanswered send, rekey after 120 s only when
//! sending, sessions rejected after 180 s, retries every 5 s plus up to
//! 333 ms of jitter and 20 initiations in all, persistent keepalive
//! counted from the last packet, no keepalive after a response when data
//! is waiting.
//!
//! Every scenario has its own namespaces and daemons and they all run at
//! once, so the whole file takes as long as the slowest (the 180 s one).

mod common;

use common::capture::{now, Capture, Msg};
use common::*;
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

fn sleep_until(t: f64) {
    let left = t - now();
    if left > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(left));
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Messages sent by `src`, between `from` and `to` (wall-clock seconds).
fn sent_by(m: &[Msg], src: &str, from: f64, to: f64) -> Vec<Msg> {
    m.iter()
        .filter(|x| x.src == ip(src) && x.t >= from && x.t < to)
        .cloned()
        .collect()
}

/// "I" initiation, "R" response, "C" cookie, "D" data, "K" keepalive.
fn shape(m: &[Msg]) -> String {
    m.iter()
        .map(|x| match x.kind {
            1 => 'I',
            2 => 'R',
            3 => 'C',
            _ if x.is_keepalive() => 'K',
            _ => 'D',
        })
        .collect()
}

fn show(m: &[Msg], t0: f64) -> String {
    m.iter()
        .map(|x| {
            format!(
                "{:8.3} {} -> {} type {} len {}\n",
                x.t - t0,
                x.src,
                x.dst,
                x.kind,
                x.len
            )
        })
        .collect()
}

/// Rows "passive keepalive" and "after a handshake response": a's ping
/// waits for the handshake and goes out instead of a keepalive; a, which
/// received the echo reply and sent nothing after it, sends one
/// keepalive 10 s later; nobody starts another handshake (b heard back).
/// `peer`: wireguard-go instead of wgd on b's side.
fn passive_keepalive(peer: Option<Impl>) {
    let u = Underlay::new();
    let d = Wgd::start(&u.a);
    let n = unique();
    let (ia, ib) = (format!("wg{n}"), format!("wg{}", unique()));
    let x = n % 250 + 1;
    let (a4, b4) = (format!("10.{x}.3.1"), format!("10.{x}.3.2"));
    let key_b = ok("wg genkey").trim().to_string();
    let pub_b = ok(&format!("echo {key_b} | wg pubkey")).trim().to_string();
    d.ok(&format!("{ia} create wgkey {} wgport 51820", genkey()));
    let pub_a = pubkey(&d, &ia);
    d.ok(&format!(
        "{ia} wgpeer {pub_b} wgendpoint {} 51821 wgaip {b4}/32 inet {a4}/24 up",
        u.b4
    ));
    let _keep = match peer {
        Some(kind) => {
            let f = Foreign::start(kind, &u.b, &ib);
            let keyfile = format!("/tmp/wgt-key-{n}");
            std::fs::write(&keyfile, &key_b).unwrap();
            u.b.run(&format!(
                "wg set {ib} private-key {keyfile} listen-port 51821 peer {pub_a} endpoint {}:51820 allowed-ips {a4}/32",
                u.a4
            ));
            let _ = std::fs::remove_file(&keyfile);
            u.b.run(&format!("ip addr add {b4}/24 dev {ib}"));
            u.b.run(&format!("ip link set {ib} up"));
            (Some(f), None)
        }
        None => {
            let db = Wgd::start(&u.b);
            db.ok(&format!("{ib} create wgkey {key_b} wgport 51821"));
            db.ok(&format!(
                "{ib} wgpeer {pub_a} wgaip {a4}/32 inet {b4}/24 up"
            ));
            (None, Some(db))
        }
    };
    let cap = Capture::start(&u.a, &u.va);
    let t0 = now();
    assert!(u.a.ping(&b4, 1), "ping across");
    sleep_until(t0 + 16.0);
    let m = cap.messages();
    let from_a = sent_by(&m, &u.a4, t0, f64::MAX);
    let from_b = sent_by(&m, &u.b4, t0, f64::MAX);
    let all = show(&m, t0);
    assert_eq!(shape(&from_a), "IDK", "a sent:\n{all}");
    assert_eq!(shape(&from_b), "RD", "b sent:\n{all}");
    let gap = from_a[2].t - from_b[1].t;
    assert!(
        (9.9..10.5).contains(&gap),
        "keepalive {gap:.3} s after the reply, not 10:\n{all}"
    );
}

/// Row "new handshake when sent data gets no answer": 15 s (plus
/// jitter) after the unanswered send, not at the first packet after 15 s
/// of quiet.
fn new_handshake_after_unanswered_send() {
    let t = Tunnel::new(false);
    t.da.ok(&format!("{} debug", t.ia));
    let cap = Capture::start(&t.u.a, &t.u.va);
    let t0 = now();
    assert!(t.u.a.ping(&t.in_b4, 1), "ping across");
    // b stops answering: its port is closed.
    t.db.ok(&format!("{} down", t.ib));
    sleep_until(t0 + 17.0);
    let ts = now();
    assert!(!t.u.a.ping(&t.in_b4, 1), "b answered while down");
    sleep_until(ts + 17.0);
    let m = cap.messages();
    let all = show(&m, ts);
    let after = sent_by(&m, &t.u.a4, ts, f64::MAX);
    assert_eq!(shape(&after[..2.min(after.len())]), "DI", "a sent:\n{all}");
    let wait = after[1].t - after[0].t;
    assert!(
        (14.98..15.45).contains(&wait),
        "initiation {wait:.3} s after the unanswered data, not 15 s + jitter:\n{all}"
    );
    let log = t.da.log_text();
    assert!(
        log.contains(&format!(
            "{}: Retrying handshake with peer 1, because we stopped hearing back after 15 seconds",
            t.ia
        )),
        "{log}"
    );
}

/// Row "persistent keepalive": counted from the last packet in either
/// direction, so a peer that keeps receiving sends none (only the
/// passive one, 10 s after data); turning it on without a session sends
/// one initiation and, after the response, exactly one keepalive.
fn persistent_keepalive_from_last_packet() {
    let t = Tunnel::new(false);
    let (ia, ib) = (&t.ia, &t.ib);
    let pb = pubkey(&t.db, ib);
    // Something on a takes b's datagrams without answering (no ICMP).
    let mut sink = Command::new("ip")
        .args(["netns", "exec", &t.u.a.name, "python3", "-c"])
        .arg(format!(
            "import socket,time\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('{}',9999))\ntime.sleep(60)",
            t.in_a4
        ))
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 sink");
    let cap = Capture::start(&t.u.a, &t.u.va);
    assert!(wait_until(5, || t
        .u
        .a
        .run("ss -uln")
        .contains(&format!("{}:9999", t.in_a4))));
    let tp = now();
    t.da.ok(&format!("{ia} wgpeer {pb} wgpka 3"));
    sleep_until(tp + 1.5);
    let t1 = now();
    t.u.b.run(&format!(
        "bash -c 'for i in $(seq 24); do echo x > /dev/udp/{}/9999; sleep 0.5; done'",
        t.in_a4
    ));
    let tl = now();
    sleep_until(tl + 5.0);
    end_child(&mut sink);
    let m = cap.messages();
    let all = show(&m, tp);
    let a4 = &t.u.a4;
    assert_eq!(
        shape(&sent_by(&m, a4, tp, t1)),
        "IK",
        "wgpka without a session: one initiation, one keepalive:\n{all}"
    );
    let from_b = sent_by(&m, &t.u.b4, t1, tl + 0.5);
    assert!(from_b.len() >= 20, "b's stream:\n{all}");
    let (first_in, last_in) = (from_b[0].t, from_b[from_b.len() - 1].t);
    let during = sent_by(&m, a4, t1, last_in + 0.1);
    assert_eq!(
        shape(&during),
        "K",
        "while receiving: only the passive keepalive:\n{all}"
    );
    let passive = during[0].t - first_in;
    assert!(
        (9.9..10.5).contains(&passive),
        "passive at {passive:.3}:\n{all}"
    );
    let next = sent_by(&m, a4, last_in + 0.1, f64::MAX);
    assert!(!next.is_empty(), "no keepalive after the stream:\n{all}");
    let after = next[0].t - last_in;
    assert!(
        next[0].is_keepalive() && (2.9..3.5).contains(&after),
        "persistent keepalive {after:.3} s after the last packet, not 3:\n{all}"
    );
}

/// Row "retries": 5 s plus 0-333 ms apart, 20 initiations in all, then
/// wg(4)'s give-up message and silence.
fn retries_with_jitter_then_give_up() {
    let u = Underlay::new();
    let d = Wgd::start(&u.a);
    let ia = format!("wg{}", unique());
    let nobody = ok("wg genkey | wg pubkey").trim().to_string();
    let x = unique() % 250 + 1;
    d.ok(&format!(
        "{ia} create debug wgkey {} wgpeer {nobody} wgendpoint {} 9 wgaip 10.{x}.4.2 inet 10.{x}.4.1/24 up",
        genkey(),
        u.b4
    ));
    let cap = Capture::start(&u.a, &u.va);
    let t0 = now();
    let _ = u.a.exec(&format!("ping -c 1 -W 1 10.{x}.4.2"));
    sleep_until(t0 + 115.0);
    let m = cap.messages();
    let all = show(&m, t0);
    let inits = sent_by(&m, &u.a4, t0, f64::MAX);
    assert_eq!(shape(&inits), "I".repeat(20), "a sent:\n{all}");
    let gaps: Vec<f64> = inits.windows(2).map(|w| w[1].t - w[0].t).collect();
    for g in &gaps {
        assert!(
            (4.995..5.4).contains(g),
            "retry {g:.3} s after the last, not 5 s + jitter:\n{all}"
        );
    }
    let spread =
        gaps.iter().cloned().fold(0.0, f64::max) - gaps.iter().cloned().fold(9.0, f64::min);
    assert!(spread > 0.05, "no jitter in {gaps:?}");
    let log = d.log_text();
    assert!(
        log.contains(&format!(
            "{ia}: Handshake for peer 1 did not complete after 5 seconds, retrying (try 20)"
        )) && !log.contains("(try 21)"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "{ia}: Handshake for peer 1 did not complete after 20 retries, giving up"
        )),
        "{log}"
    );
    // Something new to send starts a handshake again at once.
    let t1 = now();
    let _ = u.a.exec(&format!("ping -c 1 -W 1 10.{x}.4.2"));
    let again = sent_by(&cap.messages(), &u.a4, t1, f64::MAX);
    assert!(
        again.first().is_some_and(|m| m.kind == 1 && m.t - t1 < 0.5),
        "after giving up:\n{}",
        show(&again, t1)
    );
}

/// Row "rekey after 120 s": an idle session is not renewed; the
/// initiator's first packet after 120 s goes out on the old session with
/// a new initiation right behind it.
fn rekey_only_when_sending_after_120_seconds() {
    let t = Tunnel::new(false);
    let cap = Capture::start(&t.u.a, &t.u.va);
    let t0 = now();
    assert!(t.u.a.ping(&t.in_b4, 1), "ping across");
    sleep_until(t0 + 125.0);
    let ts = now();
    assert!(t.u.a.ping(&t.in_b4, 1), "ping after 125 s");
    sleep_until(ts + 3.0);
    let m = cap.messages();
    let all = show(&m, t0);
    let idle = |src: &str| shape(&sent_by(&m, src, t0 + 1.0, ts));
    assert_eq!(idle(&t.u.a4), "K", "a while idle:\n{all}");
    assert_eq!(idle(&t.u.b4), "", "b while idle:\n{all}");
    let a = sent_by(&m, &t.u.a4, ts, f64::MAX);
    assert!(
        shape(&a).starts_with("DI") && a[1].t - a[0].t < 0.5,
        "a's packet after 120 s and a rekey right behind it:\n{all}"
    );
}

/// Sessions are rejected after 180 s: the responder, which never rekeys
/// on age, then starts a handshake instead of sending on the old session.
fn responder_session_rejected_after_180_seconds() {
    let t = Tunnel::new(false);
    let cap = Capture::start(&t.u.a, &t.u.va);
    let t0 = now();
    assert!(t.u.a.ping(&t.in_b4, 1), "ping across");
    sleep_until(t0 + 183.0);
    let ts = now();
    assert!(t.u.b.ping(&t.in_a4, 1), "ping back after 183 s");
    sleep_until(ts + 2.0);
    let m = cap.messages();
    let all = show(&m, t0);
    let b = sent_by(&m, &t.u.b4, ts, f64::MAX);
    assert!(shape(&b).starts_with("ID"), "b after 180 s:\n{all}");
    let quiet = sent_by(&m, &t.u.a4, t0 + 1.0, ts);
    assert_eq!(shape(&quiet), "K", "a while idle:\n{all}");
}

/// Drop every handshake response arriving in `ns` (nftables: a UDP
/// payload of 92 bytes whose first word is type 2).
fn drop_responses(ns: &Ns) {
    ns.run("nft add table inet wgt");
    ns.run("nft 'add chain inet wgt in { type filter hook prerouting priority -300; }'");
    ns.run("nft add rule inet wgt in udp length 100 '@th,64,32' 0x02000000 drop");
}

/// Row "reject": a session is used neither to send nor to receive once
/// it is 180 s old, counted from its own creation, whatever happens
/// after. The peer (wireguard-go) initiates; from 10 s on every
/// handshake response is dropped on the wire, so its rekeys at 120 s
/// and after are answered but never arrive: answering them must not
/// keep the old session alive. Both sides ping all along; a's data on
/// the first session must stop at 180 s. `dut`: the implementation as
/// a (wgd, or wireguard-go to show the check is right).
fn session_ends_at_180_seconds_with_responses_dropped(dut: Option<Impl>) {
    let u = Underlay::new();
    let n = unique();
    let (ia, ib) = (format!("wg{n}"), format!("wg{}", unique()));
    let x = n % 250 + 1;
    let (a4, b4) = (format!("10.{x}.5.1"), format!("10.{x}.5.2"));
    let key_a = ok("wg genkey").trim().to_string();
    let pub_a = ok(&format!("echo {key_a} | wg pubkey")).trim().to_string();
    let key_b = ok("wg genkey").trim().to_string();
    let pub_b = ok(&format!("echo {key_b} | wg pubkey")).trim().to_string();
    let wg_go = |ns: &Ns, ifname: &str, key: &str, port: u16, peer: &str, ep: &str, aip: &str| {
        let f = Foreign::start(Impl::WireguardGo, ns, ifname);
        let keyfile = format!("/tmp/wgt-key-{}", unique());
        std::fs::write(&keyfile, key).unwrap();
        ns.run(&format!(
            "wg set {ifname} private-key {keyfile} listen-port {port} peer {peer} endpoint {ep} allowed-ips {aip}/32"
        ));
        let _ = std::fs::remove_file(&keyfile);
        f
    };
    let _a = match dut {
        None => {
            let d = Wgd::start(&u.a);
            d.ok(&format!(
                "{ia} create wgkey {key_a} wgport 51820 wgpeer {pub_b} wgendpoint {} 51821 wgaip {b4}/32 inet {a4}/24 up",
                u.b4
            ));
            (Some(d), None)
        }
        Some(kind) => {
            assert!(matches!(kind, Impl::WireguardGo));
            let f = wg_go(
                &u.a,
                &ia,
                &key_a,
                51820,
                &pub_b,
                &format!("{}:51821", u.b4),
                &b4,
            );
            u.a.run(&format!("ip addr add {a4}/24 dev {ia}"));
            u.a.run(&format!("ip link set {ia} up"));
            (None, Some(f))
        }
    };
    let _b = wg_go(
        &u.b,
        &ib,
        &key_b,
        51821,
        &pub_a,
        &format!("{}:51820", u.a4),
        &a4,
    );
    u.b.run(&format!("ip addr add {b4}/24 dev {ib}"));
    u.b.run(&format!("ip link set {ib} up"));
    let cap = Capture::start(&u.a, &u.va);
    let t0 = now();
    assert!(u.b.ping(&a4, 1), "ping across");
    sleep_until(t0 + 10.0);
    drop_responses(&u.a);
    drop_responses(&u.b);
    let pinger = |ns: &Ns, to: &str| {
        Command::new("ip")
            .args([
                "netns", "exec", &ns.name, "ping", "-q", "-i", "0.5", "-w", "190", to,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ping")
    };
    let mut pings = [pinger(&u.a, &b4), pinger(&u.b, &a4)];
    sleep_until(t0 + 198.0);
    for p in pings.iter_mut() {
        end_child(p);
    }
    let m = cap.messages();
    let all = show(&m, t0);
    // The first session: b's first initiation and a's response to it.
    let init = m.iter().find(|x| x.kind == 1 && x.src == ip(&u.b4));
    let resp = m.iter().find(|x| x.kind == 2 && x.src == ip(&u.a4));
    let (Some(init), Some(resp)) = (init, resp) else {
        panic!("no first handshake:\n{all}");
    };
    let born = resp.t;
    let on_first: Vec<&Msg> = m
        .iter()
        .filter(|x| x.src == ip(&u.a4) && x.is_data() && x.index == init.index)
        .collect();
    let last = on_first.last().map_or(0.0, |x| x.t - born);
    assert!(
        last > 170.0,
        "a should send on the first session until close to 180 s (last at {last:.1} s):\n{all}"
    );
    assert!(
        last < 180.5,
        "a sent on the first session {last:.1} s after it was made:\n{all}"
    );
    let retries = m
        .iter()
        .filter(|x| x.kind == 2 && x.src == ip(&u.a4) && x.t > t0 + 100.0)
        .count();
    assert!(
        retries > 1,
        "a answered b's rekeys ({retries} responses):\n{all}"
    );
}

#[test]
fn timers_on_the_wire() {
    require_root();
    let scenarios: Vec<(&str, fn())> = vec![
        ("passive keepalive (wgd peer)", || passive_keepalive(None)),
        ("passive keepalive (wireguard-go peer)", || {
            passive_keepalive(Some(Impl::WireguardGo))
        }),
        (
            "new handshake 15 s after unanswered send",
            new_handshake_after_unanswered_send,
        ),
        (
            "persistent keepalive",
            persistent_keepalive_from_last_packet,
        ),
        ("retries and give-up", retries_with_jitter_then_give_up),
        (
            "rekey on send after 120 s",
            rekey_only_when_sending_after_120_seconds,
        ),
        (
            "sessions rejected after 180 s",
            responder_session_rejected_after_180_seconds,
        ),
        (
            "each session ends at 180 s, responses dropped (wgd)",
            || session_ends_at_180_seconds_with_responses_dropped(None),
        ),
        (
            "each session ends at 180 s, responses dropped (wireguard-go)",
            || session_ends_at_180_seconds_with_responses_dropped(Some(Impl::WireguardGo)),
        ),
    ];
    // WGT_ONLY=words runs only the scenarios whose name contains them.
    let only = std::env::var("WGT_ONLY").unwrap_or_default();
    let running: Vec<_> = scenarios
        .into_iter()
        .filter(|(name, _)| name.contains(only.as_str()))
        .map(|(name, f)| (name, std::thread::spawn(f)))
        .collect();
    let failed: Vec<&str> = running
        .into_iter()
        .filter_map(|(name, h)| h.join().is_err().then_some(name))
        .collect();
    assert!(failed.is_empty(), "failed (messages above): {failed:?}");
}
