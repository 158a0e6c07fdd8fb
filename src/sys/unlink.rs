//! Deleting a TUN link fast: closing its last queue unregisters the
//! device, and the close returns only once the kernel is done with it
//! (RCU barriers and a wait for the last references: ~20 ms on a small
//! machine), although the link leaves its namespace within the first
//! few milliseconds, when the kernel says so (RTM_DELLINK). So the close
//! runs on a thread of its own and the caller waits only for that word.

use crate::sys::netlink;
use crate::sys::tun::Tun;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a close may take before the caller stops waiting for the
/// link to go (it goes anyway, later).
const LIMIT: Duration = Duration::from_secs(2);
/// Between looks at whether the close itself ended without the word
/// (the device had another queue, so no link went).
const SLICE: Duration = Duration::from_millis(50);

/// Close `tun`, whose link has index `index`, and return once that link
/// is gone from its namespace. Without a way to hear of it (the link is
/// already gone, no netlink socket, no thread), the close is made here.
pub fn close(tun: Tun, index: u32) {
    let Ok(sock) = watch_links(&tun) else {
        drop(tun);
        return;
    };
    let closed = Arc::new(AtomicBool::new(false));
    let done = closed.clone();
    // Should no thread start, the closure and the device with it are
    // dropped here: a close the slow way.
    let spawned = std::thread::Builder::new()
        .name("tun-close".into())
        .spawn(move || {
            drop(tun);
            done.store(true, Ordering::Release);
        });
    if spawned.is_ok() {
        wait_deleted(&sock, index, &closed);
    }
}

/// A netlink socket that hears of link changes in the namespace `tun`'s
/// link is in (fails if the link is gone already).
fn watch_links(tun: &Tun) -> io::Result<Socket> {
    let ns = tun.netns()?;
    if crate::sys::netns::id_of(ns.as_fd())? == crate::sys::netns::home()? {
        listen()
    } else {
        crate::sys::netns::run_in(ns.as_fd(), listen)
    }
}

/// A netlink socket that hears of link changes in this namespace.
fn listen() -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_ROUTE)?;
    sock.bind(&SocketAddr::new(0, netlink::RTMGRP_LINK))?;
    netlink::set_recv_timeout(&sock, SLICE)?;
    Ok(sock)
}

/// Read link events until link `index` is deleted, the close ended
/// without it, or `LIMIT` passed.
fn wait_deleted(sock: &Socket, index: u32, closed: &AtomicBool) {
    let start = Instant::now();
    let mut buf = vec![0u8; 1 << 16];
    while start.elapsed() < LIMIT {
        let n = match sock.recv(&mut &mut buf[..], 0) {
            Ok(n) => n,
            // A timeout, or events lost (ENOBUFS; ours may be among
            // them): the close ending says it too.
            Err(_) => {
                if closed.load(Ordering::Acquire) {
                    return;
                }
                continue;
            }
        };
        if deleted(&buf[..n], index) {
            return;
        }
    }
}

/// Whether these messages say link `index` was deleted.
fn deleted(mut buf: &[u8], index: u32) -> bool {
    while !buf.is_empty() {
        let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf) else {
            return false;
        };
        if let NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(m)) = &msg.payload {
            if m.header.index == index {
                return true;
            }
        }
        let len = (msg.header.length as usize + 3) & !3;
        if len == 0 || len > buf.len() {
            return false;
        }
        buf = &buf[len..];
    }
    false
}
