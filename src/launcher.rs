//! `wgd wgN`: the calling convention of wireguard-go, so that wg-quick(8)
//! can use wgd as `WG_QUICK_USERSPACE_IMPLEMENTATION`. Make sure a daemon
//! serves the control socket (start one if not), create the interface, and
//! return once it and its UAPI socket exist. As with wireguard-go, the
//! interface is born in the network namespace the launcher runs in (its
//! UDP sockets are made there), even when the daemon that owns the shared
//! socket path runs in another one.

use proto::errno::{strerror, EADDRINUSE, EEXIST};
use proto::wire::{read_message, write_message, MAX_RESPONSE};
use proto::Request;
use std::io::BufReader;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;

/// Send `req` with our network namespace attached: the interface is born
/// where the launcher runs.
fn call(socket: &Path, req: &Request) -> Result<i32, String> {
    let describe = |e: std::io::Error| proto::errno::describe(&e);
    let s = UnixStream::connect(socket).map_err(describe)?;
    let mut buf = Vec::new();
    write_message(&mut buf, &req.encode()).map_err(describe)?;
    let ns = std::fs::File::open("/proc/self/ns/net").map_err(describe)?;
    crate::sys::peercred::send_with_fd(&s, &buf, ns.as_fd()).map_err(describe)?;
    let mut r = BufReader::new(s);
    let reply = read_message(&mut r, MAX_RESPONSE, MAX_RESPONSE)
        .ok()
        .flatten()
        .ok_or("no reply from wgd")?;
    reply
        .iter()
        .find(|(k, _)| k == "errno")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or_else(|| "malformed reply from wgd".to_string())
}

pub fn run(socket: &Path, name: &str) -> Result<(), String> {
    if UnixStream::connect(socket).is_err() {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let st = Command::new(exe)
            .arg("-S")
            .arg(socket)
            .status()
            .map_err(|e| format!("cannot start wgd: {e}"))?;
        if !st.success() {
            return Err("cannot start wgd".into());
        }
    }
    // wg-quick names interfaces after their .conf file: anything that is
    // not wgN is created the way `ifconfig wg create name X` would.
    let req = if crate::registry::valid_name(name) {
        Request::Create {
            name: name.into(),
            rename: None,
            here: true,
        }
    } else {
        Request::Create {
            name: crate::registry::CLONER.into(),
            rename: Some(name.into()),
            here: true,
        }
    };
    match call(socket, &req)? {
        0 => {}
        EEXIST => return Err(format!("interface {name} already exists")),
        EADDRINUSE => {
            return Err(format!(
                "interface {name} exists elsewhere: {} is served by another daemon",
                proto::paths::uapi_socket(name)
            ))
        }
        n => return Err(format!("{name}: {}", strerror(n))),
    }
    if !crate::uapi::path_of(name).exists() {
        return Err(format!("{name}: UAPI socket missing"));
    }
    Ok(())
}
