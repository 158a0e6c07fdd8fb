//! The keyword table: ifconfig words in, one request's `Op`s out.
//!
//! Words are read left to right; peer options bind to the nearest
//! preceding `wgpeer`/`-wgpeer`. Every parse error is found here, before
//! the daemon is asked anything.

use proto::request::MAX_DESCR;
use proto::{EndpointName, IfAddr, Key, Op, Prefix};
use std::io::BufRead;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// What the words ask for besides configuration.
#[derive(Debug, Default, PartialEq)]
pub struct Command {
    pub create: bool,
    /// `create name X`: the new interface's name.
    pub rename: Option<String>,
    /// `vnet NETNS` / `-vnet NETNS`: (netns, back).
    pub vnet: Option<(String, bool)>,
    pub destroy: bool,
    pub ops: Vec<Op>,
}

/// Where `-` keys come from (stdin, or a test's buffer).
pub trait KeySource {
    fn read_key(&mut self) -> String;
}

pub struct Stdin;

impl KeySource for Stdin {
    fn read_key(&mut self) -> String {
        let mut s = String::new();
        let _ = std::io::stdin().lock().read_line(&mut s);
        s.trim().to_string()
    }
}

/// strtonum(3): a decimal in `min..=max`, or "invalid", "too small",
/// "too large".
pub fn strtonum(s: &str, min: i128, max: i128) -> Result<i128, &'static str> {
    let t = s.trim_start();
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("invalid");
    }
    let n = match t.parse::<i128>() {
        Ok(n) => n,
        Err(_) if t.starts_with('-') => return Err("too small"),
        Err(_) => return Err("too large"),
    };
    if n < min {
        Err("too small")
    } else if n > max {
        Err("too large")
    } else {
        Ok(n)
    }
}

fn v4_netmask_len(s: &str) -> Option<u8> {
    let bits = if let Some(h) = s.strip_prefix("0x") {
        u32::from_str_radix(h, 16).ok()?
    } else {
        u32::from(s.parse::<std::net::Ipv4Addr>().ok()?)
    };
    let len = bits.leading_ones();
    (bits.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// `wgendpoint HOST PORT`: an IP literal as an address; a host name as a
/// name, which the daemon resolves (and resolves again later: wg(4)
/// "Endpoints by name"), so that what it keeps and what it looks up are
/// the same, and in its own namespace.
fn endpoint(host: &str, port: &str) -> Result<Op, String> {
    let p = match strtonum(port, 0, 65535) {
        Ok(p) => p as u16,
        Err(_) => return Err(format!("wgendpoint: invalid port {port}")),
    };
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(Op::Endpoint(SocketAddr::new(ip, p)));
    }
    // Digits and dots only: meant as an IPv4 address, never a name.
    if !h.is_empty() && h.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!("wgendpoint: bad address: {host}"));
    }
    if proto::host::is_host_name(h) {
        return Ok(Op::EndpointName(EndpointName {
            host: h.to_string(),
            port: p,
        }));
    }
    // An IPv6 address with a scope (fe80::1%em0): the system's parser
    // knows the interface names, here as before.
    match (h, p).to_socket_addrs() {
        Ok(mut it) => it
            .next()
            .map(Op::Endpoint)
            .ok_or_else(|| format!("{host}: Name or service not known")),
        Err(e) => {
            let m = e.to_string();
            let m = m
                .strip_prefix("failed to lookup address information: ")
                .unwrap_or(&m)
                .to_string();
            Err(format!("{host}: {m}"))
        }
    }
}

fn descr(word: &str, s: &str) -> Result<Option<String>, String> {
    if s.len() > MAX_DESCR {
        return Err(format!(
            "{word}: description too long (at most {MAX_DESCR} bytes)"
        ));
    }
    Ok(Some(s.to_string()))
}

/// Parse the words after the interface name.
pub fn parse(words: &[String], keys: &mut dyn KeySource) -> Result<Command, String> {
    let mut cmd = Command::default();
    let mut peer_selected = false;
    // The wgaip list of a command replaces the peer's list.
    let mut aips_replaced = false;
    let mut i = 0;
    let arg = |i: usize, word: &str| -> Result<String, String> {
        words
            .get(i + 1)
            .cloned()
            .ok_or_else(|| format!("'{word}' requires argument"))
    };
    while i < words.len() {
        let w = words[i].as_str();
        let ops = &mut cmd.ops;
        let peer_opt = |sel: bool| -> Result<(), String> {
            if sel {
                Ok(())
            } else {
                Err(format!("{w}: wgpeer not set"))
            }
        };
        match w {
            "create" => cmd.create = true,
            "name" => {
                // With create: the new interface's name; alone: rename.
                let a = arg(i, w)?;
                cmd.rename = Some(a);
                i += 1;
            }
            "destroy" => cmd.destroy = true,
            "vnet" | "-vnet" => {
                let a = arg(i, w)?;
                cmd.vnet = Some((a, w == "-vnet"));
                i += 1;
            }
            "up" => ops.push(Op::Up(true)),
            "down" => ops.push(Op::Up(false)),
            "debug" => ops.push(Op::Debug(true)),
            "-debug" => ops.push(Op::Debug(false)),
            "link0" => ops.push(Op::Link0(true)),
            "-link0" => ops.push(Op::Link0(false)),
            "link1" => ops.push(Op::Link1(true)),
            "-link1" => ops.push(Op::Link1(false)),
            "link2" => ops.push(Op::Link2(true)),
            "-link2" => ops.push(Op::Link2(false)),
            "mtu" => {
                let a = arg(i, w)?;
                let n = strtonum(&a, 0, u32::MAX as i128)
                    .map_err(|e| format!("mtu: invalid mtu {a}: {e}"))?;
                ops.push(Op::Mtu(n as u32));
                i += 1;
            }
            "description" | "descr" => {
                let a = arg(i, w)?;
                ops.push(Op::Description(descr(w, &a)?));
                i += 1;
            }
            "-description" | "-descr" => ops.push(Op::Description(None)),
            // BSD ifconfig's own checks and words for group names.
            "group" => {
                let g = arg(i, w)?;
                if g.len() >= 16 {
                    return Err("setifgroup: group name too long".into());
                }
                if g.ends_with(|c: char| c.is_ascii_digit()) {
                    return Err("setifgroup: group names may not end in a digit".into());
                }
                ops.push(Op::AddGroup(g));
                i += 1;
            }
            "-group" => {
                let g = arg(i, w)?;
                if g.len() >= 16 {
                    return Err("unsetifgroup: group name too long".into());
                }
                ops.push(Op::DeleteGroup(g));
                i += 1;
            }
            "inet" | "inet6" => {
                let v6 = w == "inet6";
                let a = arg(i, w)?;
                i += 1;
                let bad = || format!("{a}: bad value");
                let (addr, mut plen) = proto::addr::parse_addr_plen(&a).ok_or_else(bad)?;
                if addr.is_ipv6() != v6 {
                    return Err(bad());
                }
                let mut dest = None;
                let mut delete = false;
                let mut alias = false;
                while let Some(next) = words.get(i + 1) {
                    match next.as_str() {
                        "alias" | "add" => alias = true,
                        "-alias" | "delete" => delete = true,
                        "netmask" if !v6 => {
                            let m = arg(i + 1, "netmask")?;
                            plen =
                                Some(v4_netmask_len(&m).ok_or_else(|| format!("{m}: bad value"))?);
                            i += 1;
                        }
                        "prefixlen" if v6 => {
                            let m = arg(i + 1, "prefixlen")?;
                            plen =
                                Some(strtonum(&m, 0, 128).map_err(|_| format!("{m}: bad value"))?
                                    as u8);
                            i += 1;
                        }
                        s => match s.parse::<IpAddr>() {
                            Ok(d) if d.is_ipv6() == v6 && dest.is_none() && !delete => {
                                dest = Some(d)
                            }
                            _ => break,
                        },
                    }
                    i += 1;
                }
                if delete {
                    ops.push(Op::DeleteAddress(addr));
                } else {
                    let default = if v6 { 64 } else { 32 };
                    let prefix_len = plen.unwrap_or(if dest.is_some() {
                        if v6 {
                            128
                        } else {
                            32
                        }
                    } else {
                        default
                    });
                    let a = IfAddr {
                        addr,
                        prefix_len,
                        dest,
                    };
                    // BSD: IPv4 without alias replaces the first address;
                    // IPv6 always adds.
                    ops.push(if alias || v6 {
                        Op::AddAddress(a)
                    } else {
                        Op::ReplaceAddress(a)
                    });
                }
            }
            "wgkey" => {
                let mut a = arg(i, w)?;
                if a == "-" {
                    a = keys.read_key();
                }
                let k = Key::from_base64(&a)
                    .ok_or_else(|| format!("wgkey: invalid private key: {a}"))?;
                ops.push(Op::PrivateKey(k));
                i += 1;
            }
            "wgport" => {
                let a = arg(i, w)?;
                let n =
                    strtonum(&a, 0, 65535).map_err(|e| format!("wgport: invalid port {a}: {e}"))?;
                ops.push(Op::ListenPort(n as u16));
                i += 1;
            }
            "wgcookie" => {
                let a = arg(i, w)?;
                let n = strtonum(&a, 0, u32::MAX as i128)
                    .map_err(|e| format!("wgcookie: invalid cookie {a}: {e}"))?;
                ops.push(Op::Cookie(n as u32));
                i += 1;
            }
            "-wgcookie" => ops.push(Op::Cookie(0)),
            "wgpeer" | "-wgpeer" => {
                let a = arg(i, w)?;
                let k =
                    Key::from_base64(&a).ok_or_else(|| format!("wgpeer: invalid peer key: {a}"))?;
                ops.push(if w == "wgpeer" {
                    Op::Peer(k)
                } else {
                    Op::RemovePeer(k)
                });
                peer_selected = true;
                aips_replaced = false;
                i += 1;
            }
            "-wgpeerall" => ops.push(Op::RemoveAllPeers),
            "wgendpoint" => {
                peer_opt(peer_selected)?;
                // host:port in one word, as wg(8) writes it.
                if let Some(a) = words.get(i + 1).and_then(|h| h.parse::<SocketAddr>().ok()) {
                    return Err(format!(
                        "wgendpoint: host and port are two words: wgendpoint {} {}",
                        a.ip(),
                        a.port()
                    ));
                }
                let (Some(h), Some(p)) = (words.get(i + 1), words.get(i + 2)) else {
                    return Err(format!("'{w}' requires 2 arguments"));
                };
                ops.push(endpoint(h, p)?);
                i += 2;
            }
            "wgaip" => {
                peer_opt(peer_selected)?;
                let a = arg(i, w)?;
                let p: Prefix = a.parse().map_err(|_| format!("wgaip: bad address: {a}"))?;
                if !aips_replaced {
                    ops.push(Op::ReplaceAllowedIps);
                    aips_replaced = true;
                }
                ops.push(Op::AllowedIp(p));
                i += 1;
            }
            "wgpsk" => {
                peer_opt(peer_selected)?;
                let mut a = arg(i, w)?;
                if a == "-" {
                    a = keys.read_key();
                }
                let k = Key::from_base64(&a).ok_or_else(|| format!("wgpsk: invalid key: {a}"))?;
                ops.push(Op::PresharedKey(Some(k)));
                i += 1;
            }
            "-wgpsk" => {
                peer_opt(peer_selected)?;
                ops.push(Op::PresharedKey(None));
            }
            "wgpka" => {
                peer_opt(peer_selected)?;
                let a = arg(i, w)?;
                let n = strtonum(&a, 0, proto::request::MAX_PKA as i128)
                    .map_err(|e| format!("wgpka: invalid pka {a}: {e}"))?;
                ops.push(Op::PersistentKeepalive(n as u16));
                i += 1;
            }
            "-wgpka" => {
                peer_opt(peer_selected)?;
                ops.push(Op::PersistentKeepalive(0));
            }
            "wgdescr" | "wgdescription" => {
                peer_opt(peer_selected)?;
                let a = arg(i, w)?;
                ops.push(Op::PeerDescription(descr(w, &a)?));
                i += 1;
            }
            "-wgdescr" | "-wgdescription" => {
                peer_opt(peer_selected)?;
                ops.push(Op::PeerDescription(None));
            }
            _ => return Err(format!("{w}: bad value")),
        }
        i += 1;
    }
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoKeys;
    impl KeySource for NoKeys {
        fn read_key(&mut self) -> String {
            String::new()
        }
    }
    struct Buf(String);
    impl KeySource for Buf {
        fn read_key(&mut self) -> String {
            std::mem::take(&mut self.0)
        }
    }

    fn p(s: &str) -> Result<Command, String> {
        let w: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&w, &mut NoKeys)
    }

    const K: &str = "kfT2T0bmb7oJt+VVjKs4JNkfi1UCOaOYELlDX3ZovWQ=";

    #[test]
    fn spec_errors_word_for_word() {
        let cases = [
            ("wgkey bogus", "wgkey: invalid private key: bogus"),
            ("wgpeer bogus", "wgpeer: invalid peer key: bogus"),
            (&format!("wgpeer {K} wgpsk xx"), "wgpsk: invalid key: xx"),
            (
                &format!("wgpeer {K} wgaip 10.0.0.1/33"),
                "wgaip: bad address: 10.0.0.1/33",
            ),
            ("wgport 65536", "wgport: invalid port 65536: too large"),
            ("wgport -1", "wgport: invalid port -1: too small"),
            ("wgport abc", "wgport: invalid port abc: invalid"),
            (
                &format!("wgpeer {K} wgpka 43201"),
                "wgpka: invalid pka 43201: too large",
            ),
            ("wgaip 10.0.0.1/32", "wgaip: wgpeer not set"),
            ("wgpka 5", "wgpka: wgpeer not set"),
            ("wgendpoint 1.2.3.4 5", "wgendpoint: wgpeer not set"),
            (
                &format!("wgpeer {K} wgendpoint 1.2.3.4"),
                "'wgendpoint' requires 2 arguments",
            ),
            ("wgkey", "'wgkey' requires argument"),
            (
                &format!("wgpeer {K} wgendpoint 192.0.2.1:51820 wgaip 10.0.0.1/32"),
                "wgendpoint: host and port are two words: wgendpoint 192.0.2.1 51820",
            ),
            (
                &format!("wgpeer {K} wgendpoint [fd00::1]:51820"),
                "wgendpoint: host and port are two words: wgendpoint fd00::1 51820",
            ),
            (
                &format!("wgpeer {K} wgendpoint 192.168.77.256 51820"),
                "wgendpoint: bad address: 192.168.77.256",
            ),
            (
                "wgcookie 4294967296",
                "wgcookie: invalid cookie 4294967296: too large",
            ),
            ("frobnicate", "frobnicate: bad value"),
        ];
        for (words, want) in cases {
            assert_eq!(p(words).unwrap_err(), want, "{words}");
        }
    }

    #[test]
    fn full_command() {
        let c = p(&format!(
            "wgkey {K} wgport 54321 wgpeer {K} wgendpoint 192.0.2.1 54321 wgaip 10.0.0.2/32 wgaip fd00::2 wgpka 25 wgdescr x -wgpsk up"
        ))
        .unwrap();
        assert_eq!(c.ops.len(), 11);
        assert_eq!(c.ops[1], Op::ListenPort(54321));
        assert_eq!(c.ops[3], Op::Endpoint("192.0.2.1:54321".parse().unwrap()));
        assert_eq!(c.ops[4], Op::ReplaceAllowedIps);
        assert_eq!(c.ops[6], Op::AllowedIp("fd00::2/128".parse().unwrap()));
        assert_eq!(c.ops[10], Op::Up(true));
    }

    /// A host name goes to the daemon as a name (it resolves it there);
    /// addresses as today.
    #[test]
    fn endpoint_names_go_to_the_daemon() {
        let c = p(&format!("wgpeer {K} wgendpoint vpn.example.org 51820")).unwrap();
        assert_eq!(
            c.ops[1],
            Op::EndpointName(EndpointName {
                host: "vpn.example.org".into(),
                port: 51820
            })
        );
        let c = p(&format!("wgpeer {K} wgendpoint [fd00::1] 5")).unwrap();
        assert_eq!(c.ops[1], Op::Endpoint("[fd00::1]:5".parse().unwrap()));
        let c = p(&format!("wgpeer {K} wgendpoint fe80::1%lo 5")).unwrap();
        assert!(matches!(c.ops[1], Op::Endpoint(std::net::SocketAddr::V6(a)) if a.scope_id() != 0));
    }

    #[test]
    fn addresses() {
        let c = p("inet 10.0.0.1 10.0.0.2 link1 up").unwrap();
        assert_eq!(
            c.ops[0],
            Op::ReplaceAddress("10.0.0.1/32 10.0.0.2".parse().unwrap())
        );
        assert_eq!(c.ops[1], Op::Link1(true));
        let c = p("inet 10.0.0.1/24").unwrap();
        assert_eq!(c.ops[0], Op::ReplaceAddress("10.0.0.1/24".parse().unwrap()));
        let c = p("inet 10.0.0.1/24 alias").unwrap();
        assert_eq!(c.ops[0], Op::AddAddress("10.0.0.1/24".parse().unwrap()));
        let c = p("inet 10.0.0.1 netmask 255.255.255.0 alias").unwrap();
        assert_eq!(c.ops[0], Op::AddAddress("10.0.0.1/24".parse().unwrap()));
        let c = p("inet6 fe80::1/64").unwrap();
        assert_eq!(c.ops[0], Op::AddAddress("fe80::1/64".parse().unwrap()));
        let c = p("inet6 fd00::1 prefixlen 48").unwrap();
        assert_eq!(c.ops[0], Op::AddAddress("fd00::1/48".parse().unwrap()));
        let c = p("inet 10.0.0.1 -alias").unwrap();
        assert_eq!(c.ops[0], Op::DeleteAddress("10.0.0.1".parse().unwrap()));
        let c = p("inet6 fd00::1 delete").unwrap();
        assert_eq!(c.ops[0], Op::DeleteAddress("fd00::1".parse().unwrap()));
        assert_eq!(p("inet fd00::1").unwrap_err(), "fd00::1: bad value");
    }

    #[test]
    fn keys_from_stdin() {
        let w: Vec<String> = ["wgkey", "-"].iter().map(|s| s.to_string()).collect();
        let c = parse(&w, &mut Buf(K.to_string())).unwrap();
        assert_eq!(c.ops[0], Op::PrivateKey(Key::from_base64(K).unwrap()));
        assert_eq!(
            parse(&w, &mut Buf("nope".into())).unwrap_err(),
            "wgkey: invalid private key: nope"
        );
    }

    #[test]
    fn strtonum_like_bsd() {
        assert_eq!(strtonum("0", 0, 5), Ok(0));
        assert_eq!(strtonum("+5", 0, 5), Ok(5));
        assert_eq!(strtonum("6", 0, 5), Err("too large"));
        assert_eq!(strtonum("-0", 0, 5), Ok(0));
        assert_eq!(strtonum("-7", 0, 5), Err("too small"));
        assert_eq!(
            strtonum("99999999999999999999999999999999999999999", 0, 5),
            Err("too large")
        );
        assert_eq!(strtonum("1x", 0, 5), Err("invalid"));
        assert_eq!(strtonum("", 0, 5), Err("invalid"));
    }
}
