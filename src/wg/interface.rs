//! One wgN interface: its TUN device, configuration, data-plane snapshot,
//! UDP sockets and worker threads.
//!
//! ```text
//!   control ── set(ops) ──> Config::apply (pure, on a copy)
//!                            │ ok
//!                            ▼
//!           side effects: bind sockets, netlink (undone on failure)
//!                            │ ok
//!                            ▼
//!           commit: peers, Router snapshot swap, socket swap, workers
//!
//!   the data plane serves the TUN device from creation and the UDP
//!   sockets while up, through the `Wiring` the registry gave the
//!   interface; the clock runs the timers
//! ```
//!
//! Following the link as others change it, and renaming it: `link`;
//! following it into other network namespaces: `namespaces`.

use crate::noise::index::Table;
use crate::noise::tunnel::Tunnel;
use crate::sys::boottime::Instant;
use crate::sys::netlink::{self, Where};
use crate::sys::netns;
use crate::sys::tun::Tun;
use crate::sys::udp::Sockets;
use crate::sys::unlink;
use crate::wg::config::{Config, ConfigError, Journal, PeerConfig, Settings};
use crate::wg::constants::UP_SETTLE;
use crate::wg::messages::Message;
use crate::wg::peer::{next_id, Peer};
use crate::wg::router::{Identity, Router};
use crate::wg::schedule::schedule;
use crate::wg::sleep;
use crate::wg::timers;
use boringtun::x25519::{PublicKey, StaticSecret};
use proto::flags::*;
use proto::Op;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// What serves an interface from above: the data plane reads its TUN
/// device and its UDP sockets. The interface says what changed; the
/// wiring (`crate::registry`, which made it) does the serving, so the
/// driver core never reaches up into the plane.
pub trait Wiring: Send + Sync {
    /// Serve the interface's TUN device (once, when it is created).
    fn serve_tun(&self, ifc: &Arc<Interface>, tun: &Arc<Tun>) -> io::Result<()>;
    /// Serve these UDP sockets from now on and no others (`None`: none,
    /// the interface is down). Returns once no batch of the old ones is
    /// in flight.
    fn serve_sockets(
        &self,
        ifc: &Arc<Interface>,
        tun: &Arc<Tun>,
        socks: Option<&Arc<Sockets>>,
    ) -> io::Result<()>;
    /// Serve nothing of the interface any more (it is destroyed); returns
    /// once nothing of it is in flight.
    fn stop(&self);
    /// Keep the interface's route copy (link2 set: `on`) from now on, or
    /// stop.
    /// False if that cannot start now (tried again at the next request).
    fn watch_routes(&self, _ifc: &Arc<Interface>, _on: bool) -> bool {
        true
    }
}

#[derive(Debug)]
pub enum SetError {
    Config(ConfigError),
    /// Binding the UDP port failed.
    Bind(io::Error),
    /// The kernel refused a link change.
    Link(io::Error),
    /// The interface was destroyed while the request waited.
    Gone,
}

pub struct Interface {
    /// Changes only by `rename`.
    name: RwLock<String>,
    /// Where the link is: its namespace (as the home namespace's id for
    /// it; `None`: home) and its index there. Changes when the link is
    /// moved (`ip link set wgN netns X`, `vnet`).
    place: Mutex<Where>,
    /// The namespace the interface was born in, if not the daemon's (the
    /// launcher run elsewhere): its UDP sockets are made there.
    birth: Option<OwnedFd>,
    tun: Mutex<Option<Arc<Tun>>>,
    config: Mutex<Config>,
    router: RwLock<Router>,
    sockets: RwLock<Option<Arc<Sockets>>>,
    debug: AtomicBool,
    /// Set under the config lock by `shutdown`; `set` then refuses.
    destroyed: AtomicBool,
    /// The link went down since IPv6 addresses were last put back.
    v6_dropped: AtomicBool,
    /// What serves the TUN device and the UDP sockets.
    wiring: Arc<dyn Wiring>,
    /// The kernel's routes over the link, while link2 is set, and
    /// whether they are being kept (`multipoint::follow_link2`).
    routes: Mutex<crate::wg::routes::RouteCopy>,
    routes_watched: Mutex<bool>,
}

mod carry;
mod change;
mod link;
mod multipoint;
mod names;
mod namespaces;
mod status;

pub use carry::{CarriedInterface, CarriedPeer};

pub use namespaces::Moved;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Interface {
    /// Create the TUN device (down, no IPv6 link-local, no multicast),
    /// served through `wiring` from now on.
    pub fn create(
        name: &str,
        wiring: Arc<dyn Wiring>,
        birth: Option<OwnedFd>,
    ) -> io::Result<Arc<Interface>> {
        let cfg = Config::default();
        let mtu = cfg.mtu as u16;
        let tun = Arc::new(match &birth {
            None => Tun::create(name, mtu)?,
            Some(ns) => netns::run_in(ns.as_fd(), || Tun::create(name, mtu))?,
        });
        let ifindex = tun.ifindex();
        netlink::in_netns(birth.as_ref().map(|b| b.as_fd()), || -> io::Result<()> {
            netlink::disable_ipv6_autoconf(ifindex)?;
            // Best effort: without it, the kernel's default.
            let _ = netlink::no_queue(ifindex);
            netlink::set_flags(ifindex, Some(false), Some(false))
        })?;
        let nsid = match &birth {
            None => None,
            Some(ns) => Some(netlink::nsid_of(ns.as_fd())?),
        };
        let place = Where {
            nsid,
            index: ifindex,
        };
        let ifc = Interface::assemble(name, place, birth, tun.clone(), wiring);
        ifc.wiring.serve_tun(&ifc, &tun)?;
        Ok(ifc)
    }

    /// Stop serving it and drop every secret; the TUN device goes away
    /// when the last reference to it is dropped (here, unless a request
    /// still holds it), its link before this returns. The caller stops
    /// its UAPI socket first (requests wait for the config lock).
    pub fn shutdown(&self) {
        let mut cfg = lock(&self.config);
        self.destroyed.store(true, Ordering::SeqCst);
        self.wiring.stop();
        *self.sockets.write().unwrap_or_else(|e| e.into_inner()) = None;
        let router = std::mem::take(&mut *self.router.write().unwrap_or_else(|e| e.into_inner()));
        for p in router.by_key.values() {
            timers::reset_sessions(p, &mut p.lock(), None);
        }
        *cfg = Config::default();
        // Nothing of the plane holds the device any more (`stop`); if
        // no one else does, its link goes before we return, and the
        // kernel's long tail of the close runs on its own thread.
        if let Some(tun) = lock(&self.tun).take() {
            if let Ok(tun) = Arc::try_unwrap(tun) {
                unlink::close(tun, self.index());
            }
        }
    }

    /// The TUN device, until the interface is destroyed.
    fn tun(&self) -> io::Result<Arc<Tun>> {
        lock(&self.tun)
            .clone()
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENXIO))
    }

    /// The namespace the interface was born in, if not the daemon's.
    pub fn birth(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        self.birth.as_ref().map(|b| b.as_fd())
    }

    /// The namespace the link is in now.
    pub fn link_netns(&self) -> io::Result<OwnedFd> {
        self.tun()?.netns()
    }

    /// The link's index in the namespace it is in now.
    pub fn index(&self) -> u32 {
        lock(&self.place).index
    }

    pub fn place(&self) -> Where {
        *lock(&self.place)
    }

    pub fn name(&self) -> String {
        self.name.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn has_name(&self, n: &str) -> bool {
        *self.name.read().unwrap_or_else(|e| e.into_inner()) == n
    }

    /// The data plane's view, read-locked: held for one batch. A commit
    /// takes the write lock only to apply what its request changed.
    pub fn router(&self) -> RwLockReadGuard<'_, Router> {
        self.router.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn sockets(&self) -> Option<Arc<Sockets>> {
        self.sockets
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn debug(&self) -> bool {
        self.debug.load(Ordering::Relaxed)
    }

    /// A driver event, logged only while DEBUG is set.
    pub fn log(&self, m: Message) {
        if self.debug() {
            crate::log::event(&self.name(), m);
        }
    }

    /// No new session for REJECT_AFTER_TIME * 3: replace the peer's
    /// `Tunnel` by a fresh one, which drops every session key, the
    /// handshake state and the packets waiting for a session. The other
    /// deadlines run on (a persistent keepalive still starts a handshake).
    pub fn zero_keys(&self, peer: &Arc<Peer>) {
        let cfg = lock(&self.config);
        let identity = self.router().identity.clone();
        let Some(pc) = cfg
            .peers
            .iter()
            .find(|pc| pc.live.as_ref().is_some_and(|p| Arc::ptr_eq(p, peer)))
        else {
            return;
        };
        let mut st = peer.lock();
        if st.tunnel.is_some() {
            st.tunnel = new_tunnel(identity.as_deref(), pc, peer, &self.router().indices);
        }
        timers::keys_zeroed(&mut st);
    }

    /// The machine slept: forget every peer's session keys and handshake
    /// in progress (`crate::wg::sleep`). Returns how many peers had any.
    pub fn forget_keys(&self) -> usize {
        let router = self.router();
        router
            .by_key
            .values()
            .filter(|p| sleep::forget_keys(&mut p.lock()))
            .count()
    }

    /// Apply one request atomically.
    pub fn set(self: &Arc<Self>, ops: &[Op]) -> Result<(), SetError> {
        let r = match self.in_link_ns(|| self.set_here(ops)) {
            Ok(r) => r,
            Err(_) if self.destroyed.load(Ordering::SeqCst) => Err(SetError::Gone),
            Err(e) => Err(SetError::Link(e)),
        };
        self.follow_link2();
        r
    }

    fn set_here(self: &Arc<Self>, ops: &[Op]) -> Result<(), SetError> {
        let mut cfg = lock(&self.config);
        if self.destroyed.load(Ordering::SeqCst) {
            return Err(SetError::Gone);
        }
        // Addresses are the kernel's: start from what the link has now,
        // whoever put it there, not from what the last event said.
        let touches_addrs = ops.iter().any(|o| {
            matches!(
                o,
                Op::AddAddress(_) | Op::ReplaceAddress(_) | Op::DeleteAddress(_)
            )
        });
        if touches_addrs {
            if let Ok(link) = netlink::link_state(self.index()) {
                self.refresh_addrs(&mut cfg, &link);
            }
        }
        self.apply_locked(&mut cfg, ops)
    }

    fn apply_locked(self: &Arc<Self>, cfg: &mut Config, ops: &[Op]) -> Result<(), SetError> {
        let journal = cfg.apply(ops).map_err(SetError::Config)?;
        let old = &journal.settings;

        // 1. Sockets: bind the new port before anything changes.
        let port_changed = cfg.port != old.port;
        let mut new_sockets = None;
        if cfg.up && (!old.up || port_changed) {
            match self.bind_sockets(cfg.port, cfg.cookie) {
                Ok(s) => {
                    cfg.port = s.port;
                    new_sockets = Some(s);
                }
                Err(e) => {
                    self.log(Message::SocketsFailed(&e));
                    cfg.rollback(journal);
                    return Err(SetError::Bind(e));
                }
            }
        } else if !cfg.up && port_changed && cfg.port != 0 {
            // Down: only check that the port could be bound.
            if let Err(e) = self.bind_sockets(cfg.port, 0) {
                cfg.rollback(journal);
                return Err(SetError::Bind(e));
            }
        }
        if new_sockets.is_none() && cfg.cookie != old.cookie {
            if let Some(s) = self.sockets() {
                if let Err(e) = s.set_mark(cfg.cookie) {
                    cfg.rollback(journal);
                    return Err(SetError::Link(e));
                }
            }
        }

        // 2. The link, undone in reverse if a later step fails. Coming up,
        // the kernel sends as soon as the link is (a routing daemon's
        // first hello): the router stays held from before the link goes
        // up until commit has put the sockets and the peers in it, so a
        // worker that reads such a packet waits for them instead of
        // dropping it. No sockets are served while down, so nothing the
        // commit waits for needs the router.
        let held =
            (cfg.up && !old.up).then(|| self.router.write().unwrap_or_else(|e| e.into_inner()));
        let mut undo = Vec::new();
        if let Err(e) = self.change_link(old, cfg, &mut undo) {
            drop(held);
            self.undo_link(undo);
            if let Some(s) = self.sockets() {
                let _ = s.set_mark(old.cookie);
            }
            cfg.rollback(journal);
            return Err(SetError::Link(e));
        }

        // 3. Commit; nothing below can fail.
        self.commit(cfg, &journal, new_sockets, held);
        cfg.settle(&journal);
        Ok(())
    }

    /// Bring the data plane's view up to date with a request just applied:
    /// only what the journal names, unless the change concerns every
    /// peer (a new private key, or going down).
    /// `held`: the router, already taken (the link is coming up).
    fn commit(
        self: &Arc<Self>,
        cfg: &mut Config,
        j: &Journal,
        new_sockets: Option<Sockets>,
        held: Option<RwLockWriteGuard<'_, Router>>,
    ) {
        let old = &j.settings;
        let key_changed = old.private_key != cfg.private_key;
        let went_down = old.up && !cfg.up;
        self.debug.store(cfg.debug, Ordering::Relaxed);
        // New sockets before any peer that could send through them: a
        // message queued for none is lost (and an initiation would then
        // wait REKEY_TIMEOUT for its retry).
        let socks = new_sockets.map(Arc::new);
        if socks.is_some() {
            self.serve(socks.clone());
        }
        let mut created = Vec::new();
        let mut destroyed = Vec::new();
        {
            let mut router =
                held.unwrap_or_else(|| self.router.write().unwrap_or_else(|e| e.into_inner()));
            router.mtu = cfg.mtu as usize;
            if key_changed {
                router.identity = cfg
                    .private_key
                    .as_ref()
                    .map(|k| Arc::new(Identity::new(StaticSecret::from(*k.as_bytes()))));
            }
            let identity = router.identity.clone();
            let indices = router.indices.clone();

            // Peers the request removed, created or changed. A peer
            // removed and added again in one request is a new peer.
            // In creation order, so that peer ids follow the request.
            let mut touched: Vec<(&[u8; 32], &Option<PeerConfig>)> = j.peers.iter().collect();
            touched.sort_by_key(|(k, _)| cfg.peers.get(k).map(|pc| pc.seq()));
            for (k, before) in touched {
                let was = before.as_ref().and_then(|b| b.live.clone());
                let still = cfg.peers.get(k).is_some_and(|pc| pc.live.is_some());
                if let (Some(gone), false) = (&was, still) {
                    router.by_key.remove(k);
                    let mut st = gone.lock();
                    timers::reset_sessions(gone, &mut st, None);
                    // A lookup under way finds no name to apply to.
                    st.name = None;
                    destroyed.push(gone.id);
                }
                let Some(pc) = cfg.peers.get_mut(k) else {
                    continue;
                };
                let (peer, is_new) = match &pc.live {
                    Some(p) => (p.clone(), false),
                    None => {
                        let p = Arc::new(Peer::new(next_id()));
                        p.attach(Arc::downgrade(self));
                        pc.live = Some(p.clone());
                        router.by_key.insert(*k, p.clone());
                        created.push(p.id);
                        (p, true)
                    }
                };
                let mut st = peer.lock();
                if (is_new || pc.rekey) && !key_changed && !went_down {
                    let t = new_tunnel(identity.as_deref(), pc, &peer, &indices);
                    timers::reset_sessions(&peer, &mut st, t);
                }
                if let Some(ep) = pc.new_endpoint {
                    st.endpoint = Some(ep);
                    // Our old address may not reach the new endpoint.
                    st.local = None;
                    st.contacted = None;
                }
                if pc.new_name {
                    st.name = pc.endpoint_name.clone();
                }
                let old_pka = std::mem::replace(&mut st.pka, pc.pka);
                if old_pka != st.pka {
                    timers::pka_changed(&peer, &mut st, old_pka, Instant::now());
                }
            }
            // Every peer's sessions go with a new key or a down.
            if key_changed || went_down {
                renew_tunnels(cfg, identity.as_deref(), &indices);
            }
            // Allowed IPs whose owner changed.
            for prefix in j.owners.keys() {
                match cfg.peers.owner(prefix).and_then(|pc| pc.live.clone()) {
                    Some(peer) => router.allowed_ips.insert(prefix, peer),
                    None => {
                        router.allowed_ips.remove(prefix);
                    }
                }
            }
            // link2's view follows the peers and their allowed IPs.
            let peers_changed =
                !created.is_empty() || !destroyed.is_empty() || !j.owners.is_empty();
            if cfg.link2 != old.link2 || (cfg.link2 && peers_changed) {
                self.rebuild_multipoint(&mut router, cfg.link2);
            }
        }

        for id in created {
            self.log(Message::PeerCreated(id));
        }
        for id in destroyed {
            self.log(Message::PeerDestroyed(id));
        }

        if went_down {
            self.serve(None);
        }
        // The clock let the deadlines of a down interface lapse (nothing
        // is sent without sockets): they run from now on, but not before
        // UP_SETTLE, so that a peer brought up in the same breath (rc.d
        // starting both ends) has bound its port when the first
        // initiation (a persistent keepalive's) goes.
        if socks.is_some() {
            let settled = timers::ms(Instant::now() + UP_SETTLE);
            for p in self.router().by_key.values() {
                let st = p.lock();
                // Packets that came while there were no sockets start
                // their handshake then (`expiry::expire`).
                let staged = st.tunnel.as_ref().is_some_and(|t| t.has_staged());
                let at = st.timers.earliest();
                schedule().push(p, if staged { settled } else { at.max(settled) });
            }
        }
    }

    /// Serve these sockets (`None`: none) from now on.
    fn serve(self: &Arc<Self>, socks: Option<Arc<Sockets>>) {
        *self.sockets.write().unwrap_or_else(|e| e.into_inner()) = socks.clone();
        let served = self
            .tun()
            .and_then(|tun| self.wiring.serve_sockets(self, &tun, socks.as_ref()));
        if let Err(e) = served {
            crate::log::error(format!("{}: cannot serve sockets: {e}", self.name()));
        }
    }

    pub fn flags(cfg: &Settings, running: bool) -> u32 {
        let mut f = IFF_NOARP;
        if cfg.up {
            f |= IFF_UP;
        }
        if cfg.up && running {
            f |= IFF_RUNNING;
        }
        if cfg.debug {
            f |= IFF_DEBUG;
        }
        if cfg.link0 {
            f |= IFF_LINK0;
        }
        if cfg.link1 {
            f |= IFF_LINK1 | IFF_POINTOPOINT | IFF_MULTICAST;
        }
        if cfg.link2 {
            f |= IFF_LINK2 | IFF_MULTICAST;
        }
        f
    }
}

/// Every peer's sessions and handshake state replaced by a fresh tunnel,
/// its deadlines started afresh (a new key, down, a failed hand-over).
fn renew_tunnels(cfg: &Config, identity: Option<&Identity>, indices: &Arc<Table<Peer>>) {
    for pc in cfg.peers.iter() {
        if let Some(peer) = &pc.live {
            let t = new_tunnel(identity, pc, peer, indices);
            timers::reset_sessions(peer, &mut peer.lock(), t);
        }
    }
}

/// The peer's Noise state under our identity, leasing its indices from
/// the interface's table.
fn new_tunnel(
    identity: Option<&Identity>,
    pc: &PeerConfig,
    peer: &Arc<Peer>,
    indices: &Arc<Table<Peer>>,
) -> Option<Tunnel> {
    let id = identity?;
    Some(Tunnel::new(
        id.secret.clone(),
        PublicKey::from(*pc.public_key.as_bytes()),
        pc.psk.as_ref().map(|k| *k.as_bytes()),
        indices.allocator(Arc::downgrade(peer)),
    ))
}
