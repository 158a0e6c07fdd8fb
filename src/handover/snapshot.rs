//! What the old process writes of each interface and the new one reads
//! back (`crate::wg::interface::CarriedInterface`), in `codec`'s format.
//! Instants are written relative to the writer's now and read relative
//! to the reader's, so every deadline and every session's age is carried
//! as the time left or gone (CLOCK_BOOTTIME is the machine's, but
//! `Instant` is opaque).

use crate::handover::codec::{CodecError, Reader, Writer};
use crate::noise::initiations::Initiations;
use crate::noise::tunnel::CarriedTunnel;
use crate::sys::boottime::Instant;
use crate::sys::netlink::Where;
use crate::wg::deadlines::{Session, Timers};
use crate::wg::interface::{CarriedInterface, CarriedPeer};
use proto::Request;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use zeroize::Zeroize;

/// Deadlines are never carried further than this from now (a day).
const FAR: i64 = 86_400_000_000_000;

impl Writer {
    fn instant(&mut self, t: Option<Instant>, now: Instant) {
        match t {
            None => self.u8(0),
            Some(t) => {
                self.u8(1);
                let ns = if t >= now {
                    t.duration_since(now).as_nanos().min(FAR as u128) as i64
                } else {
                    -(now.duration_since(t).as_nanos().min(FAR as u128) as i64)
                };
                self.u64(ns as u64);
            }
        }
    }

    fn ip(&mut self, a: Option<IpAddr>) {
        match a {
            None => self.u8(0),
            Some(IpAddr::V4(a)) => {
                self.u8(4);
                self.raw(&a.octets());
            }
            Some(IpAddr::V6(a)) => {
                self.u8(6);
                self.raw(&a.octets());
            }
        }
    }

    fn endpoint(&mut self, a: Option<SocketAddr>) {
        self.ip(a.map(|a| a.ip()));
        if let Some(a) = a {
            self.u16(a.port());
            if let SocketAddr::V6(v6) = a {
                self.u32(v6.flowinfo());
                self.u32(v6.scope_id());
            }
        }
    }

    fn tunnel(&mut self, t: &CarriedTunnel) {
        for s in [&t.current, &t.previous, &t.next] {
            self.bool(s.is_some());
            if let Some(s) = s {
                self.session(s);
            }
        }
        self.raw(&t.last_timestamp);
    }

    fn timers(&mut self, t: &Timers, now: Instant) {
        for d in [
            t.retransmit,
            t.send_keepalive,
            t.new_handshake,
            t.persistent,
            t.reject,
            t.zero_keys,
            t.last_handshake_sent,
        ] {
            self.instant(d, now);
        }
        self.bool(t.need_another_keepalive);
        self.u32(t.attempts);
        self.bool(t.sent_last_minute);
        self.instant(t.session.map(|s| s.created), now);
        self.bool(t.session.is_some_and(|s| s.initiator));
        self.bool(t.pending.is_some());
        if let Some((index, at)) = t.pending {
            self.u32(index);
            self.instant(Some(at), now);
        }
    }

    fn peer(&mut self, p: &CarriedPeer, now: Instant) {
        self.key(&p.key);
        self.u64(p.id);
        self.endpoint(p.endpoint);
        self.ip(p.local);
        self.ip(p.contacted);
        self.bool(p.last_handshake.is_some());
        if let Some(t) = p.last_handshake {
            self.duration(t.duration_since(UNIX_EPOCH).unwrap_or_default());
        }
        self.u64(p.tx_bytes);
        self.u64(p.rx_bytes);
        self.timers(&p.timers, now);
        let (newest, last) = p.initiations.parts();
        self.bool(newest.is_some());
        if let Some(ts) = newest {
            self.raw(&ts);
        }
        self.instant(last, now);
        self.bool(p.tunnel.is_some());
        if let Some(t) = &p.tunnel {
            self.tunnel(t);
        }
    }

    /// One interface, as carried at `now`.
    pub fn interface(&mut self, c: &CarriedInterface, now: Instant) {
        self.str(&c.name);
        self.u32(c.place.index);
        self.bool(c.place.nsid.is_some());
        self.u32(c.place.nsid.unwrap_or(0) as u32);
        self.bool(c.v6_dropped);
        let mut pairs = Request::Set {
            name: c.name.clone(),
            ops: c.ops.clone(),
        }
        .encode();
        self.u32(pairs.len() as u32);
        for (k, v) in pairs.iter_mut() {
            self.str(k);
            self.str(v);
            v.zeroize();
        }
        self.u32(c.peers.len() as u32);
        for p in &c.peers {
            self.peer(p, now);
        }
    }
}

impl Reader<'_> {
    fn instant(&mut self, now: Instant) -> Result<Option<Instant>, CodecError> {
        match self.u8()? {
            0 => Ok(None),
            1 => {
                let ns = self.u64()? as i64;
                if !(-FAR..=FAR).contains(&ns) {
                    return Err(CodecError::Malformed);
                }
                let d = Duration::from_nanos(ns.unsigned_abs());
                Ok(Some(if ns >= 0 {
                    now + d
                } else {
                    now.checked_sub(d).unwrap_or(now)
                }))
            }
            _ => Err(CodecError::Malformed),
        }
    }

    fn ip(&mut self) -> Result<Option<IpAddr>, CodecError> {
        Ok(match self.u8()? {
            0 => None,
            4 => Some(IpAddr::V4(Ipv4Addr::from(self.fixed::<4>()?))),
            6 => Some(IpAddr::V6(Ipv6Addr::from(self.fixed::<16>()?))),
            _ => return Err(CodecError::Malformed),
        })
    }

    fn endpoint(&mut self) -> Result<Option<SocketAddr>, CodecError> {
        Ok(match self.ip()? {
            None => None,
            Some(IpAddr::V4(a)) => Some(SocketAddr::V4(SocketAddrV4::new(a, self.u16()?))),
            Some(IpAddr::V6(a)) => {
                let port = self.u16()?;
                let (flow, scope) = (self.u32()?, self.u32()?);
                Some(SocketAddr::V6(SocketAddrV6::new(a, port, flow, scope)))
            }
        })
    }

    fn tunnel(&mut self) -> Result<CarriedTunnel, CodecError> {
        let mut one = || -> Result<_, CodecError> {
            Ok(if self.bool()? {
                Some(self.session()?)
            } else {
                None
            })
        };
        let (current, previous, next) = (one()?, one()?, one()?);
        Ok(CarriedTunnel {
            current,
            previous,
            next,
            last_timestamp: self.fixed()?,
        })
    }

    fn timers(&mut self, now: Instant) -> Result<Timers, CodecError> {
        let mut t = Timers {
            retransmit: self.instant(now)?,
            send_keepalive: self.instant(now)?,
            new_handshake: self.instant(now)?,
            persistent: self.instant(now)?,
            reject: self.instant(now)?,
            zero_keys: self.instant(now)?,
            last_handshake_sent: self.instant(now)?,
            ..Timers::default()
        };
        t.need_another_keepalive = self.bool()?;
        t.attempts = self.u32()?;
        t.sent_last_minute = self.bool()?;
        let created = self.instant(now)?;
        let initiator = self.bool()?;
        t.session = created.map(|created| Session { created, initiator });
        if self.bool()? {
            let index = self.u32()?;
            let at = self.instant(now)?.ok_or(CodecError::Malformed)?;
            t.pending = Some((index, at));
        }
        Ok(t)
    }

    fn peer(&mut self, now: Instant) -> Result<CarriedPeer, CodecError> {
        let key = *self.key()?.bytes();
        let id = self.u64()?;
        let endpoint = self.endpoint()?;
        let local = self.ip()?;
        let contacted = self.ip()?;
        let last_handshake = if self.bool()? {
            Some(UNIX_EPOCH + self.duration()?)
        } else {
            None::<SystemTime>
        };
        let tx_bytes = self.u64()?;
        let rx_bytes = self.u64()?;
        let timers = self.timers(now)?;
        let newest = if self.bool()? {
            Some(self.fixed()?)
        } else {
            None
        };
        let last = self.instant(now)?;
        let tunnel = if self.bool()? {
            Some(self.tunnel()?)
        } else {
            None
        };
        Ok(CarriedPeer {
            key,
            id,
            endpoint,
            local,
            contacted,
            last_handshake,
            tx_bytes,
            rx_bytes,
            timers,
            initiations: Initiations::from_parts(newest, last),
            tunnel,
        })
    }

    /// One interface, as carried, read at `now`.
    pub fn interface(&mut self, now: Instant) -> Result<CarriedInterface, CodecError> {
        let name = self.str()?;
        let index = self.u32()?;
        let has_nsid = self.bool()?;
        let nsid = self.u32()? as i32;
        let v6_dropped = self.bool()?;
        let n = self.u32()? as usize;
        let mut pairs = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            pairs.push((self.str()?, self.str()?));
        }
        let decoded = Request::decode(&pairs);
        for (_, v) in pairs.iter_mut() {
            v.zeroize();
        }
        let ops = match decoded {
            Ok(Request::Set { ops, .. }) => ops,
            _ => return Err(CodecError::Malformed),
        };
        let n = self.u32()? as usize;
        let mut peers = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            peers.push(self.peer(now)?);
        }
        Ok(CarriedInterface {
            name,
            place: Where {
                nsid: has_nsid.then_some(nsid),
                index,
            },
            v6_dropped,
            ops,
            peers,
        })
    }
}
