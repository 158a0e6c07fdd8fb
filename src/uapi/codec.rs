//! The cross-platform WireGuard configuration protocol, as wg(8) speaks
//! it: `set=1` lines become the same `Op`s ifconfig-wg sends (so both share
//! one atomic apply), and `get=1` is rendered from the interface status.
//! Keys are hex; all-zero keys mean "none". Errors are errno values, sent
//! negated.

use proto::errno::{EINVAL, EPROTO};
use proto::wipe::Text;
use proto::{InterfaceStatus, Key, Op, Prefix, Psk};
use std::fmt::Write;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use zeroize::Zeroizing;

fn key(v: &str) -> Result<Key, i32> {
    Key::from_hex(v).ok_or(EINVAL)
}

/// Decimal in `0..=max`, nothing else (no sign, no spaces).
fn num(v: &str, max: u64) -> Result<u64, i32> {
    proto::request::parse_num(v, max).ok_or(EINVAL)
}

fn flag(v: &str) -> Result<(), i32> {
    if v == "true" {
        Ok(())
    } else {
        Err(EINVAL)
    }
}

/// `host:port`, `[v6]:port`, or `[v6%scope]:port` where the scope is an
/// interface index or name (wg(8) sends the name it was given).
fn endpoint(v: &str) -> Option<SocketAddr> {
    if let Ok(a) = v.parse() {
        return Some(a);
    }
    let (addr, port) = v.strip_prefix('[')?.rsplit_once("]:")?;
    let (ip, scope) = addr.split_once('%')?;
    let ip: Ipv6Addr = ip.parse().ok()?;
    let port: u16 = port.parse().ok()?;
    let scope = match scope.parse::<u32>() {
        Ok(n) => n,
        Err(_) => nix::net::if_::if_nametoindex(scope).ok()?,
    };
    Some(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
}

/// An endpoint as wg(8) shows it: a scope by interface name when it has
/// one.
pub fn render_endpoint(e: &SocketAddr) -> String {
    match e {
        SocketAddr::V6(a) if a.scope_id() != 0 => {
            match crate::sys::netlink::name_of(a.scope_id()) {
                Some(n) => format!("[{}%{n}]:{}", a.ip(), a.port()),
                None => e.to_string(),
            }
        }
        _ => e.to_string(),
    }
}

/// Parse the lines of one `set=1` request (without the blank line).
pub fn parse_set(request: &str) -> Result<Vec<Op>, i32> {
    // At most one op a line, sized up front: a growing Vec would move the
    // private key and free the old block unwiped.
    let mut ops = Vec::with_capacity(request.lines().count());
    let mut peer: Option<Key> = None;
    for line in request.lines() {
        let (k, v) = line.split_once('=').ok_or(EPROTO)?;
        if k == "public_key" {
            let p = key(v)?;
            ops.push(Op::Peer(p.clone()));
            peer = Some(p);
            continue;
        }
        let Some(current) = &peer else {
            ops.push(match k {
                "private_key" => Op::PrivateKey(key(v)?),
                "listen_port" => Op::ListenPort(num(v, 65535)? as u16),
                "fwmark" => Op::Cookie(num(v, u32::MAX as u64)? as u32),
                "replace_peers" => {
                    flag(v)?;
                    Op::RemoveAllPeers
                }
                _ => return Err(EINVAL),
            });
            continue;
        };
        ops.push(match k {
            "update_only" => {
                flag(v)?;
                Op::UpdateOnly
            }
            "remove" => {
                flag(v)?;
                Op::RemovePeer(current.clone())
            }
            "preshared_key" => Op::PresharedKey(Some(key(v)?)),
            "endpoint" => Op::Endpoint(endpoint(v).ok_or(EINVAL)?),
            "persistent_keepalive_interval" => Op::PersistentKeepalive(num(v, 65535)? as u16),
            "replace_allowed_ips" => {
                flag(v)?;
                Op::ReplaceAllowedIps
            }
            "allowed_ip" => {
                if !v.contains('/') {
                    return Err(EINVAL);
                }
                Op::AllowedIp(v.parse::<Prefix>().map_err(|_| EINVAL)?)
            }
            "protocol_version" if v == "1" => continue,
            _ => return Err(EINVAL),
        });
    }
    Ok(ops)
}

/// The body of a `get=1` reply (without `errno=`); it holds the private
/// key, so it grows without leaving copies behind and is wiped when
/// dropped.
pub fn render_get(s: &InterfaceStatus) -> Text {
    let mut o = Text::new();
    if let Some(k) = &s.private_key {
        let _ = writeln!(o, "private_key={}", Zeroizing::new(k.to_hex()).as_str());
    }
    if let Some(p) = s.listen_port {
        let _ = writeln!(o, "listen_port={p}");
    }
    if s.cookie != 0 {
        let _ = writeln!(o, "fwmark={}", s.cookie);
    }
    for p in &s.peers {
        let _ = writeln!(o, "public_key={}", p.public_key.to_hex());
        let psk = Zeroizing::new(match &p.psk {
            Psk::Key(k) => k.to_hex(),
            _ => Key::zero().to_hex(),
        });
        let _ = writeln!(o, "preshared_key={}", psk.as_str());
        let _ = writeln!(o, "protocol_version=1");
        if let Some(e) = p.endpoint {
            let _ = writeln!(o, "endpoint={}", render_endpoint(&e));
        }
        let h = p.last_handshake.unwrap_or_default();
        let _ = writeln!(o, "last_handshake_time_sec={}", h.as_secs());
        let _ = writeln!(o, "last_handshake_time_nsec={}", h.subsec_nanos());
        let _ = writeln!(o, "tx_bytes={}", p.tx_bytes);
        let _ = writeln!(o, "rx_bytes={}", p.rx_bytes);
        let _ = writeln!(o, "persistent_keepalive_interval={}", p.pka);
        for a in &p.allowed_ips {
            let _ = writeln!(o, "allowed_ip={a}");
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_translates_to_ops() {
        let k = "ab".repeat(32);
        let ops = parse_set(&format!(
            "private_key={k}\nlisten_port=51820\nfwmark=0\nreplace_peers=true\npublic_key={k}\nprotocol_version=1\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\nendpoint=[fd00::1]:5\npersistent_keepalive_interval=25\nremove=true"
        ))
        .unwrap();
        assert_eq!(ops.len(), 10);
        assert_eq!(ops[1], Op::ListenPort(51820));
        assert_eq!(ops[2], Op::Cookie(0));
        assert_eq!(ops[3], Op::RemoveAllPeers);
        assert_eq!(ops[5], Op::ReplaceAllowedIps);
        assert_eq!(ops[9], Op::RemovePeer(Key::from_hex(&k).unwrap()));
    }

    #[test]
    fn set_errors() {
        let k = "ab".repeat(32);
        for (req, errno) in [
            ("private_key=xyz".to_string(), EINVAL),
            ("listen_port=65536".to_string(), EINVAL),
            ("listen_port=-1".to_string(), EINVAL),
            ("nonsense=1".to_string(), EINVAL),
            ("no equals sign".to_string(), EPROTO),
            (format!("public_key={k}\nallowed_ip=10.0.0.0/33"), EINVAL),
            (format!("public_key={k}\nallowed_ip=10.0.0.1"), EINVAL),
            (format!("public_key={k}\nlisten_port=1"), EINVAL),
            (format!("public_key={k}\nprotocol_version=2"), EINVAL),
            (format!("public_key={k}\nremove=yes"), EINVAL),
            (format!("public_key={k}\nendpoint=host:1"), EINVAL),
        ] {
            assert_eq!(parse_set(&req), Err(errno), "{req}");
        }
    }
}
