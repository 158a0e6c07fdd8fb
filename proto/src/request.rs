//! Requests: what `ifconfig-wg` asks of the daemon.
//!
//! A `Set` carries the words of one command, in order, as [`Op`]s. The
//! daemon validates them all and applies them atomically. Peer options bind
//! to the nearest preceding `Peer`/`RemovePeer`, as on the command line.

use crate::addr::{IfAddr, Prefix};
use crate::host::EndpointName;
use crate::key::Key;
use std::net::{IpAddr, SocketAddr};

/// Largest persistent-keepalive interval, in seconds (12 hours).
pub const MAX_PKA: u16 = 43200;
/// Longest peer or interface description, in bytes.
pub const MAX_DESCR: usize = 63;
pub const MIN_MTU: u32 = 68;
pub const MAX_MTU: u32 = 65455;
pub const DEFAULT_MTU: u32 = 1420;

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `wg` alone asks for the lowest free unit. `rename`: give the new
    /// interface this name instead (`ifconfig wg create name X`).
    Create {
        name: String,
        rename: Option<String>,
        /// Born in the caller's network namespace (the launcher, run
        /// in a namespace other than the daemon's), not the daemon's.
        here: bool,
    },
    Destroy {
        name: String,
    },
    /// `ifconfig wgN name NEW`.
    Rename {
        name: String,
        new: String,
    },
    /// `vnet NETNS` (`back` false) moves the link into network namespace
    /// NETNS; `-vnet NETNS` brings it back from there.
    Vnet {
        name: String,
        netns: String,
        back: bool,
    },
    List,
    Cloners,
    /// `wgd -R`: hand the daemon over to a new process of the binary at
    /// its path (root only); the reply comes once the new one serves.
    HandOver,
    /// What kldstat(8) shows: the daemon's pid, program and how many
    /// interfaces it has (anyone may ask).
    Module,
    /// kldunload(8) (root only): stop the daemon, refused while it has
    /// interfaces unless `force`, which destroys them first.
    Unload {
        force: bool,
    },
    /// `name: None` = every interface. `keys` = show secrets (root only).
    Status {
        name: Option<String>,
        keys: bool,
    },
    Set {
        name: String,
        ops: Vec<Op>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A zero key removes the private key.
    PrivateKey(Key),
    ListenPort(u16),
    Cookie(u32),
    Peer(Key),
    RemovePeer(Key),
    RemoveAllPeers,
    /// An address: the endpoint is this address (and no name).
    Endpoint(SocketAddr),
    /// A host name: the daemon resolves it before applying the request
    /// and then sends the address first (`Endpoint`, then this), so that
    /// applied, this only gives the endpoint its name. Alone (a
    /// hand-over), the name is kept and the address left as it is.
    EndpointName(EndpointName),
    /// Empty the selected peer's allowed IPs (ifconfig's `wgaip` list
    /// replaces: the CLI sends this before a peer's first `wgaip`).
    ReplaceAllowedIps,
    /// Add one allowed IP to the selected peer.
    AllowedIp(Prefix),
    /// Only update the selected peer; if it did not exist, forget it (UAPI).
    UpdateOnly,
    /// `None` or a zero key: no pre-shared key.
    PresharedKey(Option<Key>),
    PersistentKeepalive(u16),
    PeerDescription(Option<String>),
    Up(bool),
    Debug(bool),
    Link0(bool),
    Link1(bool),
    Link2(bool),
    Mtu(u32),
    Description(Option<String>),
    AddAddress(IfAddr),
    /// `inet A` without `alias`: replaces the first IPv4 address (adds
    /// when there is none), as BSD ifconfig does.
    ReplaceAddress(IfAddr),
    DeleteAddress(IpAddr),
    /// Interface groups besides `wg`, which every interface is in.
    AddGroup(String),
    DeleteGroup(String),
}

impl Op {
    /// Does this option need a selected peer?
    pub fn is_peer_option(&self) -> bool {
        matches!(
            self,
            Op::Endpoint(_)
                | Op::EndpointName(_)
                | Op::ReplaceAllowedIps
                | Op::AllowedIp(_)
                | Op::UpdateOnly
                | Op::PresharedKey(_)
                | Op::PersistentKeepalive(_)
                | Op::PeerDescription(_)
        )
    }
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// A key's pair: its base64 moved in, never copied (`kv` would copy it
/// and free the original unwiped).
fn key_kv(k: &str, key: &Key) -> (String, String) {
    (k.to_string(), key.to_base64())
}

fn bool_str(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

impl Request {
    pub fn encode(&self) -> Vec<(String, String)> {
        let mut m = Vec::new();
        match self {
            Request::Create { name, rename, here } => {
                m.push(kv("op", "create"));
                m.push(kv("ifname", name));
                if let Some(r) = rename {
                    m.push(kv("rename", r));
                }
                if *here {
                    m.push(kv("netns", "caller"));
                }
            }
            Request::Destroy { name } => {
                m.push(kv("op", "destroy"));
                m.push(kv("ifname", name));
            }
            Request::Rename { name, new } => {
                m.push(kv("op", "rename"));
                m.push(kv("ifname", name));
                m.push(kv("newname", new));
            }
            Request::Vnet { name, netns, back } => {
                m.push(kv("op", if *back { "unvnet" } else { "vnet" }));
                m.push(kv("ifname", name));
                m.push(kv("netns", netns));
            }
            Request::List => m.push(kv("op", "list")),
            Request::Cloners => m.push(kv("op", "cloners")),
            Request::HandOver => m.push(kv("op", "handover")),
            Request::Module => m.push(kv("op", "module")),
            Request::Unload { force } => {
                m.push(kv("op", "unload"));
                if *force {
                    m.push(kv("force", "1"));
                }
            }
            Request::Status { name, keys } => {
                m.push(kv("op", "status"));
                if let Some(n) = name {
                    m.push(kv("ifname", n));
                }
                if *keys {
                    m.push(kv("keys", "1"));
                }
            }
            Request::Set { name, ops } => {
                m.push(kv("op", "set"));
                m.push(kv("ifname", name));
                for op in ops {
                    m.push(encode_op(op));
                }
            }
        }
        m
    }

    /// Decode and range-check a request. The error says what was wrong.
    pub fn decode(msg: &[(String, String)]) -> Result<Request, String> {
        let mut it = msg.iter();
        let (k, op) = it.next().ok_or("empty request")?;
        if k != "op" {
            return Err(format!("first line must be op=, not {k}="));
        }
        let rest: Vec<&(String, String)> = it.collect();
        let single = |want: &str| -> Result<String, String> {
            match rest.as_slice() {
                [(k, v)] if k == want => Ok(v.clone()),
                _ => Err(format!("op={op} takes exactly {want}=")),
            }
        };
        match op.as_str() {
            "create" => {
                let mut rest = rest.as_slice();
                let here = matches!(rest.last(), Some((k, v)) if k == "netns" && v == "caller");
                if here {
                    rest = &rest[..rest.len() - 1];
                }
                match rest {
                    [(k, n)] if k == "ifname" => Ok(Request::Create {
                        name: n.clone(),
                        rename: None,
                        here,
                    }),
                    [(k, n), (r, v)] if k == "ifname" && r == "rename" => Ok(Request::Create {
                        name: n.clone(),
                        rename: Some(v.clone()),
                        here,
                    }),
                    _ => Err("op=create takes ifname=, maybe rename= and netns=caller".into()),
                }
            }
            "vnet" | "unvnet" => match rest.as_slice() {
                [(k, n), (r, v)] if k == "ifname" && r == "netns" => Ok(Request::Vnet {
                    name: n.clone(),
                    netns: v.clone(),
                    back: op == "unvnet",
                }),
                _ => Err(format!("op={op} takes ifname= and netns=")),
            },
            "rename" => match rest.as_slice() {
                [(k, n), (r, v)] if k == "ifname" && r == "newname" => Ok(Request::Rename {
                    name: n.clone(),
                    new: v.clone(),
                }),
                _ => Err("op=rename takes ifname= and newname=".into()),
            },
            "destroy" => Ok(Request::Destroy {
                name: single("ifname")?,
            }),
            "list" if rest.is_empty() => Ok(Request::List),
            "cloners" if rest.is_empty() => Ok(Request::Cloners),
            "handover" if rest.is_empty() => Ok(Request::HandOver),
            "module" if rest.is_empty() => Ok(Request::Module),
            "unload" => match rest.as_slice() {
                [] => Ok(Request::Unload { force: false }),
                [(k, v)] if k == "force" && v == "1" => Ok(Request::Unload { force: true }),
                _ => Err("op=unload takes only force=1".into()),
            },
            "status" => {
                let mut name = None;
                let mut keys = false;
                for (k, v) in rest {
                    match (k.as_str(), v.as_str()) {
                        ("ifname", _) if name.is_none() => name = Some(v.clone()),
                        ("keys", "1") => keys = true,
                        _ => return Err(format!("unexpected {k}= in status")),
                    }
                }
                Ok(Request::Status { name, keys })
            }
            "set" => {
                let mut rest = rest.into_iter();
                let name = match rest.next() {
                    Some((k, v)) if k == "ifname" => v.clone(),
                    _ => return Err("op=set needs ifname= first".into()),
                };
                // Sized up front: a growing Vec would move a private key
                // and free the old block unwiped.
                let mut ops = Vec::with_capacity(rest.len());
                for (k, v) in rest {
                    ops.push(decode_op(k, v)?);
                }
                Ok(Request::Set { name, ops })
            }
            _ => Err(format!("unknown request op={op}")),
        }
    }
}

fn encode_op(op: &Op) -> (String, String) {
    match op {
        Op::PrivateKey(k) => key_kv("private_key", k),
        Op::ListenPort(p) => kv("listen_port", p),
        Op::Cookie(c) => kv("cookie", c),
        Op::Peer(k) => key_kv("peer", k),
        Op::RemovePeer(k) => key_kv("remove_peer", k),
        Op::RemoveAllPeers => kv("remove_all_peers", "1"),
        Op::Endpoint(a) => kv("endpoint", a),
        Op::EndpointName(n) => kv("endpoint_name", n),
        Op::ReplaceAllowedIps => kv("replace_allowed_ips", "1"),
        Op::AllowedIp(p) => kv("allowed_ip", p),
        Op::UpdateOnly => kv("update_only", "1"),
        Op::PresharedKey(Some(k)) => key_kv("preshared_key", k),
        Op::PresharedKey(None) => kv("preshared_key", ""),
        Op::PersistentKeepalive(n) => kv("persistent_keepalive", n),
        Op::PeerDescription(d) => kv("peer_description", d.clone().unwrap_or_default()),
        Op::Up(b) => kv("up", bool_str(*b)),
        Op::Debug(b) => kv("debug", bool_str(*b)),
        Op::Link0(b) => kv("link0", bool_str(*b)),
        Op::Link1(b) => kv("link1", bool_str(*b)),
        Op::Link2(b) => kv("link2", bool_str(*b)),
        Op::Mtu(n) => kv("mtu", n),
        Op::Description(d) => kv("description", d.clone().unwrap_or_default()),
        Op::AddAddress(a) => kv("address_add", a),
        Op::ReplaceAddress(a) => kv("address_set", a),
        Op::DeleteAddress(a) => kv("address_delete", a),
        Op::AddGroup(g) => kv("group_add", g),
        Op::DeleteGroup(g) => kv("group_delete", g),
    }
}

/// Parse a decimal number in `0..=max` without wrapping.
pub fn parse_num(v: &str, max: u64) -> Option<u64> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = v.parse().ok()?;
    (n <= max).then_some(n)
}

fn decode_bool(k: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" => Ok(true),
        "0" => Ok(false),
        _ => Err(format!("{k}= must be 0 or 1")),
    }
}

fn decode_descr(k: &str, v: &str) -> Result<Option<String>, String> {
    if v.len() > MAX_DESCR {
        return Err(format!("{k}= longer than {MAX_DESCR} bytes"));
    }
    if v.contains('\0') {
        return Err(format!("{k}= contains NUL"));
    }
    Ok((!v.is_empty()).then(|| v.to_string()))
}

fn decode_op(k: &str, v: &str) -> Result<Op, String> {
    let bad = || format!("bad value for {k}=");
    let key = || Key::from_base64(v).ok_or_else(bad);
    Ok(match k {
        "private_key" => Op::PrivateKey(key()?),
        "listen_port" => Op::ListenPort(parse_num(v, 65535).ok_or_else(bad)? as u16),
        "cookie" => Op::Cookie(parse_num(v, u32::MAX as u64).ok_or_else(bad)? as u32),
        "peer" => Op::Peer(key()?),
        "remove_peer" => Op::RemovePeer(key()?),
        "remove_all_peers" if v == "1" => Op::RemoveAllPeers,
        "endpoint" => Op::Endpoint(v.parse().map_err(|_| bad())?),
        "endpoint_name" => Op::EndpointName(v.parse().map_err(|_| bad())?),
        "replace_allowed_ips" if v == "1" => Op::ReplaceAllowedIps,
        "allowed_ip" => Op::AllowedIp(v.parse().map_err(|_| bad())?),
        "update_only" if v == "1" => Op::UpdateOnly,
        "preshared_key" if v.is_empty() => Op::PresharedKey(None),
        "preshared_key" => Op::PresharedKey(Some(key()?)),
        "persistent_keepalive" => {
            Op::PersistentKeepalive(parse_num(v, MAX_PKA as u64).ok_or_else(bad)? as u16)
        }
        "peer_description" => Op::PeerDescription(decode_descr(k, v)?),
        "up" => Op::Up(decode_bool(k, v)?),
        "debug" => Op::Debug(decode_bool(k, v)?),
        "link0" => Op::Link0(decode_bool(k, v)?),
        "link1" => Op::Link1(decode_bool(k, v)?),
        "link2" => Op::Link2(decode_bool(k, v)?),
        "mtu" => {
            let n = parse_num(v, MAX_MTU as u64).ok_or_else(bad)? as u32;
            if n < MIN_MTU {
                return Err(bad());
            }
            Op::Mtu(n)
        }
        "description" => Op::Description(decode_descr(k, v)?),
        "address_add" => Op::AddAddress(v.parse().map_err(|_| bad())?),
        "address_set" => Op::ReplaceAddress(v.parse().map_err(|_| bad())?),
        "address_delete" => Op::DeleteAddress(v.parse().map_err(|_| bad())?),
        "group_add" => Op::AddGroup(v.to_string()),
        "group_delete" => Op::DeleteGroup(v.to_string()),
        _ => return Err(format!("unknown key {k}=")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ops() -> Vec<Op> {
        vec![
            Op::PrivateKey(Key::new([1; 32])),
            Op::ListenPort(51820),
            Op::Cookie(u32::MAX),
            Op::RemoveAllPeers,
            Op::Peer(Key::new([2; 32])),
            Op::Endpoint("[fd00::1]:51820".parse().unwrap()),
            Op::EndpointName("vpn.example.org:51820".parse().unwrap()),
            Op::ReplaceAllowedIps,
            Op::AllowedIp("10.0.0.0/8".parse().unwrap()),
            Op::UpdateOnly,
            Op::PresharedKey(Some(Key::new([3; 32]))),
            Op::PresharedKey(None),
            Op::PersistentKeepalive(MAX_PKA),
            Op::PeerDescription(Some("my = peer\\ #1\nx".into())),
            Op::PeerDescription(None),
            Op::RemovePeer(Key::new([4; 32])),
            Op::Up(true),
            Op::Debug(false),
            Op::Link0(true),
            Op::Link1(false),
            Op::Link2(true),
            Op::Mtu(1280),
            Op::Description(Some("uplink".into())),
            Op::Description(None),
            Op::AddAddress("10.6.66.1/32 10.6.66.2".parse().unwrap()),
            Op::ReplaceAddress("10.6.66.3/24".parse().unwrap()),
            Op::AddGroup("egress".into()),
            Op::DeleteGroup("lan".into()),
            Op::DeleteAddress("fd00::1".parse().unwrap()),
        ]
    }

    #[test]
    fn codec_round_trip() {
        let reqs = vec![
            Request::Create {
                name: "wg".into(),
                rename: None,
                here: false,
            },
            Request::Create {
                name: "wg".into(),
                rename: Some("wgtest".into()),
                here: true,
            },
            Request::Destroy { name: "wg3".into() },
            Request::Rename {
                name: "wg3".into(),
                new: "wan0".into(),
            },
            Request::Vnet {
                name: "wg3".into(),
                netns: "box".into(),
                back: false,
            },
            Request::Vnet {
                name: "wg3".into(),
                netns: "box".into(),
                back: true,
            },
            Request::List,
            Request::Cloners,
            Request::HandOver,
            Request::Module,
            Request::Unload { force: false },
            Request::Unload { force: true },
            Request::Status {
                name: None,
                keys: true,
            },
            Request::Status {
                name: Some("wg0".into()),
                keys: false,
            },
            Request::Set {
                name: "wg0".into(),
                ops: all_ops(),
            },
        ];
        for r in reqs {
            let lines = r.encode();
            let mut buf = Vec::new();
            crate::wire::write_message(&mut buf, &lines).unwrap();
            let back = crate::wire::read_message(&mut &buf[..], 4096, 1 << 20)
                .unwrap()
                .unwrap();
            assert_eq!(Request::decode(&back).unwrap(), r);
        }
    }

    fn set(k: &str, v: &str) -> Vec<(String, String)> {
        vec![kv("op", "set"), kv("ifname", "wg0"), kv(k, v)]
    }

    #[test]
    fn decode_range_checks() {
        for (k, v) in [
            ("listen_port", "65536"),
            ("listen_port", "-1"),
            ("listen_port", "99999999999999999999999"),
            ("cookie", "4294967296"),
            ("persistent_keepalive", "43201"),
            ("mtu", "67"),
            ("mtu", "65456"),
            ("allowed_ip", "10.0.0.0/33"),
            ("private_key", "short"),
            ("peer_description", &"x".repeat(64)),
            ("up", "yes"),
            ("nonsense", "1"),
            ("endpoint", "1.2.3.4"),
            ("endpoint_name", "192.0.2.1:51820"),
            ("endpoint_name", "vpn.example.org"),
        ] {
            assert!(Request::decode(&set(k, v)).is_err(), "{k}={v}");
        }
        assert!(Request::decode(&set("mtu", "68")).is_ok());
        assert!(Request::decode(&set("persistent_keepalive", "43200")).is_ok());
        assert!(Request::decode(&[kv("ifname", "wg0")]).is_err());
        assert!(Request::decode(&[]).is_err());
    }
}
