//! Where the driver writes the messages it decides to send: a buffer the
//! caller hands in (the data path's transmit queue) and sends once the
//! decision is made. The driver never sends anything itself.

use std::net::{IpAddr, SocketAddr};

pub trait Outbox {
    /// Where the next message is written before `commit`: room for the
    /// largest message. A full outbox must be emptied first.
    fn slot(&mut self) -> &mut [u8];
    /// The first `len` bytes of the slot go to `to`, from our address
    /// `from` if given (else the kernel picks one).
    fn commit(&mut self, len: usize, to: SocketAddr, from: Option<IpAddr>);
    /// No room for another largest message (and the few small ones it
    /// may set off).
    fn is_full(&self) -> bool;
}
