//! A parsed line checked against the link as it is: the changes to make.

use super::apply::*;
use super::parse::*;
use crate::bsd::links::{linux, Link};
use crate::bsd::rtnl::Addr;
use nix::errno::Errno;
use std::net::{IpAddr, Ipv4Addr};

/// A change to make, with the message prefix FreeBSD uses for its
/// failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Flags {
        word: String,
        mask: u32,
        on: bool,
    },
    Mtu(u32),
    Name(String),
    Description(String),
    /// Delete these (as the kernel has them), then add that one.
    Address {
        delete: Vec<Addr>,
        add: Option<Addr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// Printed on standard error before anything changes.
    pub warnings: Vec<String>,
}

pub(super) const ENOMASK: &str =
    "WARNING: setting interface address without mask is deprecated,\ndefault mask may not be correct.";

/// A name Linux accepts for a link (dev_valid_name).
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() < 16
        && n != "."
        && n != ".."
        && !n.contains(|c: char| c == '/' || c == ':' || c.is_whitespace())
}

pub(super) fn kernel_addr(a: &crate::bsd::links::Address) -> Addr {
    Addr {
        local: a.ip.addr,
        prefix_len: a.ip.prefix_len,
        peer: a.ip.dest,
        broadcast: a.broadcast,
    }
}

/// Turn a parsed line into the changes to make on `link`, checking all
/// of them first: `names` are the links of the namespace, `mtu_range`
/// what the driver accepts. Errors are the message after `ifconfig: `.
pub fn plan(
    line: &Line,
    link: &Link,
    names: &[String],
    mtu_range: Option<(u32, u32)>,
) -> Result<Plan, String> {
    let mut ops = Vec::new();
    let mut warnings = Vec::new();
    let mut names: Vec<String> = names.to_vec();
    let mut current = link.name.clone();
    for s in &line.steps {
        ops.push(match s {
            Step::Flags { word, mask, on } => Op::Flags {
                word: word.clone(),
                mask: *mask,
                on: *on,
            },
            Step::Mtu(n) => {
                let ok = u32::try_from(*n)
                    .ok()
                    .filter(|m| *m > 0 && mtu_range.is_none_or(|(lo, hi)| (lo..=hi).contains(m)));
                match ok {
                    Some(m) => Op::Mtu(m),
                    None => return Err(failed(MTU, Errno::EINVAL)),
                }
            }
            Step::Name(n) => {
                if !valid_name(n) {
                    return Err(failed(NAME, Errno::EINVAL));
                }
                if *n != current && names.contains(n) {
                    return Err(failed(NAME, Errno::EEXIST));
                }
                names.retain(|x| *x != current);
                names.push(n.clone());
                current = n.clone();
                Op::Name(n.clone())
            }
            Step::Description(d) => {
                // Linux keeps at most 255 bytes (IFALIASZ).
                if d.len() > 255 {
                    return Err(failed(DESCR, Errno::ENAMETOOLONG));
                }
                Op::Description(d.clone())
            }
        });
    }
    if let Some(op) = address_op(line, link, &mut warnings)? {
        ops.push(op);
    }
    Ok(Plan { ops, warnings })
}

fn address_op(line: &Line, link: &Link, warnings: &mut Vec<String>) -> Result<Option<Op>, String> {
    let a = &line.address;
    let v4 = line.family == Family::Inet;
    let have: Vec<Addr> = link
        .addrs
        .iter()
        .filter(|x| x.ip.addr.is_ipv4() == v4)
        .map(kernel_addr)
        .collect();
    let same =
        |ip: IpAddr| -> Vec<Addr> { have.iter().filter(|h| h.local == ip).cloned().collect() };
    if a.alias == Alias::Delete {
        let delete = match a.addr {
            Some(ip) => same(ip),
            // inet: FreeBSD deletes the first address, if there is one.
            None if v4 => have.iter().take(1).cloned().collect(),
            None => Vec::new(),
        };
        if delete.is_empty() && (a.addr.is_some() || !v4) {
            return Err(failed(DIFADDR, Errno::EADDRNOTAVAIL));
        }
        return Ok((!delete.is_empty()).then_some(Op::Address { delete, add: None }));
    }
    let Some(ip) = a.addr else {
        if a.mask_given || a.broadcast.is_some() {
            // A mask for no address.
            return Err(failed(AIFADDR, Errno::EINVAL));
        }
        return Ok(None);
    };
    let flags = link.flags;
    let p2p = flags & linux::POINTOPOINT != 0;
    let prefix_len = match (a.prefix_len, ip) {
        (Some(n), _) => n,
        (None, IpAddr::V4(v)) => {
            if flags & (linux::POINTOPOINT | linux::LOOPBACK) == 0 {
                warnings.push(ENOMASK.to_string());
            }
            classful(v)
        }
        // Aggregatable addresses are /64 (af_inet6.c).
        (None, IpAddr::V6(_)) => 64,
    };
    let (mut peer, mut broadcast) = (None, a.broadcast.map(IpAddr::V4));
    match a.dest {
        // On a broadcast link, BSD's second inet address is the
        // broadcast address (ifra_broadaddr and ifra_dstaddr are one).
        Some(d) if v4 && !p2p => broadcast = broadcast.or(Some(d)),
        d => peer = d,
    }
    if let (IpAddr::V4(v), None, None, true) = (ip, broadcast, peer, flags & linux::BROADCAST != 0)
    {
        if prefix_len <= 30 {
            let host = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
            broadcast = Some(IpAddr::V4(Ipv4Addr::from(u32::from(v) | host)));
        }
    }
    // The same address is replaced (SIOCAIFADDR updates it); without
    // `alias`, inet's first address goes too.
    let mut delete = same(ip);
    if a.alias == Alias::Replace && v4 {
        if let Some(first) = have.first().filter(|f| f.local != ip) {
            delete.insert(0, first.clone());
        }
    }
    let add = Addr {
        local: ip,
        prefix_len,
        peer,
        broadcast,
    };
    Ok(Some(Op::Address {
        delete,
        add: Some(add),
    }))
}
