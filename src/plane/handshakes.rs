//! The handshake service: threads apart from the data plane's workers
//! (as many as there are workers, as Linux and wireguard-go have one
//! handshake worker per CPU they use) that consume the handshake
//! messages every interface's workers screened and queued
//! (`crate::data::backlog`), a few per interface in turn. They run at a lower scheduling priority
//! than the workers, so that under a flood of handshakes the CPU goes to
//! data first; the queues then fill, the interfaces count as under load
//! and demand cookies, and what does not fit is dropped. While an
//! interface is under load and the workers are busy moving data, its
//! messages are also paced to a share of the CPUs
//! (`crate::data::backlog::Budget`).

use crate::data::backlog::{Job, Ready};
use crate::data::handshake::consume;
use crate::data::tx::TxQueue;
use crate::data::{Live, Outlet};
use crate::sys::boottime::Instant;
use crate::wg::timers;
use std::sync::{Arc, RwLock};

/// Jobs taken from one interface's queue before the next one's turn.
const TURN: usize = 16;
/// Responses and the packets a response releases are small; the queue
/// is flushed whenever it fills and after every turn.
const TX_BYTES: usize = 64 << 10;
/// The service's nice value, relative to the workers'.
pub const NICE: i32 = 10;

pub fn start(ready: &Arc<Ready>, quiet: &Arc<RwLock<()>>, threads: usize) -> std::io::Result<()> {
    for i in 0..threads.max(1) {
        let ready = ready.clone();
        let quiet = quiet.clone();
        std::thread::Builder::new()
            .name(format!("handshake{i}"))
            .spawn(move || serve(&ready, &quiet, super::Plane::cpus() as u32))?;
    }
    Ok(())
}

/// `quiet`: read-held for a turn (`crate::plane::Plane::still`). The
/// turn of an interface under load is one job, started when the budget
/// allows (waited for before `quiet` is taken, so that nothing else
/// waits for it).
fn serve(ready: &Ready, quiet: &RwLock<()>, cpus: u32) {
    crate::sys::sched::lower_priority(NICE);
    let mut tx = TxQueue::new(TX_BYTES);
    let mut jobs: Vec<Job> = Vec::with_capacity(TURN);
    loop {
        let q = ready.next();
        let now = timers::ms(Instant::now());
        let loaded = q.under_load(now);
        if loaded {
            ready.budget.wait(now);
        }
        let _moving = quiet.read().unwrap_or_else(|e| e.into_inner());
        q.take(if loaded { 1 } else { TURN }, &mut jobs);
        let Some(ifc) = q.ifc.upgrade() else {
            jobs.clear();
            q.clear();
            continue;
        };
        let socks = ifc.sockets();
        let out = Live {
            ifc: &ifc,
            socks: socks.as_deref(),
        };
        let router = ifc.router();
        let t0 = std::time::Instant::now();
        for job in jobs.drain(..) {
            if tx.is_full() {
                out.flush(&mut tx);
            }
            consume(&out, &router, &job, &mut tx);
        }
        if loaded {
            ready.budget.spent(t0.elapsed(), cpus);
        }
        drop(router);
        out.flush(&mut tx);
    }
}
