//! A peer endpoint given by host name (`wgendpoint vpn.example.org
//! 51820`, wg.conf's `Endpoint = vpn.example.org:51820`): the daemon
//! resolves it, keeps it beside the address, and resolves it again when
//! the peer stops answering (wg(4) "Endpoints by name").
//!
//! On the wire it is `host:port`: a host name never holds a colon, and an
//! IP literal is never sent as a name (`Op::Endpoint` carries those).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The longest host name DNS allows, in its dotted form.
pub const MAX_HOST: usize = 253;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EndpointName {
    pub host: String,
    pub port: u16,
}

/// Could `h` be a host name (not an IP literal)? Printable ASCII without
/// spaces or colons, at most 253 bytes, and not all digits and dots
/// (that is an IPv4 address, good or bad).
pub fn is_host_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= MAX_HOST
        && h.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        && !h.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !h.starts_with(['-', '['])
        && h.parse::<IpAddr>().is_err()
}

impl fmt::Display for EndpointName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for EndpointName {
    type Err = ();
    fn from_str(s: &str) -> Result<EndpointName, ()> {
        let (host, port) = s.rsplit_once(':').ok_or(())?;
        let port = crate::request::parse_num(port, 65535).ok_or(())? as u16;
        if !is_host_name(host) {
            return Err(());
        }
        Ok(EndpointName {
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_not_names() {
        for h in ["vpn.example.org", "localhost", "a-b.c", "0x7f.example"] {
            assert!(is_host_name(h), "{h}");
        }
        for h in [
            "",
            "192.0.2.1",
            "192.168.77.256",
            "10",
            "fd00::1",
            "fe80::1%eth0",
            "a b",
            "-x",
            "[fd00::1]",
            &"a".repeat(254),
        ] {
            assert!(!is_host_name(h), "{h}");
        }
    }

    #[test]
    fn wire_form_round_trip() {
        let n = EndpointName {
            host: "vpn.example.org".into(),
            port: 51820,
        };
        assert_eq!(n.to_string(), "vpn.example.org:51820");
        assert_eq!("vpn.example.org:51820".parse(), Ok(n));
        for bad in [
            "vpn.example.org",
            "vpn.example.org:65536",
            "192.0.2.1:5",
            ":5",
        ] {
            assert!(bad.parse::<EndpointName>().is_err(), "{bad}");
        }
    }
}
