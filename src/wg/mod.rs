//! The driver core: interface and peer state, the allowed-IP trie, the
//! configuration model and timers policy. No syscalls here except through
//! `crate::sys`; the crypto (boringtun's `Tunn`) knows nothing of
//! interfaces.
//!
//! Lock order, written once: `Interface::config` → `Interface::router` /
//! `Interface::sockets` → `Peer::state`. The packet path takes only the
//! last (one peer at a time) after cloning the router and socket snapshots.
//! No lock is held across a blocking call.

pub mod allowed_ips;
pub mod config;
pub mod constants;
pub mod initiation;
pub mod interface;
pub mod messages;
pub mod peer;
pub mod router;
pub mod timers;
