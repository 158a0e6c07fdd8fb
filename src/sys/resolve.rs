//! The system resolver: getaddrinfo(3), through the standard library, so
//! /etc/hosts, resolv.conf and nsswitch.conf decide, as for `getent
//! ahosts`. Blocking (seconds, when a name server does not answer): only
//! for the resolver thread and a control request, never under a lock.
//! Every thread of wgd is in its home namespace (`netns`), so that is
//! where the name servers are asked.

use std::io;
use std::net::{IpAddr, ToSocketAddrs};

/// The addresses `host` resolves to, in the resolver's order (RFC 6724
/// as /etc/gai.conf tunes it), or the resolver's reason
/// ("Name or service not known").
pub fn lookup(host: &str) -> Result<Vec<IpAddr>, String> {
    match (host, 0).to_socket_addrs() {
        Ok(it) => {
            let mut v: Vec<IpAddr> = Vec::new();
            for a in it.map(|a| a.ip()) {
                if !v.contains(&a) {
                    v.push(a);
                }
            }
            if v.is_empty() {
                return Err("No address associated with hostname".into());
            }
            Ok(v)
        }
        Err(e) => Err(reason(&e)),
    }
}

/// gai_strerror(3)'s text, as the standard library wraps it.
fn reason(e: &io::Error) -> String {
    let m = e.to_string();
    match m.strip_prefix("failed to lookup address information: ") {
        Some(r) => r.to_string(),
        None => proto::errno::describe(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_and_reasons_are_the_resolvers() {
        let v = lookup("localhost").expect("localhost");
        assert!(v.iter().all(|a| a.is_loopback()), "{v:?}");
        let e = io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(reason(&e), "Name or service not known");
        assert_eq!(
            reason(&io::Error::from_raw_os_error(libc::ENOMEM)),
            "Cannot allocate memory"
        );
    }
}
