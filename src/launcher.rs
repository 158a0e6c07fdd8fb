//! `wgd wgN`: the calling convention of wireguard-go, so that wg-quick(8)
//! can use wgd as `WG_QUICK_USERSPACE_IMPLEMENTATION`. Make sure a daemon
//! serves the control socket (start one if not), create the interface, and
//! return once it and its UAPI socket exist. As with wireguard-go, the
//! interface is born in the network namespace the launcher runs in (its
//! UDP sockets are made there), even when the daemon that owns the shared
//! socket path runs in another one.
//!
//! Many launchers at once (parallel wg-quick@ units, a boot with several
//! wg.conf files) each start a daemon when none answers; the socket's
//! lock lets one of them through, and the others wait for it to serve
//! and say so. "Already running" is success here: the launcher goes on
//! with the daemon that won.

use proto::errno::{strerror, EADDRINUSE, EEXIST};
use proto::wire::{read_message, write_message, MAX_RESPONSE};
use proto::Request;
use std::io::BufReader;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// How long a launcher waits for the control socket to answer after
/// the daemon it started said another one serves it.
const ANSWER_WAIT: Duration = Duration::from_secs(5);

/// Make sure a daemon serves `socket`: start one if none answers. The
/// daemon we start may find another one serving (or starting, which it
/// waits for): that one answers, and that is all we need.
fn ensure_daemon(socket: &Path) -> Result<(), String> {
    if UnixStream::connect(socket).is_ok() {
        return Ok(());
    }
    let exe = crate::program::path().map_err(|e| format!("cannot start wgd: {e}"))?;
    let out = Command::new(exe)
        .arg("-S")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("cannot start wgd: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let end = Instant::now() + ANSWER_WAIT;
    loop {
        if UnixStream::connect(socket).is_ok() {
            return Ok(());
        }
        if Instant::now() >= end {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The daemon's own words (it printed them as "wgd: SOCKET: why").
    let said = String::from_utf8_lossy(&out.stderr);
    let said = said.trim().trim_start_matches("wgd: ");
    Err(if said.is_empty() {
        "cannot start wgd".to_string()
    } else {
        format!("cannot start wgd: {said}")
    })
}

pub fn run(socket: &Path, name: &str) -> Result<(), String> {
    ensure_daemon(socket)?;
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
