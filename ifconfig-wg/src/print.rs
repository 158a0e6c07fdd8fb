//! The status printer: DragonFly ifconfig format (spec §5).

use proto::flags;
use proto::{IfAddr, InterfaceStatus, Psk};
use std::fmt::Write;
use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

/// The IPv4 netmask of a prefix length, as a number.
pub fn netmask(plen: u8) -> u32 {
    if plen == 0 {
        0
    } else {
        u32::MAX << (32 - plen as u32)
    }
}

pub fn is_link_local(a: &IpAddr) -> bool {
    matches!(a, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

/// `\tinet A [--> D] netmask 0x…`, without the newline (BSD may add
/// `broadcast B`).
pub fn inet(o: &mut String, a: &IfAddr) {
    let _ = write!(o, "\tinet {}", a.addr);
    if let Some(d) = a.dest {
        let _ = write!(o, " --> {d}");
    }
    let _ = write!(o, " netmask 0x{:08x}", netmask(a.prefix_len));
}

/// `\tinet6 A [--> D] prefixlen N`, link-local with its scope.
pub fn inet6(o: &mut String, a: &IfAddr, ifname: &str, ifindex: u32) {
    if is_link_local(&a.addr) {
        let _ = writeln!(
            o,
            "\tinet6 {}%{ifname} prefixlen {} scopeid 0x{ifindex:x}",
            a.addr, a.prefix_len
        );
    } else {
        let _ = write!(o, "\tinet6 {}", a.addr);
        if let Some(d) = a.dest {
            let _ = write!(o, " --> {d}");
        }
        let _ = writeln!(o, " prefixlen {}", a.prefix_len);
    }
}

pub fn status(s: &InterfaceStatus) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} metric 0 mtu {}",
        s.name,
        flags::format(s.flags),
        s.mtu
    );
    if let Some(d) = &s.description {
        let _ = writeln!(o, "\tdescription: {d}");
    }
    for a in s.addrs.iter().filter(|a| a.addr.is_ipv4()) {
        // The kernel has the peer address whatever the flags say (a TUN
        // device is always point-to-point on Linux): show it.
        inet(&mut o, a);
        o.push('\n');
    }
    for a in s.addrs.iter().filter(|a| a.addr.is_ipv6()) {
        inet6(&mut o, a, &s.name, s.ifindex);
    }
    if let Some(p) = s.listen_port {
        let _ = writeln!(o, "\twgport: {p}");
    }
    if s.cookie != 0 {
        let _ = writeln!(o, "\twgcookie: {}", s.cookie);
    }
    if let Some(k) = &s.private_key {
        let _ = writeln!(o, "\twgkey: {}", k.to_base64());
    }
    if let Some(k) = &s.public_key {
        let _ = writeln!(o, "\twgpubkey: {}", k.to_base64());
    }
    for p in &s.peers {
        let _ = writeln!(o, "\twgpeer: {}", p.public_key.to_base64());
        let _ = writeln!(o, "\t\tid: {}", p.id);
        if let Some(d) = &p.description {
            let _ = writeln!(o, "\t\twgdescr: {d}");
        }
        match &p.psk {
            Psk::None => {}
            Psk::Present => {
                let _ = writeln!(o, "\t\twgpsk: (present)");
            }
            Psk::Key(k) => {
                let _ = writeln!(o, "\t\twgpsk: {}", k.to_base64());
            }
        }
        if p.pka > 0 {
            let _ = writeln!(o, "\t\twgpka: {} (seconds)", p.pka);
        }
        if let Some(e) = p.endpoint {
            let scope = p
                .endpoint_scope
                .as_ref()
                .map(|n| format!("%{n}"))
                .unwrap_or_default();
            // A name after the address; its port too if the endpoint
            // roamed to another.
            let name = match &p.endpoint_name {
                Some(n) if n.port == e.port() => format!(" ({})", n.host),
                Some(n) => format!(" ({} {})", n.host, n.port),
                None => String::new(),
            };
            let _ = writeln!(o, "\t\twgendpoint: {}{scope} {}{name}", e.ip(), e.port());
        }
        let _ = writeln!(
            o,
            "\t\ttx: {} (bytes), rx: {} (bytes)",
            p.tx_bytes, p.rx_bytes
        );
        if let Some(h) = p.last_handshake {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let ago = now.saturating_sub(h).as_secs();
            let _ = writeln!(o, "\t\tlast handshake: {ago} seconds ago");
        }
        for a in &p.allowed_ips {
            let _ = writeln!(o, "\t\twgaip: {a}");
        }
        // link2: implicitly one of its allowed IPs, and said so.
        if let Some(a) = p.link_local {
            let _ = writeln!(o, "\t\twgaip: {a}/128 (link-local)");
        }
    }
    if s.groups.is_empty() {
        let _ = writeln!(o, "\tgroups: wg");
    } else {
        let _ = writeln!(o, "\tgroups: {}", s.groups.join(" "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{Key, PeerStatus};

    #[test]
    fn spec_example() {
        let mut s = InterfaceStatus::new("wg0");
        s.ifindex = 5;
        s.flags = 0xa0d1;
        s.mtu = 1420;
        s.description = Some("uplink to hub".into());
        s.addrs = vec![
            "10.6.66.1/32 10.6.66.2".parse().unwrap(),
            "fd00:6:66::1/64".parse().unwrap(),
            "fe80::1/64".parse().unwrap(),
        ];
        s.listen_port = Some(6666);
        s.cookie = 51820;
        s.public_key = Key::from_base64("6jvF0Nl1qqW7ZT0o3HwWJ0ZbYP5EoxqgKwDjVgmm3lk=");
        s.peers.push(PeerStatus {
            public_key: Key::from_base64("kfT2T0bmb7oJt+VVjKs4JNkfi1UCOaOYELlDX3ZovWQ=").unwrap(),
            id: 1,
            description: Some("my peer #1".into()),
            psk: Psk::Present,
            pka: 25,
            endpoint: Some("192.0.2.10:51820".parse().unwrap()),
            endpoint_scope: None,
            endpoint_name: None,
            tx_bytes: 1964,
            rx_bytes: 1868,
            last_handshake: Some(
                SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
                    - std::time::Duration::from_secs(12),
            ),
            allowed_ips: vec![
                "fc00:6:66::2/128".parse().unwrap(),
                "10.6.66.2/32".parse().unwrap(),
            ],
            link_local: None,
        });
        let want = "wg0: flags=a0d1<UP,POINTOPOINT,RUNNING,NOARP,LINK1,MULTICAST> metric 0 mtu 1420
\tdescription: uplink to hub
\tinet 10.6.66.1 --> 10.6.66.2 netmask 0xffffffff
\tinet6 fd00:6:66::1 prefixlen 64
\tinet6 fe80::1%wg0 prefixlen 64 scopeid 0x5
\twgport: 6666
\twgcookie: 51820
\twgpubkey: 6jvF0Nl1qqW7ZT0o3HwWJ0ZbYP5EoxqgKwDjVgmm3lk=
\twgpeer: kfT2T0bmb7oJt+VVjKs4JNkfi1UCOaOYELlDX3ZovWQ=
\t\tid: 1
\t\twgdescr: my peer #1
\t\twgpsk: (present)
\t\twgpka: 25 (seconds)
\t\twgendpoint: 192.0.2.10 51820
\t\ttx: 1964 (bytes), rx: 1868 (bytes)
\t\tlast handshake: 12 seconds ago
\t\twgaip: fc00:6:66::2/128
\t\twgaip: 10.6.66.2/32
\tgroups: wg
";
        assert_eq!(status(&s), want);
    }

    /// A name after the address; with its port when the endpoint roamed
    /// to another.
    #[test]
    fn endpoint_with_its_name() {
        let mut s = InterfaceStatus::new("wg0");
        let mut p = PeerStatus {
            endpoint: Some("192.0.2.10:51820".parse().unwrap()),
            endpoint_name: Some("vpn.example.org:51820".parse().unwrap()),
            ..PeerStatus::new(Key::new([7; 32]), 1)
        };
        s.peers.push(p.clone());
        let text = status(&s);
        assert!(
            text.contains("\t\twgendpoint: 192.0.2.10 51820 (vpn.example.org)\n"),
            "{text}"
        );
        p.endpoint = Some("192.0.2.10:4444".parse().unwrap());
        s.peers[0] = p;
        let text = status(&s);
        assert!(
            text.contains("\t\twgendpoint: 192.0.2.10 4444 (vpn.example.org 51820)\n"),
            "{text}"
        );
    }

    #[test]
    fn plain_mode_and_fresh() {
        let mut s = InterfaceStatus::new("wg1");
        s.flags = 0x80;
        s.mtu = 1420;
        s.addrs = vec!["10.0.0.1/24".parse().unwrap()];
        assert_eq!(
            status(&s),
            "wg1: flags=80<NOARP> metric 0 mtu 1420\n\tinet 10.0.0.1 netmask 0xffffff00\n\tgroups: wg\n"
        );
        // A peer address is shown without link1 too: the kernel has it.
        s.addrs = vec![proto::IfAddr {
            addr: "10.0.0.1".parse().unwrap(),
            prefix_len: 32,
            dest: Some("10.0.0.2".parse().unwrap()),
        }];
        assert_eq!(
            status(&s),
            "wg1: flags=80<NOARP> metric 0 mtu 1420\n\tinet 10.0.0.1 --> 10.0.0.2 netmask 0xffffffff\n\tgroups: wg\n"
        );
    }
}
