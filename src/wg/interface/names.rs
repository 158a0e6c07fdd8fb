//! An endpoint's name resolved again (`crate::wg::names`): the answer
//! becomes the peer's endpoint if nothing has changed it since the peer
//! asked, and a handshake waiting for an answer is retried there at once.

use super::Interface;
use crate::sys::boottime::Instant;
use crate::wg::messages::Message;
use crate::wg::names::{self, Ask};
use crate::wg::peer::Peer;
use crate::wg::timers;
use std::net::SocketAddr;

impl Interface {
    /// Does the interface have an IPv6 socket (or, down, might it)? What
    /// a name's IPv6 answers need.
    pub fn serves_v6(&self) -> bool {
        self.sockets().is_none_or(|s| s.v6.is_some())
    }

    /// The lookup `ask` asked for said `answer` (an address the sockets
    /// serve, or the resolver's reason). Takes the peer's lock only.
    pub fn endpoint_resolved(&self, peer: &Peer, ask: &Ask, answer: Result<SocketAddr, &str>) {
        // Down (or destroyed): its sockets are gone, and so are the tries.
        if self.sockets().is_none() {
            return;
        }
        let new = match answer {
            Ok(a) => a,
            Err(why) => {
                self.log(Message::ResolveFailed(peer.id, &ask.name.host, why));
                return;
            }
        };
        let old = {
            let mut st = peer.lock();
            if !names::applies(&st, ask, new) {
                return;
            }
            let old = st.endpoint.replace(new);
            // Our address may not reach the new endpoint.
            st.local = None;
            st.contacted = None;
            timers::endpoint_moved(peer, &mut st, Instant::now());
            old
        };
        self.log(Message::EndpointChanged(peer.id, &ask.name.host, old, new));
    }
}
