//! One timer service for every peer of every interface: a single thread
//! that sleeps until the earliest entry of the schedule
//! (`crate::wg::schedule`) and runs the deadlines of the peers whose
//! entries have come; it is woken early only when a deadline is armed
//! ahead of every other. It never looks at an interface or a peer that
//! has nothing due, and an idle daemon's clock sleeps for seconds.
//!
//! It sleeps on CLOCK_BOOTTIME (`crate::sys::alarm`), the clock of every
//! deadline, so a deadline that fell while the machine was suspended
//! wakes it as soon as the machine resumes. On every wake, and at least
//! every `LOOK_EVERY`, it looks whether the machine slept since
//! (`crate::wg::sleep`): if so every interface forgets its keys before
//! any deadline runs.

use crate::data::packet::flush;
use crate::data::tx::TxQueue;
use crate::registry::Registry;
use crate::sys::alarm::Alarm;
use crate::sys::boottime::{self, Instant};
use crate::wg::expiry::{expire, After};
use crate::wg::interface::Interface;
use crate::wg::messages::Events;
use crate::wg::peer::Peer;
use crate::wg::schedule::schedule;
use crate::wg::sleep::{Sleeps, LOOK_EVERY};
use crate::wg::timers;
use std::sync::Arc;
use std::time::Duration;

/// Handshake and keepalive messages are small; the queue is flushed
/// whenever it fills.
const CLOCK_TX_BYTES: usize = 64 << 10;

pub fn start(reg: Arc<Registry>) -> std::io::Result<()> {
    let alarm = Arc::new(Alarm::new()?);
    let waker = alarm.clone();
    let mut sleeps = Sleeps::new(boottime::slept());
    std::thread::Builder::new()
        .name("clock".into())
        .spawn(move || {
            let mut tx = TxQueue::new(CLOCK_TX_BYTES);
            loop {
                {
                    let _moving = reg.plane().moving();
                    boottime::pretend();
                    if let Some(slept) = sleeps.look(boottime::slept()) {
                        woke(&reg, slept);
                    }
                    let now = Instant::now();
                    while let Some((ifc, peer)) = schedule().pop(timers::ms(now)) {
                        run(&ifc, &peer, &mut tx, now);
                    }
                }
                // An entry is taken once its millisecond is over (`pop`),
                // so the deadline has passed when we wake.
                let next = schedule().next();
                let left = match next {
                    u64::MAX => LOOK_EVERY,
                    at => Duration::from_millis(at.saturating_sub(timers::ms(Instant::now())) + 1),
                };
                alarm.set(left.min(LOOK_EVERY));
                // An entry filed ahead of `next` before the alarm was set
                // rang an alarm that setting it undid: look again. One
                // filed after rings it after, and that stands.
                if schedule().next() < next {
                    continue;
                }
                alarm.wait();
            }
        })?;
    schedule().set_waker(Box::new(move || waker.ring()));
    Ok(())
}

/// The machine was suspended for `slept`: every interface forgets its
/// keys, as Linux does before a suspend.
fn woke(reg: &Registry, slept: Duration) {
    let peers: usize = reg.all().iter().map(|ifc| ifc.forget_keys()).sum();
    // To the nearest second: the two clocks are read one after the other.
    let secs = (slept + Duration::from_millis(500)).as_secs();
    crate::log::info(format!(
        "the machine slept for {secs} s: every session key and handshake \
         in progress forgotten ({peers} peers had some)"
    ));
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
