//! Address prefixes (allowed IPs) and interface addresses.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address prefix with the host bits cleared: `10.0.0.0/24`, `fd00::/64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    addr: IpAddr,
    len: u8,
}

impl Prefix {
    /// Build a prefix, masking host bits. `None` if `len` is too long.
    pub fn new(addr: IpAddr, len: u8) -> Option<Prefix> {
        let max = max_len(&addr);
        if len > max {
            return None;
        }
        Some(Prefix {
            addr: mask(addr, len),
            len,
        })
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn len(&self) -> u8 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4() && mask(ip, self.len) == self.addr
    }
}

pub fn max_len(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

/// Clear every bit after the first `len`.
pub fn mask(addr: IpAddr, len: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if len == 0 {
                0
            } else {
                u32::MAX << (32 - len as u32)
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len as u32)
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

/// Parse `addr[/plen]`; the plen must be decimal digits only.
pub fn parse_addr_plen(s: &str) -> Option<(IpAddr, Option<u8>)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = IpAddr::from_str(a).ok()?;
    let plen = match p {
        None => None,
        Some(p) => {
            if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let n: u8 = p.parse().ok()?;
            if n > max_len(&addr) {
                return None;
            }
            Some(n)
        }
    };
    Some((addr, plen))
}

impl FromStr for Prefix {
    type Err = ();
    /// `addr[/plen]`; no plen means a host prefix (/32 or /128).
    fn from_str(s: &str) -> Result<Prefix, ()> {
        let (addr, plen) = parse_addr_plen(s).ok_or(())?;
        Prefix::new(addr, plen.unwrap_or(max_len(&addr))).ok_or(())
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// An address given with `inet` or `inet6`: local address, prefix length,
/// and for point-to-point links the destination (peer) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub dest: Option<IpAddr>,
}

impl fmt::Display for IfAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)?;
        if let Some(d) = self.dest {
            write!(f, " {d}")?;
        }
        Ok(())
    }
}

impl FromStr for IfAddr {
    type Err = ();
    /// `addr/plen[ dest]`, as [`fmt::Display`] writes it.
    fn from_str(s: &str) -> Result<IfAddr, ()> {
        let (a, d) = match s.split_once(' ') {
            Some((a, d)) => (a, Some(d)),
            None => (s, None),
        };
        let (addr, plen) = parse_addr_plen(a).ok_or(())?;
        let dest = match d {
            None => None,
            Some(d) => {
                let d = IpAddr::from_str(d).map_err(|_| ())?;
                if d.is_ipv4() != addr.is_ipv4() {
                    return Err(());
                }
                Some(d)
            }
        };
        Ok(IfAddr {
            addr,
            prefix_len: plen.ok_or(())?,
            dest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_parse_and_mask() {
        let p: Prefix = "10.1.2.3/24".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.2.0/24");
        let p: Prefix = "10.1.2.3".parse().unwrap();
        assert_eq!(p.to_string(), "10.1.2.3/32");
        let p: Prefix = "fd00::1".parse().unwrap();
        assert_eq!(p.to_string(), "fd00::1/128");
        let p: Prefix = "fd00:1:2:3::1/48".parse().unwrap();
        assert_eq!(p.to_string(), "fd00:1:2::/48");
        let p: Prefix = "0.0.0.0/0".parse().unwrap();
        assert!(p.contains("1.2.3.4".parse().unwrap()));
        assert!(!p.contains("::1".parse().unwrap()));
    }

    #[test]
    fn prefix_rejects() {
        for bad in [
            "10.0.0.1/33",
            "::/129",
            "10.0.0.1/",
            "10.0.0.1/-1",
            "10.0.0.1/+1",
            "10.0.0.1/0x1",
            "10.0.0.256",
            "bogus",
            "",
            "/24",
            "10.0.0.1/24/1",
        ] {
            assert!(bad.parse::<Prefix>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ifaddr_round_trip() {
        for s in ["10.0.0.1/32 10.0.0.2", "fd00::1/64", "fe80::1/64"] {
            let a: IfAddr = s.parse().unwrap();
            assert_eq!(a.to_string(), s);
        }
        assert!("10.0.0.1/32 fd00::1".parse::<IfAddr>().is_err());
        assert!("10.0.0.1".parse::<IfAddr>().is_err());
    }
}
