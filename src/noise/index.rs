//! Receiver indices, as the reference keeps them: every handshake takes a
//! fresh random 32-bit index, unique among the interface's live ones, and
//! the session it makes keeps that index for as long as the session
//! lives. An index says nothing about its peer, its other sessions or how
//! many came before it.
//!
//! The interface owns one `Table`; each peer's tunnel leases indices from
//! it through an `Allocate` bound to that peer. A `Lease` returns its
//! index to the table when it is dropped, so an index is live exactly as
//! long as the handshake or session that holds it.

use rand_core::{OsRng, RngCore};
use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

/// The live indices of one interface, each naming its owner (a peer).
pub struct Table<T> {
    map: RwLock<HashMap<u32, Weak<T>>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<T: Send + Sync + 'static> Table<T> {
    /// The owner of a live index.
    pub fn get(&self, index: u32) -> Option<Arc<T>> {
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        map.get(&index)?.upgrade()
    }

    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What `owner`'s tunnel leases its indices through.
    pub fn allocator(self: &Arc<Self>, owner: Weak<T>) -> Arc<dyn Allocate> {
        Arc::new(Owner {
            table: self.clone(),
            owner,
        })
    }

    /// `index` itself, if it is free (a session carried over from the
    /// old process keeps the index its peer sends to).
    fn lease_index(self: &Arc<Self>, owner: &Weak<T>, index: u32) -> Option<Lease> {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        match map.entry(index) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(owner.clone());
                Some(Lease {
                    index,
                    table: self.clone(),
                })
            }
            std::collections::hash_map::Entry::Occupied(_) => None,
        }
    }

    fn lease(self: &Arc<Self>, owner: &Weak<T>) -> Lease {
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        loop {
            let index = OsRng.next_u32();
            if let std::collections::hash_map::Entry::Vacant(v) = map.entry(index) {
                v.insert(owner.clone());
                return Lease {
                    index,
                    table: self.clone(),
                };
            }
        }
    }
}

trait Release: Send + Sync {
    fn release(&self, index: u32);
}

impl<T: Send + Sync> Release for Table<T> {
    fn release(&self, index: u32) {
        self.map
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&index);
    }
}

/// Hands out indices for one owner.
pub trait Allocate: Send + Sync {
    fn lease(&self) -> Lease;
    /// This index, unless it is live already.
    fn lease_index(&self, index: u32) -> Option<Lease>;
}

struct Owner<T> {
    table: Arc<Table<T>>,
    owner: Weak<T>,
}

impl<T: Send + Sync + 'static> Allocate for Owner<T> {
    fn lease(&self) -> Lease {
        self.table.lease(&self.owner)
    }

    fn lease_index(&self, index: u32) -> Option<Lease> {
        self.table.lease_index(&self.owner, index)
    }
}

/// One live index; given back when dropped.
pub struct Lease {
    index: u32,
    table: Arc<dyn Release>,
}

impl Lease {
    pub fn index(&self) -> u32 {
        self.index
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.table.release(self.index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_are_unique_random_and_given_back() {
        let table = Arc::new(Table::<u8>::default());
        let a = Arc::new(1u8);
        let b = Arc::new(2u8);
        let la = table.allocator(Arc::downgrade(&a));
        let lb = table.allocator(Arc::downgrade(&b));
        let mut held: Vec<Lease> = (0..1000).map(|_| la.lease()).collect();
        held.push(lb.lease());
        assert_eq!(table.len(), 1001, "all distinct");
        let last = held.last().unwrap().index();
        assert_eq!(table.get(last).as_deref(), Some(&2));
        assert_eq!(table.get(held[0].index()).as_deref(), Some(&1));
        // Not a counter: consecutive leases are not neighbours.
        let close = held
            .windows(2)
            .filter(|w| w[0].index().abs_diff(w[1].index()) < 1 << 16)
            .count();
        assert!(close < 5, "{close} neighbouring indices");
        let first = held[0].index();
        held.clear();
        assert!(table.is_empty());
        assert!(table.get(first).is_none());
    }

    #[test]
    fn an_owner_gone_owns_nothing() {
        let table = Arc::new(Table::<u8>::default());
        let a = Arc::new(1u8);
        let l = table.allocator(Arc::downgrade(&a)).lease();
        drop(a);
        assert!(table.get(l.index()).is_none());
    }
}
