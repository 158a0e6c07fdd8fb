//! The configuration of one interface, and applying a request to it.
//!
//! `apply` is pure: it works on a copy, checks every word, and either
//! returns the new configuration or an error that leaves the old one
//! untouched. The interface then performs the side effects (binding,
//! netlink) and commits.

use crate::wg::peer::Peer;
use boringtun::x25519::{PublicKey, StaticSecret};
use proto::request::{DEFAULT_MTU, MAX_MTU, MAX_PKA, MIN_MTU};
use proto::{IfAddr, Key, Op, Prefix};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A value the driver refuses (EINVAL).
    Invalid(&'static str),
    /// `-alias` of an address the interface does not have.
    NoSuchAddress,
}

#[derive(Clone)]
pub struct PeerConfig {
    pub public_key: Key,
    /// The live peer; `None` until a request creating it is committed.
    pub live: Option<Arc<Peer>>,
    pub psk: Option<Key>,
    pub pka: u16,
    pub description: Option<String>,
    /// Oldest first (status shows them newest first).
    pub allowed_ips: Vec<Prefix>,
    /// Set by the request being applied; moved into the peer on commit.
    pub new_endpoint: Option<SocketAddr>,
    /// The Noise state must be rebuilt on commit (new PSK).
    pub rekey: bool,
}

#[derive(Clone)]
pub struct Config {
    /// Clamped.
    pub private_key: Option<Key>,
    pub public_key: Option<Key>,
    /// Configured port; 0 = pick at bind (and then remember the pick).
    pub port: u16,
    pub cookie: u32,
    pub up: bool,
    pub debug: bool,
    pub link0: bool,
    pub link1: bool,
    pub link2: bool,
    pub mtu: u32,
    pub description: Option<String>,
    pub addrs: Vec<IfAddr>,
    pub peers: Vec<PeerConfig>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            private_key: None,
            public_key: None,
            port: 0,
            cookie: 0,
            up: false,
            debug: false,
            link0: false,
            link1: false,
            link2: false,
            mtu: DEFAULT_MTU,
            description: None,
            addrs: Vec::new(),
            peers: Vec::new(),
        }
    }
}

pub fn clamp(k: &Key) -> Key {
    let mut b = *k.as_bytes();
    b[0] &= 248;
    b[31] &= 127;
    b[31] |= 64;
    Key::new(b)
}

pub fn public_of(private: &Key) -> Key {
    let secret = StaticSecret::from(*private.as_bytes());
    Key::new(PublicKey::from(&secret).to_bytes())
}

/// Small-order points (the all-zero key among them) would make every
/// shared secret predictable. Any clamped scalar is a multiple of the
/// cofactor, so the product with such a point is zero.
pub fn is_low_order(public: &Key) -> bool {
    let probe = StaticSecret::from([0x5a; 32]);
    let shared = probe.diffie_hellman(&PublicKey::from(*public.as_bytes()));
    !shared.was_contributory()
}

/// Which peer owns each allowed IP, built once per request when the
/// first allowed IP is added, so a large `wg setconf` stays linear.
type Owners = HashMap<Prefix, [u8; 32]>;

fn owners_of(peers: &[PeerConfig]) -> Owners {
    let mut m = HashMap::new();
    for p in peers {
        for a in &p.allowed_ips {
            m.insert(*a, *p.public_key.as_bytes());
        }
    }
    m
}

/// Which peer the following peer options apply to.
enum Selected {
    None,
    /// `created`: this request made the peer (for `UpdateOnly`).
    Peer {
        idx: usize,
        created: bool,
    },
    /// `-wgpeer` or our own key: options are accepted and ignored.
    Ignored,
}

impl Config {
    /// Apply `ops` to a copy; return it, or the first error.
    pub fn apply(&self, ops: &[Op]) -> Result<Config, ConfigError> {
        let mut c = self.clone();
        for p in &mut c.peers {
            p.new_endpoint = None;
            p.rekey = false;
        }
        let mut sel = Selected::None;
        // Invalidated (None) whenever peers are removed; rebuilt on demand.
        let mut owners: Option<Owners> = None;
        for op in ops {
            // Ranges are checked here whatever the front end (ifconfig-wg,
            // the UAPI, a raw client) already checked.
            if matches!(op, Op::PersistentKeepalive(n) if *n > MAX_PKA) {
                return Err(ConfigError::Invalid("persistent keepalive out of range"));
            }
            if op.is_peer_option() {
                match &mut sel {
                    Selected::None => return Err(ConfigError::Invalid("no peer selected")),
                    Selected::Ignored => continue,
                    Selected::Peer { idx, created } => {
                        if *op == Op::UpdateOnly {
                            if *created {
                                c.peers.remove(*idx);
                                owners = None;
                                sel = Selected::Ignored;
                            }
                        } else {
                            c.apply_peer_option(*idx, op, &mut owners);
                        }
                        continue;
                    }
                }
            }
            match op {
                Op::PrivateKey(k) if k.is_zero() => {
                    c.private_key = None;
                    c.public_key = None;
                }
                Op::PrivateKey(k) => {
                    let k = clamp(k);
                    let public = public_of(&k);
                    if c.private_key.as_ref() != Some(&k) {
                        c.private_key = Some(k);
                        // A peer with our own public key cannot exist.
                        c.peers.retain(|p| p.public_key != public);
                        owners = None;
                        sel = Selected::None;
                        c.public_key = Some(public);
                    }
                }
                Op::ListenPort(p) => c.port = *p,
                Op::Cookie(v) => c.cookie = *v,
                Op::Peer(k) => {
                    if is_low_order(k) {
                        return Err(ConfigError::Invalid("low-order peer key"));
                    }
                    if c.public_key.as_ref() == Some(k) {
                        sel = Selected::Ignored;
                        continue;
                    }
                    let (idx, created) = match c.peers.iter().position(|p| &p.public_key == k) {
                        Some(i) => (i, false),
                        None => {
                            c.peers.push(PeerConfig {
                                public_key: k.clone(),
                                live: None,
                                psk: None,
                                pka: 0,
                                description: None,
                                allowed_ips: Vec::new(),
                                new_endpoint: None,
                                rekey: false,
                            });
                            (c.peers.len() - 1, true)
                        }
                    };
                    sel = Selected::Peer { idx, created };
                }
                Op::RemovePeer(k) => {
                    c.peers.retain(|p| &p.public_key != k);
                    owners = None;
                    sel = Selected::Ignored;
                }
                Op::RemoveAllPeers => {
                    c.peers.clear();
                    owners = None;
                    sel = Selected::None;
                }
                Op::Up(b) => c.up = *b,
                Op::Debug(b) => c.debug = *b,
                Op::Link0(b) => {
                    c.link0 = *b;
                    if *b {
                        c.link1 = false;
                    }
                }
                Op::Link1(b) => {
                    c.link1 = *b;
                    if *b {
                        c.link0 = false;
                    }
                }
                Op::Link2(b) => c.link2 = *b,
                Op::Mtu(m) => {
                    if !(MIN_MTU..=MAX_MTU).contains(m) {
                        return Err(ConfigError::Invalid("mtu out of range"));
                    }
                    c.mtu = *m;
                }
                Op::Description(d) => c.description = d.clone(),
                Op::AddAddress(a) => {
                    let max = if a.addr.is_ipv4() { 32 } else { 128 };
                    if a.prefix_len > max || a.dest.is_some_and(|d| d.is_ipv4() != a.addr.is_ipv4())
                    {
                        return Err(ConfigError::Invalid("bad address"));
                    }
                    match c.addrs.iter_mut().find(|x| x.addr == a.addr) {
                        Some(x) => *x = *a,
                        None => c.addrs.push(*a),
                    }
                }
                Op::DeleteAddress(ip) => {
                    let before = c.addrs.len();
                    c.addrs.retain(|x| x.addr != *ip);
                    if c.addrs.len() == before {
                        return Err(ConfigError::NoSuchAddress);
                    }
                }
                // Peer options were handled above.
                Op::Endpoint(_)
                | Op::ReplaceAllowedIps
                | Op::AllowedIp(_)
                | Op::UpdateOnly
                | Op::PresharedKey(_)
                | Op::PersistentKeepalive(_)
                | Op::PeerDescription(_) => {}
            }
        }
        Ok(c)
    }

    fn apply_peer_option(&mut self, idx: usize, op: &Op, owners: &mut Option<Owners>) {
        match op {
            Op::Endpoint(a) => self.peers[idx].new_endpoint = Some(*a),
            Op::ReplaceAllowedIps => {
                let peer = &mut self.peers[idx];
                if let Some(o) = owners.as_mut() {
                    for a in &peer.allowed_ips {
                        o.remove(a);
                    }
                }
                peer.allowed_ips.clear();
            }
            Op::AllowedIp(p) => {
                let owners = owners.get_or_insert_with(|| owners_of(&self.peers));
                let me = *self.peers[idx].public_key.as_bytes();
                match owners.insert(*p, me) {
                    Some(o) if o == me => {}
                    Some(o) => {
                        // A prefix has one owner: it moves to this peer.
                        if let Some(prev) = self
                            .peers
                            .iter_mut()
                            .find(|x| *x.public_key.as_bytes() == o)
                        {
                            prev.allowed_ips.retain(|q| q != p);
                        }
                        self.peers[idx].allowed_ips.push(*p);
                    }
                    None => self.peers[idx].allowed_ips.push(*p),
                }
            }
            Op::PresharedKey(k) => {
                let k = k.clone().filter(|k| !k.is_zero());
                let peer = &mut self.peers[idx];
                if peer.psk != k {
                    peer.psk = k;
                    peer.rekey = true;
                }
            }
            Op::PersistentKeepalive(n) => self.peers[idx].pka = *n,
            Op::PeerDescription(d) => self.peers[idx].description = d.clone(),
            _ => {}
        }
    }

    pub fn addrs_v6(&self) -> impl Iterator<Item = &IfAddr> {
        self.addrs
            .iter()
            .filter(|a| matches!(a.addr, IpAddr::V6(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> Key {
        // A valid public key: the public key of some private key.
        public_of(&clamp(&Key::new([b; 32])))
    }

    #[test]
    fn peer_options_bind_to_nearest_peer_and_aips_replace() {
        let c = Config::default();
        let c = c
            .apply(&[
                Op::Peer(key(1)),
                Op::ReplaceAllowedIps,
                Op::AllowedIp("10.0.0.1/32".parse().unwrap()),
                Op::AllowedIp("10.0.0.2/32".parse().unwrap()),
                Op::Peer(key(2)),
                Op::PersistentKeepalive(25),
            ])
            .unwrap();
        assert_eq!(c.peers.len(), 2);
        assert_eq!(c.peers[0].allowed_ips.len(), 2);
        // Stored oldest first.
        assert_eq!(c.peers[0].allowed_ips[1].to_string(), "10.0.0.2/32");
        assert_eq!(c.peers[1].pka, 25);
        let c = c
            .apply(&[
                Op::Peer(key(1)),
                Op::AllowedIp("10.9.0.0/16".parse().unwrap()),
            ])
            .unwrap();
        assert_eq!(c.peers[0].allowed_ips.len(), 3, "appends");
        let c = c
            .apply(&[
                Op::Peer(key(1)),
                Op::ReplaceAllowedIps,
                Op::AllowedIp("10.9.0.0/16".parse().unwrap()),
            ])
            .unwrap();
        assert_eq!(c.peers[0].allowed_ips.len(), 1, "replaces");
        // Moving a prefix to another peer.
        let c = c
            .apply(&[
                Op::Peer(key(2)),
                Op::AllowedIp("10.9.0.0/16".parse().unwrap()),
            ])
            .unwrap();
        assert!(c.peers[0].allowed_ips.is_empty());
        assert_eq!(c.peers[1].allowed_ips.len(), 1);
    }

    #[test]
    fn errors_leave_original_untouched() {
        let c = Config::default()
            .apply(&[Op::Peer(key(1)), Op::Mtu(1280)])
            .unwrap();
        assert_eq!(
            c.apply(&[Op::Peer(key(2)), Op::PersistentKeepalive(MAX_PKA + 1)])
                .err(),
            Some(ConfigError::Invalid("persistent keepalive out of range"))
        );
        assert_eq!(
            c.apply(&[Op::Peer(key(2)), Op::Mtu(67)]).err(),
            Some(ConfigError::Invalid("mtu out of range"))
        );
        assert_eq!(
            c.apply(&[Op::Peer(Key::zero())]).err(),
            Some(ConfigError::Invalid("low-order peer key"))
        );
        assert_eq!(
            c.apply(&[Op::Endpoint("1.2.3.4:5".parse().unwrap())]).err(),
            Some(ConfigError::Invalid("no peer selected"))
        );
        assert_eq!(
            c.apply(&[Op::DeleteAddress("10.0.0.1".parse().unwrap())])
                .err(),
            Some(ConfigError::NoSuchAddress)
        );
        assert_eq!(c.peers.len(), 1);
        assert_eq!(c.mtu, 1280);
    }

    #[test]
    fn own_key_peer_is_ignored_and_dropped_on_key_change() {
        let priv1 = Key::new([9; 32]);
        let pub1 = public_of(&clamp(&priv1));
        let c = Config::default()
            .apply(&[Op::Peer(pub1.clone()), Op::PersistentKeepalive(5)])
            .unwrap();
        assert_eq!(c.peers.len(), 1);
        let c = c.apply(&[Op::PrivateKey(priv1.clone())]).unwrap();
        assert!(c.peers.is_empty(), "peer equal to own key dropped");
        let c = c
            .apply(&[Op::Peer(pub1), Op::PersistentKeepalive(5)])
            .unwrap();
        assert!(c.peers.is_empty(), "own key ignored");
        // Clamped on the way in.
        assert_eq!(c.private_key, Some(clamp(&priv1)));
    }

    /// One peer with `n` allowed IPs, then a second peer taking the first
    /// 1000 of them.
    fn many_allowed_ips(n: u32) -> Vec<Op> {
        let mut ops = vec![Op::Peer(key(1)), Op::ReplaceAllowedIps];
        for i in 0..n {
            let a = std::net::Ipv4Addr::from(0x0a00_0000 | i);
            ops.push(Op::AllowedIp(Prefix::new(a.into(), 32).unwrap()));
        }
        ops.push(Op::Peer(key(2)));
        ops.extend(ops[2..1002].to_vec());
        ops
    }

    #[test]
    fn many_allowed_ips_stay_linear_and_keep_one_owner() {
        // Linear, not quadratic: five times the prefixes may cost about
        // five times as long (quadratic would be 25 times); compared with
        // itself, so that a slow or busy machine does not matter.
        let small = many_allowed_ips(20_000);
        let t = std::time::Instant::now();
        Config::default().apply(&small).unwrap();
        let t_small = t.elapsed();
        let ops = many_allowed_ips(100_000);
        let t = std::time::Instant::now();
        let c = Config::default().apply(&ops).unwrap();
        let t_big = t.elapsed();
        assert!(t_big < t_small * 12, "20k: {t_small:?}, 100k: {t_big:?}");
        assert_eq!(c.peers[0].allowed_ips.len(), 99_000);
        assert_eq!(c.peers[1].allowed_ips.len(), 1000);
        // After a removal the index is rebuilt: a prefix still owned by
        // the first peer moves to the new one.
        let moved: Prefix = "10.0.200.1/32".parse().unwrap();
        assert!(c.peers[0].allowed_ips.contains(&moved));
        let c = c
            .apply(&[
                Op::RemovePeer(key(2)),
                Op::Peer(key(3)),
                Op::AllowedIp(moved),
            ])
            .unwrap();
        assert_eq!(c.peers.len(), 2);
        assert_eq!(c.peers[1].allowed_ips, vec![moved]);
        assert!(!c.peers[0].allowed_ips.contains(&moved));
        assert_eq!(c.peers[0].allowed_ips.len(), 98_999);
    }

    #[test]
    fn update_only_and_zero_private_key() {
        let c = Config::default()
            .apply(&[Op::Peer(key(1)), Op::UpdateOnly, Op::PersistentKeepalive(5)])
            .unwrap();
        assert!(c.peers.is_empty(), "update_only does not create");
        let c = Config::default().apply(&[Op::Peer(key(1))]).unwrap();
        let c = c
            .apply(&[Op::Peer(key(1)), Op::UpdateOnly, Op::PersistentKeepalive(5)])
            .unwrap();
        assert_eq!(c.peers[0].pka, 5, "update_only updates");
        let c = c.apply(&[Op::PrivateKey(Key::new([3; 32]))]).unwrap();
        assert!(c.public_key.is_some());
        let c = c.apply(&[Op::PrivateKey(Key::zero())]).unwrap();
        assert!(c.private_key.is_none() && c.public_key.is_none());
    }

    #[test]
    fn low_order_points() {
        assert!(is_low_order(&Key::zero()));
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(is_low_order(&Key::new(one)));
        assert!(!is_low_order(&key(3)));
    }

    #[test]
    fn link0_and_link1_exclude_each_other() {
        let c = Config::default().apply(&[Op::Link1(true)]).unwrap();
        assert!(c.link1 && !c.link0);
        let c = c.apply(&[Op::Link0(true)]).unwrap();
        assert!(c.link0 && !c.link1);
    }
}
