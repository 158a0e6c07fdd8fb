//! One worker of the shared data plane: wait for a ready descriptor,
//! drain it with this worker's buffers, re-arm it.

use crate::data::{inbound, outbound, Buffers};
use crate::plane::{Kind, Plane, CREW};
use nix::sys::epoll::{EpollEvent, EpollTimeout};
use std::sync::atomic::Ordering;

pub fn run(plane: &Plane) {
    let mut bufs = Buffers::default();
    let mut events = [EpollEvent::empty()];
    loop {
        plane.crew.idle.fetch_add(1, Ordering::Relaxed);
        let r = plane.epoll.wait(&mut events, EpollTimeout::NONE);
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
        let moving = plane.moving();
        let busy = src.busy.lock().unwrap_or_else(|e| e.into_inner());
        if !src.live.load(Ordering::SeqCst) {
            continue;
        }
        let alive = match &src.kind {
            Kind::Tun(ifc, tun) => outbound::drain(ifc, tun, &mut bufs, &plane.crew),
            Kind::Udp(ifc, socks, i, tun, queue) => {
                inbound::drain(ifc, socks, *i, tun, queue, &mut bufs, &plane.crew);
                true
            }
        };
        if alive {
            plane.rearm(token, &src);
        }
        drop(busy);
        drop(moving);
    }
}
