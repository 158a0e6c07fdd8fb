//! Protocol and driver constants.

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

pub const REKEY_TIMEOUT_SECS: u64 = 5;
pub const KEEPALIVE_TIMEOUT_SECS: u64 = 10;
pub const REJECT_AFTER_TIME_SECS: u64 = 180;

/// Largest IP packet the TUN device can hand us (maximum MTU).
pub const MAX_PACKET: usize = 65535;
/// Room for a packet plus WireGuard overhead and padding.
pub const SLOT: usize = MAX_PACKET + DATA_OVERHEAD + PADDING + 64;
