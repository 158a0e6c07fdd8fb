//! Where the daemon's messages go: stderr in the foreground (`-f`), syslog
//! when detached. Driver events are logged by the interface, and only
//! while it has DEBUG set. Secrets are never passed here.

use std::os::unix::net::UnixDatagram;
use std::sync::{Mutex, OnceLock};

enum Sink {
    Stderr,
    Syslog(Mutex<Option<UnixDatagram>>),
}

static SINK: OnceLock<Sink> = OnceLock::new();

pub fn to_stderr() {
    let _ = SINK.set(Sink::Stderr);
}

pub fn to_syslog() {
    let _ = SINK.set(Sink::Syslog(Mutex::new(None)));
}

/// LOG_DAEMON (3 << 3) with a severity.
const LOG_ERR: u8 = 3;
const LOG_INFO: u8 = 6;
const LOG_DEBUG: u8 = 7;

fn write(severity: u8, line: &str) {
    match SINK.get() {
        None | Some(Sink::Stderr) => eprintln!("{line}"),
        Some(Sink::Syslog(sock)) => {
            let mut g = sock.lock().unwrap_or_else(|e| e.into_inner());
            if g.is_none() {
                if let Ok(s) = UnixDatagram::unbound() {
                    if s.connect("/dev/log").is_ok() {
                        *g = Some(s);
                    }
                }
            }
            let msg = format!(
                "<{}>wgd[{}]: {}",
                (3 << 3) | severity,
                std::process::id(),
                line
            );
            if let Some(s) = g.as_ref() {
                if s.send(msg.as_bytes()).is_err() {
                    *g = None;
                }
            }
        }
    }
}

/// A driver event for interface `ifname` (caller checks DEBUG).
pub fn event(ifname: &str, msg: impl std::fmt::Display) {
    write(LOG_DEBUG, &format!("{ifname}: {msg}"));
}

pub fn info(msg: impl std::fmt::Display) {
    write(LOG_INFO, &format!("{msg}"));
}

pub fn error(msg: impl std::fmt::Display) {
    write(LOG_ERR, &format!("{msg}"));
}
