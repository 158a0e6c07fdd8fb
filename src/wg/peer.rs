//! A peer at run time: its Noise state (`Tunnel`), endpoint, counters and
//! the bookkeeping behind the debug messages. One mutex per peer.

use crate::noise::initiations::Initiations;
use crate::noise::tunnel::Tunnel;
use crate::wg::deadlines::Timers;
use crate::wg::interface::Interface;
use crate::wg::schedule::Home;
use proto::EndpointName;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::SystemTime;

/// Peer ids are unique for the life of the daemon and never repeat.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Ids from now on are above `id` (a peer carried over from the old
/// process keeps its id).
pub fn ids_above(id: u64) {
    NEXT_ID.fetch_max(id.saturating_add(1), Ordering::Relaxed);
}

pub struct Peer {
    pub id: u64,
    pub state: Mutex<PeerState>,
    /// Every byte sent to / received from the endpoint, handshakes included.
    pub tx_bytes: AtomicU64,
    pub rx_bytes: AtomicU64,
    /// When the clock looks at the peer next (`timers::ms`; `u64::MAX`:
    /// never): its entry in `crate::wg::schedule`, at or before the
    /// earliest deadline of `PeerState::timers`. Written under the
    /// schedule's lock.
    pub due: AtomicU64,
    /// The interface the peer belongs to, once it is filed there (the
    /// schedule's entries point to both).
    pub home: OnceLock<Home>,
}

#[derive(Default)]
pub struct PeerState {
    /// `None` while the interface has no private key.
    pub tunnel: Option<Tunnel>,
    pub endpoint: Option<SocketAddr>,
    /// The name `endpoint` was configured by, if any: the clock asks for
    /// it to be resolved again when handshakes go unanswered
    /// (`crate::wg::names`). The configuration's, shared.
    pub name: Option<Arc<EndpointName>>,
    /// Our address the peer last reached us at, when it is not the one
    /// the kernel would pick anyway: replies and later traffic leave from
    /// it (sticky source), so a multi-homed host answers from the address
    /// it was contacted on. `None` costs nothing per send.
    pub local: Option<IpAddr>,
    /// The address the peer last reached us at, whatever the kernel's
    /// choice (to notice a change).
    pub contacted: Option<IpAddr>,
    /// Persistent keepalive interval in seconds, 0 = off.
    pub pka: u16,
    pub last_handshake: Option<SystemTime>,
    /// The protocol's deadlines and what they depend on.
    pub timers: Timers,
    /// Which of the peer's initiations may be consumed: newer than any
    /// before, at most 50 a second. Kept for the peer's whole life
    /// (down/up and key changes rebuild `tunnel`, but not this), so a
    /// recorded initiation is never answered twice.
    pub initiations: Initiations,
}

impl Peer {
    pub fn new(id: u64) -> Peer {
        Peer {
            id,
            state: Mutex::new(PeerState::default()),
            tx_bytes: AtomicU64::new(0),
            rx_bytes: AtomicU64::new(0),
            due: AtomicU64::new(u64::MAX),
            home: OnceLock::new(),
        }
    }

    /// The peer belongs to `ifc` from now on: its deadlines go to the
    /// schedule the clock runs.
    pub fn attach(self: &Arc<Self>, ifc: Weak<Interface>) {
        let _ = self.home.set(Home {
            ifc,
            peer: Arc::downgrade(self),
        });
    }

    /// A poisoned lock only means another thread panicked mid-packet; the
    /// state is still usable, so the packet path never unwraps here.
    pub fn lock(&self) -> MutexGuard<'_, PeerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn add_tx(&self, n: usize) {
        self.tx_bytes.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn add_rx(&self, n: usize) {
        self.rx_bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
}
