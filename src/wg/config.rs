//! The configuration of one interface, and applying a request to it.
//!
//! `apply` changes the configuration in place and keeps a journal of what
//! each changed item was before (settings, every peer touched, every
//! allowed IP whose owner changed). A request that fails, in `apply` or in
//! the side effects that follow (binding, netlink), is rolled back from
//! the journal; one that succeeds is committed by the interface, which
//! updates only what the journal names. So a request costs what it
//! changes, not the size of the configuration: adding one peer to an
//! interface with 100 000 is as cheap as adding it to one with 10.

use crate::wg::keys::{clamp, is_low_order, public_of};
use crate::wg::linklocal;
pub use crate::wg::peers::{PeerConfig, Peers};
use proto::request::{DEFAULT_MTU, MAX_MTU, MAX_PKA, MIN_MTU};
use proto::{IfAddr, Key, Op, Prefix};
use std::collections::HashMap;
use std::net::IpAddr;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A value the driver refuses (EINVAL).
    Invalid(&'static str),
    /// `-alias` of an address the interface does not have.
    NoSuchAddress,
    /// `-group` of a group the interface is not in (ENOENT).
    NoSuchGroup,
    /// `-group wg`: every interface stays in its cloner's group (EPERM).
    ClonerGroup,
}

/// The group every wg interface is in, as on BSD.
pub const CLONER_GROUP: &str = crate::wg::constants::CLONER;

/// A BSD interface group name: 1 to 15 bytes (IFNAMSIZ - 1), printable,
/// no spaces, not ending in a digit (an interface name would).
pub fn valid_group(g: &str) -> bool {
    !g.is_empty()
        && g.len() < 16
        && g.bytes().all(|b| b.is_ascii_graphic())
        && !g.ends_with(|c: char| c.is_ascii_digit())
}

/// Everything but the peers: small, copied whole into the journal.
#[derive(Clone)]
pub struct Settings {
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
    /// Groups besides `wg`, in the order they were added.
    pub groups: Vec<String>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
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
            groups: Vec::new(),
        }
    }
}

impl Settings {
    pub fn addrs_v6(&self) -> impl Iterator<Item = &IfAddr> {
        self.addrs
            .iter()
            .filter(|a| matches!(a.addr, IpAddr::V6(_)))
    }
}

#[derive(Default)]
pub struct Config {
    pub settings: Settings,
    pub peers: Peers,
}

impl Deref for Config {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl DerefMut for Config {
    fn deref_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }
}

/// What a request changed, as it was before: enough to roll it back, and
/// the list of what a commit must update.
pub struct Journal {
    pub settings: Settings,
    /// Every peer the request touched, as it was (`None`: it did not exist).
    pub peers: HashMap<[u8; 32], Option<PeerConfig>>,
    /// Every allowed IP whose owner changed, and its owner before.
    pub owners: HashMap<Prefix, Option<[u8; 32]>>,
    next_seq: u64,
}

/// Which peer the following peer options apply to.
enum Selected {
    None,
    /// `created`: this request made the peer (for `UpdateOnly`).
    Peer {
        key: [u8; 32],
        created: bool,
    },
    /// `-wgpeer` or our own key: options are accepted and ignored.
    Ignored,
}

impl Journal {
    /// Remember `k` as it is, the first time the request touches it.
    fn touch(&mut self, peers: &Peers, k: &[u8; 32]) {
        self.peers
            .entry(*k)
            .or_insert_with(|| peers.get(k).cloned());
    }

    fn owner(&mut self, peers: &Peers, p: &Prefix) {
        self.owners
            .entry(*p)
            .or_insert_with(|| peers.owners.get(p).copied());
    }
}

impl Config {
    /// Apply `ops` in place. On error everything is rolled back and the
    /// configuration is as before; on success the journal says what
    /// changed (roll it back with [`Config::rollback`] if a side effect
    /// then fails).
    pub fn apply(&mut self, ops: &[Op]) -> Result<Journal, ConfigError> {
        let mut j = Journal {
            settings: self.settings.clone(),
            peers: HashMap::new(),
            owners: HashMap::new(),
            next_seq: self.peers.next_seq,
        };
        match self.apply_ops(ops, &mut j) {
            Ok(()) => {
                self.keep_link_local(&j.settings);
                Ok(j)
            }
            Err(e) => {
                self.rollback(j);
                Err(e)
            }
        }
    }

    /// link2's own address: the link-local of our public key is one of
    /// the interface's addresses while link2 is set (it follows a new
    /// key, and goes with -link2).
    fn keep_link_local(&mut self, before: &Settings) {
        let of = |s: &Settings| {
            let k = s.public_key.as_ref().filter(|_| s.link2)?;
            Some(IfAddr {
                addr: IpAddr::V6(linklocal::of(k.as_bytes())),
                prefix_len: 64,
                dest: None,
            })
        };
        let (was, is) = (of(before), of(&self.settings));
        if was == is {
            return;
        }
        if let Some(w) = was {
            self.addrs.retain(|a| a.addr != w.addr);
        }
        if let Some(i) = is {
            if !self.addrs.iter().any(|a| a.addr == i.addr) {
                self.addrs.push(i);
            }
        }
    }

    /// Put back what the journal remembers.
    pub fn rollback(&mut self, j: Journal) {
        self.settings = j.settings;
        for (k, before) in j.peers {
            self.peers.remove(&k);
            if let Some(pc) = before {
                self.peers.insert(pc);
            }
        }
        for (p, before) in j.owners {
            match before {
                Some(o) => self.peers.owners.insert(p, o),
                None => self.peers.owners.remove(&p),
            };
        }
        self.peers.next_seq = j.next_seq;
    }

    /// Forget a committed request's per-request marks.
    pub fn settle(&mut self, j: &Journal) {
        for k in j.peers.keys() {
            if let Some(pc) = self.peers.get_mut(k) {
                pc.new_endpoint = None;
                pc.new_name = false;
                pc.rekey = false;
            }
        }
    }

    fn remove_peer(&mut self, k: &[u8; 32], j: &mut Journal) {
        if !self.peers.map.contains_key(k) {
            return;
        }
        j.touch(&self.peers, k);
        if let Some(pc) = self.peers.remove(k) {
            for a in &pc.allowed_ips {
                j.owner(&self.peers, a);
                self.peers.owners.remove(a);
            }
        }
    }

    fn apply_ops(&mut self, ops: &[Op], j: &mut Journal) -> Result<(), ConfigError> {
        let mut sel = Selected::None;
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
                    Selected::Peer { key, created } => {
                        let key = *key;
                        if *op == Op::UpdateOnly {
                            if *created {
                                self.remove_peer(&key, j);
                                sel = Selected::Ignored;
                            }
                        } else {
                            self.apply_peer_option(&key, op, j);
                        }
                        continue;
                    }
                }
            }
            match op {
                Op::PrivateKey(k) if k.is_zero() => {
                    self.private_key = None;
                    self.public_key = None;
                }
                Op::PrivateKey(k) => {
                    let k = clamp(k);
                    let public = public_of(&k);
                    if self.private_key.as_ref() != Some(&k) {
                        self.private_key = Some(k);
                        // A peer with our own public key cannot exist.
                        self.remove_peer(public.as_bytes(), j);
                        sel = Selected::None;
                        self.public_key = Some(public);
                    }
                }
                Op::ListenPort(p) => self.port = *p,
                Op::Cookie(v) => self.cookie = *v,
                Op::Peer(k) => {
                    if is_low_order(k) {
                        return Err(ConfigError::Invalid("low-order peer key"));
                    }
                    if self.public_key.as_ref() == Some(k) {
                        sel = Selected::Ignored;
                        continue;
                    }
                    let key = *k.as_bytes();
                    let created = !self.peers.map.contains_key(&key);
                    if created {
                        j.touch(&self.peers, &key);
                        let seq = self.peers.next_seq;
                        self.peers.next_seq += 1;
                        self.peers.insert(PeerConfig {
                            public_key: k.clone(),
                            seq,
                            live: None,
                            psk: None,
                            pka: 0,
                            description: None,
                            allowed_ips: Vec::new(),
                            new_endpoint: None,
                            endpoint_name: None,
                            new_name: false,
                            rekey: false,
                        });
                    }
                    sel = Selected::Peer { key, created };
                }
                Op::RemovePeer(k) => {
                    self.remove_peer(k.as_bytes(), j);
                    sel = Selected::Ignored;
                }
                Op::RemoveAllPeers => {
                    let all: Vec<[u8; 32]> = self.peers.map.keys().copied().collect();
                    for k in &all {
                        self.remove_peer(k, j);
                    }
                    sel = Selected::None;
                }
                Op::Up(b) => self.up = *b,
                Op::Debug(b) => self.debug = *b,
                Op::Link0(b) => {
                    self.link0 = *b;
                    if *b {
                        self.link1 = false;
                    }
                }
                Op::Link1(b) => {
                    self.link1 = *b;
                    if *b {
                        self.link0 = false;
                    }
                }
                Op::Link2(b) => self.link2 = *b,
                Op::Mtu(m) => {
                    if !(MIN_MTU..=MAX_MTU).contains(m) {
                        return Err(ConfigError::Invalid("mtu out of range"));
                    }
                    self.mtu = *m;
                }
                Op::Description(d) => self.description = d.clone(),
                Op::AddAddress(a) | Op::ReplaceAddress(a) => {
                    let max = if a.addr.is_ipv4() { 32 } else { 128 };
                    if a.prefix_len > max || a.dest.is_some_and(|d| d.is_ipv4() != a.addr.is_ipv4())
                    {
                        return Err(ConfigError::Invalid("bad address"));
                    }
                    let first_v4 = || self.addrs.iter().position(|x| x.addr.is_ipv4());
                    match self.addrs.iter().position(|x| x.addr == a.addr) {
                        Some(i) => self.addrs[i] = *a,
                        None => match first_v4() {
                            Some(i) if matches!(op, Op::ReplaceAddress(_)) && a.addr.is_ipv4() => {
                                self.addrs[i] = *a
                            }
                            _ => self.addrs.push(*a),
                        },
                    }
                }
                Op::AddGroup(g) => {
                    if !valid_group(g) {
                        return Err(ConfigError::Invalid("bad group name"));
                    }
                    // Already in it: nothing to do, as on BSD.
                    if g != CLONER_GROUP && !self.groups.contains(g) {
                        self.groups.push(g.clone());
                    }
                }
                Op::DeleteGroup(g) => {
                    if g == CLONER_GROUP {
                        return Err(ConfigError::ClonerGroup);
                    }
                    let before = self.groups.len();
                    self.groups.retain(|x| x != g);
                    if self.groups.len() == before {
                        return Err(ConfigError::NoSuchGroup);
                    }
                }
                Op::DeleteAddress(ip) => {
                    let before = self.addrs.len();
                    self.addrs.retain(|x| x.addr != *ip);
                    if self.addrs.len() == before {
                        return Err(ConfigError::NoSuchAddress);
                    }
                }
                // Peer options were handled above.
                Op::Endpoint(_)
                | Op::EndpointName(_)
                | Op::ReplaceAllowedIps
                | Op::AllowedIp(_)
                | Op::UpdateOnly
                | Op::PresharedKey(_)
                | Op::PersistentKeepalive(_)
                | Op::PeerDescription(_) => {}
            }
        }
        Ok(())
    }

    fn apply_peer_option(&mut self, key: &[u8; 32], op: &Op, j: &mut Journal) {
        j.touch(&self.peers, key);
        match op {
            Op::ReplaceAllowedIps => {
                let Some(pc) = self.peers.map.get_mut(key) else {
                    return;
                };
                let old = std::mem::take(&mut pc.allowed_ips);
                for a in &old {
                    j.owner(&self.peers, a);
                    self.peers.owners.remove(a);
                }
            }
            Op::AllowedIp(p) => {
                j.owner(&self.peers, p);
                match self.peers.owners.insert(*p, *key) {
                    Some(o) if o == *key => {}
                    Some(o) => {
                        // A prefix has one owner: it moves to this peer.
                        j.touch(&self.peers, &o);
                        if let Some(prev) = self.peers.map.get_mut(&o) {
                            prev.allowed_ips.retain(|q| q != p);
                        }
                        if let Some(pc) = self.peers.map.get_mut(key) {
                            pc.allowed_ips.push(*p);
                        }
                    }
                    None => {
                        if let Some(pc) = self.peers.map.get_mut(key) {
                            pc.allowed_ips.push(*p);
                        }
                    }
                }
            }
            _ => {
                let Some(pc) = self.peers.map.get_mut(key) else {
                    return;
                };
                match op {
                    // An address replaces the endpoint and its name
                    // (a new wgendpoint stops the lookups); a name
                    // follows the address it was resolved to
                    // (`proto::Op::EndpointName`).
                    Op::Endpoint(a) => {
                        pc.new_endpoint = Some(*a);
                        pc.endpoint_name = None;
                        pc.new_name = true;
                    }
                    Op::EndpointName(n) => {
                        pc.endpoint_name = Some(Arc::new(n.clone()));
                        pc.new_name = true;
                    }
                    Op::PresharedKey(k) => {
                        let k = k.clone().filter(|k| !k.is_zero());
                        if pc.psk != k {
                            pc.psk = k;
                            pc.rekey = true;
                        }
                    }
                    Op::PersistentKeepalive(n) => pc.pka = *n,
                    Op::PeerDescription(d) => pc.description = d.clone(),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
