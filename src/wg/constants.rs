//! Protocol and driver constants.

use std::time::Duration;

/// The interface cloner's name: interfaces are `wg` and a unit number,
/// and every one is in the interface group of that name.
pub const CLONER: &str = "wg";

/// Message types on the wire (little-endian u32 with three zero bytes).
pub const MSG_INITIATION: u8 = 1;
pub const MSG_RESPONSE: u8 = 2;
pub const MSG_COOKIE: u8 = 3;
pub const MSG_DATA: u8 = 4;

/// Header (16) plus tag (16): a data message carrying nothing is a keepalive.
pub const DATA_OVERHEAD: usize = 32;
pub const KEEPALIVE_LEN: usize = DATA_OVERHEAD;

/// Plaintext is padded to a multiple of this.
pub const PADDING: usize = 16;

/// How long after up the deadlines that lapsed while down run (what the
/// old 250 ms tick gave): otherwise a persistent keepalive's initiation
/// leaves before a peer configured at the same moment listens, and the
/// handshake waits REKEY_TIMEOUT for its retry.
pub const UP_SETTLE: Duration = Duration::from_millis(250);
pub const REKEY_TIMEOUT_SECS: u64 = 5;
pub const KEEPALIVE_TIMEOUT_SECS: u64 = 10;
pub const REJECT_AFTER_TIME_SECS: u64 = 180;

/// Largest IP packet the TUN device can hand us (maximum MTU).
pub const MAX_PACKET: usize = 65535;
/// Room for a packet plus WireGuard overhead and padding.
pub const SLOT: usize = MAX_PACKET + DATA_OVERHEAD + PADDING + 64;
