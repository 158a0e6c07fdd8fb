//! A link that is not wg, printed as BSD ifconfig prints an interface:
//! flags in BSD's bits, `ether`, `inet … netmask 0x… broadcast …`,
//! `inet6 … prefixlen …`, and the carrier as `status:`.

use super::links::Link;
use crate::print::{inet, inet6};
use std::fmt::Write;

pub fn link(l: &Link) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "{}: {} metric 0",
        l.name,
        proto::flags::format(l.bsd_flags())
    );
    if let Some(m) = l.mtu {
        let _ = write!(o, " mtu {m}");
    }
    o.push('\n');
    if let Some(d) = &l.description {
        let _ = writeln!(o, "\tdescription: {d}");
    }
    if let Some(e) = l.ether {
        let hex: Vec<String> = e.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(o, "\tether {}", hex.join(":"));
    }
    for a in l.addrs.iter().filter(|a| a.ip.addr.is_ipv4()) {
        inet(&mut o, &a.ip);
        if let (Some(b), None) = (a.broadcast, a.ip.dest) {
            let _ = write!(o, " broadcast {b}");
        }
        o.push('\n');
    }
    for a in l.addrs.iter().filter(|a| a.ip.addr.is_ipv6()) {
        inet6(&mut o, &a.ip, &l.name, l.index);
    }
    if l.ether.is_some() {
        let carrier = if l.is_running() {
            "active"
        } else {
            "no carrier"
        };
        let _ = writeln!(o, "\tstatus: {carrier}");
    }
    o
}

/// The status `ifconfig eth0 inet` (or `inet6`) prints: the link with
/// that family's addresses only, as FreeBSD shows one family.
pub fn link_family(l: &Link, v4: bool) -> String {
    let only = Link {
        ether: None,
        addrs: l
            .addrs
            .iter()
            .filter(|a| a.ip.addr.is_ipv4() == v4)
            .cloned()
            .collect(),
        ..l.clone()
    };
    link(&only)
}

#[cfg(test)]
mod tests {
    use super::super::links::Address;
    use super::*;
    use proto::IfAddr;

    #[test]
    fn loopback_and_ethernet() {
        let lo = Link {
            name: "lo".into(),
            index: 1,
            flags: 0x49,
            mtu: Some(65536),
            ether: None,
            description: None,
            addrs: vec![
                Address {
                    ip: IfAddr {
                        addr: "127.0.0.1".parse().unwrap(),
                        prefix_len: 8,
                        dest: None,
                    },
                    broadcast: None,
                },
                Address {
                    ip: IfAddr {
                        addr: "::1".parse().unwrap(),
                        prefix_len: 128,
                        dest: None,
                    },
                    broadcast: None,
                },
            ],
        };
        assert_eq!(
            link(&lo),
            "lo: flags=49<UP,LOOPBACK,RUNNING> metric 0 mtu 65536
\tinet 127.0.0.1 netmask 0xff000000
\tinet6 ::1 prefixlen 128
"
        );
        let eth = Link {
            name: "veth0".into(),
            index: 7,
            flags: 0x1003,
            mtu: Some(1500),
            ether: Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
            description: Some("uplink".into()),
            addrs: vec![
                Address {
                    ip: IfAddr {
                        addr: "192.0.2.1".parse().unwrap(),
                        prefix_len: 24,
                        dest: None,
                    },
                    broadcast: Some("192.0.2.255".parse().unwrap()),
                },
                Address {
                    ip: IfAddr {
                        addr: "fe80::5054:ff:fe12:3456".parse().unwrap(),
                        prefix_len: 64,
                        dest: None,
                    },
                    broadcast: None,
                },
            ],
        };
        assert_eq!(
            link(&eth),
            "veth0: flags=8003<UP,BROADCAST,MULTICAST> metric 0 mtu 1500
\tdescription: uplink
\tether 52:54:00:12:34:56
\tinet 192.0.2.1 netmask 0xffffff00 broadcast 192.0.2.255
\tinet6 fe80::5054:ff:fe12:3456%veth0 prefixlen 64 scopeid 0x7
\tstatus: no carrier
"
        );
    }
}
