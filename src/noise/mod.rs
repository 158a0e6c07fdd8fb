//! WireGuard's cryptography, our own: the Noise IKpsk2 handshake, the
//! sessions it derives and the per-peer state that holds them. Pure (no
//! I/O). Sessions are shared (`&self` everywhere), so the data plane can
//! encrypt and decrypt one peer's packets on several cores at once.
//!
//! ```text
//!   crypto     HASH, MAC, KDF, AEAD, XAEAD
//!   handshake  initiation, response, MACs, cookie reply
//!   session    transport keys, send counter, receive window (replay)
//!   tunnel     one peer: sessions, initiation in flight, cookie, staged packets
//! ```

pub mod crypto;
pub mod handshake;
pub mod replay;
pub mod session;
pub mod tunnel;
