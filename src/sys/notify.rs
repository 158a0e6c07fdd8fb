//! Readiness for service managers (the sd_notify protocol): when started
//! by systemd as `Type=notify`, tell it `READY=1` once the control socket
//! accepts requests, so units ordered after wgd never race it.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Send `READY=1` to `$NOTIFY_SOCKET`, if the environment names one (a
/// path, or an abstract name starting with `@`). Nothing otherwise.
pub fn ready() -> io::Result<()> {
    send("READY=1")
}

/// Send one notification (`MAINPID=…`, `READY=1`, …), if the
/// environment names a socket.
pub fn send(msg: &str) -> io::Result<()> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
        None => SocketAddr::from_pathname(&path)?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(msg.as_bytes(), &addr)?;
    Ok(())
}
