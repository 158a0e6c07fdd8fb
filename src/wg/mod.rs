//! The driver core: interface and peer state, the allowed-IP trie, the
//! configuration model and timers policy. No syscalls here except through
//! `crate::sys`; the crypto (`crate::noise`) knows nothing of
//! interfaces.
//!
//! Lock order, written once: `Interface::config` → a data-plane source's
//! busy lock (`crate::plane`: deregistering waits for it) →
//! `Interface::router` / `Interface::sockets` → `Peer::state`. A worker
//! holds the busy lock of the descriptor it drains and takes only the last
//! three (one peer at a time, after cloning the router and socket
//! snapshots); it never takes `Interface::config`. No lock is held across
//! a blocking call, with one exception: a request that brings the link
//! up takes `Interface::router` before its netlink call and keeps it
//! through the commit, so that the first packets the kernel sends wait
//! for the peers and sockets; a down interface serves no sockets, so that
//! commit waits for no busy lock. The queue of `names` (asks to resolve
//! an endpoint's name again) is a leaf: the clock files an ask under
//! `Peer::state`, and nothing is taken under the queue's lock.

pub mod allowed_ips;
pub mod config;
pub mod constants;
pub mod deadlines;
pub mod expiry;
pub mod interface;
pub mod keys;
pub mod linklocal;
pub mod messages;
pub mod multipoint;
pub mod names;
pub mod outbox;
pub mod peer;
pub mod peers;
pub mod ratelimit;
pub mod router;
pub mod routes;
pub mod schedule;
pub mod send;
pub mod sleep;
pub mod timers;
