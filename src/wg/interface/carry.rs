//! An interface as values, for a hand-over to a new wgd process
//! (`crate::handover`): its configuration as the request that would make
//! it from scratch, and each peer's run-time state (endpoint, sticky
//! source, sessions, deadlines, counters). `adopt` builds the interface
//! again in the new process around the TUN queue and the UDP sockets it
//! was handed, without touching the link: the kernel already has it as
//! the configuration says.

use super::{lock, new_tunnel, renew_tunnels, Interface, SetError, Wiring};
use crate::noise::initiations::Initiations;
use crate::noise::tunnel::CarriedTunnel;
use crate::sys::boottime::Instant;
use crate::sys::netlink::Where;
use crate::sys::tun::Tun;
use crate::sys::udp::Sockets;
use crate::wg::config::Config;
use crate::wg::deadlines::Timers;
use crate::wg::peer::{ids_above, Peer};
use crate::wg::schedule::schedule;
use proto::Op;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

pub struct CarriedPeer {
    pub key: [u8; 32],
    pub id: u64,
    pub endpoint: Option<SocketAddr>,
    pub local: Option<IpAddr>,
    pub contacted: Option<IpAddr>,
    pub last_handshake: Option<SystemTime>,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub timers: Timers,
    pub initiations: Initiations,
    pub tunnel: Option<CarriedTunnel>,
}

pub struct CarriedInterface {
    pub name: String,
    pub place: Where,
    pub v6_dropped: bool,
    /// The configuration, as one request applied to a new interface.
    pub ops: Vec<Op>,
    pub peers: Vec<CarriedPeer>,
}

/// The request that makes `cfg` from a new interface's defaults.
fn ops_of(cfg: &Config) -> Vec<Op> {
    // Sized up front: growing would move the private key and pre-shared
    // keys and free the old block unwiped.
    let n = 1
        + 8
        + cfg.groups.len()
        + cfg.addrs.len()
        + cfg
            .peers
            .iter()
            .map(|pc| 5 + pc.allowed_ips.len())
            .sum::<usize>()
        + 1;
    let mut ops = Vec::with_capacity(n);
    if let Some(k) = &cfg.private_key {
        ops.push(Op::PrivateKey(k.clone()));
    }
    ops.extend([
        Op::ListenPort(cfg.port),
        Op::Cookie(cfg.cookie),
        Op::Mtu(cfg.mtu),
        Op::Description(cfg.description.clone()),
        Op::Link0(cfg.link0),
        Op::Link1(cfg.link1),
        Op::Link2(cfg.link2),
        Op::Debug(cfg.debug),
    ]);
    ops.extend(cfg.groups.iter().map(|g| Op::AddGroup(g.clone())));
    ops.extend(cfg.addrs.iter().map(|a| Op::AddAddress(*a)));
    for pc in cfg.peers.iter() {
        ops.extend([
            Op::Peer(pc.public_key.clone()),
            Op::PresharedKey(pc.psk.clone()),
            Op::PersistentKeepalive(pc.pka),
            Op::PeerDescription(pc.description.clone()),
        ]);
        // The name alone: the carried peer brings its address.
        ops.extend(pc.endpoint_name.as_deref().cloned().map(Op::EndpointName));
        ops.extend(pc.allowed_ips.iter().map(|p| Op::AllowedIp(*p)));
    }
    ops.push(Op::Up(cfg.up));
    ops
}

impl Interface {
    /// Everything the interface is, at `now`. The caller holds the data
    /// plane still (nothing of the interface is in flight), so nothing
    /// moves while this reads.
    pub fn carry(&self, now: Instant) -> CarriedInterface {
        let cfg = lock(&self.config);
        let peers = cfg
            .peers
            .iter()
            .filter_map(|pc| {
                let peer = pc.live.as_ref()?;
                let st = peer.lock();
                Some(CarriedPeer {
                    key: *pc.public_key.as_bytes(),
                    id: peer.id,
                    endpoint: st.endpoint,
                    local: st.local,
                    contacted: st.contacted,
                    last_handshake: st.last_handshake,
                    tx_bytes: peer.tx_bytes.load(Ordering::Relaxed),
                    rx_bytes: peer.rx_bytes.load(Ordering::Relaxed),
                    timers: st.timers.clone(),
                    initiations: st.initiations,
                    tunnel: st.tunnel.as_ref().map(|t| t.carry(now)),
                })
            })
            .collect();
        CarriedInterface {
            name: self.name(),
            place: self.place(),
            v6_dropped: self.v6_dropped.load(Ordering::Relaxed),
            ops: ops_of(&cfg),
            peers,
        }
    }

    /// The carried interface, served again through `wiring` from the TUN
    /// queue and the sockets (when it is up) handed over with it; each
    /// peer as it was: same id, endpoint, sessions, deadlines and
    /// counters.
    pub fn adopt(
        c: &CarriedInterface,
        tun: Tun,
        sockets: Option<Sockets>,
        wiring: Arc<dyn Wiring>,
        birth: Option<OwnedFd>,
        now: Instant,
    ) -> Result<Arc<Interface>, SetError> {
        let tun = Arc::new(tun);
        let ifc = Interface::assemble(&c.name, c.place, birth, tun.clone(), wiring);
        ifc.v6_dropped.store(c.v6_dropped, Ordering::Relaxed);
        let mut cfg = lock(&ifc.config);
        let journal = cfg.apply(&c.ops).map_err(SetError::Config)?;
        ifc.wiring.serve_tun(&ifc, &tun).map_err(SetError::Link)?;
        // Every peer exists before the commit, with its own id, so the
        // commit neither logs it as new nor gives it a fresh tunnel.
        {
            let mut router = ifc.router.write().unwrap_or_else(|e| e.into_inner());
            for p in &c.peers {
                if let Some(pc) = cfg.peers.get_mut(&p.key) {
                    ids_above(p.id);
                    let peer = Arc::new(Peer::new(p.id));
                    peer.attach(Arc::downgrade(&ifc));
                    pc.live = Some(peer.clone());
                    router.by_key.insert(p.key, peer);
                }
            }
        }
        if let Some(s) = &sockets {
            cfg.port = s.port;
        }
        let up = cfg.up;
        ifc.commit(&mut cfg, &journal, sockets.filter(|_| up), None);
        cfg.settle(&journal);
        let router = ifc.router();
        let identity = router.identity.clone();
        for p in &c.peers {
            let (Some(peer), Some(pc)) = (router.by_key.get(&p.key), cfg.peers.get(&p.key)) else {
                continue;
            };
            peer.tx_bytes.store(p.tx_bytes, Ordering::Relaxed);
            peer.rx_bytes.store(p.rx_bytes, Ordering::Relaxed);
            let mut st = peer.lock();
            st.endpoint = p.endpoint;
            st.local = p.local;
            st.contacted = p.contacted;
            st.last_handshake = p.last_handshake;
            st.initiations = p.initiations;
            st.timers = p.timers.clone();
            st.tunnel = new_tunnel(identity.as_deref(), pc, peer, &router.indices);
            if let (Some(t), Some(carried)) = (st.tunnel.as_mut(), &p.tunnel) {
                t.resume(carried, now);
            }
            // The deadlines as they were (rebuilt from the time left).
            schedule().push(peer, st.timers.earliest());
        }
        drop(router);
        drop(cfg);
        ifc.follow_link2();
        Ok(ifc)
    }

    /// Drop every peer's sessions and start its deadlines afresh, as a
    /// down/up does: the next packet starts a handshake at once.
    pub fn forget_sessions(&self) {
        let cfg = lock(&self.config);
        let router = self.router();
        renew_tunnels(&cfg, router.identity.as_deref(), &router.indices);
    }

    /// A new interface around a TUN device, served through `wiring`.
    pub(super) fn assemble(
        name: &str,
        place: Where,
        birth: Option<OwnedFd>,
        tun: Arc<Tun>,
        wiring: Arc<dyn Wiring>,
    ) -> Arc<Interface> {
        let cfg = Config::default();
        Arc::new(Interface {
            name: RwLock::new(name.to_string()),
            place: Mutex::new(place),
            birth,
            tun: Mutex::new(Some(tun.clone())),
            router: RwLock::new(crate::wg::router::Router {
                mtu: cfg.mtu as usize,
                ..Default::default()
            }),
            config: Mutex::new(cfg),
            sockets: RwLock::new(None),
            debug: AtomicBool::new(false),
            destroyed: AtomicBool::new(false),
            v6_dropped: AtomicBool::new(false),
            wiring,
            routes: Mutex::new(Default::default()),
            routes_watched: Mutex::new(false),
        })
    }
}
