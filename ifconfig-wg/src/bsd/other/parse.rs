//! The words of a command line, read as FreeBSD reads them.

use crate::bsd::links::linux;
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
