//! The kernel's links and their addresses, as `ifconfig` shows them for
//! interfaces that are not wg (getifaddrs(3), and sysfs for the MTU).

use std::net::IpAddr;

/// Linux's interface flag bits (netdevice(7)) that BSD also has.
pub mod linux {
    pub const UP: u32 = 0x1;
    pub const BROADCAST: u32 = 0x2;
    pub const DEBUG: u32 = 0x4;
    pub const LOOPBACK: u32 = 0x8;
    pub const POINTOPOINT: u32 = 0x10;
    pub const RUNNING: u32 = 0x40;
    pub const NOARP: u32 = 0x80;
    pub const PROMISC: u32 = 0x100;
    pub const ALLMULTI: u32 = 0x200;
    pub const MULTICAST: u32 = 0x1000;
}

/// ARPHRD_ETHER: links with an Ethernet address to show.
const ARPHRD_ETHER: u16 = 1;

/// An address as status shows it (`dest`: the other end of a
/// point-to-point link), and its broadcast address.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub ip: proto::IfAddr,
    pub broadcast: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub name: String,
    pub index: u32,
    /// Linux's flag bits.
    pub flags: u32,
    pub mtu: Option<u32>,
    pub ether: Option<[u8; 6]>,
    /// Linux's ifalias, BSD's description.
    pub description: Option<String>,
    pub addrs: Vec<Address>,
}

impl Link {
    pub fn is_up(&self) -> bool {
        self.flags & linux::UP != 0
    }

    pub fn is_running(&self) -> bool {
        self.flags & linux::RUNNING != 0
    }

    /// The flags in BSD's bits (proto::flags), those both systems have.
    pub fn bsd_flags(&self) -> u32 {
        use proto::flags as bsd;
        [
            (linux::UP, bsd::IFF_UP),
            (linux::BROADCAST, bsd::IFF_BROADCAST),
            (linux::DEBUG, bsd::IFF_DEBUG),
            (linux::LOOPBACK, bsd::IFF_LOOPBACK),
            (linux::POINTOPOINT, bsd::IFF_POINTOPOINT),
            (linux::RUNNING, bsd::IFF_RUNNING),
            (linux::NOARP, bsd::IFF_NOARP),
            (linux::PROMISC, bsd::IFF_PROMISC),
            (linux::ALLMULTI, bsd::IFF_ALLMULTI),
            (linux::MULTICAST, bsd::IFF_MULTICAST),
        ]
        .iter()
        .filter(|(l, _)| self.flags & l != 0)
        .fold(0, |acc, (_, b)| acc | b)
    }
}

fn prefix_len(mask: Option<IpAddr>) -> u8 {
    match mask {
        Some(IpAddr::V4(m)) => u32::from(m).count_ones() as u8,
        Some(IpAddr::V6(m)) => u128::from(m).count_ones() as u8,
        None => 0,
    }
}

fn ip_of(s: Option<&nix::sys::socket::SockaddrStorage>) -> Option<IpAddr> {
    let s = s?;
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(IpAddr::V4(v4.ip()));
    }
    s.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
}

fn sysfs(name: &str, what: &str) -> Option<String> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/{what}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Every link of this network namespace, in index order, with its
/// addresses in the kernel's order.
pub fn all() -> std::io::Result<Vec<Link>> {
    let mut links: Vec<Link> = Vec::new();
    let mut addrs: Vec<(String, Address)> = Vec::new();
    for ifa in nix::ifaddrs::getifaddrs()? {
        let flags = ifa.flags.bits() as u32;
        // A link's own entry: its hardware address, or none at all (a
        // TUN device has no hardware address).
        let link = match ifa.address.as_ref() {
            None => Some(None),
            Some(a) => a.as_link_addr().map(Some),
        };
        if let Some(hw) = link {
            let name = ifa.interface_name.clone();
            let index = match hw {
                Some(l) => l.ifindex() as u32,
                None => nix::net::if_::if_nametoindex(name.as_str()).unwrap_or(0),
            };
            // The MTU from sysfs, which `ip netns exec` mounts for the
            // namespace; only if it describes this very link.
            let ours = sysfs(&name, "ifindex") == Some(index.to_string());
            let mtu = ours.then(|| sysfs(&name, "mtu")).flatten();
            let description = ours
                .then(|| sysfs(&name, "ifalias"))
                .flatten()
                .filter(|d| !d.is_empty());
            let ether = hw
                .filter(|l| l.hatype() == ARPHRD_ETHER)
                .and_then(|l| l.addr());
            links.push(Link {
                name,
                index,
                flags,
                mtu: mtu.and_then(|m| m.parse().ok()),
                ether,
                description,
                addrs: Vec::new(),
            });
            continue;
        }
        let Some(addr) = ip_of(ifa.address.as_ref()) else {
            continue;
        };
        let a = Address {
            ip: proto::IfAddr {
                addr,
                prefix_len: prefix_len(ip_of(ifa.netmask.as_ref())),
                dest: ip_of(ifa.destination.as_ref()).filter(|d| *d != addr),
            },
            broadcast: ip_of(ifa.broadcast.as_ref()),
        };
        // An IPv4 address carries its label, which is the link's name or,
        // for a secondary once the link was renamed, `name:N` (a link's
        // own name never has a colon).
        let owner = ifa.interface_name.split(':').next().unwrap_or_default();
        addrs.push((owner.to_string(), a));
    }
    for (name, a) in addrs {
        if let Some(l) = links.iter_mut().find(|l| l.name == name) {
            l.addrs.push(a);
        }
    }
    links.sort_by_key(|l| l.index);
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_map_to_bsd_bits() {
        let l = Link {
            name: "lo".into(),
            index: 1,
            flags: linux::UP | linux::LOOPBACK | linux::RUNNING | 0x10000,
            mtu: Some(65536),
            ether: None,
            description: None,
            addrs: vec![],
        };
        assert_eq!(
            proto::flags::format(l.bsd_flags()),
            "flags=49<UP,LOOPBACK,RUNNING>"
        );
        let veth = Link {
            flags: linux::UP | linux::BROADCAST | linux::RUNNING | linux::MULTICAST,
            ..l
        };
        assert_eq!(
            proto::flags::format(veth.bsd_flags()),
            "flags=8043<UP,BROADCAST,RUNNING,MULTICAST>"
        );
    }

    #[test]
    fn the_loopback_link_is_found() {
        let links = all().unwrap();
        assert!(
            links.iter().any(|l| l.name == "lo" && l.index == 1),
            "{links:?}"
        );
    }
}
