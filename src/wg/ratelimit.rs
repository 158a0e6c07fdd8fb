//! Handshake initiations per source, as the kernel drivers limit them: a
//! token bucket per IPv4 address and per IPv6 /64, refilled at 20
//! messages a second with a burst of 5. It applies while the interface is
//! under load, after the cookie (MAC2) has proved that the sender receives
//! at its source address, so a spoofer cannot spend a real peer's tokens.
//!
//! Time is a parameter, so the policy is tested without sleeping.

use crate::sys::boottime::Instant;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

const PER_SECOND: u64 = 20;
const BURST: u64 = 5;
const COST: u64 = 1_000_000_000 / PER_SECOND;
const TOKEN_MAX: u64 = COST * BURST;
/// Entries idle this long are forgotten, and the table is swept this
/// often.
const IDLE: Duration = Duration::from_secs(1);
/// Sources tracked at most; beyond, new sources are refused until the
/// table is swept (as the kernel does when its table is full).
const MAX_SOURCES: usize = 1 << 16;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Source {
    V4([u8; 4]),
    /// The /64 prefix.
    V6([u8; 8]),
}

fn source(ip: IpAddr) -> Source {
    match ip {
        IpAddr::V4(a) => Source::V4(a.octets()),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => Source::V4(v4.octets()),
            None => {
                let o = a.octets();
                Source::V6([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
            }
        },
    }
}

struct Bucket {
    tokens: u64,
    last: Instant,
}

#[derive(Default)]
struct Buckets {
    map: HashMap<Source, Bucket>,
    /// When idle sources were last forgotten.
    swept: Option<Instant>,
}

#[derive(Default)]
pub struct PerSource {
    table: Mutex<Buckets>,
}

impl PerSource {
    /// May a handshake message from `ip` be handled at `now`?
    pub fn allow(&self, ip: IpAddr, now: Instant) -> bool {
        let mut b = self.table.lock().unwrap_or_else(|e| e.into_inner());
        // Once a second, idle sources are forgotten (as the kernel's
        // garbage collection does), on the way of the next message.
        if b.swept
            .is_none_or(|s| now.saturating_duration_since(s) >= IDLE)
        {
            b.swept = Some(now);
            b.map
                .retain(|_, b| now.saturating_duration_since(b.last) < IDLE);
        }
        let t = &mut b.map;
        let key = source(ip);
        if let Some(b) = t.get_mut(&key) {
            let elapsed = now.saturating_duration_since(b.last).as_nanos() as u64;
            b.tokens = (b.tokens + elapsed).min(TOKEN_MAX);
            b.last = now;
            if b.tokens >= COST {
                b.tokens -= COST;
                return true;
            }
            return false;
        }
        if t.len() >= MAX_SOURCES {
            t.retain(|_, b| now.saturating_duration_since(b.last) < IDLE);
            if t.len() >= MAX_SOURCES {
                return false;
            }
        }
        t.insert(
            key,
            Bucket {
                tokens: TOKEN_MAX - COST,
                last: now,
            },
        );
        true
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().unwrap().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(l: &PerSource, ip: &str, now: Instant, n: usize) -> usize {
        (0..n).filter(|_| l.allow(ip.parse().unwrap(), now)).count()
    }

    #[test]
    fn burst_then_twenty_a_second_per_source() {
        let l = PerSource::default();
        let t0 = Instant::now();
        assert_eq!(allowed(&l, "192.0.2.1", t0, 100), BURST as usize);
        // Another source is not affected.
        assert_eq!(allowed(&l, "192.0.2.2", t0, 100), BURST as usize);
        // A second later: 20 more (the bucket holds at most a burst).
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(allowed(&l, "192.0.2.1", t1, 100), BURST as usize);
        // Every 50 ms, one.
        let mut t = t1;
        for _ in 0..40 {
            t += Duration::from_millis(50);
            assert_eq!(allowed(&l, "192.0.2.1", t, 3), 1);
        }
    }

    #[test]
    fn ipv6_counts_per_64() {
        let l = PerSource::default();
        let t0 = Instant::now();
        assert_eq!(allowed(&l, "2001:db8:1:2::1", t0, 3), 3);
        assert_eq!(allowed(&l, "2001:db8:1:2:ffff::9", t0, 10), 2);
        assert_eq!(allowed(&l, "2001:db8:1:3::1", t0, 10), BURST as usize);
        // An IPv4-mapped source is the IPv4 address.
        assert_eq!(allowed(&l, "::ffff:192.0.2.7", t0, 3), 3);
        assert_eq!(allowed(&l, "192.0.2.7", t0, 10), 2);
    }

    #[test]
    fn idle_sources_are_forgotten() {
        let l = PerSource::default();
        let t0 = Instant::now();
        allowed(&l, "192.0.2.1", t0, 1);
        allowed(&l, "192.0.2.2", t0 + Duration::from_millis(900), 1);
        allowed(&l, "192.0.2.3", t0 + Duration::from_millis(1500), 1);
        assert_eq!(l.len(), 2, "the source idle for a second is gone");
    }
}
