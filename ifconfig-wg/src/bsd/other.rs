//! `ifconfig` on a link that is not wg, with FreeBSD's meaning of the
//! words (sbin/ifconfig: ifconfig.c, af_inet.c, af_inet6.c):
//!
//! ```text
//! words --parse--> Line --plan(link, names, MTU range)--> Plan --apply--> kernel
//!        (syntax,          (every check the kernel        (rtnetlink, in
//!         FreeBSD's         would make, before any         FreeBSD's order)
//!         messages)         change)
//! ```
//!
//! FreeBSD acts on `up`, `down`, `mtu`, `name` … as it meets them and
//! changes addresses once, at the end: first the deletion (`clearaddr`:
//! without `alias`, the link's first address of the family), then the
//! addition. So does this one, but only after the whole line and every
//! change it asks for have been checked: a refused line changes nothing.
//! Parsing and planning are pure; `apply` is the only part that talks
//! to the kernel.

use super::links::{linux, Link};
use super::rtnl::{self, Addr};
use nix::errno::Errno;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Family {
    Inet,
    Inet6,
}

/// FreeBSD's `doalias`: what the deferred address change is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Alias {
    /// No alias word: the address replaces the first one of its family
    /// (inet), or the same address (inet6).
    Replace,
    /// `alias`, `add`: added beside the others.
    Add,
    /// `-alias`, `delete`, `remove`: deleted.
    Delete,
}

/// A word that acts at once, in the order given.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Set (`on`) or clear Linux flag bits; `word` names it in messages.
    Flags {
        word: String,
        mask: u32,
        on: bool,
    },
    /// `mtu N`, the number as atoi(3) reads it.
    Mtu(i64),
    Name(String),
    /// `description text`; empty for `-description`.
    Description(String),
}

/// The deferred address change.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub alias: Alias,
    pub addr: Option<IpAddr>,
    /// From `/len`, `netmask` or `prefixlen`.
    pub prefix_len: Option<u8>,
    /// The second address: the other end, or (inet, on a broadcast link)
    /// the broadcast address.
    pub dest: Option<IpAddr>,
    pub broadcast: Option<Ipv4Addr>,
    /// `netmask` given (FreeBSD's `setmask`).
    pub mask_given: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub family: Family,
    /// Only an address family, nothing else: show that family's status.
    pub status_only: bool,
    pub steps: Vec<Step>,
    pub address: Address,
}

/// Words FreeBSD's ifconfig knows and this one does not do on links
/// that are not wg. Any other unknown word is an address, as on FreeBSD.
const NOT_DONE: &[&str] = &[
    "create",
    "plumb",
    "destroy",
    "unplumb",
    "metric",
    "link0",
    "-link0",
    "link1",
    "-link1",
    "link2",
    "-link2",
    "monitor",
    "-monitor",
    "staticarp",
    "-staticarp",
    "tunnel",
    "-tunnel",
    "deletetunnel",
    "vnet",
    "-vnet",
    "pcp",
    "-pcp",
    "normal",
    "compress",
    "noicmp",
    "nomap",
    "-nomap",
    "rxcsum",
    "-rxcsum",
    "txcsum",
    "-txcsum",
    "rxcsum6",
    "-rxcsum6",
    "txcsum6",
    "-txcsum6",
    "netcons",
    "-netcons",
    "polling",
    "-polling",
    "tso",
    "-tso",
    "tso4",
    "-tso4",
    "tso6",
    "-tso6",
    "toe",
    "-toe",
    "lro",
    "-lro",
    "txtls",
    "-txtls",
    "wol",
    "-wol",
    "wol_ucast",
    "-wol_ucast",
    "wol_mcast",
    "-wol_mcast",
    "wol_magic",
    "-wol_magic",
    "txrtlmt",
    "-txrtlmt",
    "txtlsrtlmt",
    "-txtlsrtlmt",
    "hwrxtstmp",
    "-hwrxtstmp",
    "vlanmtu",
    "-vlanmtu",
    "vlanhwtag",
    "-vlanhwtag",
    "vlanhwfilter",
    "-vlanhwfilter",
    "vlanhwtso",
    "-vlanhwtso",
    "vlanhwcsum",
    "-vlanhwcsum",
    "group",
    "-group",
    "media",
    "mediaopt",
    "-mediaopt",
    "mode",
    "inst",
    "instance",
    "vlan",
    "vlandev",
    "-vlandev",
    "vlanpcp",
    "vlanproto",
    "lladdr",
    "ether",
    "link",
    "anycast",
    "tentative",
    "-tentative",
    "deprecated",
    "-deprecated",
    "autoconf",
    "-autoconf",
    "prefer_source",
    "-prefer_source",
    "accept_rtadv",
    "-accept_rtadv",
    "no_radr",
    "-no_radr",
    "defaultif",
    "-defaultif",
    "ifdisabled",
    "-ifdisabled",
    "nud",
    "-nud",
    "auto_linklocal",
    "-auto_linklocal",
    "no_prefer_iface",
    "-no_prefer_iface",
    "no_dad",
    "-no_dad",
    "pltime",
    "vltime",
    "eui64",
    "vhid",
    "advbase",
    "advskew",
    "pass",
    "state",
    "wgkey",
    "wgport",
    "wgpeer",
    "-wgpeer",
    "-wgpeerall",
    "wgendpoint",
    "wgaip",
    "wgpsk",
    "-wgpsk",
    "wgpka",
    "-wgpka",
    "wgdescr",
    "wgdescription",
    "-wgdescr",
    "wgcookie",
    "-wgcookie",
];

fn not_done(ifname: &str, word: &str) -> String {
    format!("{ifname}: {word}: Operation not supported")
}

/// strtoul(3) with base 0, as inet_aton(3) reads each part.
fn c_number(s: &str) -> Option<u64> {
    let (digits, radix) = if let Some(h) = s.strip_prefix("0x").or(s.strip_prefix("0X")) {
        (h, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        (&s[1..], 8)
    } else {
        (s, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// inet_aton(3): one to four parts, each decimal, octal or hex; the
/// last fills the bytes left (`10.1` is 10.0.0.1, `0xffffff00` a mask).
pub fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let vals = parts
        .iter()
        .map(|p| c_number(p))
        .collect::<Option<Vec<u64>>>()?;
    let (last, first) = vals.split_last()?;
    let mut out: u64 = 0;
    for (i, v) in first.iter().enumerate() {
        if *v > 255 {
            return None;
        }
        out |= v << (24 - 8 * i);
    }
    let room = 32 - 8 * first.len();
    if *last >> room != 0 {
        return None;
    }
    Some(Ipv4Addr::from((out | last) as u32))
}

/// atoi(3): optional blanks and sign, then digits; anything else ends it.
fn atoi(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .take(12)
        .collect();
    let n = digits.parse::<i64>().unwrap_or(0);
    if neg {
        -n
    } else {
        n
    }
}

/// The mask FreeBSD gives an IPv4 address named without one: its class.
pub fn classful(a: Ipv4Addr) -> u8 {
    let top = a.octets()[0];
    if top < 128 {
        8
    } else if top < 192 {
        16
    } else {
        24
    }
}

fn inet_addr(s: &str, with_len: bool) -> Result<(Ipv4Addr, Option<u8>), String> {
    let (host, len) = match s.rfind('/') {
        Some(i) if with_len => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    let len = match len {
        None => None,
        Some(l) => {
            if !l.starts_with(|c: char| c.is_ascii_digit())
                || !l.chars().all(|c| c.is_ascii_digit())
            {
                return Err(format!("{s}: bad value (width invalid)"));
            }
            match l.parse::<u32>() {
                Ok(n) if n <= 32 => Some(n as u8),
                _ => return Err(format!("{s}: bad value (width too large)")),
            }
        }
    };
    // Host names are not looked up: an address must be numeric.
    let a = inet_aton(host).ok_or_else(|| format!("{host}: bad value"))?;
    Ok((a, len))
}

fn inet6_addr(s: &str, with_len: bool) -> Result<(Ipv6Addr, Option<u8>), String> {
    let (host, len) = match s.rfind('/') {
        Some(i) if with_len => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    };
    let len = match len {
        None => None,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= 128 => Some(n),
            _ => return Err(format!("{l}: bad value")),
        },
    };
    // A scope (`fe80::1%em0`) names the link, which the line already does.
    let bare = host.split('%').next().unwrap_or(host);
    let a = bare
        .parse::<Ipv6Addr>()
        .map_err(|_| format!("{host}: bad value"))?;
    Ok((a, len))
}

fn prefixlen(s: &str) -> Result<u8, String> {
    match s.parse::<u8>() {
        Ok(n) if n <= 128 => Ok(n),
        _ => Err(format!("{s}: bad value")),
    }
}

/// Parse the words after the interface name. Errors are the message
/// after `ifconfig: `.
pub fn parse(ifname: &str, words: &[String]) -> Result<Line, String> {
    let mut w = words;
    // FreeBSD skips `create` on a link that exists, when more follows.
    if w.first().is_some_and(|f| f == "create" || f == "plumb") {
        if w.len() == 1 {
            return Err(format!("interface {ifname} already exists"));
        }
        w = &w[1..];
    }
    let family = match w.first().map(String::as_str) {
        Some("inet") => Some(Family::Inet),
        Some("inet6") => Some(Family::Inet6),
        Some(af @ ("link" | "ether" | "lladdr")) => return Err(not_done(ifname, af)),
        _ => None,
    };
    if family.is_some() {
        w = &w[1..];
    }
    let fam = family.unwrap_or(Family::Inet);
    let mut line = Line {
        family: fam,
        status_only: family.is_some() && w.is_empty(),
        steps: Vec::new(),
        address: Address {
            alias: Alias::Replace,
            addr: None,
            prefix_len: None,
            dest: None,
            broadcast: None,
            mask_given: false,
        },
    };
    let a = &mut line.address;
    let mut i = 0;
    while i < w.len() {
        let word = w[i].as_str();
        let arg = |i: usize| -> Result<&str, String> {
            w.get(i + 1)
                .map(String::as_str)
                .ok_or_else(|| format!("'{word}' requires argument"))
        };
        let flag = |mask: u32, on: bool| Step::Flags {
            word: word.to_string(),
            mask,
            on,
        };
        match word {
            "up" => line.steps.push(flag(linux::UP, true)),
            "down" => line.steps.push(flag(linux::UP, false)),
            "arp" => line.steps.push(flag(linux::NOARP, false)),
            "-arp" => line.steps.push(flag(linux::NOARP, true)),
            "debug" => line.steps.push(flag(linux::DEBUG, true)),
            "-debug" => line.steps.push(flag(linux::DEBUG, false)),
            "promisc" => line.steps.push(flag(linux::PROMISC, true)),
            "-promisc" => line.steps.push(flag(linux::PROMISC, false)),
            "add" | "alias" => a.alias = Alias::Add,
            "-alias" | "delete" | "remove" => a.alias = Alias::Delete,
            "-description" | "-descr" => line.steps.push(Step::Description(String::new())),
            "description" | "descr" | "mtu" | "name" | "netmask" | "broadcast" | "prefixlen" => {
                let v = arg(i)?;
                i += 1;
                match word {
                    "description" | "descr" => line.steps.push(Step::Description(v.into())),
                    "mtu" => line.steps.push(Step::Mtu(atoi(v))),
                    "name" => line.steps.push(Step::Name(v.into())),
                    "prefixlen" => {
                        let n = prefixlen(v)?;
                        // FreeBSD takes a prefix length for inet6 only.
                        if fam == Family::Inet6 {
                            a.prefix_len = Some(n);
                        }
                    }
                    // netmask and broadcast are IPv4's.
                    _ if fam == Family::Inet6 => return Err(not_done(ifname, word)),
                    "netmask" => {
                        let m = inet_aton(v).ok_or_else(|| format!("{v}: bad value"))?;
                        a.prefix_len = Some(u32::from(m).count_ones() as u8);
                        a.mask_given = true;
                    }
                    _ => {
                        let b = inet_aton(v).ok_or_else(|| format!("{v}: bad value"))?;
                        a.broadcast = Some(b);
                    }
                }
            }
            _ if NOT_DONE.contains(&word) => return Err(not_done(ifname, word)),
            // Not a keyword: the address, then the destination.
            _ => {
                let first = a.addr.is_none();
                let (ip, len) = match fam {
                    Family::Inet => {
                        let (ip, len) = inet_addr(word, first)?;
                        (IpAddr::V4(ip), len)
                    }
                    Family::Inet6 => {
                        let (ip, len) = inet6_addr(word, first)?;
                        (IpAddr::V6(ip), len)
                    }
                };
                if first {
                    a.addr = Some(ip);
                    if len.is_some() {
                        a.prefix_len = len;
                    }
                } else {
                    a.dest = Some(ip);
                }
            }
        }
        i += 1;
    }
    Ok(line)
}

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

const ENOMASK: &str =
    "WARNING: setting interface address without mask is deprecated,\ndefault mask may not be correct.";

/// A name Linux accepts for a link (dev_valid_name).
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() < 16
        && n != "."
        && n != ".."
        && !n.contains(|c: char| c == '/' || c == ':' || c.is_whitespace())
}

fn kernel_addr(a: &super::links::Address) -> Addr {
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
    super::links::all()
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

#[cfg(test)]
mod tests {
    use super::super::links::Address as LinkAddr;
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn p(s: &str) -> Result<Line, String> {
        parse("eth0", &words(s))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn kaddr(s: &str, len: u8, brd: Option<&str>) -> Addr {
        Addr {
            local: ip(s),
            prefix_len: len,
            peer: None,
            broadcast: brd.map(ip),
        }
    }

    /// A veth-like link: 192.0.2.1/24 first, then 198.51.100.1/24, and
    /// 2001:db8::1/64.
    fn eth0() -> Link {
        let a = |s: &str, len: u8, brd: Option<&str>| LinkAddr {
            ip: proto::IfAddr {
                addr: ip(s),
                prefix_len: len,
                dest: None,
            },
            broadcast: brd.map(ip),
        };
        Link {
            name: "eth0".into(),
            index: 2,
            flags: linux::UP | linux::BROADCAST | linux::MULTICAST | linux::RUNNING,
            mtu: Some(1500),
            ether: Some([2, 0, 0, 0, 0, 1]),
            description: None,
            addrs: vec![
                a("192.0.2.1", 24, Some("192.0.2.255")),
                a("198.51.100.1", 24, Some("198.51.100.255")),
                a("2001:db8::1", 64, None),
            ],
        }
    }

    fn plan_of(s: &str) -> Result<Plan, String> {
        let names = vec!["lo".to_string(), "eth0".to_string(), "eth1".to_string()];
        plan(&p(s)?, &eth0(), &names, Some((68, 9000)))
    }

    fn addr_op(s: &str) -> (Vec<Addr>, Option<Addr>) {
        match plan_of(s).unwrap().ops.pop() {
            Some(Op::Address { delete, add }) => (delete, add),
            other => panic!("`{s}`: {other:?}"),
        }
    }

    #[test]
    fn inet_aton_reads_what_bsd_reads() {
        assert_eq!(
            inet_aton("0xffffff00"),
            Some(Ipv4Addr::new(255, 255, 255, 0))
        );
        assert_eq!(
            inet_aton("255.255.255.0"),
            Some(Ipv4Addr::new(255, 255, 255, 0))
        );
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(
            inet_aton("127.1.65535"),
            Some(Ipv4Addr::new(127, 1, 255, 255))
        );
        for bad in [
            "",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "x",
            "0x",
            "09",
            "1..2",
        ] {
            assert_eq!(inet_aton(bad), None, "{bad}");
        }
    }

    #[test]
    fn masks_default_to_the_class() {
        assert_eq!(classful(Ipv4Addr::new(10, 1, 2, 3)), 8);
        assert_eq!(classful(Ipv4Addr::new(172, 16, 0, 1)), 16);
        assert_eq!(classful(Ipv4Addr::new(192, 0, 2, 9)), 24);
        assert_eq!(classful(Ipv4Addr::new(224, 0, 0, 1)), 24);
    }

    #[test]
    fn alias_adds_beside_the_primary() {
        let (delete, add) = addr_op("inet 192.0.2.2/24 alias");
        assert_eq!(delete, vec![]);
        assert_eq!(add, Some(kaddr("192.0.2.2", 24, Some("192.0.2.255"))));
        // The word may come first, and `add` means the same.
        assert_eq!(addr_op("inet alias 192.0.2.2/24"), (vec![], add.clone()));
        assert_eq!(addr_op("inet add 192.0.2.2/24"), (vec![], add.clone()));
        // Without a family word, the address is inet's.
        assert_eq!(addr_op("192.0.2.2/24 alias"), (vec![], add));
    }

    #[test]
    fn without_alias_inet_replaces_the_first_address() {
        let (delete, add) = addr_op("inet 192.0.2.9 netmask 0xffffff00");
        assert_eq!(delete, vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))]);
        assert_eq!(add, Some(kaddr("192.0.2.9", 24, Some("192.0.2.255"))));
        assert!(plan_of("inet 192.0.2.9 netmask 0xffffff00")
            .unwrap()
            .warnings
            .is_empty());
        assert_eq!(
            addr_op("inet 192.0.2.9 netmask 255.255.0.0").1,
            Some(kaddr("192.0.2.9", 16, Some("192.0.255.255")))
        );
        // Giving the first address again replaces only it.
        let (delete, _) = addr_op("inet 192.0.2.1/16");
        assert_eq!(delete, vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))]);
        // Naming a later one again moves it to the front.
        let (delete, _) = addr_op("inet 198.51.100.1/24");
        assert_eq!(delete.len(), 2);
    }

    #[test]
    fn no_mask_is_the_class_with_freebsds_warning() {
        let pl = plan_of("inet 10.1.2.3").unwrap();
        assert_eq!(pl.warnings, vec![ENOMASK.to_string()]);
        match &pl.ops[0] {
            Op::Address { add: Some(a), .. } => {
                assert_eq!(*a, kaddr("10.1.2.3", 8, Some("10.255.255.255")))
            }
            o => panic!("{o:?}"),
        }
        // Not for a point-to-point link, where the peer is the second word.
        let mut tun = eth0();
        tun.flags = linux::UP | linux::POINTOPOINT | linux::NOARP;
        let pl = plan(&p("inet 10.1.2.3 10.1.2.4").unwrap(), &tun, &[], None).unwrap();
        assert!(pl.warnings.is_empty());
        assert_eq!(
            pl.ops,
            vec![Op::Address {
                delete: vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))],
                add: Some(Addr {
                    peer: Some(ip("10.1.2.4")),
                    ..kaddr("10.1.2.3", 8, None)
                })
            }]
        );
    }

    #[test]
    fn on_a_broadcast_link_the_second_inet_address_is_the_broadcast() {
        let (_, add) = addr_op("inet 192.0.2.9/24 192.0.2.127");
        assert_eq!(add, Some(kaddr("192.0.2.9", 24, Some("192.0.2.127"))));
        let (_, add) = addr_op("inet 192.0.2.9/24 broadcast 192.0.2.63 alias");
        assert_eq!(add, Some(kaddr("192.0.2.9", 24, Some("192.0.2.63"))));
        // A /31 or /32 has none.
        assert_eq!(
            addr_op("inet 192.0.2.9/32 alias").1,
            Some(kaddr("192.0.2.9", 32, None))
        );
    }

    #[test]
    fn minus_alias_deletes_that_address() {
        for line in [
            "inet 198.51.100.1 -alias",
            "inet -alias 198.51.100.1",
            "198.51.100.1 delete",
            "inet 198.51.100.1/8 remove",
        ] {
            assert_eq!(
                addr_op(line),
                (
                    vec![kaddr("198.51.100.1", 24, Some("198.51.100.255"))],
                    None
                ),
                "{line}"
            );
        }
        // With no address, inet's first one.
        assert_eq!(
            addr_op("inet -alias"),
            (vec![kaddr("192.0.2.1", 24, Some("192.0.2.255"))], None)
        );
        assert_eq!(
            plan_of("inet 192.0.2.77 -alias"),
            Err("ioctl (SIOCDIFADDR): Cannot assign requested address".into())
        );
        assert_eq!(
            plan_of("inet6 -alias"),
            Err("ioctl (SIOCDIFADDR): Cannot assign requested address".into())
        );
        assert_eq!(
            addr_op("inet6 2001:db8::1 delete"),
            (vec![kaddr("2001:db8::1", 64, None)], None)
        );
    }

    #[test]
    fn inet6_adds_with_a_default_prefix_of_64() {
        assert_eq!(
            addr_op("inet6 2001:db8::2/64 alias"),
            (vec![], Some(kaddr("2001:db8::2", 64, None)))
        );
        // Without alias too: inet6 replaces only the same address.
        assert_eq!(
            addr_op("inet6 2001:db8::2"),
            (vec![], Some(kaddr("2001:db8::2", 64, None)))
        );
        assert_eq!(
            addr_op("inet6 2001:db8::1 prefixlen 48"),
            (
                vec![kaddr("2001:db8::1", 64, None)],
                Some(kaddr("2001:db8::1", 48, None))
            )
        );
        assert_eq!(
            addr_op("inet6 fe80::1%eth0/64 alias").1,
            Some(kaddr("fe80::1", 64, None))
        );
        let (_, add) = addr_op("inet6 2001:db8::2/127 2001:db8::3");
        assert_eq!(add.unwrap().peer, Some(ip("2001:db8::3")));
    }

    #[test]
    fn link_words_act_in_order() {
        let pl = plan_of("down mtu 1400 name lan0 descr uplink up").unwrap();
        assert_eq!(
            pl.ops,
            vec![
                Op::Flags {
                    word: "down".into(),
                    mask: linux::UP,
                    on: false
                },
                Op::Mtu(1400),
                Op::Name("lan0".into()),
                Op::Description("uplink".into()),
                Op::Flags {
                    word: "up".into(),
                    mask: linux::UP,
                    on: true
                },
            ]
        );
        assert_eq!(
            plan_of("-arp promisc -description").unwrap().ops,
            vec![
                Op::Flags {
                    word: "-arp".into(),
                    mask: linux::NOARP,
                    on: true
                },
                Op::Flags {
                    word: "promisc".into(),
                    mask: linux::PROMISC,
                    on: true
                },
                Op::Description(String::new()),
            ]
        );
        assert_eq!(plan_of("up").unwrap().ops.len(), 1);
        // A line with an address changes it last.
        let pl = plan_of("inet 192.0.2.2/24 alias up").unwrap();
        assert!(matches!(pl.ops[1], Op::Address { .. }), "{pl:?}");
    }

    #[test]
    fn what_the_kernel_would_refuse_is_refused_first() {
        let mtu = "ioctl SIOCSIFMTU (set mtu): Invalid argument";
        for bad in ["mtu 67", "mtu 9001", "mtu abc", "mtu -1", "up mtu 0"] {
            assert_eq!(plan_of(bad), Err(mtu.into()), "{bad}");
        }
        // atoi(3) reads the leading digits.
        assert_eq!(plan_of("mtu 1400x").unwrap().ops, vec![Op::Mtu(1400)]);
        assert_eq!(
            plan_of("name eth1"),
            Err("ioctl SIOCSIFNAME (set name): File exists".into())
        );
        for bad in ["a/b", "0123456789abcdef", "..", "a:1"] {
            assert_eq!(
                plan_of(&format!("name {bad}")),
                Err("ioctl SIOCSIFNAME (set name): Invalid argument".into()),
                "{bad}"
            );
        }
        // Its own name, or a name freed by an earlier rename, is fine.
        assert!(plan_of("name eth0").is_ok());
        assert!(plan_of("name x name eth0").is_ok());
        assert_eq!(
            plan_of("netmask 255.255.255.0"),
            Err("ioctl (SIOCAIFADDR): Invalid argument".into())
        );
    }

    #[test]
    fn bad_words_get_freebsds_messages() {
        let cases = [
            ("foo", "foo: bad value"),
            ("up bogus", "bogus: bad value"),
            // A family is taken as the first word only.
            ("up inet 192.0.2.2", "inet: bad value"),
            ("inet 192.0.2.2 bogus", "bogus: bad value"),
            (
                "inet 192.0.2.2/33",
                "192.0.2.2/33: bad value (width too large)",
            ),
            ("inet 192.0.2.2/x", "192.0.2.2/x: bad value (width invalid)"),
            ("inet 192.0.2.2 192.0.2.3/24", "192.0.2.3/24: bad value"),
            ("inet6 2001:db8::2/129", "129: bad value"),
            ("inet6 2001:db8::zz", "2001:db8::zz: bad value"),
            ("inet6 2001:db8::2 prefixlen 200", "200: bad value"),
            ("inet netmask 0xfffffffff", "0xfffffffff: bad value"),
            ("mtu", "'mtu' requires argument"),
            ("up name", "'name' requires argument"),
            ("metric 3", "eth0: metric: Operation not supported"),
            ("destroy", "eth0: destroy: Operation not supported"),
            ("up link0", "eth0: link0: Operation not supported"),
            (
                "ether 02:00:00:00:00:01",
                "eth0: ether: Operation not supported",
            ),
            (
                "inet6 2001:db8::2 netmask 0xffff",
                "eth0: netmask: Operation not supported",
            ),
            ("create", "interface eth0 already exists"),
        ];
        for (line, msg) in cases {
            assert_eq!(p(line).map(|_| ()), Err(msg.to_string()), "{line}");
        }
        // `create` before other words is skipped on a link that exists.
        assert_eq!(p("create up").unwrap().steps.len(), 1);
    }

    #[test]
    fn a_family_alone_asks_for_its_status() {
        assert!(p("inet6").unwrap().status_only);
        assert_eq!(p("inet").unwrap().family, Family::Inet);
        assert!(!p("inet up").unwrap().status_only);
        assert!(plan_of("inet").unwrap().ops.is_empty());
    }

    #[test]
    fn failures_are_worded_as_freebsd_words_them() {
        assert_eq!(failed("up", Errno::EPERM), "up: permission denied");
        assert_eq!(
            failed(AIFADDR, Errno::ENODEV),
            "ioctl (SIOCAIFADDR): no such interface"
        );
        assert_eq!(
            failed(MTU, Errno::EPERM),
            "ioctl SIOCSIFMTU (set mtu): Operation not permitted"
        );
        assert_eq!(
            failed(NAME, Errno::EBUSY),
            "ioctl SIOCSIFNAME (set name): Device busy"
        );
        assert_eq!(
            failed(DIFADDR, Errno::ERANGE),
            "ioctl (SIOCDIFADDR): Numerical result out of range"
        );
    }
}
