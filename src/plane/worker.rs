//! One worker of the shared data plane: wait for a ready descriptor,
//! drain it with this worker's buffers, re-arm it.

use crate::data::{inbound, outbound, Buffers};
use crate::plane::{Kind, Plane};
use nix::sys::epoll::{EpollEvent, EpollTimeout};

pub fn run(plane: &Plane) {
    let mut bufs = Buffers::default();
    let mut events = [EpollEvent::empty()];
    loop {
        match plane.epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(1) => {}
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        }
        let token = events[0].data();
        let Some(src) = plane.source(token) else {
            continue;
        };
        let busy = src.busy.lock().unwrap_or_else(|e| e.into_inner());
        if !src.live.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        let alive = match &src.kind {
            Kind::Tun(ifc, tun) => outbound::drain(ifc, tun, &mut bufs),
            Kind::Udp(ifc, socks, i, tun) => {
                inbound::drain(ifc, socks, *i, tun, &mut bufs);
                true
            }
        };
        if alive {
            plane.rearm(token, &src);
        }
        drop(busy);
    }
}
