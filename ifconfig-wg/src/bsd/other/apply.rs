//! Making the planned changes, in FreeBSD's order, over rtnetlink.

use super::plan::{kernel_addr, Op, Plan};
use crate::bsd::rtnl::{self, Addr};
use nix::errno::Errno;

/// What FreeBSD names each change in its messages.
pub const MTU: &str = "ioctl SIOCSIFMTU (set mtu)";
pub const NAME: &str = "ioctl SIOCSIFNAME (set name)";
pub const DESCR: &str = "ioctl SIOCSIFDESCR (set descr)";
pub const DIFADDR: &str = "ioctl (SIOCDIFADDR)";
pub const AIFADDR: &str = "ioctl (SIOCAIFADDR)";

/// strerror(3), with BSD's texts where proto has them.
fn text(e: Errno) -> String {
    let t = proto::errno::strerror(e as i32);
    if t.starts_with("Unknown error") {
        proto::errno::describe(&std::io::Error::from_raw_os_error(e as i32))
    } else {
        t
    }
}

/// A failed change as FreeBSD reports it: err(3) for the MTU, name and
/// description; Perror() (its own words for ENXIO and EPERM) for flags
/// and addresses.
pub fn failed(what: &str, e: Errno) -> String {
    let perror = !matches!(what, MTU | NAME | DESCR);
    match e {
        Errno::ENXIO | Errno::ENODEV if perror => format!("{what}: no such interface"),
        Errno::EPERM if perror => format!("{what}: permission denied"),
        _ => format!("{what}: {}", text(e)),
    }
}

/// The link's addresses of `a`'s family, as the kernel has them now.
fn addrs_now(index: u32, v4: bool) -> Vec<Addr> {
    crate::bsd::links::all()
        .unwrap_or_default()
        .into_iter()
        .find(|l| l.index == index)
        .map(|l| {
            l.addrs
                .iter()
                .filter(|a| a.ip.addr.is_ipv4() == v4)
                .map(kernel_addr)
                .collect()
        })
        .unwrap_or_default()
}

/// Delete, then add, as FreeBSD does; what the kernel took besides
/// (Linux drops an IPv4 primary's secondaries with it) is put back, and
/// if the addition fails, the deleted addresses are put back too.
fn change_addresses(index: u32, delete: &[Addr], add: Option<&Addr>) -> Result<(), String> {
    let v4 = match (delete.first(), add) {
        (Some(d), _) => d.local.is_ipv4(),
        (None, Some(a)) => a.local.is_ipv4(),
        (None, None) => return Ok(()),
    };
    let before = addrs_now(index, v4);
    let mut gone = Vec::new();
    let mut result = Ok(());
    for d in delete {
        // A secondary may have gone with its primary already.
        let present = d == &delete[0] || addrs_now(index, v4).iter().any(|a| a.local == d.local);
        if !present {
            gone.push(d.clone());
            continue;
        }
        if let Err(e) = rtnl::del_addr(index, d) {
            result = Err(failed(DIFADDR, e));
            break;
        }
        gone.push(d.clone());
    }
    let after = addrs_now(index, v4);
    for lost in before
        .iter()
        .filter(|b| !gone.contains(b) && !after.iter().any(|a| a.local == b.local))
    {
        let _ = rtnl::add_addr(index, lost);
    }
    if result.is_ok() {
        if let Some(a) = add {
            result = rtnl::add_addr(index, a).map_err(|e| failed(AIFADDR, e));
        }
    }
    if result.is_err() {
        for d in &gone {
            let _ = rtnl::add_addr(index, d);
        }
    }
    result
}

/// Make the changes, in order, on the link with this index. Stops at
/// the first the kernel refuses (its message after `ifconfig: `);
/// returns the link's new name if it was renamed, even then, since
/// FreeBSD prints it on the way out.
pub fn apply(index: u32, plan: &Plan) -> (Option<String>, Result<(), String>) {
    let mut renamed = None;
    for op in &plan.ops {
        let r = match op {
            Op::Flags { word, mask, on } => {
                rtnl::set_flags(index, *mask, *on).map_err(|e| failed(word, e))
            }
            Op::Mtu(m) => rtnl::set_mtu(index, *m).map_err(|e| failed(MTU, e)),
            Op::Name(n) => rtnl::set_name(index, n)
                .map(|_| renamed = Some(n.clone()))
                .map_err(|e| failed(NAME, e)),
            Op::Description(d) => rtnl::set_description(index, d).map_err(|e| failed(DESCR, e)),
            Op::Address { delete, add } => change_addresses(index, delete, add.as_ref()),
        };
        if r.is_err() {
            return (renamed, r);
        }
    }
    (renamed, Ok(()))
}
