//! The link as the kernel has it: following what others change (flags,
//! MTU, addresses), putting back the IPv6 addresses Linux drops, and
//! renaming it.

use super::{lock, Interface};
use crate::sys::netlink;
use crate::wg::config::{Config, Settings};
use proto::Op;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;

impl Interface {
    /// `name NEW`: the link and the name in status and logs follow;
    /// configuration, sessions, counters and addresses stay. Linux
    /// renames only a link that is down, so an up link goes down and up
    /// around it (its IPv6 addresses are put back). The caller (the
    /// registry, under its lock) has checked that `new` is valid and free
    /// among our interfaces, and moves the UAPI socket.
    pub fn rename(self: &Arc<Self>, new: &str) -> io::Result<()> {
        self.in_link_ns(|| self.rename_here(new))?
    }

    fn rename_here(self: &Arc<Self>, new: &str) -> io::Result<()> {
        let cfg = lock(&self.config);
        if self.destroyed.load(Ordering::SeqCst) {
            return Err(io::Error::from_raw_os_error(libc::ENXIO));
        }
        let idx = self.index();
        let up = netlink::link_state(idx).map(|l| l.up).unwrap_or(false);
        let renamed = (|| {
            if up {
                netlink::set_flags(idx, Some(false), None)?;
            }
            netlink::set_name(idx, new)
        })();
        if up {
            let _ = netlink::set_flags(idx, Some(true), None);
            self.add_missing_v6(&cfg);
        }
        renamed?;
        *self.name.write().unwrap_or_else(|e| e.into_inner()) = new.to_string();
        Ok(())
    }

    /// Make our address list the kernel's. IPv6 addresses the kernel
    /// dropped while the link is down or its IPv6 is off are kept, to be
    /// put back when it returns: a BSD interface never loses them.
    pub(super) fn refresh_addrs(&self, cfg: &mut Config, link: &netlink::LinkState) {
        let Ok(mut now) = netlink::addresses(self.index()) else {
            return;
        };
        let ipv6_live = link.up
            && cfg.up
            && matches!(link.ipv6, netlink::Ipv6::On { auto_off: true })
            && !self.v6_dropped.load(Ordering::SeqCst);
        if !ipv6_live {
            for a in cfg.addrs_v6() {
                if !now.iter().any(|x| x.addr == a.addr) {
                    now.push(*a);
                }
            }
        }
        cfg.addrs = now;
    }

    /// Follow a change someone made to the link behind our back (ip(8),
    /// as wg-quick does): up/down binds/closes the sockets, the MTU sets
    /// the padding limit. Returns false if the link is not where we
    /// think it is (gone, or moved).
    pub fn sync_link(self: &Arc<Self>) -> bool {
        self.in_link_ns(|| self.sync_link_here()).unwrap_or(false)
    }

    fn sync_link_here(self: &Arc<Self>) -> bool {
        let mut cfg = lock(&self.config);
        if self.destroyed.load(Ordering::SeqCst) {
            return true;
        }
        let Ok(mut link) = netlink::link_state(self.index()) else {
            return false;
        };
        let (up, mtu) = (link.up, link.mtu);
        if let netlink::Ipv6::On { auto_off } = link.ipv6 {
            link.ipv6 = self.restore_ipv6(&cfg, auto_off, up && cfg.up);
        }
        self.refresh_addrs(&mut cfg, &link);
        let mut ops = Vec::new();
        if up != cfg.up {
            ops.push(Op::Up(up));
        }
        if mtu != cfg.mtu && (proto::request::MIN_MTU..=proto::request::MAX_MTU).contains(&mtu) {
            ops.push(Op::Mtu(mtu));
        }
        if !ops.is_empty() {
            if let Err(e) = self.apply_locked(&mut cfg, &ops) {
                crate::log::error(format!("{}: cannot follow link change: {e:?}", self.name()));
            }
        }
        true
    }

    /// The link was seen down, or its IPv6 restarting: the IPv6
    /// addresses missing from it now went with that, not with someone's
    /// delete, and come back once it is up.
    pub fn ipv6_lost(&self) {
        self.v6_dropped.store(true, Ordering::SeqCst);
    }

    /// Linux forgets a link's IPv6 state when its MTU drops below 1280
    /// or IPv6 is disabled on it, and rebuilds it with defaults: an
    /// automatic link-local address and none of ours. Put back what a BSD
    /// interface would still have. Returns the link's IPv6 state after.
    fn restore_ipv6(&self, cfg: &Settings, auto_off: bool, up: bool) -> netlink::Ipv6 {
        let idx = self.index();
        // Rebuilt, or dropped by a down: ours go back once it is up. Any
        // other missing address was deleted by someone and stays so.
        let dropped = !auto_off || self.v6_dropped.load(Ordering::SeqCst);
        let mut now_off = auto_off;
        if !auto_off {
            // Just rebuilt: every link-local address there now is one the
            // kernel made (anyone else's went with the old state).
            now_off = netlink::disable_ipv6_autoconf(idx).is_ok();
            if let Ok(auto) = netlink::link_locals(idx) {
                for a in auto
                    .iter()
                    .filter(|a| !cfg.addrs.iter().any(|c| c.addr == a.addr))
                {
                    let _ = netlink::delete_address(idx, a);
                }
            }
        }
        if up && dropped {
            self.v6_dropped.store(false, Ordering::SeqCst);
            self.add_missing_v6(cfg);
        }
        netlink::Ipv6::On { auto_off: now_off }
    }

    /// Put our IPv6 addresses the link lacks back on it. Only the missing
    /// ones: adding one the link has would be a change notification of
    /// its own, and bring us back here.
    fn add_missing_v6(&self, cfg: &Settings) {
        let idx = self.index();
        let have = netlink::addresses(idx).unwrap_or_default();
        for a in cfg
            .addrs_v6()
            .filter(|a| !have.iter().any(|h| h.addr == a.addr))
        {
            let _ = netlink::add_address(idx, a);
        }
    }
}
