//! The wgd control protocol, shared by the daemon and `ifconfig-wg`.
//!
//! ```text
//!   ifconfig-wg words ──> Request ──encode──> lines ──> control socket ──> wgd
//!   ifconfig-wg output <── Status <──decode── lines <── errno=N <───────── wgd
//! ```
//!
//! A message is a sequence of `key=value` lines ended by an empty line, in
//! the spirit of the WireGuard cross-platform UAPI. Values are escaped so a
//! description can hold any byte but NUL. Everything here is pure: no I/O
//! runtime, no crypto engine.

pub mod addr;
pub mod errno;
pub mod flags;
pub mod host;
pub mod key;
pub mod paths;
pub mod request;
pub mod status;
pub mod wipe;
pub mod wire;

pub use addr::{IfAddr, Prefix};
pub use host::EndpointName;
pub use key::Key;
pub use request::{Op, Request};
pub use status::{InterfaceStatus, PeerStatus, Psk};
