//! One worker of the shared data plane: wait for a ready descriptor,
//! claim it, drain it with this worker's buffers (again while readiness
//! came meanwhile), let it go.

use crate::data::{inbound, outbound, Buffers, Drained};
use crate::plane::courtesy::Courtesy;
use crate::plane::{Kind, Plane, Source, CREW};
use crate::sys::boottime::Instant;
use crate::wg::timers;
use nix::sys::epoll::{EpollEvent, EpollTimeout};
use std::sync::atomic::Ordering;

/// Drains of one source per claim, when readiness keeps coming, before
/// it goes back behind the others.
const PASSES: usize = 4;

pub fn run(plane: &Plane) {
    let mut bufs = Buffers::default();
    let mut courtesy = Courtesy::default();
    let mut events = [EpollEvent::empty()];
    loop {
        plane.crew.idle.fetch_add(1, Ordering::Relaxed);
        // Only how long the wait took matters (`Courtesy`): the monotonic
        // clock will do.
        let w0 = std::time::Instant::now();
        let r = plane.epoll.wait(&mut events, EpollTimeout::NONE);
        let woke = std::time::Instant::now();
        plane.crew.idle.fetch_sub(1, Ordering::Relaxed);
        match r {
            Ok(1) => {}
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        }
        let token = events[0].data();
        if token == CREW {
            plane.crew.help();
            continue;
        }
        let Some(src) = plane.source(token) else {
            continue;
        };
        if !src.claim() {
            // Its holder goes again.
            continue;
        }
        if let Kind::Tun(..) = src.kind {
            courtesy.before_tun(woke.saturating_duration_since(w0), woke);
        }
        let moving = plane.moving();
        let busy = src.busy.lock().unwrap_or_else(|e| e.into_inner());
        handle(plane, token, &src, &mut bufs);
        drop(busy);
        drop(moving);
    }
}

/// Drain a claimed source until it is empty and no readiness came
/// meanwhile, then let it go.
fn handle(plane: &Plane, token: u64, src: &Source, bufs: &mut Buffers) {
    for _ in 0..PASSES {
        if !src.live.load(Ordering::SeqCst) {
            // Deregistered: nobody claims it any more.
            return;
        }
        let t0 = Instant::now();
        let end = match &src.kind {
            Kind::Tun(ifc, tun) => outbound::drain(ifc, tun, bufs, &plane.crew),
            Kind::Udp(ifc, socks, i, tun, queue) => {
                inbound::drain(ifc, socks, *i, tun, queue, bufs, &plane.crew)
            }
        };
        if std::mem::take(&mut bufs.moved) {
            let t1 = Instant::now();
            let took = t1.saturating_duration_since(t0);
            plane.handshakes.budget.moved(timers::ms(t1), took);
        }
        match end {
            // Held for good: no worker spins on a dead device.
            Drained::Gone => return plane.unwatch(src),
            Drained::More => return plane.requeue(token, src),
            Drained::Empty if src.again() => {}
            Drained::Empty => return,
        }
    }
    plane.requeue(token, src);
}
