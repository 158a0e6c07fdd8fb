//! The data plane's view of an interface: the peers by key and by index,
//! the allowed-IP trie, the MTU. A commit changes only what its request
//! changed, under the write lock, so the packet path (which holds the
//! read lock for a batch) never sees a half-applied request.

use crate::noise::handshake::Responder;
use crate::wg::allowed_ips::AllowedIps;
use crate::wg::peer::Peer;
use crate::wg::ratelimit::PerSource;
use boringtun::noise::rate_limiter::RateLimiter;
use boringtun::x25519::{PublicKey, StaticSecret};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Our static identity, needed to find the sender of an initiation.
pub struct Identity {
    pub secret: StaticSecret,
    pub public: PublicKey,
    pub responder: Responder,
    /// Counts every handshake message once, at the interface, and
    /// answers with cookie replies when under load.
    pub rate_limiter: Arc<RateLimiter>,
    /// Initiations per source while under load.
    pub per_source: PerSource,
    /// Handshake messages this second, and when the second began: the
    /// same count as `rate_limiter`'s, which does not say when it is
    /// under load.
    load: AtomicU64,
    load_since: Mutex<Instant>,
    limit: u64,
}

impl Identity {
    pub fn new(secret: StaticSecret, limit: u64) -> Identity {
        let public = PublicKey::from(&secret);
        Identity {
            responder: Responder::new(&public),
            rate_limiter: Arc::new(RateLimiter::new(&public, limit)),
            per_source: PerSource::default(),
            load: AtomicU64::new(0),
            load_since: Mutex::new(Instant::now()),
            limit,
            secret,
            public,
        }
    }

    /// Count one handshake message; whether the interface is now under
    /// load (more than the limit this second).
    pub fn count_handshake(&self) -> bool {
        self.load.fetch_add(1, Ordering::Relaxed) >= self.limit
    }

    /// Called at every clock tick; once a second it starts counting afresh
    /// and forgets idle sources.
    pub fn new_second(&self, now: Instant) {
        let mut since = self.load_since.lock().unwrap_or_else(|e| e.into_inner());
        if now.saturating_duration_since(*since) >= Duration::from_secs(1) {
            *since = now;
            self.rate_limiter.reset_count();
            self.load.store(0, Ordering::Relaxed);
            self.per_source.sweep(now);
        }
    }
}

#[derive(Default)]
pub struct Router {
    pub identity: Option<Arc<Identity>>,
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
