//! One timer service for every peer of every interface: a single thread
//! that sleeps until the earliest deadline of any peer (but never longer
//! than `TIMER_TICK`, so deadlines armed meanwhile, all at least a second
//! away, are seen in time) and then runs what is due.

use crate::data::tx::TxQueue;
use crate::registry::Registry;
use crate::wg::constants::TIMER_TICK;
use crate::wg::expiry::tick_interface;
use crate::wg::timers;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Handshake and keepalive messages are small; the queue is flushed
/// whenever it fills.
const CLOCK_TX_BYTES: usize = 64 << 10;

pub fn start(reg: Arc<Registry>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("clock".into())
        .spawn(move || {
            let mut tx = TxQueue::new(CLOCK_TX_BYTES);
            let mut due = Vec::new();
            loop {
                let now = Instant::now();
                let mut next = u64::MAX;
                for ifc in reg.all() {
                    next = next.min(tick_interface(&ifc, &mut tx, &mut due, now));
                }
                let now = Instant::now();
                let left = Duration::from_millis(next.saturating_sub(timers::ms(now)));
                // A millisecond of slack so the deadline has passed when
                // we wake (ms() rounds down).
                std::thread::sleep(left.min(TIMER_TICK) + Duration::from_millis(1));
            }
        })?;
    Ok(())
}
