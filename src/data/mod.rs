//! The packet path.
//!
//! ```text
//!   outbound: TUN ─read─> dst ─AIP─> peer ─pad, encrypt─> Batch ─sendmmsg─> UDP
//!   inbound:  UDP ─recvmmsg─> Batch ─type─> peer ─decrypt─> src AIP check ─> TUN
//! ```
//!
//! Buffers are allocated when a worker starts, never per packet. Failures
//! are counted by being dropped and, under `debug`, logged.

pub mod inbound;
pub mod outbound;
pub mod packet;
