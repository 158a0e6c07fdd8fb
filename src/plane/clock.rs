//! One timer service for every peer of every interface: a single thread
//! that sleeps until the earliest entry of the schedule
//! (`crate::wg::schedule`) and runs the deadlines of the peers whose
//! entries have come; it is woken early only when a deadline is armed
//! ahead of every other. It never looks at an interface or a peer that
//! has nothing due, and an idle daemon's clock sleeps for seconds.

use crate::data::packet::flush;
use crate::data::tx::TxQueue;
use crate::registry::Registry;
use crate::wg::expiry::{expire, After};
use crate::wg::interface::Interface;
use crate::wg::messages::Events;
use crate::wg::peer::Peer;
use crate::wg::schedule::schedule;
use crate::wg::timers;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Handshake and keepalive messages are small; the queue is flushed
/// whenever it fills.
const CLOCK_TX_BYTES: usize = 64 << 10;

pub fn start(reg: Arc<Registry>) -> std::io::Result<()> {
    let clock = std::thread::Builder::new()
        .name("clock".into())
        .spawn(move || {
            let mut tx = TxQueue::new(CLOCK_TX_BYTES);
            loop {
                {
                    let _moving = reg.plane().moving();
                    let now = Instant::now();
                    while let Some((ifc, peer)) = schedule().pop(timers::ms(now)) {
                        run(&ifc, &peer, &mut tx, now);
                    }
                }
                // An entry is taken once its millisecond is over (`pop`),
                // so the deadline has passed when we wake.
                let next = schedule().next();
                if next == u64::MAX {
                    std::thread::park();
                } else {
                    let left = next.saturating_sub(timers::ms(Instant::now())) + 1;
                    std::thread::park_timeout(Duration::from_millis(left));
                }
            }
        })?;
    let waker = clock.thread().clone();
    schedule().set_waker(Box::new(move || waker.unpark()));
    Ok(())
}

/// Run the deadlines of `peer` (of `ifc`) due at `now`, send what they
/// produce, and file the peer again at its next deadline.
fn run(ifc: &Interface, peer: &Arc<Peer>, tx: &mut TxQueue, now: Instant) {
    // A down interface is silent: no sockets, no timers. Its peers are
    // filed again when it comes up (`Interface::commit`).
    let Some(socks) = ifc.sockets() else {
        return;
    };
    let mut ev = Events::default();
    let after = {
        let mut st = peer.lock();
        let after = expire(peer, &mut st, tx, now, &mut ev);
        schedule().push(peer, st.timers.earliest());
        after
    };
    ev.each(|m| ifc.log(m));
    match after {
        After::ZeroKeys => ifc.zero_keys(peer),
        After::Nothing => {}
    }
    // What a timer sends goes at once, so that it leaves when its
    // deadline said (there is little of it).
    flush(ifc, Some(&socks), tx);
}
