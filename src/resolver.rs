//! Endpoints by name, from above: resolving a `wgendpoint NAME PORT` when
//! a request configures it (`resolve_ops`, on the control connection's
//! thread, before any lock), and the thread that resolves names again
//! when their peers stop answering (`start`; what to do with an answer
//! is the driver's, `crate::wg::names`).
//!
//! ```text
//!   control: Set [.. EndpointName(n) ..] ──lookup──> [.. Endpoint(a), EndpointName(n) ..]
//!            (a name that does not resolve: the request is refused whole)
//!   clock ──ask──> wg::names queue ──> resolver thread ──lookup──>
//!            Interface::endpoint_resolved
//! ```
//!
//! Every thread of wgd lives in its home namespace, so both look names up
//! with the resolver configuration and the name servers of that
//! namespace.

use crate::sys::boottime::Instant;
use crate::sys::resolve;
use crate::wg::interface::Interface;
use crate::wg::names::{self, Answer, Lookups};
use proto::{EndpointName, Op};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The last answer for each name, shared by both paths (held only to
/// read or record, never across a lookup).
fn lookups() -> MutexGuard<'static, Lookups> {
    static L: OnceLock<Mutex<Lookups>> = OnceLock::new();
    L.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Look `host` up now, and remember the answer.
fn lookup(host: &str) -> Answer {
    let answer = resolve::lookup(host);
    lookups().record(host, Instant::now(), answer.clone());
    answer
}

/// An answer's address for `name` on an interface with an IPv6 socket
/// (`v6`) or not, or why there is none.
fn address(name: &EndpointName, answer: &Answer, v6: bool) -> Result<SocketAddr, String> {
    let all = answer.as_ref().map_err(Clone::clone)?;
    names::pick(all, name.port, v6).ok_or_else(|| {
        if v6 {
            "no address but IPv6 link-local ones, which have no scope here".to_string()
        } else {
            "no IPv4 address, and the interface has no IPv6 socket".to_string()
        }
    })
}

/// The request with every host name resolved: each `EndpointName` is
/// preceded by the address it resolves to now. A name that does not
/// resolve refuses the whole request, with a message that names it.
pub fn resolve_ops(ifc: &Interface, ops: &[Op]) -> Result<Vec<Op>, String> {
    let v6 = ifc.serves_v6();
    expand(ops, |n| address(n, &lookup(&n.host), v6))
}

/// `ops` with each name's address before it, as `resolve` gives it.
fn expand(
    ops: &[Op],
    mut resolve: impl FnMut(&EndpointName) -> Result<SocketAddr, String>,
) -> Result<Vec<Op>, String> {
    let named = ops
        .iter()
        .filter(|o| matches!(o, Op::EndpointName(_)))
        .count();
    // Cloned into a Vec sized up front: moving the keys out of `ops`
    // would leave copies in its buffer, which the caller drops (wiping
    // every key in place).
    let mut out = Vec::with_capacity(ops.len() + named);
    for op in ops {
        if let Op::EndpointName(n) = op {
            let a = resolve(n)
                .map_err(|why| format!("wgendpoint: cannot resolve {}: {why}", n.host))?;
            out.push(Op::Endpoint(a));
        }
        out.push(op.clone());
    }
    Ok(out)
}

/// Start the thread that resolves names again, in the namespace of the
/// caller (wgd's home).
pub fn start() -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("resolver".into())
        .spawn(|| loop {
            let ask = names::next_ask();
            let Some(peer) = ask.peer.upgrade() else {
                continue;
            };
            let Some(ifc) = peer.home.get().and_then(|h| h.ifc.upgrade()) else {
                continue;
            };
            let fresh = lookups().fresh(&ask.name.host, Instant::now()).cloned();
            let answer = fresh.unwrap_or_else(|| lookup(&ask.name.host));
            let a = address(&ask.name, &answer, ifc.serves_v6());
            let a = match &a {
                Ok(a) => Ok(*a),
                Err(why) => Err(why.as_str()),
            };
            ifc.endpoint_resolved(&peer, &ask, a);
        })
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_resolved_before_the_request_or_refuse_it_whole() {
        let n: EndpointName = "vpn.example.org:51820".parse().unwrap();
        let a: SocketAddr = "192.0.2.7:51820".parse().unwrap();
        let ops = [Op::Mtu(1400), Op::EndpointName(n.clone())];
        assert_eq!(
            expand(&ops, |_| Ok(a)),
            Ok(vec![Op::Mtu(1400), Op::Endpoint(a), Op::EndpointName(n)])
        );
        assert_eq!(
            expand(&ops, |_| Err("Name or service not known".into())),
            Err(
                "wgendpoint: cannot resolve vpn.example.org: Name or service not known".to_string()
            )
        );
        let none = [Op::Mtu(1400)];
        assert_eq!(expand(&none, |_| unreachable!()), Ok(none.to_vec()));
    }

    #[test]
    fn an_answer_of_a_family_the_sockets_do_not_serve_is_none() {
        let n: EndpointName = "v6.example:5".parse().unwrap();
        let only6: Answer = Ok(vec!["2001:db8::1".parse().unwrap()]);
        assert_eq!(
            address(&n, &only6, true),
            Ok("[2001:db8::1]:5".parse().unwrap())
        );
        assert_eq!(
            address(&n, &only6, false),
            Err("no IPv4 address, and the interface has no IPv6 socket".into())
        );
    }
}
