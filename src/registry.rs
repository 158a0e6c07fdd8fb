//! The cloner: creating and destroying wgN interfaces, unit numbers; and
//! the wiring of each interface to what serves it from above: the data
//! plane (its TUN device, its UDP sockets, its handshake queue) and its
//! UAPI socket.

use crate::data::backlog::Queue;
use crate::plane::{Kind, Plane};
use crate::sys::boottime::Instant;
use crate::sys::tun::Tun;
use crate::sys::udp::Sockets;
use crate::uapi::{self, UapiSocket};
use crate::wg::interface::{CarriedInterface, Interface, Wiring};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

pub use crate::wg::constants::CLONER;
/// IFNAMSIZ - 1.
const MAX_NAME: usize = 15;

#[derive(Debug)]
pub enum CloneError {
    Exists,
    /// Another daemon (in another namespace) or another WireGuard serves
    /// an interface of this name: its UAPI socket is live.
    Elsewhere,
    BadName,
    NotFound,
    Io(io::Error),
}

pub struct Registry {
    /// In creation order, as `ifconfig -l` lists them.
    ifaces: Mutex<Vec<Entry>>,
    /// The data plane every interface is served by.
    plane: Arc<Plane>,
}

/// An interface and what serves it.
struct Entry {
    ifc: Arc<Interface>,
    wires: Arc<Wires>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One interface's registrations with the data plane, its handshake
/// queue and its UAPI socket. The interface holds it as its `Wiring`
/// (it holds nothing of the interface, so there is no cycle).
struct Wires {
    plane: Arc<Plane>,
    tun: Mutex<Option<u64>>,
    udp: Mutex<Vec<u64>>,
    handshakes: OnceLock<Arc<Queue>>,
    uapi: Mutex<Option<UapiSocket>>,
}

impl Wires {
    fn new(plane: &Arc<Plane>) -> Wires {
        Wires {
            plane: plane.clone(),
            tun: Mutex::new(None),
            udp: Mutex::new(Vec::new()),
            handshakes: OnceLock::new(),
            uapi: Mutex::new(None),
        }
    }

    fn queue(&self, ifc: &Arc<Interface>) -> Arc<Queue> {
        self.handshakes
            .get_or_init(|| Queue::new(self.plane.handshakes.clone(), Arc::downgrade(ifc)))
            .clone()
    }

    /// Serve the interface's UAPI socket on `listener` (bound to `name`'s
    /// path); it replaces any before.
    fn serve_uapi(
        &self,
        ifc: &Arc<Interface>,
        name: &str,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<()> {
        self.stop_uapi();
        match UapiSocket::start(ifc.clone(), listener, name) {
            Ok(u) => {
                *lock(&self.uapi) = Some(u);
                Ok(())
            }
            Err(e) => {
                let _ = std::fs::remove_file(uapi::path_of(name));
                Err(e)
            }
        }
    }

    fn stop_uapi(&self) {
        if let Some(u) = lock(&self.uapi).take() {
            u.stop();
        }
    }
}

impl Wiring for Wires {
    fn serve_tun(&self, ifc: &Arc<Interface>, tun: &Arc<Tun>) -> io::Result<()> {
        let t = self.plane.register(Kind::Tun(ifc.clone(), tun.clone()))?;
        *lock(&self.tun) = Some(t);
        Ok(())
    }

    fn serve_sockets(
        &self,
        ifc: &Arc<Interface>,
        tun: &Arc<Tun>,
        socks: Option<&Arc<Sockets>>,
    ) -> io::Result<()> {
        let mut tokens = lock(&self.udp);
        for t in tokens.drain(..) {
            self.plane.deregister(t);
        }
        let Some(socks) = socks else {
            return Ok(());
        };
        let queue = self.queue(ifc);
        for i in 0..socks.all().count() {
            let kind = Kind::Udp(ifc.clone(), socks.clone(), i, tun.clone(), queue.clone());
            tokens.push(self.plane.register(kind)?);
        }
        Ok(())
    }

    fn watch_routes(&self, ifc: &Arc<Interface>, on: bool) -> bool {
        crate::routewatch::watch(ifc, on)
    }

    fn stop(&self) {
        for t in lock(&self.udp).drain(..) {
            self.plane.deregister(t);
        }
        if let Some(t) = lock(&self.tun).take() {
            self.plane.deregister(t);
        }
        if let Some(q) = self.handshakes.get() {
            q.clear();
        }
    }
}

impl Entry {
    /// Stop taking UAPI requests first (they wait for the config lock),
    /// then the interface.
    fn destroy(self) {
        self.wires.stop_uapi();
        self.ifc.shutdown();
    }
}

/// `wg` followed by a unit number without leading zeros.
pub fn valid_name(name: &str) -> bool {
    let Some(unit) = name.strip_prefix(CLONER) else {
        return false;
    };
    name.len() <= MAX_NAME
        && !unit.is_empty()
        && unit.bytes().all(|b| b.is_ascii_digit())
        && (unit == "0" || !unit.starts_with('0'))
}

/// One interface as a hand-over carries it: its state as values and the
/// descriptors it is served from (the namespace its link is in, to attach
/// a TUN queue there; its UDP sockets; the namespace it was born in; its
/// UAPI listener).
pub struct Handed {
    pub carried: CarriedInterface,
    pub netns: OwnedFd,
    pub v4: Option<OwnedFd>,
    pub v6: Option<OwnedFd>,
    pub birth: Option<OwnedFd>,
    pub uapi: Option<OwnedFd>,
}

impl Registry {
    /// Every interface, in creation order, as a hand-over carries it. The
    /// caller holds the plane still (`Plane::still`).
    pub fn carry_all(&self, now: Instant) -> io::Result<Vec<Handed>> {
        let list = self.lock();
        let mut out = Vec::with_capacity(list.len());
        for e in list.iter() {
            let socks = e.ifc.sockets();
            let dup = |s: &crate::sys::udp::Socket| s.fd().try_clone_to_owned();
            out.push(Handed {
                carried: e.ifc.carry(now),
                netns: e.ifc.link_netns()?,
                v4: socks.as_ref().map(|s| dup(&s.v4)).transpose()?,
                v6: socks
                    .as_ref()
                    .and_then(|s| s.v6.as_ref().map(dup))
                    .transpose()?,
                birth: e.ifc.birth().map(|b| b.try_clone_to_owned()).transpose()?,
                uapi: lock(&e.wires.uapi)
                    .as_ref()
                    .map(|u| u.listener())
                    .transpose()?,
            });
        }
        Ok(out)
    }

    /// Drop every session of every peer (the next packet starts a
    /// handshake): after a hand-over that failed
    /// once the new process had the keys, it may have sent with them,
    /// and a counter must never be used twice.
    pub fn forget_sessions(&self) {
        let ifcs: Vec<Arc<Interface>> = self.lock().iter().map(|e| e.ifc.clone()).collect();
        for ifc in ifcs {
            ifc.forget_sessions();
        }
    }

    /// Serve an interface another wgd handed over, as it was there: a TUN
    /// queue of ours on its link, its sockets, its UAPI listener.
    pub fn adopt(&self, h: Handed, now: Instant) -> io::Result<String> {
        let c = &h.carried;
        // Most links are where we are: no thread to join a namespace.
        let home = crate::sys::netns::home()?;
        let tun = if crate::sys::netns::id_of(h.netns.as_fd())? == home {
            Tun::attach(&c.name, c.place.index)?
        } else {
            crate::sys::netns::run_in(h.netns.as_fd(), || Tun::attach(&c.name, c.place.index))?
        };
        let sockets = match h.v4 {
            Some(v4) => Some(Sockets::adopt(v4, h.v6)?),
            None => None,
        };
        let wires = Arc::new(Wires::new(&self.plane));
        let ifc = Interface::adopt(c, tun, sockets, wires.clone(), h.birth, now)
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        if let Some(l) = h.uapi {
            // Not `serve_uapi`: on failure the socket file stays, the old
            // process still serves it.
            let l = std::os::unix::net::UnixListener::from(l);
            *lock(&wires.uapi) = Some(UapiSocket::start(ifc.clone(), l, &c.name)?);
        }
        self.lock().push(Entry { ifc, wires });
        Ok(c.name.clone())
    }

    pub fn new(plane: Arc<Plane>) -> Registry {
        Registry {
            ifaces: Mutex::new(Vec::new()),
            plane,
        }
    }

    /// The data plane serving every interface.
    pub fn plane(&self) -> &Arc<Plane> {
        &self.plane
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry>> {
        lock(&self.ifaces)
    }

    /// Create `name`, or with the bare cloner name the lowest free unit;
    /// `rename` gives the new interface any other valid name instead.
    /// `birth`: the network namespace it is born in, if not ours.
    pub fn create(
        &self,
        name: &str,
        rename: Option<&str>,
        birth: Option<OwnedFd>,
    ) -> Result<String, CloneError> {
        let mut list = self.lock();
        if !(name == CLONER || valid_name(name)) {
            return Err(CloneError::BadName);
        }
        let name = if let Some(r) = rename {
            if !valid_rename(r) {
                return Err(CloneError::BadName);
            }
            if list.iter().any(|e| e.ifc.has_name(r)) {
                return Err(CloneError::Exists);
            }
            r.to_string()
        } else if name == CLONER {
            (0u32..)
                .map(|u| format!("{CLONER}{u}"))
                .find(|n| {
                    !list.iter().any(|e| e.ifc.has_name(n))
                        && nix::net::if_::if_nametoindex(n.as_str()).is_err()
                        && !uapi::live(n)
                })
                .ok_or(CloneError::BadName)?
        } else {
            if !valid_name(name) {
                return Err(CloneError::BadName);
            }
            if list.iter().any(|e| e.ifc.has_name(name)) {
                return Err(CloneError::Exists);
            }
            name.to_string()
        };
        let exists = |e: io::Error| match e.kind() {
            io::ErrorKind::AlreadyExists => CloneError::Exists,
            _ => CloneError::Io(e),
        };
        // Names are host-wide (every namespace shares the UAPI
        // directory): one served elsewhere is refused before any link is
        // made here.
        if uapi::live(&name) {
            return Err(CloneError::Elsewhere);
        }
        let wires = Arc::new(Wires::new(&self.plane));
        let ifc = Interface::create(&name, wires.clone(), birth).map_err(exists)?;
        // The UAPI path is claimed last: a live socket there belongs to
        // an interface of that name elsewhere (another namespace, or
        // wireguard-go), and then nothing is created.
        let served = uapi::bind(&name).and_then(|l| wires.serve_uapi(&ifc, &name, l));
        if let Err(e) = served {
            ifc.shutdown();
            return Err(match e.kind() {
                io::ErrorKind::AlreadyExists => CloneError::Elsewhere,
                _ => CloneError::Io(e),
            });
        }
        list.push(Entry { ifc, wires });
        Ok(name)
    }

    pub fn destroy(&self, name: &str) -> Result<(), CloneError> {
        let mut list = self.lock();
        let pos = list
            .iter()
            .position(|e| e.ifc.has_name(name))
            .ok_or(CloneError::NotFound)?;
        list.remove(pos).destroy();
        Ok(())
    }

    /// Destroy exactly this interface, if it is still registered: the
    /// link watcher acts on what it found by ifindex, never on a name that
    /// may meanwhile belong to a newer interface.
    pub fn destroy_this(&self, ifc: &Arc<Interface>) -> Result<(), CloneError> {
        let mut list = self.lock();
        let pos = list
            .iter()
            .position(|e| Arc::ptr_eq(&e.ifc, ifc))
            .ok_or(CloneError::NotFound)?;
        list.remove(pos).destroy();
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Arc<Interface>> {
        self.lock()
            .iter()
            .find(|e| e.ifc.has_name(name))
            .map(|e| e.ifc.clone())
    }

    /// `ifconfig wgN name NEW`: any valid Linux name that no link in this
    /// namespace (ours or not) has.
    pub fn rename(&self, name: &str, new: &str) -> Result<(), CloneError> {
        let list = self.lock();
        let entry = list
            .iter()
            .find(|e| e.ifc.has_name(name))
            .ok_or(CloneError::NotFound)?;
        let (ifc, wires) = (entry.ifc.clone(), entry.wires.clone());
        if name == new {
            return Ok(());
        }
        if !valid_rename(new) {
            return Err(CloneError::BadName);
        }
        if list.iter().any(|e| e.ifc.has_name(new)) || nix::net::if_::if_nametoindex(new).is_ok() {
            return Err(CloneError::Exists);
        }
        let exists = |e: io::Error| match e.kind() {
            io::ErrorKind::AlreadyExists => CloneError::Exists,
            _ => CloneError::Io(e),
        };
        // The new UAPI path first: refused if a live socket holds it (an
        // interface of that name elsewhere: names are host-wide).
        let listener = uapi::bind(new).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => CloneError::Elsewhere,
            _ => CloneError::Io(e),
        })?;
        if let Err(e) = ifc.rename(new) {
            drop(listener);
            let _ = std::fs::remove_file(uapi::path_of(new));
            return Err(exists(e));
        }
        if let Err(e) = wires.serve_uapi(&ifc, new, listener) {
            crate::log::error(format!("{new}: cannot serve the UAPI socket: {e}"));
        }
        Ok(())
    }

    /// The interface whose link is at `w` (index in a namespace).
    pub fn by_place(&self, w: crate::sys::netlink::Where) -> Option<Arc<Interface>> {
        self.lock()
            .iter()
            .find(|e| e.ifc.place() == w)
            .map(|e| e.ifc.clone())
    }

    pub fn all(&self) -> Vec<Arc<Interface>> {
        self.lock().iter().map(|e| e.ifc.clone()).collect()
    }

    /// Like unloading the module: every interface goes. The links are
    /// first deleted in one batch (a link group of their own), which is
    /// what makes stopping a daemon with a thousand interfaces take a
    /// moment instead of twenty seconds; any link that could not join the
    /// group goes when its TUN device is closed.
    pub fn destroy_all(&self) {
        let mut list = self.lock();
        let group = (rand_core::RngCore::next_u32(&mut rand_core::OsRng) | 1) & 0x7fff_ffff;
        let mut grouped = false;
        // Links moved to other namespaces go when their TUN device is
        // closed.
        for e in list.iter().filter(|e| e.ifc.place().nsid.is_none()) {
            grouped |= crate::sys::netlink::set_group(e.ifc.index(), group).is_ok();
        }
        if grouped {
            let _ = crate::sys::netlink::delete_group(group);
        }
        for e in list.drain(..) {
            e.destroy();
        }
    }
}

/// Any Linux interface name (what `ifconfig wg create name X` allows).
pub fn valid_rename(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::{valid_name, valid_rename};

    #[test]
    fn renames() {
        for ok in ["wgtest", "tun-home", "wg_0", "a"] {
            assert!(valid_rename(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "has space", "toolongname12345", "x:y"] {
            assert!(!valid_rename(bad), "{bad}");
        }
    }

    #[test]
    fn names() {
        for ok in ["wg0", "wg1", "wg10", "wg4294967295"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "wg",
            "wg01",
            "wg00",
            "wgx",
            "tun0",
            "wg-1",
            "wg1a",
            "wg12345678901234",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
