//! if_wg as a kernel module: loaded means a wgd answers on the control
//! socket. Loading starts one the way rc.d/if_wg does (`wgd -S socket
//! -p pidfile`); unloading asks it to end (refused while it has
//! interfaces, unless forced). kldstat's file id is the daemon's pid.

use crate::client::{Client, ClientError};
use proto::errno::{EEXIST, EIO, ENOENT, EPERM, ETIMEDOUT};
use proto::Request;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The module file and the module in it, as FreeBSD names them.
pub const FILE: &str = "if_wg.ko";
pub const MODULE: &str = "if_wg";

/// How long a started daemon may take to answer, and a stopping one to
/// be gone (it destroys its interfaces first).
const LOAD_WAIT: Duration = Duration::from_secs(10);
const UNLOAD_WAIT: Duration = Duration::from_secs(30);

/// Does a kldload/kldunload/kldstat -n argument name if_wg? `if_wg`,
/// `if_wg.ko` or `wg`, also as a path.
pub fn names_if_wg(arg: &str) -> bool {
    let base = arg.rsplit('/').next().unwrap_or(arg);
    matches!(base, "if_wg" | "if_wg.ko" | "wg" | "wg.ko")
}

pub struct Loaded {
    pub pid: u32,
    pub interfaces: usize,
    pub program: String,
}

impl Loaded {
    /// kldstat's Refs: the module itself and each interface it holds
    /// (why an unload is refused while Refs is above 1).
    pub fn refs(&self) -> usize {
        1 + self.interfaces
    }
}

/// The daemon serving `socket`, if one answers.
pub fn loaded(socket: &str) -> Option<Loaded> {
    let mut c = Client::connect(socket).ok()?;
    let reply = match c.call(&Request::Module) {
        Ok(r) => r,
        // It answers, but does not know the request (an older wgd).
        Err(ClientError::Errno(_)) => Vec::new(),
        Err(_) => return None,
    };
    let get = |k: &str| reply.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Some(Loaded {
        pid: get("pid").and_then(|v| v.parse().ok()).unwrap_or(0),
        interfaces: get("interfaces").and_then(|v| v.parse().ok()).unwrap_or(0),
        program: get("program").unwrap_or_default(),
    })
}

/// rc.d/if_wg's pid file for a socket: beside it, `.sock` becoming `.pid`.
pub fn pidfile_for(socket: &str) -> String {
    format!("{}.pid", socket.strip_suffix(".sock").unwrap_or(socket))
}

fn wait_for<T>(bound: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + bound;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start wgd on `socket`; the errno is why not (EEXIST: already loaded).
/// wgd itself says on standard error why it could not start.
pub fn load(socket: &str) -> Result<Loaded, i32> {
    if loaded(socket).is_some() {
        return Err(EEXIST);
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(EPERM);
    }
    let wgd = super::find::ours("wgd").ok_or(ENOENT)?;
    let started = Command::new(wgd)
        .args(["-S", socket, "-p", &pidfile_for(socket)])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| e.raw_os_error().unwrap_or(EIO))?;
    if !started.success() {
        return Err(EIO);
    }
    wait_for(LOAD_WAIT, || loaded(socket)).ok_or(ETIMEDOUT)
}

fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie has ended; only its parent's wait is missing.
        Ok(s) => s
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

/// Ask the daemon on `socket` to end (`force`: destroying its interfaces
/// first) and wait until it and its socket are gone. ENOENT: none there.
pub fn unload(socket: &str, force: bool) -> Result<(), i32> {
    let mut c = Client::connect(socket).map_err(|_| ENOENT)?;
    let reply = match c.call(&Request::Unload { force }) {
        Ok(r) => r,
        Err(ClientError::Errno(n)) => return Err(n),
        Err(_) => return Err(EIO),
    };
    let pid: Option<u32> = reply
        .iter()
        .find(|(k, _)| k == "pid")
        .and_then(|(_, v)| v.parse().ok());
    let ended = || {
        let process = !matches!(pid, Some(p) if !gone(p));
        let sock = !Path::new(socket).exists();
        (process && sock).then_some(())
    };
    wait_for(UNLOAD_WAIT, ended).ok_or(ETIMEDOUT)
}

/// Where the daemon's program is mapped (its lowest mapping), when we
/// may read its maps (root, or its owner); else 0.
pub fn address(l: &Loaded) -> u64 {
    let Ok(maps) = std::fs::read_to_string(format!("/proc/{}/maps", l.pid)) else {
        return 0;
    };
    maps.lines()
        .find(|line| !l.program.is_empty() && line.ends_with(&l.program))
        .and_then(|line| line.split('-').next())
        .and_then(|a| u64::from_str_radix(a, 16).ok())
        .unwrap_or(0)
}

/// The memory the daemon takes, in bytes (its resident set).
pub fn size(l: &Loaded) -> u64 {
    std::fs::read_to_string(format!("/proc/{}/status", l.pid))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        for n in ["if_wg", "if_wg.ko", "wg", "/boot/modules/if_wg.ko"] {
            assert!(names_if_wg(n), "{n}");
        }
        for n in ["if_wgx", "zfs", "", "if_wg/"] {
            assert!(!names_if_wg(n), "{n}");
        }
    }

    #[test]
    fn pidfile_beside_the_socket() {
        assert_eq!(pidfile_for("/var/run/wgd.sock"), "/var/run/wgd.pid");
        assert_eq!(pidfile_for("/tmp/ctl"), "/tmp/ctl.pid");
    }
}
