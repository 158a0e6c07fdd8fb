//! One timer service for every peer of every interface: a single thread
//! that, every `TIMER_TICK`, runs the timers of each interface in turn
//! (retries, rekeys, keepalives, expiry) and sends what they produce.

use crate::data::tx::TxQueue;
use crate::registry::Registry;
use crate::wg::constants::TIMER_TICK;
use crate::wg::timers::tick_interface;
use std::sync::Arc;
use std::time::Instant;

/// Handshake and keepalive messages are small; the queue is flushed
/// whenever it fills.
const CLOCK_TX_BYTES: usize = 64 << 10;

pub fn start(reg: Arc<Registry>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("clock".into())
        .spawn(move || {
            let mut tx = TxQueue::new(CLOCK_TX_BYTES);
            let mut peers = Vec::new();
            let mut next = Instant::now() + TIMER_TICK;
            loop {
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                }
                next += TIMER_TICK;
                // Never run late ticks back to back after a stall.
                if next < Instant::now() {
                    next = Instant::now() + TIMER_TICK;
                }
                for ifc in reg.all() {
                    tick_interface(&ifc, &mut tx, &mut peers);
                }
            }
        })?;
    Ok(())
}
