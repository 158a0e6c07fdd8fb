//! The peers of one interface's configuration: by public key, in
//! creation order, and which peer owns each allowed IP.

use crate::wg::peer::Peer;
use proto::{EndpointName, Key, Prefix};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Clone)]
pub struct PeerConfig {
    pub public_key: Key,
    /// Creation order, for listing.
    pub(super) seq: u64,
    /// The live peer; `None` until a request creating it is committed.
    pub live: Option<Arc<Peer>>,
    pub psk: Option<Key>,
    pub pka: u16,
    pub description: Option<String>,
    /// Oldest first (status shows them newest first).
    pub allowed_ips: Vec<Prefix>,
    /// Set by the request being applied; moved into the peer on commit.
    pub new_endpoint: Option<SocketAddr>,
    /// The host name the endpoint was configured by (`wgendpoint NAME
    /// PORT`), kept to show and to resolve again (`crate::wg::names`).
    pub endpoint_name: Option<Arc<EndpointName>>,
    /// The request set or cleared `endpoint_name`: the peer's copy is
    /// updated on commit.
    pub new_name: bool,
    /// The Noise state must be rebuilt on commit (new PSK).
    pub rekey: bool,
}

impl PeerConfig {
    /// Creation order among the interface's peers.
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

/// The peers, by public key and in creation order, and which peer owns
/// each allowed IP.
#[derive(Default)]
pub struct Peers {
    pub(super) map: HashMap<[u8; 32], PeerConfig>,
    order: BTreeMap<u64, [u8; 32]>,
    pub(super) next_seq: u64,
    pub(super) owners: HashMap<Prefix, [u8; 32]>,
}

impl Peers {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, k: &[u8; 32]) -> Option<&PeerConfig> {
        self.map.get(k)
    }

    pub fn get_mut(&mut self, k: &[u8; 32]) -> Option<&mut PeerConfig> {
        self.map.get_mut(k)
    }

    /// In creation order.
    pub fn iter(&self) -> impl Iterator<Item = &PeerConfig> {
        self.order.values().filter_map(|k| self.map.get(k))
    }

    /// The peer that owns `p` now.
    pub fn owner(&self, p: &Prefix) -> Option<&PeerConfig> {
        self.map.get(self.owners.get(p)?)
    }

    pub(super) fn insert(&mut self, pc: PeerConfig) {
        self.order.insert(pc.seq, *pc.public_key.as_bytes());
        self.map.insert(*pc.public_key.as_bytes(), pc);
    }

    pub(super) fn remove(&mut self, k: &[u8; 32]) -> Option<PeerConfig> {
        let pc = self.map.remove(k)?;
        self.order.remove(&pc.seq);
        Some(pc)
    }
}

#[cfg(test)]
impl std::ops::Index<usize> for Peers {
    type Output = PeerConfig;
    fn index(&self, i: usize) -> &PeerConfig {
        self.iter().nth(i).expect("peer index")
    }
}
