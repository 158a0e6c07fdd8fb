//! A tunnel's sessions as values, for a hand-over to a new process: the
//! current, previous and unconfirmed next session with their keys,
//! counters and windows, and the newest timestamp we sent (so the next
//! initiation is still newer at the peer). What is not carried starts
//! afresh, as after a missed packet: an initiation in flight (the
//! retransmit deadline sends a new one), a cookie, staged packets.

use super::Tunnel;
use crate::noise::handshake::Timestamp;
use crate::noise::session::{Carried, Session};
use crate::sys::boottime::Instant;
use std::sync::Arc;

pub struct CarriedTunnel {
    pub current: Option<Carried>,
    pub previous: Option<Carried>,
    pub next: Option<Carried>,
    pub last_timestamp: Timestamp,
}

impl Tunnel {
    pub fn carry(&self, now: Instant) -> CarriedTunnel {
        let one = |s: &Option<Arc<Session>>| s.as_ref().map(|s| s.carry(now));
        CarriedTunnel {
            current: one(&self.current),
            previous: one(&self.previous),
            next: one(&self.next),
            last_timestamp: self.last_timestamp,
        }
    }

    /// Put carried sessions back, each on its own index; one whose index
    /// is taken already (it cannot be, in a fresh process) is left out.
    pub fn resume(&mut self, c: &CarriedTunnel, now: Instant) {
        let one = |s: &Option<Carried>| {
            let s = s.as_ref()?;
            let lease = self.leases.lease_index(s.local)?;
            Some(Arc::new(Session::resume(s, lease, now)))
        };
        let (current, previous, next) = (one(&c.current), one(&c.previous), one(&c.next));
        self.current = current;
        self.previous = previous;
        self.next = next;
        if c.last_timestamp > self.last_timestamp {
            self.last_timestamp = c.last_timestamp;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::packet;
    use super::*;
    use crate::noise::handshake::tests::keys;
    use crate::noise::index::Table;
    use boringtun::noise::{Tunn, TunnResult};
    use std::time::{Duration, SystemTime};

    /// A session with boringtun goes on in a second tunnel (the new
    /// process's) with no new handshake: same index, keys and counters.
    #[test]
    fn a_resumed_tunnel_keeps_talking_to_its_peer() {
        let (ours, our_pub) = keys();
        let (theirs, their_pub) = keys();
        let old_table = Arc::new(Table::<()>::default());
        let mut t = Tunnel::new(
            ours.clone(),
            their_pub,
            None,
            old_table.allocator(std::sync::Weak::new()),
        );
        let mut b = Tunn::new(theirs, our_pub, None, None, 77, None);
        let now = Instant::now();
        let (mut buf, mut out) = (vec![0u8; 2048], vec![0u8; 2048]);
        let n = t.initiation(&mut buf, now, SystemTime::now()).unwrap();
        let resp = match b.decapsulate(None, &buf[..n], &mut out) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("no response"),
        };
        assert!(t.consume_response(&resp, now));
        let n = t.encapsulate(&packet(1), &mut buf, now).unwrap();
        assert!(matches!(
            b.decapsulate(None, &buf[..n], &mut out),
            TunnResult::WriteToTunnelV4(..)
        ));
        let back = match b.encapsulate(&packet(2), &mut out) {
            TunnResult::WriteToNetwork(m) => m.to_vec(),
            _ => panic!("boringtun sent nothing"),
        };

        let later = now + Duration::from_secs(3);
        let carried = t.carry(later);
        assert!(carried.current.is_some());
        drop(t);
        let new_table = Arc::new(Table::<()>::default());
        let mut t2 = Tunnel::new(
            ours,
            their_pub,
            None,
            new_table.allocator(std::sync::Weak::new()),
        );
        t2.resume(&carried, later);
        assert_eq!(new_table.len(), 1, "its index, leased in the new table");
        let local = u32::from_le_bytes(back[4..8].try_into().unwrap());
        let s = t2.session_for(local, later).unwrap().clone();
        assert_eq!(s.open_copy(&back), Some(packet(2)), "what the peer sent");
        let n = t2.encapsulate(&packet(3), &mut buf, later).unwrap();
        match b.decapsulate(None, &buf[..n], &mut out) {
            TunnResult::WriteToTunnelV4(got, _) => assert_eq!(got, &packet(3)[..]),
            _ => panic!("the peer did not take the resumed session's packet"),
        }
        assert_eq!(t2.last_timestamp, carried.last_timestamp);
    }
}
