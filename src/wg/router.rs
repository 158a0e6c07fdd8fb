//! The data plane's view of an interface, rebuilt on every configuration
//! change and swapped in whole: the packet path clones one `Arc<Router>`
//! per batch and never sees a half-applied request.

use crate::wg::allowed_ips::AllowedIps;
use crate::wg::peer::Peer;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::x25519::{PublicKey, StaticSecret};
use std::collections::HashMap;
use std::sync::Arc;

/// Our static identity, needed to find the sender of an initiation.
pub struct Identity {
    pub secret: StaticSecret,
    pub public: PublicKey,
    /// Shared by every peer's `Tunn`, so cookies are consistent.
    pub rate_limiter: Arc<RateLimiter>,
}

#[derive(Default)]
pub struct Router {
    pub identity: Option<Arc<Identity>>,
    /// In creation order.
    pub peers: Vec<Arc<Peer>>,
    pub by_key: HashMap<[u8; 32], Arc<Peer>>,
    /// By 24-bit local index.
    pub by_index: HashMap<u32, Arc<Peer>>,
    pub allowed_ips: AllowedIps<Arc<Peer>>,
    pub mtu: usize,
}

impl Router {
    pub fn peer_by_receiver(&self, receiver_index: u32) -> Option<&Arc<Peer>> {
        self.by_index.get(&(receiver_index >> 8))
    }
}
