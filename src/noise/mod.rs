//! WireGuard's cryptography, our own: the Noise IKpsk2 handshake, the
//! sessions it derives, the per-peer state that holds them and the rules
//! around them (key lifetime, indices, cookies, initiation limits), as
//! the whitepaper, Linux and wireguard-go keep them. Pure (no I/O).
//! Sessions are shared (`&self` everywhere), so the data plane can
//! encrypt and decrypt one peer's packets on several cores at once.
//!
//! ```text
//!   blake2s      BLAKE2s, plain and keyed, zeroized states
//!   crypto       HASH, MAC, HMAC-KDF, AEAD, XAEAD; `Secret` bytes
//!   handshake    initiation, response, MACs, cookie reply opened
//!   cookie       the responder's MAC1/MAC2 checks and cookie replies
//!   index        random receiver indices, leased per handshake
//!   initiations  which initiations from a peer are consumed (replay, 50/s)
//!   session      transport keys, send counter, receive window, 180 s life
//!   tunnel       one peer: sessions, initiation in flight, cookie, staged packets
//! ```

pub mod blake2s;
pub mod cookie;
pub mod crypto;
pub mod handshake;
pub mod index;
pub mod initiations;
pub mod replay;
pub mod session;
pub mod tunnel;
