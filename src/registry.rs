//! The cloner: creating and destroying wgN interfaces, unit numbers.

use crate::plane::Plane;
use crate::wg::interface::Interface;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard};

pub const CLONER: &str = "wg";
/// IFNAMSIZ - 1.
const MAX_NAME: usize = 15;

#[derive(Debug)]
pub enum CloneError {
    Exists,
    BadName,
    NotFound,
    Io(io::Error),
}

pub struct Registry {
    /// In creation order, as `ifconfig -l` lists them.
    ifaces: Mutex<Vec<Arc<Interface>>>,
    /// The data plane every interface is served by.
    plane: Arc<Plane>,
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

impl Registry {
    pub fn new(plane: Arc<Plane>) -> Registry {
        Registry {
            ifaces: Mutex::new(Vec::new()),
            plane,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Interface>>> {
        self.ifaces.lock().unwrap_or_else(|e| e.into_inner())
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
            if list.iter().any(|i| i.has_name(r)) {
                return Err(CloneError::Exists);
            }
            r.to_string()
        } else if name == CLONER {
            (0u32..)
                .map(|u| format!("{CLONER}{u}"))
                .find(|n| {
                    !list.iter().any(|i| i.has_name(n))
                        && nix::net::if_::if_nametoindex(n.as_str()).is_err()
                })
                .ok_or(CloneError::BadName)?
        } else {
            if !valid_name(name) {
                return Err(CloneError::BadName);
            }
            if list.iter().any(|i| i.has_name(name)) {
                return Err(CloneError::Exists);
            }
            name.to_string()
        };
        let ifc = Interface::create(&name, &self.plane, birth).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => CloneError::Exists,
            _ => CloneError::Io(e),
        })?;
        list.push(ifc);
        Ok(name)
    }

    pub fn destroy(&self, name: &str) -> Result<(), CloneError> {
        let mut list = self.lock();
        let pos = list
            .iter()
            .position(|i| i.has_name(name))
            .ok_or(CloneError::NotFound)?;
        let ifc = list.remove(pos);
        ifc.shutdown();
        Ok(())
    }

    /// Destroy exactly this interface, if it is still registered: the
    /// link watcher acts on what it found by ifindex, never on a name that
    /// may meanwhile belong to a newer interface.
    pub fn destroy_this(&self, ifc: &Arc<Interface>) -> Result<(), CloneError> {
        let mut list = self.lock();
        let pos = list
            .iter()
            .position(|i| Arc::ptr_eq(i, ifc))
            .ok_or(CloneError::NotFound)?;
        list.remove(pos).shutdown();
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<Arc<Interface>> {
        self.lock().iter().find(|i| i.has_name(name)).cloned()
    }

    /// `ifconfig wgN name NEW`: any valid Linux name that no link in this
    /// namespace (ours or not) has.
    pub fn rename(&self, name: &str, new: &str) -> Result<(), CloneError> {
        let list = self.lock();
        let ifc = list
            .iter()
            .find(|i| i.has_name(name))
            .cloned()
            .ok_or(CloneError::NotFound)?;
        if name == new {
            return Ok(());
        }
        if !valid_rename(new) {
            return Err(CloneError::BadName);
        }
        if list.iter().any(|i| i.has_name(new)) || nix::net::if_::if_nametoindex(new).is_ok() {
            return Err(CloneError::Exists);
        }
        ifc.rename(new).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => CloneError::Exists,
            _ => CloneError::Io(e),
        })
    }

    /// The interface whose link is at `w` (index in a namespace).
    pub fn by_place(&self, w: crate::sys::netlink::Where) -> Option<Arc<Interface>> {
        self.lock().iter().find(|i| i.place() == w).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Interface>> {
        self.lock().clone()
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
        for ifc in list.iter().filter(|i| i.place().nsid.is_none()) {
            grouped |= crate::sys::netlink::set_group(ifc.index(), group).is_ok();
        }
        if grouped {
            let _ = crate::sys::netlink::delete_group(group);
        }
        for ifc in list.drain(..) {
            ifc.shutdown();
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
