//! The packet path, run by the data plane's workers (`crate::plane`).
//!
//! ```text
//!   outbound: TUN ─read, GSO split─> dst ─AIP─> peer ─pad, encrypt─> TxQueue ─GSO send─> UDP
//!   inbound:  UDP ─recvmmsg, GRO─> datagrams ─type─> peer ─decrypt─> src AIP check
//!                                                   ─> TunWrites ─GRO coalesce─> TUN
//! ```
//!
//! Handshake messages are only screened here and queued per interface
//! (`backlog`); the handshake service consumes them apart (`handshake`).
//!
//! Buffers belong to a worker (`Buffers`) and are allocated when it
//! starts, never per packet. A drain ends with every batch flushed, so a
//! lone packet is never held back. Failures are counted by being dropped
//! and, under `debug`, logged.

pub mod backlog;
pub mod handshake;
pub mod inbound;
pub mod outbound;
pub mod packet;
pub mod tx;

use crate::sys::tun::{TunPackets, TunWrites};
use crate::sys::udp::{RecvBatch, Sockets};
use crate::wg::interface::Interface;
use crate::wg::messages::Message;
use tx::TxQueue;

/// Where the packet path's side effects go: an interface's debug log and
/// sockets, or (in the fuzz harness) nowhere.
pub trait Outlet {
    fn log(&self, m: Message<'static>);
    /// Send what `tx` holds (and empty it).
    fn flush(&self, tx: &mut TxQueue);
}

/// An interface and the sockets it serves now.
pub struct Live<'a> {
    pub ifc: &'a Interface,
    pub socks: Option<&'a Sockets>,
}

impl Outlet for Live<'_> {
    fn log(&self, m: Message<'static>) {
        self.ifc.log(m);
    }

    fn flush(&self, tx: &mut TxQueue) {
        packet::flush(self.ifc, self.socks, tx);
    }
}

/// Ciphertext a worker queues before it must send.
const TX_BYTES: usize = 512 << 10;

/// Reads per readiness before the descriptor goes back to the epoll set,
/// so one busy interface cannot starve the others.
pub const BUDGET: usize = 16;

/// How a drain ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Drained {
    /// Nothing is left: a read found nothing, or a receive batch came
    /// back short (what arrives later is a new readiness).
    Empty,
    /// The budget was spent with more waiting.
    More,
    /// The descriptor is dead (its link was deleted).
    Gone,
}

/// One worker's buffers.
pub struct Buffers {
    pub tun_in: TunPackets,
    pub tun_out: TunWrites,
    pub udp_in: RecvBatch,
    pub tx: TxQueue,
    /// Packets planned for sealing (outbound), reused per read.
    pub seals: Vec<outbound::Seal>,
    /// Datagrams planned for opening (inbound), reused per batch.
    pub opens: Vec<inbound::Open>,
    /// Set by a drain that moved data (a packet sealed for a peer, or
    /// one written to the TUN device); the worker takes it.
    pub moved: bool,
}

impl Default for Buffers {
    fn default() -> Self {
        Buffers {
            tun_in: TunPackets::default(),
            tun_out: TunWrites::default(),
            udp_in: RecvBatch::default(),
            tx: TxQueue::new(TX_BYTES),
            seals: Vec::new(),
            opens: Vec::new(),
            moved: false,
        }
    }
}
