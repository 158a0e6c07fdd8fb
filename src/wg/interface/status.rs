//! An interface's status, as ifconfig-wg, the JSON listing and the UAPI
//! `get` show it.

use super::{lock, Interface};
use proto::{InterfaceStatus, PeerStatus, Psk};
use std::sync::atomic::Ordering;
use std::time::UNIX_EPOCH;

impl Interface {
    /// Status; secrets only when `secrets` (root), the private key only
    /// when also `keys` (`-k`).
    pub fn status(&self, secrets: bool, keys: bool) -> InterfaceStatus {
        let cfg = lock(&self.config);
        let mut s = InterfaceStatus::new(&self.name());
        s.peers.reserve(cfg.peers.len());
        s.ifindex = self.index();
        s.flags = Interface::flags(&cfg, self.sockets().is_some());
        s.mtu = cfg.mtu;
        s.description = cfg.description.clone();
        s.addrs = cfg.addrs.clone();
        s.groups = std::iter::once(crate::wg::config::CLONER_GROUP.to_string())
            .chain(cfg.groups.iter().cloned())
            .collect();
        s.listen_port = (cfg.port != 0).then_some(cfg.port);
        s.cookie = cfg.cookie;
        if secrets && keys {
            s.private_key = cfg.private_key.clone();
        }
        s.public_key = cfg.public_key.clone();
        let router = self.router();
        for pc in cfg.peers.iter() {
            let Some(peer) = &pc.live else { continue };
            let link_local = Interface::link_local_of(&router, pc.public_key.as_bytes());
            let st = peer.lock();
            s.peers.push(PeerStatus {
                public_key: pc.public_key.clone(),
                id: peer.id,
                description: pc.description.clone(),
                psk: match (&pc.psk, secrets, keys) {
                    (None, _, _) | (_, false, _) => Psk::None,
                    (Some(_), true, false) => Psk::Present,
                    (Some(k), true, true) => Psk::Key(k.clone()),
                },
                pka: pc.pka,
                endpoint: st.endpoint,
                endpoint_scope: match st.endpoint {
                    Some(std::net::SocketAddr::V6(a)) if a.scope_id() != 0 => {
                        crate::sys::netlink::name_of(a.scope_id())
                    }
                    _ => None,
                },
                endpoint_name: pc.endpoint_name.as_deref().cloned(),
                tx_bytes: peer.tx_bytes.load(Ordering::Relaxed),
                rx_bytes: peer.rx_bytes.load(Ordering::Relaxed),
                last_handshake: st
                    .last_handshake
                    .map(|t| t.duration_since(UNIX_EPOCH).unwrap_or_default()),
                allowed_ips: pc.allowed_ips.iter().rev().copied().collect(),
                link_local,
            });
        }
        s
    }
}
