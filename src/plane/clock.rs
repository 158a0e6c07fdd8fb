//! One timer service for every peer of every interface: a single thread
//! that sleeps until the earliest deadline of any peer (but never longer
//! than `TIMER_TICK`, so deadlines armed meanwhile, all at least a second
//! away, are seen in time) and then runs what is due.

use crate::data::packet::flush;
use crate::data::tx::TxQueue;
use crate::registry::Registry;
use crate::wg::constants::TIMER_TICK;
use crate::wg::expiry::{expire, After};
use crate::wg::interface::Interface;
use crate::wg::messages::Events;
use crate::wg::peer::Peer;
use crate::wg::timers;
use std::sync::atomic::Ordering;
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
                let mut next = u64::MAX;
                {
                    let _moving = reg.plane().moving();
                    let now = Instant::now();
                    for ifc in reg.all() {
                        next = next.min(tick_interface(&ifc, &mut tx, &mut due, now));
                    }
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

/// Run the deadlines of `ifc`'s peers that are due at `now` and send what
/// they produce. `due` is reused between calls. Returns the earliest
/// deadline left (`timers::ms`), `u64::MAX` if none.
fn tick_interface(
    ifc: &Interface,
    tx: &mut TxQueue,
    due: &mut Vec<Arc<Peer>>,
    now: Instant,
) -> u64 {
    // A down interface is silent: no sockets, no timers.
    let Some(socks) = ifc.sockets() else {
        return u64::MAX;
    };
    let now_ms = timers::ms(now);
    let mut next = u64::MAX;
    due.clear();
    {
        // Only the copy of the due peers holds the router's read lock,
        // so a commit is never held up by timers.
        let router = ifc.router();
        for p in router.by_key.values() {
            let at = p.due.load(Ordering::Relaxed);
            if at <= now_ms {
                due.push(p.clone());
            } else {
                next = next.min(at);
            }
        }
    }
    let flush_tx = |tx: &mut TxQueue| flush(ifc, Some(&socks), tx);
    for peer in due.iter() {
        let mut ev = Events::default();
        let after = {
            let mut st = peer.lock();
            let after = expire(peer, &mut st, tx, now, &mut ev);
            let at = st.timers.earliest();
            peer.due.store(at, Ordering::Relaxed);
            next = next.min(at);
            after
        };
        ev.each(|m| ifc.log(m));
        match after {
            After::ZeroKeys => ifc.zero_keys(peer, true),
            After::Flush => ifc.zero_keys(peer, false),
            After::Nothing => {}
        }
        // What a timer sends goes at once, so that it leaves when its
        // deadline said (there is little of it).
        flush_tx(tx);
    }
    due.clear();
    flush_tx(tx);
    next
}
