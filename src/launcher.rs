//! `wgd wgN`: the calling convention of wireguard-go, so that wg-quick(8)
//! can use wgd as `WG_QUICK_USERSPACE_IMPLEMENTATION`. Make sure a daemon
//! serves the control socket (start one if not), create the interface, and
//! return once it and its UAPI socket exist.

use proto::errno::{strerror, EEXIST};
use proto::wire::{read_message, write_message, MAX_RESPONSE};
use proto::Request;
use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;

fn call(socket: &Path, req: &Request) -> Result<i32, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| proto::errno::describe(&e))?;
    write_message(&mut s, &req.encode()).map_err(|e| proto::errno::describe(&e))?;
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

/// Whether the daemon on `s` runs in our network namespace: the socket
/// path is shared by every namespace, and an interface is born where its
/// daemon runs.
fn same_netns(s: &UnixStream) -> bool {
    let Some(pid) = crate::sys::peercred::peer_pid(s) else {
        return true;
    };
    let ns = |p: String| std::fs::read_link(p).ok();
    match (
        ns(format!("/proc/{pid}/ns/net")),
        ns("/proc/self/ns/net".into()),
    ) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => true,
    }
}

pub fn run(socket: &Path, name: &str) -> Result<(), String> {
    if let Ok(s) = UnixStream::connect(socket) {
        if !same_netns(&s) {
            return Err(format!(
                "the wgd at {} runs in another network namespace; give this one its own socket (-S or WGD_SOCKET)",
                socket.display()
            ));
        }
    } else {
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
        }
    } else {
        Request::Create {
            name: crate::registry::CLONER.into(),
            rename: Some(name.into()),
        }
    };
    match call(socket, &req)? {
        0 => {}
        EEXIST => return Err(format!("interface {name} already exists")),
        n => return Err(format!("{name}: {}", strerror(n))),
    }
    if !crate::uapi::path_of(name).exists() {
        return Err(format!("{name}: UAPI socket missing"));
    }
    Ok(())
}
