//! Status: what the daemon reports about an interface and its peers.
//!
//! The daemon fills these; `ifconfig-wg` prints them in the DragonFly
//! format. Secrets are only present when root asked for them.

use crate::addr::{IfAddr, Prefix};
use crate::host::EndpointName;
use crate::key::Key;
use crate::request::parse_num;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub enum Psk {
    None,
    /// Set, but the caller may not see it (or did not ask with `-k`).
    Present,
    Key(Key),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeerStatus {
    pub public_key: Key,
    pub id: u64,
    pub description: Option<String>,
    pub psk: Psk,
    pub pka: u16,
    pub endpoint: Option<SocketAddr>,
    /// The name of the interface an IPv6 link-local endpoint's scope id
    /// stands for, as the daemon sees it.
    pub endpoint_scope: Option<String>,
    /// The host name and port the endpoint was configured by, if it was
    /// given by name (`endpoint` is the address it resolved to, or the
    /// one the peer roamed to since).
    pub endpoint_name: Option<EndpointName>,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    /// When the last handshake completed, as time since the Unix epoch.
    pub last_handshake: Option<Duration>,
    /// Newest first.
    pub allowed_ips: Vec<Prefix>,
    /// link2: the peer's link-local address, implicitly one of its
    /// allowed IPs.
    pub link_local: Option<std::net::Ipv6Addr>,
}

impl PeerStatus {
    /// A peer with nothing to say yet but its key and id.
    pub fn new(public_key: Key, id: u64) -> PeerStatus {
        PeerStatus {
            public_key,
            id,
            description: None,
            psk: Psk::None,
            pka: 0,
            endpoint: None,
            endpoint_scope: None,
            endpoint_name: None,
            tx_bytes: 0,
            rx_bytes: 0,
            last_handshake: None,
            allowed_ips: Vec::new(),
            link_local: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InterfaceStatus {
    pub name: String,
    pub ifindex: u32,
    /// BSD flag bits (see [`crate::flags`]).
    pub flags: u32,
    pub mtu: u32,
    pub description: Option<String>,
    pub addrs: Vec<IfAddr>,
    pub listen_port: Option<u16>,
    pub cookie: u32,
    pub private_key: Option<Key>,
    pub public_key: Option<Key>,
    /// Interface groups, `wg` first.
    pub groups: Vec<String>,
    pub peers: Vec<PeerStatus>,
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// A key's pair: its base64 moved in, never copied (`kv` would copy it
/// and free the original unwiped).
fn key_kv(k: &str, key: &Key) -> (String, String) {
    (k.to_string(), key.to_base64())
}

impl InterfaceStatus {
    pub fn new(name: &str) -> InterfaceStatus {
        InterfaceStatus {
            name: name.to_string(),
            ifindex: 0,
            flags: 0,
            mtu: 0,
            description: None,
            addrs: Vec::new(),
            listen_port: None,
            cookie: 0,
            private_key: None,
            public_key: None,
            groups: Vec::new(),
            peers: Vec::new(),
        }
    }

    pub fn encode(&self, m: &mut Vec<(String, String)>) {
        m.push(kv("interface", &self.name));
        m.push(kv("ifindex", self.ifindex));
        m.push(kv("flags", self.flags));
        m.push(kv("mtu", self.mtu));
        if let Some(d) = &self.description {
            m.push(kv("description", d));
        }
        for a in &self.addrs {
            m.push(kv("address", a));
        }
        for g in &self.groups {
            m.push(kv("group", g));
        }
        if let Some(p) = self.listen_port {
            m.push(kv("listen_port", p));
        }
        m.push(kv("cookie", self.cookie));
        if let Some(k) = &self.private_key {
            m.push(key_kv("private_key", k));
        }
        if let Some(k) = &self.public_key {
            m.push(key_kv("public_key", k));
        }
        for p in &self.peers {
            m.push(key_kv("peer", &p.public_key));
            m.push(kv("id", p.id));
            if let Some(d) = &p.description {
                m.push(kv("peer_description", d));
            }
            match &p.psk {
                Psk::None => {}
                Psk::Present => m.push(kv("preshared_key", "present")),
                Psk::Key(k) => m.push(key_kv("preshared_key", k)),
            }
            m.push(kv("persistent_keepalive", p.pka));
            if let Some(e) = p.endpoint {
                m.push(kv("endpoint", e));
            }
            if let Some(n) = &p.endpoint_scope {
                m.push(kv("endpoint_scope", n));
            }
            if let Some(n) = &p.endpoint_name {
                m.push(kv("endpoint_name", n));
            }
            m.push(kv("tx_bytes", p.tx_bytes));
            m.push(kv("rx_bytes", p.rx_bytes));
            if let Some(h) = p.last_handshake {
                m.push(kv(
                    "last_handshake",
                    format!("{}.{:09}", h.as_secs(), h.subsec_nanos()),
                ));
            }
            for a in &p.allowed_ips {
                m.push(kv("allowed_ip", a));
            }
            if let Some(a) = p.link_local {
                m.push(kv("link_local", a));
            }
        }
    }

    /// Decode every interface in a status response.
    pub fn decode_all(msg: &[(String, String)]) -> Result<Vec<InterfaceStatus>, String> {
        let mut out: Vec<InterfaceStatus> = Vec::new();
        for (k, v) in msg {
            let bad = || format!("bad status line {k}={v}");
            let num = |max: u64| parse_num(v, max).ok_or_else(bad);
            let key = || Key::from_base64(v).ok_or_else(bad);
            if k == "interface" {
                out.push(InterfaceStatus::new(v));
                continue;
            }
            let i = out.last_mut().ok_or_else(bad)?;
            if k == "peer" {
                i.peers.push(PeerStatus::new(key()?, 0));
                continue;
            }
            if let Some(p) = i.peers.last_mut() {
                match k.as_str() {
                    "id" => p.id = num(u64::MAX)?,
                    "peer_description" => p.description = Some(v.clone()),
                    "preshared_key" if v == "present" => p.psk = Psk::Present,
                    "preshared_key" => p.psk = Psk::Key(key()?),
                    "persistent_keepalive" => p.pka = num(u16::MAX as u64)? as u16,
                    "endpoint" => p.endpoint = Some(v.parse().map_err(|_| bad())?),
                    "endpoint_scope" => p.endpoint_scope = Some(v.clone()),
                    "endpoint_name" => p.endpoint_name = Some(v.parse().map_err(|_| bad())?),
                    "tx_bytes" => p.tx_bytes = num(u64::MAX)?,
                    "rx_bytes" => p.rx_bytes = num(u64::MAX)?,
                    "last_handshake" => {
                        let (s, n) = v.split_once('.').ok_or_else(bad)?;
                        let s = parse_num(s, u64::MAX).ok_or_else(bad)?;
                        let n = parse_num(n, 999_999_999).ok_or_else(bad)?;
                        p.last_handshake = Some(Duration::new(s, n as u32));
                    }
                    "allowed_ip" => p.allowed_ips.push(v.parse().map_err(|_| bad())?),
                    "link_local" => p.link_local = Some(v.parse().map_err(|_| bad())?),
                    _ => return Err(bad()),
                }
                continue;
            }
            match k.as_str() {
                "ifindex" => i.ifindex = num(u32::MAX as u64)? as u32,
                "flags" => i.flags = num(u32::MAX as u64)? as u32,
                "mtu" => i.mtu = num(u32::MAX as u64)? as u32,
                "description" => i.description = Some(v.clone()),
                "address" => i.addrs.push(v.parse().map_err(|_| bad())?),
                "group" => i.groups.push(v.clone()),
                "listen_port" => i.listen_port = Some(num(65535)? as u16),
                "cookie" => i.cookie = num(u32::MAX as u64)? as u32,
                "private_key" => i.private_key = Some(key()?),
                "public_key" => i.public_key = Some(key()?),
                _ => return Err(bad()),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trip() {
        let mut a = InterfaceStatus::new("wg0");
        a.ifindex = 7;
        a.flags = 0xa0d1;
        a.mtu = 1420;
        a.description = Some("uplink to hub".into());
        a.addrs = vec!["10.6.66.1/32 10.6.66.2".parse().unwrap()];
        a.listen_port = Some(6666);
        a.cookie = 51820;
        a.private_key = Some(Key::new([5; 32]));
        a.public_key = Some(Key::new([6; 32]));
        a.peers.push(PeerStatus {
            public_key: Key::new([7; 32]),
            id: 1,
            description: Some("my peer #1".into()),
            psk: Psk::Present,
            pka: 25,
            endpoint: Some("192.0.2.10:51820".parse().unwrap()),
            endpoint_scope: None,
            endpoint_name: Some("vpn.example.org:51820".parse().unwrap()),
            tx_bytes: 1964,
            rx_bytes: 1868,
            last_handshake: Some(Duration::new(1_763_000_000, 5)),
            allowed_ips: vec![
                "fc00:6:66::2/128".parse().unwrap(),
                "10.6.66.2/32".parse().unwrap(),
            ],
            link_local: None,
        });
        let mut b = InterfaceStatus::new("wg1");
        b.peers.push(PeerStatus {
            psk: Psk::Key(Key::new([8; 32])),
            link_local: Some("fe80::1:2:3:4".parse().unwrap()),
            ..a.peers[0].clone()
        });
        let mut m = Vec::new();
        a.encode(&mut m);
        b.encode(&mut m);
        assert_eq!(InterfaceStatus::decode_all(&m).unwrap(), vec![a, b]);
    }
}
