//! TUN → UDP: read packets, route each by destination to a peer, pad,
//! encrypt, and send them as one batch.

use crate::data::packet::{dst_addr, flush, message_type, padded_len};
use crate::sys::tun::Tun;
use crate::sys::udp::Batch;
use crate::sys::waker::Waker;
use crate::wg::constants::{BATCH, MAX_PACKET, MSG_INITIATION, SLOT};
use crate::wg::interface::Interface;
use crate::wg::messages::Message;
use crate::wg::router::Router;
use boringtun::noise::TunnResult;
use std::io;
use std::time::Instant;

pub fn run(ifc: &Interface, tun: &Tun, waker: &Waker) {
    let mut pkt = vec![0u8; MAX_PACKET + 64];
    let mut batch = Batch::new(BATCH, SLOT);
    loop {
        if !waker.until_readable(tun.fd()) {
            return;
        }
        let router = ifc.router();
        let socks = ifc.sockets();
        for _ in 0..(4 * BATCH) {
            let n = match tun.recv(&mut pkt) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The device is going away (ip link delete): do not spin
                // until the interface is destroyed.
                Err(_) => {
                    if waker.sleep(20) {
                        return;
                    }
                    break;
                }
            };
            encrypt(ifc, &router, &mut pkt, n, &mut batch);
            if batch.is_full() {
                flush(ifc, socks.as_deref(), &mut batch);
            }
        }
        flush(ifc, socks.as_deref(), &mut batch);
    }
}

/// Route one packet read from the TUN device and queue its ciphertext.
fn encrypt(ifc: &Interface, router: &Router, pkt: &mut [u8], n: usize, batch: &mut Batch) {
    let Some(dst) = dst_addr(&pkt[..n]) else {
        return;
    };
    let Some(peer) = router.allowed_ips.lookup(dst) else {
        return;
    };
    let len = padded_len(n, router.mtu).min(pkt.len());
    pkt[n..len].fill(0);
    let mut st = peer.lock();
    let endpoint = st.endpoint;
    let Some(tunn) = st.tunn.as_mut() else {
        return;
    };
    let out_len = match tunn.encapsulate(&pkt[..len], batch.slot()) {
        TunnResult::WriteToNetwork(out) => out.len(),
        _ => return,
    };
    let is_init = message_type(&batch.slot()[..out_len]) == Some(MSG_INITIATION);
    if is_init {
        st.initiation_sent();
    }
    let Some(ep) = endpoint else {
        drop(st);
        ifc.log(Message::NoEndpoint(peer.id));
        return;
    };
    let now = Instant::now();
    st.last_sent = Some(now);
    if !is_init {
        st.last_data_sent = Some(now);
    }
    drop(st);
    if is_init {
        ifc.log(Message::SendInitiation(peer.id));
    }
    peer.add_tx(out_len);
    batch.commit(out_len, ep);
}
