//! The data plane's view of an interface: our identity, the peers by key,
//! the live receiver indices, the allowed-IP trie, the MTU. A commit
//! changes only what its request changed, under the write lock, so the
//! packet path (which holds the read lock for a batch) never sees a
//! half-applied request.

use crate::noise::cookie::Checker;
use crate::noise::handshake::Responder;
use crate::noise::index::Table;
use crate::sys::boottime::Instant;
use crate::wg::allowed_ips::AllowedIps;
use crate::wg::multipoint::Multipoint;
use crate::wg::peer::Peer;
use crate::wg::ratelimit::PerSource;
use boringtun::x25519::{PublicKey, StaticSecret};
use std::collections::HashMap;
use std::sync::Arc;

/// Our static identity, needed to check and answer handshake messages.
pub struct Identity {
    pub secret: StaticSecret,
    pub public: PublicKey,
    pub responder: Responder,
    /// MAC1 and MAC2 of every handshake message, and cookie replies.
    pub cookies: Checker,
    /// Handshake messages per source while under load, charged only
    /// once MAC2 proved the source.
    pub per_source: PerSource,
}

impl Identity {
    pub fn new(secret: StaticSecret) -> Identity {
        let public = PublicKey::from(&secret);
        Identity {
            responder: Responder::new(&public),
            cookies: Checker::new(&public, Instant::now()),
            per_source: PerSource::default(),
            secret,
            public,
        }
    }
}

#[derive(Default)]
pub struct Router {
    pub identity: Option<Arc<Identity>>,
    pub by_key: HashMap<[u8; 32], Arc<Peer>>,
    /// Every live receiver index of the interface (handshakes in flight
    /// and sessions), with the peer it belongs to. Kept for the
    /// interface's life: a new key or a down rebuilds the tunnels, whose
    /// leases give their indices back.
    pub indices: Arc<Table<Peer>>,
    pub allowed_ips: AllowedIps<Arc<Peer>>,
    pub mtu: usize,
    /// link2: the routing table and link-locals choose peers too.
    pub multipoint: Option<Box<Multipoint<Peer>>>,
}

impl Router {
    /// The peer a message addressed to our index `receiver` is for.
    pub fn peer_by_receiver(&self, receiver: u32) -> Option<Arc<Peer>> {
        self.indices.get(receiver)
    }
}
