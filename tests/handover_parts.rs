//! Hand-over building blocks on real devices: a second process's TUN
//! queue takes over a live wgN link without the link losing its index,
//! its addresses or its carrier; handed-over sockets are the same
//! sockets; an interface carried through a snapshot is the same
//! interface. The daemon's hand-over itself: tests/handover.rs.

mod common;
use common::*;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};
use wgd::sys::boottime::Instant as BootInstant;
use wgd::sys::netns;
use wgd::sys::tun::{Tun, TunPackets};

fn link_line(ns: &Ns, name: &str) -> String {
    ns.exec(&format!("ip -o link show dev {name}"))
        .stdout
        .iter()
        .map(|b| *b as char)
        .collect()
}

#[test]
fn a_new_queue_takes_over_a_live_tun_link() {
    require_root();
    let ns = Ns::new("hq");
    let name = format!("wg{}", unique());
    let fd = netns::open_named(&ns.name).unwrap();
    let old = netns::run_in(fd.as_fd(), || Tun::create(&name, 1420)).unwrap();
    let index = old.ifindex();
    ns.run(&format!("ip addr add 10.77.0.1/24 dev {name}"));
    ns.run(&format!("ip link set {name} up"));
    assert!(link_line(&ns, &name).contains("LOWER_UP"));
    assert_eq!(
        netns::run_in(fd.as_fd(), || Tun::attach("nosuch0", index))
            .err()
            .and_then(|e| e.raw_os_error()),
        Some(libc::ENXIO),
        "no link of that name: nothing made"
    );
    assert_eq!(
        netns::run_in(fd.as_fd(), || Tun::attach(&name, index + 1000))
            .err()
            .and_then(|e| e.raw_os_error()),
        Some(libc::ENXIO),
        "another index: not ours"
    );
    let new = netns::run_in(fd.as_fd(), || Tun::attach(&name, index)).unwrap();
    drop(old);
    let line = link_line(&ns, &name);
    assert!(line.starts_with(&format!("{index}: {name}:")), "{line}");
    assert!(line.contains("UP,LOWER_UP"), "carrier kept: {line}");
    assert!(ns
        .exec(&format!("ip -o addr show dev {name}"))
        .stdout
        .windows(12)
        .any(|w| w == b"10.77.0.1/24"));
    // Traffic routed into the link now reaches the new queue.
    let mut got = false;
    let mut pkts = TunPackets::default();
    let end = Instant::now() + Duration::from_secs(5);
    while !got && Instant::now() < end {
        let _ = ns.exec("ping -c 1 -W 0.2 10.77.0.2");
        for _ in 0..10 {
            let n = new.recv(&mut pkts).unwrap();
            got |= (0..n).any(|i| {
                let p = pkts.packet(i);
                p.len() >= 20 && p[0] >> 4 == 4 && p[9] == 1 && p[16..20] == [10, 77, 0, 2]
            });
        }
    }
    assert!(got, "the ping reached the new queue");
    drop(new);
    assert!(
        wait_until(5, || !ns
            .exec(&format!("ip link show dev {name}"))
            .status
            .success()),
        "the last queue gone, the link goes"
    );
}

#[test]
fn adopted_sockets_are_the_same_sockets() {
    use std::os::fd::OwnedFd;
    use wgd::sys::udp::{RecvBatch, Sockets};
    let old = Sockets::bind(0, 0).unwrap();
    let dup = |s: &wgd::sys::udp::Socket| -> OwnedFd { s.fd().try_clone_to_owned().unwrap() };
    let new = Sockets::adopt(dup(&old.v4), old.v6.as_ref().map(dup)).unwrap();
    assert_eq!(new.port, old.port);
    assert_eq!(new.all().count(), old.all().count());
    // A datagram queued before the switch is read after it.
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(b"queued", ("127.0.0.1", old.port)).unwrap();
    drop(old);
    let mut batch = RecvBatch::default();
    let end = Instant::now() + Duration::from_secs(2);
    let mut got = Vec::new();
    while got.is_empty() && Instant::now() < end {
        if let Ok(n) = batch.recv(&new.v4) {
            for i in 0..n {
                for (d, from, _) in batch.datagrams(i) {
                    assert_eq!(from, peer.local_addr().unwrap());
                    got.extend_from_slice(d);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(got, b"queued");
}

/// A wiring that serves nothing: the interface alone, without a plane.
struct Unplugged;

impl wgd::wg::interface::Wiring for Unplugged {
    fn serve_tun(
        &self,
        _: &std::sync::Arc<wgd::wg::interface::Interface>,
        _: &std::sync::Arc<Tun>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn serve_sockets(
        &self,
        _: &std::sync::Arc<wgd::wg::interface::Interface>,
        _: &std::sync::Arc<Tun>,
        _: Option<&std::sync::Arc<wgd::sys::udp::Sockets>>,
    ) -> std::io::Result<()> {
        Ok(())
    }
    fn stop(&self) {}
}

#[test]
fn an_interface_carried_through_a_snapshot_is_the_same_interface() {
    use std::os::fd::OwnedFd;
    use std::sync::Arc;
    use wgd::handover::codec::{Reader, Writer};
    use wgd::wg::interface::Interface;
    require_root();
    let ns = Ns::new("hs");
    let name = format!("wg{}", unique());
    let fd = netns::open_named(&ns.name).unwrap();
    let old = Interface::create(&name, Arc::new(Unplugged), Some(fd.try_clone().unwrap())).unwrap();
    let words = format!(
        "wgkey {} wgport 0 wgpeer {} wgendpoint 192.0.2.7 51820 wgpka 25 wgaip 10.9.0.2/32 wgaip fd00::2/128 wgdescr far wgpeer {} wgpsk {} wgaip 10.9.1.0/24 inet 10.9.0.1/24 mtu 1400 descr hub link1 debug group spokes up",
        proto::Key::new([1; 32]).to_base64(),
        proto::Key::new([2; 32]).to_base64(),
        proto::Key::new([3; 32]).to_base64(),
        proto::Key::new([4; 32]).to_base64(),
    );
    let words: Vec<String> = words.split(' ').map(String::from).collect();
    let ops = ifconfig_wg::words::parse(&words, &mut ifconfig_wg::words::Stdin)
        .unwrap()
        .ops;
    old.set(&ops).unwrap();
    let before = old.status(true, true);
    assert!(before.listen_port.is_some_and(|p| p != 0));

    let now = BootInstant::now();
    let mut w = Writer::new();
    w.interface(&old.carry(now), now);
    let bytes = w.into_bytes();
    let socks = old.sockets().unwrap();
    let dup = |s: &wgd::sys::udp::Socket| -> OwnedFd { s.fd().try_clone_to_owned().unwrap() };
    let (v4, v6) = (dup(&socks.v4), socks.v6.as_ref().map(dup));
    drop(socks);
    let tun = netns::run_in(fd.as_fd(), || Tun::attach(&name, old.index())).unwrap();

    let carried = Reader::new(&bytes)
        .unwrap()
        .interface(BootInstant::now())
        .unwrap();
    let new = Interface::adopt(
        &carried,
        tun,
        Some(wgd::sys::udp::Sockets::adopt(v4, v6).unwrap()),
        Arc::new(Unplugged),
        Some(fd.try_clone().unwrap()),
        BootInstant::now(),
    )
    .unwrap();
    assert_eq!(
        new.status(true, true),
        before,
        "configuration, ids, endpoints, counters"
    );
    assert_eq!(new.index(), old.index());
    assert_eq!(new.sockets().unwrap().port, before.listen_port.unwrap());
    let line = link_line(&ns, &name);
    assert!(
        line.contains("POINTOPOINT,MULTICAST") && line.contains("mtu 1400"),
        "{line}"
    );
    drop(old);
    assert!(
        link_line(&ns, &name).contains("UP,LOWER_UP"),
        "still up with the new queue"
    );
    new.shutdown();
}
