//! What a worker will send: WireGuard messages written back to back into
//! one buffer and grouped into runs, one run per destination, so that a
//! run of equal-size messages goes out in a single UDP GSO send (the last
//! message of a run may be shorter, which closes it).

use crate::sys::udp::Sockets;
use crate::wg::constants::SLOT;
use crate::wg::outbox::Outbox;
use std::io;
use std::net::{IpAddr, SocketAddr};

/// Largest payload of one GSO send (the kernel's limit is 64 KiB in all).
const MAX_RUN_BYTES: usize = 65_000;
/// The kernel coalesces at most 64 segments (UDP_MAX_SEGMENTS).
const MAX_RUN_SEGMENTS: usize = 64;
/// Room kept after the largest message for the small ones a message can
/// set off under the same peer lock (an initiation after data that found
/// its session old, a keepalive): a few of 148 bytes at most.
const RESERVE: usize = 1024;

#[derive(Clone, Copy)]
struct Run {
    to: SocketAddr,
    /// Our address to send from (the one the peer last reached us at).
    from: Option<IpAddr>,
    start: usize,
    len: usize,
    segment: usize,
    count: usize,
    /// A shorter last message was added: nothing may follow it.
    closed: bool,
}

pub struct TxQueue {
    buf: Box<[u8]>,
    used: usize,
    runs: Vec<Run>,
}

impl TxQueue {
    /// Room for `bytes` of messages, plus one largest message and the
    /// small ones it may set off.
    pub fn new(bytes: usize) -> TxQueue {
        TxQueue {
            buf: vec![0u8; bytes + SLOT + RESERVE].into_boxed_slice(),
            used: 0,
            runs: Vec::with_capacity(64),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// No room for another largest message (and the reserve): flush
    /// first.
    pub fn is_full(&self) -> bool {
        self.buf.len() - self.used < SLOT + RESERVE
    }

    /// Bytes committed so far: where the next message goes.
    pub fn used(&self) -> usize {
        self.used
    }

    /// The messages committed since `used()` was `from`, to be written
    /// in place (the bytes are sent only at the next flush).
    pub fn since_mut(&mut self, from: usize) -> &mut [u8] {
        &mut self.buf[from.min(self.used)..self.used]
    }

    /// Bytes left after what is committed.
    pub fn room(&self) -> usize {
        self.buf.len() - self.used
    }

    /// Everything after what is committed, to write messages into before
    /// they are committed.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.used..]
    }

    /// Where the next message is written before [`TxQueue::commit`].
    /// Callers flush a full queue first.
    pub fn slot(&mut self) -> &mut [u8] {
        let end = (self.used + SLOT).min(self.buf.len());
        &mut self.buf[self.used..end]
    }

    /// The first `len` bytes of the slot, for `to`, from our address
    /// `from` if given (else the kernel picks one).
    pub fn commit(&mut self, len: usize, to: SocketAddr, from: Option<IpAddr>) {
        let start = self.used;
        self.used += len;
        if let Some(r) = self.runs.last_mut() {
            let fits = !r.closed
                && r.to == to
                && r.from == from
                && r.count < MAX_RUN_SEGMENTS
                && r.len + len <= MAX_RUN_BYTES
                && len <= r.segment;
            if fits {
                r.len += len;
                r.count += 1;
                r.closed = len < r.segment;
                return;
            }
        }
        self.runs.push(Run {
            to,
            from,
            start,
            len,
            segment: len,
            count: 1,
            closed: false,
        });
    }

    pub fn clear(&mut self) {
        self.runs.clear();
        self.used = 0;
    }

    /// Send everything; runs the sockets cannot carry (no IPv6 socket) or
    /// that fail are dropped. Returns the first error.
    pub fn flush(&mut self, socks: Option<&Sockets>) -> Option<io::Error> {
        let mut first = None;
        if let Some(socks) = socks {
            for r in &self.runs {
                let Some(sock) = socks.for_dest(&r.to) else {
                    continue;
                };
                let data = &self.buf[r.start..r.start + r.len];
                // An address that has left the host cannot be sent from:
                // then let the kernel choose.
                let send = |m: &[u8], seg: Option<usize>| {
                    sock.send(r.to, m, seg, r.from).or_else(|e| match r.from {
                        Some(_) => sock.send(r.to, m, seg, None),
                        None => Err(e),
                    })
                };
                if r.count == 1 || sock.max_segments() >= r.count {
                    let seg = (r.count > 1).then_some(r.segment);
                    if let Err(e) = send(data, seg) {
                        first.get_or_insert(e);
                    }
                } else {
                    // No GSO here: one message per send.
                    for m in data.chunks(r.segment) {
                        if let Err(e) = send(m, None) {
                            first.get_or_insert(e);
                        }
                    }
                }
            }
        }
        self.clear();
        first
    }
}

/// The driver writes its messages into the transmit queue.
impl Outbox for TxQueue {
    fn slot(&mut self) -> &mut [u8] {
        TxQueue::slot(self)
    }

    fn commit(&mut self, len: usize, to: SocketAddr, from: Option<IpAddr>) {
        TxQueue::commit(self, len, to, from)
    }

    fn is_full(&self) -> bool {
        TxQueue::is_full(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(q: &mut TxQueue, len: usize, to: &str) {
        q.slot()[..len].fill(4);
        q.commit(len, to.parse().unwrap(), None);
    }

    #[test]
    fn runs_group_equal_sizes_to_one_destination() {
        let mut q = TxQueue::new(1 << 20);
        for _ in 0..3 {
            fill(&mut q, 1452, "10.0.0.1:1");
        }
        fill(&mut q, 100, "10.0.0.1:1"); // shorter: closes the run
        fill(&mut q, 1452, "10.0.0.1:1"); // so this starts a new one
        fill(&mut q, 1452, "10.0.0.2:1"); // another destination
        fill(&mut q, 1500, "10.0.0.2:1"); // longer than the segment
        let shape: Vec<_> = q.runs.iter().map(|r| (r.count, r.len, r.closed)).collect();
        assert_eq!(
            shape,
            vec![
                (4, 3 * 1452 + 100, true),
                (1, 1452, false),
                (1, 1452, false),
                (1, 1500, false)
            ]
        );
        // Runs are contiguous in the buffer.
        for w in q.runs.windows(2) {
            assert_eq!(w[0].start + w[0].len, w[1].start);
        }
        q.clear();
        assert!(q.is_empty());
    }

    #[test]
    fn runs_respect_segment_and_byte_limits() {
        let mut q = TxQueue::new(1 << 20);
        for _ in 0..100 {
            fill(&mut q, 200, "[fd00::1]:1");
        }
        assert_eq!(q.runs[0].count, MAX_RUN_SEGMENTS);
        let mut q = TxQueue::new(1 << 20);
        for _ in 0..50 {
            fill(&mut q, 1452, "[fd00::1]:1");
        }
        assert!(q.runs[0].len <= MAX_RUN_BYTES);
        assert_eq!(q.runs.iter().map(|r| r.count).sum::<usize>(), 50);
    }
}
