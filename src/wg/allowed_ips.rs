//! The allowed-IP trie: longest-prefix match for both routing (destination
//! → peer) and source filtering (source → must be the sending peer).

use ip_network::{IpNetwork, Ipv4Network, Ipv6Network};
use ip_network_table::IpNetworkTable;
use proto::Prefix;
use std::net::IpAddr;

pub struct AllowedIps<T> {
    table: IpNetworkTable<T>,
}

fn network(p: &Prefix) -> IpNetwork {
    // Prefix guarantees masked host bits and a valid length.
    match p.addr() {
        IpAddr::V4(a) => match Ipv4Network::new(a, p.len()) {
            Ok(n) => IpNetwork::V4(n),
            Err(_) => IpNetwork::V4(Ipv4Network::new(a, 32).expect("host prefix")),
        },
        IpAddr::V6(a) => match Ipv6Network::new(a, p.len()) {
            Ok(n) => IpNetwork::V6(n),
            Err(_) => IpNetwork::V6(Ipv6Network::new(a, 128).expect("host prefix")),
        },
    }
}

impl<T> Default for AllowedIps<T> {
    fn default() -> Self {
        AllowedIps {
            table: IpNetworkTable::new(),
        }
    }
}

impl<T> AllowedIps<T> {
    /// Insert or replace the owner of `p`.
    pub fn insert(&mut self, p: &Prefix, v: T) {
        self.table.insert(network(p), v);
    }

    /// The owner of the most specific prefix containing `ip`.
    pub fn remove(&mut self, p: &Prefix) -> Option<T> {
        self.table.remove(network(p))
    }

    pub fn lookup(&self, ip: IpAddr) -> Option<&T> {
        self.table.longest_match(ip).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The deliberately naive model: scan every prefix.
    struct Naive(Vec<(Prefix, u32)>);

    impl Naive {
        fn insert(&mut self, p: Prefix, v: u32) {
            self.0.retain(|(q, _)| *q != p);
            self.0.push((p, v));
        }
        fn lookup(&self, ip: IpAddr) -> Option<u32> {
            self.0
                .iter()
                .filter(|(p, _)| p.contains(ip))
                .max_by_key(|(p, _)| p.len())
                .map(|(_, v)| *v)
        }
    }

    fn random_ip(rng: &mut impl Rng, v6: bool) -> IpAddr {
        // A small address space so prefixes overlap often.
        if v6 {
            let hi: u128 = 0xfd00 << 112;
            IpAddr::V6((hi | (rng.gen::<u16>() as u128) << 96 | rng.gen::<u8>() as u128).into())
        } else {
            IpAddr::V4((0x0a00_0000 | (rng.gen::<u32>() & 0x00ff_00ff)).into())
        }
    }

    #[test]
    fn matches_naive_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
        for round in 0..20 {
            let mut t = AllowedIps::default();
            let mut n = Naive(Vec::new());
            for i in 0..(50 + round * 20) {
                let v6 = rng.gen_bool(0.5);
                let ip = random_ip(&mut rng, v6);
                let max = if v6 { 128 } else { 32 };
                let len = rng.gen_range(0..=max);
                let p = Prefix::new(ip, len).unwrap();
                t.insert(&p, i as u32);
                n.insert(p, i as u32);
            }
            for _ in 0..2000 {
                let v6 = rng.gen_bool(0.5);
                let ip = random_ip(&mut rng, v6);
                assert_eq!(t.lookup(ip).copied(), n.lookup(ip), "{ip}");
            }
        }
    }

    #[test]
    fn most_specific_wins_both_families() {
        let mut t = AllowedIps::default();
        t.insert(&"0.0.0.0/0".parse().unwrap(), 1);
        t.insert(&"10.0.0.0/8".parse().unwrap(), 2);
        t.insert(&"10.1.0.0/16".parse().unwrap(), 3);
        t.insert(&"::/0".parse().unwrap(), 4);
        t.insert(&"fd00::/8".parse().unwrap(), 5);
        assert_eq!(t.lookup("10.1.2.3".parse().unwrap()), Some(&3));
        assert_eq!(t.lookup("10.2.2.3".parse().unwrap()), Some(&2));
        assert_eq!(t.lookup("192.0.2.1".parse().unwrap()), Some(&1));
        assert_eq!(t.lookup("fd12::1".parse().unwrap()), Some(&5));
        assert_eq!(t.lookup("2001:db8::1".parse().unwrap()), Some(&4));
        let empty: AllowedIps<u8> = AllowedIps::default();
        assert_eq!(empty.lookup("10.0.0.1".parse().unwrap()), None);
    }
}
