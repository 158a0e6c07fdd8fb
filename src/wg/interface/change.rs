//! The link changes a request makes (MTU, addresses, link1/link2's flags, up
//! or down), in order, and their undo when a later one fails.

use super::Interface;
use crate::sys::netlink;
use crate::wg::config::Settings;
use proto::IfAddr;
use std::io;

/// What undoes one link change a failed request made.
pub(super) enum Undo {
    Mtu(u32),
    AddAddress(IfAddr),
    DeleteAddress(IfAddr),
    Multicast(bool),
    Up(bool),
}

impl Interface {
    pub(super) fn change_link(
        &self,
        old: &Settings,
        next: &Settings,
        undo: &mut Vec<Undo>,
    ) -> io::Result<()> {
        let idx = self.index();
        if next.mtu != old.mtu {
            netlink::set_mtu(idx, next.mtu)?;
            undo.push(Undo::Mtu(old.mtu));
        }
        for a in old.addrs.iter().filter(|a| !next.addrs.contains(a)) {
            netlink::delete_address(idx, a)?;
            undo.push(Undo::AddAddress(*a));
        }
        for a in next.addrs.iter().filter(|a| !old.addrs.contains(a)) {
            netlink::add_address(idx, a)?;
            undo.push(Undo::DeleteAddress(*a));
        }
        // link1 and link2 both make the link multicast.
        let (was, is) = (old.link1 || old.link2, next.link1 || next.link2);
        if was != is {
            netlink::set_flags(idx, None, Some(is))?;
            undo.push(Undo::Multicast(was));
        }
        if next.up != old.up {
            netlink::set_flags(idx, Some(next.up), None)?;
            undo.push(Undo::Up(old.up));
            if next.up {
                // Linux dropped the IPv6 addresses when the link went
                // down; a BSD interface never loses them.
                for a in next.addrs_v6() {
                    netlink::add_address(idx, a)?;
                }
            }
        }
        Ok(())
    }

    /// Undo what `change_link` did, last first.
    pub(super) fn undo_link(&self, undo: Vec<Undo>) {
        let idx = self.index();
        for u in undo.into_iter().rev() {
            let _ = match u {
                Undo::Mtu(m) => netlink::set_mtu(idx, m),
                Undo::AddAddress(a) => netlink::add_address(idx, &a),
                Undo::DeleteAddress(a) => netlink::delete_address(idx, &a),
                Undo::Multicast(b) => netlink::set_flags(idx, None, Some(b)),
                Undo::Up(b) => netlink::set_flags(idx, Some(b), None),
            };
        }
    }
}
