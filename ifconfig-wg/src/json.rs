//! Status as JSON (`--libxo json`, `--libxo json,pretty`), for scripts
//! and monitoring: the same fields as the text status, present under the
//! same conditions and with the same secrets rules, with numbers as
//! numbers, flags as a number and names, and the last handshake as Unix
//! time and age. Schema in ifconfig-wg(8).

use crate::print::{is_link_local, netmask};
use proto::flags;
use proto::{InterfaceStatus, Psk};
use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Schema version; bumped when a field changes meaning or goes away.
const VERSION: &str = "1";

enum J {
    Str(String),
    Num(String),
    Arr(Vec<J>),
    Obj(Vec<(&'static str, J)>),
}

fn s(v: impl ToString) -> J {
    J::Str(v.to_string())
}

fn n(v: impl ToString) -> J {
    J::Num(v.to_string())
}

fn escape(o: &mut String, v: &str) {
    o.push('"');
    for c in v.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
}

fn render(o: &mut String, v: &J, pretty: bool, depth: usize) {
    let nl = |o: &mut String, d: usize| {
        if pretty {
            o.push('\n');
            o.push_str(&"  ".repeat(d));
        }
    };
    match v {
        J::Str(x) => escape(o, x),
        J::Num(x) => o.push_str(x),
        J::Arr(items) => {
            o.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                nl(o, depth + 1);
                render(o, x, pretty, depth + 1);
            }
            if !items.is_empty() {
                nl(o, depth);
            }
            o.push(']');
        }
        J::Obj(fields) => {
            o.push('{');
            for (i, (k, x)) in fields.iter().enumerate() {
                if i > 0 {
                    o.push(',');
                }
                nl(o, depth + 1);
                escape(o, k);
                o.push(':');
                if pretty {
                    o.push(' ');
                }
                render(o, x, pretty, depth + 1);
            }
            if !fields.is_empty() {
                nl(o, depth);
            }
            o.push('}');
        }
    }
}

fn interface(st: &InterfaceStatus, now: f64) -> J {
    let mut f: Vec<(&'static str, J)> = vec![
        ("name", s(&st.name)),
        ("flags", n(st.flags)),
        (
            "flags_names",
            J::Arr(flags::names(st.flags).into_iter().map(s).collect()),
        ),
        ("metric", n(0)),
        ("mtu", n(st.mtu)),
    ];
    if let Some(d) = &st.description {
        f.push(("description", s(d)));
    }
    let inet: Vec<J> = st
        .addrs
        .iter()
        .filter(|a| a.addr.is_ipv4())
        .map(|a| {
            let mask = netmask(a.prefix_len);
            let mut x = vec![("address", s(a.addr))];
            if let Some(d) = a.dest {
                x.push(("destination", s(d)));
            }
            x.push(("netmask", s(format!("0x{mask:08x}"))));
            J::Obj(x)
        })
        .collect();
    if !inet.is_empty() {
        f.push(("inet", J::Arr(inet)));
    }
    let inet6: Vec<J> = st
        .addrs
        .iter()
        .filter(|a| a.addr.is_ipv6())
        .map(|a| {
            let mut x = vec![("address", s(a.addr))];
            if let Some(d) = a.dest {
                x.push(("destination", s(d)));
            }
            x.push(("prefixlen", n(a.prefix_len)));
            if is_link_local(&a.addr) {
                x.push(("scopeid", s(format!("0x{:x}", st.ifindex))));
            }
            J::Obj(x)
        })
        .collect();
    if !inet6.is_empty() {
        f.push(("inet6", J::Arr(inet6)));
    }
    if let Some(p) = st.listen_port {
        f.push(("wgport", n(p)));
    }
    if st.cookie != 0 {
        f.push(("wgcookie", n(st.cookie)));
    }
    if let Some(k) = &st.private_key {
        f.push(("wgkey", s(k.to_base64())));
    }
    if let Some(k) = &st.public_key {
        f.push(("wgpubkey", s(k.to_base64())));
    }
    let peers = st
        .peers
        .iter()
        .map(|p| {
            let mut x = vec![("wgpeer", s(p.public_key.to_base64())), ("id", n(p.id))];
            if let Some(d) = &p.description {
                x.push(("wgdescr", s(d)));
            }
            match &p.psk {
                Psk::None => {}
                Psk::Present => x.push(("wgpsk", s("(present)"))),
                Psk::Key(k) => x.push(("wgpsk", s(k.to_base64()))),
            }
            if p.pka > 0 {
                x.push(("wgpka", n(p.pka)));
            }
            if let Some(e) = p.endpoint {
                let mut ep = vec![("address", s(e.ip()))];
                if let Some(scope) = &p.endpoint_scope {
                    ep.push(("scope", s(scope)));
                }
                ep.push(("port", n(e.port())));
                if let Some(name) = &p.endpoint_name {
                    ep.push(("name", s(&name.host)));
                    ep.push(("name_port", n(name.port)));
                }
                x.push(("wgendpoint", J::Obj(ep)));
            }
            x.push(("tx", n(p.tx_bytes)));
            x.push(("rx", n(p.rx_bytes)));
            if let Some(h) = p.last_handshake {
                let t = h.as_secs_f64();
                x.push(("last_handshake", n(format!("{t:.3}"))));
                x.push(("last_handshake_age", n(((now - t).max(0.0)) as u64)));
            }
            x.push(("wgaip", J::Arr(p.allowed_ips.iter().map(s).collect())));
            if let Some(a) = p.link_local {
                x.push(("wgaip_link_local", s(format!("{a}/128"))));
            }
            J::Obj(x)
        })
        .collect();
    f.push(("wgpeers", J::Arr(peers)));
    let groups = if st.groups.is_empty() {
        vec![s("wg")]
    } else {
        st.groups.iter().map(s).collect()
    };
    f.push(("groups", J::Arr(groups)));
    J::Obj(f)
}

/// The whole document for these interfaces.
pub fn status(all: &[InterfaceStatus], pretty: bool) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    let doc = J::Obj(vec![
        ("__version", s(VERSION)),
        (
            "interface",
            J::Arr(all.iter().map(|st| interface(st, now)).collect()),
        ),
    ]);
    let mut o = String::new();
    render(&mut o, &doc, pretty, 0);
    o.push('\n');
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_name_beside_the_address() {
        let mut st = InterfaceStatus::new("wg0");
        st.peers.push(proto::PeerStatus {
            endpoint: Some("192.0.2.10:51820".parse().unwrap()),
            endpoint_name: Some("vpn.example.org:51820".parse().unwrap()),
            ..proto::PeerStatus::new(proto::Key::new([7; 32]), 1)
        });
        let c = status(&[st], false);
        assert!(
            c.contains(
                r#""wgendpoint":{"address":"192.0.2.10","port":51820,"name":"vpn.example.org","name_port":51820}"#
            ),
            "{c}"
        );
    }

    #[test]
    fn strings_are_escaped_and_layout_follows_pretty() {
        let mut st = InterfaceStatus::new("wg0");
        st.description = Some("a \"b\"\\\n\u{1}".into());
        let c = status(&[st], false);
        assert!(c.contains(r#""description":"a \"b\"\\\n\u0001""#), "{c}");
        assert!(c.starts_with(
            r#"{"__version":"1","interface":[{"name":"wg0","flags":0,"flags_names":[]"#
        ));
        let p = status(&[InterfaceStatus::new("wg0")], true);
        assert!(
            p.starts_with(
                "{\n  \"__version\": \"1\",\n  \"interface\": [\n    {\n      \"name\": \"wg0\","
            ),
            "{p}"
        );
    }
}
