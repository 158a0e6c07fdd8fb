//! Endpoints by name: what the driver decides about a peer whose
//! endpoint was configured by host name (wg(4) "Endpoints by name").
//!
//! ```text
//!   clock: a handshake retried because the peer did not answer
//!          (an initiation after 5 s, or data after 15 s) ──ask──┐
//!                                                               ▼
//!   resolver thread (crate::resolver): the queue here ──> lookup (at most
//!   one per name every RESOLVE_EVERY; the answers are kept that long)
//!          ──> pick an address the interface's sockets serve
//!          ──> Interface::endpoint_resolved: applied only if the peer
//!              still has that name, the same endpoint and no handshake
//!              since it asked
//! ```
//!
//! The lookup (the system resolver, blocking for seconds at worst) runs
//! on the resolver's own thread; the clock only files an ask here, under
//! the peer's lock, and this queue's lock is taken under no other and
//! takes none.

use crate::sys::boottime::Instant;
use crate::wg::peer::{Peer, PeerState};
use proto::EndpointName;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime};

/// A name is looked up at most this often; the answer stands meanwhile.
pub const RESOLVE_EVERY: Duration = Duration::from_secs(5);
/// Asks waiting at most (one per peer); more are dropped until the
/// resolver catches up.
const MAX_ASKS: usize = 4096;

/// A peer's request to have its endpoint's name resolved again, with what
/// it saw when it asked.
pub struct Ask {
    pub peer: Weak<Peer>,
    pub name: Arc<EndpointName>,
    /// The endpoint when it asked: a roam since wins.
    pub seen: Option<SocketAddr>,
    /// The last handshake when it asked: one completed since means the
    /// endpoint works.
    pub handshake: Option<SystemTime>,
}

struct Queue {
    asks: Mutex<VecDeque<Ask>>,
    ready: Condvar,
}

fn queue() -> &'static Queue {
    static Q: OnceLock<Queue> = OnceLock::new();
    Q.get_or_init(|| Queue {
        asks: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    })
}

/// The peer did not answer a handshake: if its endpoint has a name, ask
/// for the name to be resolved again. Never blocks.
pub fn unanswered(peer: &Peer, st: &PeerState) {
    let (Some(name), Some(home)) = (&st.name, peer.home.get()) else {
        return;
    };
    let ask = Ask {
        peer: home.peer.clone(),
        name: name.clone(),
        seen: st.endpoint,
        handshake: st.last_handshake,
    };
    let q = queue();
    let mut asks = q.asks.lock().unwrap_or_else(|e| e.into_inner());
    // One ask per peer waits; a newer one replaces it.
    asks.retain(|a| !a.peer.ptr_eq(&ask.peer));
    if asks.len() < MAX_ASKS {
        asks.push_back(ask);
        q.ready.notify_one();
    }
}

/// The next ask; waits for one (the resolver thread).
pub fn next_ask() -> Ask {
    let q = queue();
    let mut asks = q.asks.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(a) = asks.pop_front() {
            return a;
        }
        asks = q.ready.wait(asks).unwrap_or_else(|e| e.into_inner());
    }
}

/// Should the answer `new` to `ask` become the peer's endpoint? Only if
/// the peer still has that name (not removed, no new wgendpoint), its
/// endpoint is what it was when it asked (no roam since), no handshake
/// completed since, and the answer is another address.
pub fn applies(st: &PeerState, ask: &Ask, new: SocketAddr) -> bool {
    st.name.as_ref().is_some_and(|n| Arc::ptr_eq(n, &ask.name))
        && st.endpoint == ask.seen
        && st.last_handshake == ask.handshake
        && st.endpoint != Some(new)
}

/// The address to use among a lookup's answers, in the system's order
/// (getaddrinfo's: RFC 6724, /etc/gai.conf): the first of a family the
/// interface's sockets serve (`v6`: it has an IPv6 socket, or is down
/// and may have one). An IPv6 link-local answer has no scope to reach
/// it by and is passed over.
pub fn pick(answers: &[IpAddr], port: u16, v6: bool) -> Option<SocketAddr> {
    answers
        .iter()
        .find(|a| match a {
            IpAddr::V4(_) => true,
            IpAddr::V6(a) => v6 && (a.segments()[0] & 0xffc0) != 0xfe80,
        })
        .map(|a| SocketAddr::new(*a, port))
}

/// What a lookup said: the addresses, or the resolver's reason.
pub type Answer = Result<Vec<IpAddr>, String>;

/// The last answer for each name, kept RESOLVE_EVERY: asks for a name
/// looked up less than that ago get it again, with no lookup.
#[derive(Default)]
pub struct Lookups {
    last: HashMap<String, (Instant, Answer)>,
}

impl Lookups {
    /// The answer for `host` if it is recent enough to stand.
    pub fn fresh(&self, host: &str, now: Instant) -> Option<&Answer> {
        self.last
            .get(host)
            .filter(|(at, _)| now.saturating_duration_since(*at) < RESOLVE_EVERY)
            .map(|(_, a)| a)
    }

    /// A lookup of `host` at `now` said `answer`; the stale ones go.
    pub fn record(&mut self, host: &str, now: Instant, answer: Answer) {
        self.last
            .retain(|_, (at, _)| now.saturating_duration_since(*at) < RESOLVE_EVERY);
        self.last.insert(host.to_string(), (now, answer));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn pick_follows_the_system_order_within_what_the_sockets_serve() {
        let both = [ip("2001:db8::7"), ip("192.0.2.7")];
        assert_eq!(
            pick(&both, 5, true),
            Some("[2001:db8::7]:5".parse().unwrap())
        );
        assert_eq!(pick(&both, 5, false), Some("192.0.2.7:5".parse().unwrap()));
        assert_eq!(pick(&[ip("2001:db8::7")], 5, false), None);
        assert_eq!(
            pick(&[ip("fe80::1"), ip("192.0.2.7")], 5, true),
            Some("192.0.2.7:5".parse().unwrap()),
            "a link-local answer has no scope"
        );
        assert_eq!(pick(&[], 5, true), None);
    }

    #[test]
    fn a_name_is_looked_up_at_most_every_five_seconds() {
        let mut l = Lookups::default();
        let t0 = Instant::now();
        assert!(l.fresh("a.example", t0).is_none());
        l.record("a.example", t0, Ok(vec![ip("192.0.2.1")]));
        assert_eq!(
            l.fresh("a.example", t0 + Duration::from_secs(4)),
            Some(&Ok(vec![ip("192.0.2.1")]))
        );
        assert!(l.fresh("b.example", t0).is_none(), "per name");
        assert!(l.fresh("a.example", t0 + RESOLVE_EVERY).is_none());
        l.record("b.example", t0 + RESOLVE_EVERY, Err("nope".into()));
        assert_eq!(l.last.len(), 1, "stale answers go");
    }

    fn named(name: &Arc<EndpointName>) -> PeerState {
        PeerState {
            name: Some(name.clone()),
            endpoint: Some("192.0.2.1:5".parse().unwrap()),
            ..Default::default()
        }
    }

    /// A changed answer applies only while nothing else has changed the
    /// endpoint or shown it works.
    #[test]
    fn an_answer_applies_only_to_the_endpoint_that_asked() {
        let name = Arc::new("a.example:5".parse::<EndpointName>().unwrap());
        let new: SocketAddr = "192.0.2.9:5".parse().unwrap();
        let st = named(&name);
        let ask = Ask {
            peer: Weak::new(),
            name: name.clone(),
            seen: st.endpoint,
            handshake: None,
        };
        assert!(applies(&st, &ask, new));
        assert!(!applies(&st, &ask, st.endpoint.unwrap()), "same address");

        let mut roamed = named(&name);
        roamed.endpoint = Some("198.51.100.1:7".parse().unwrap());
        assert!(!applies(&roamed, &ask, new), "roamed since");

        let mut shook = named(&name);
        shook.last_handshake = Some(SystemTime::now());
        assert!(!applies(&shook, &ask, new), "a handshake since");

        let mut renamed = named(&name);
        renamed.name = Some(Arc::new("a.example:5".parse().unwrap()));
        assert!(!applies(&renamed, &ask, new), "a new wgendpoint");

        let mut unnamed = named(&name);
        unnamed.name = None;
        assert!(!applies(&unnamed, &ask, new), "an address, or -wgpeer");
    }
}
