//! The descriptor limit (RLIMIT_NOFILE).
//!
//! Every interface holds descriptors: its TUN device and its UAPI socket
//! from creation, and its IPv4 and IPv6 UDP sockets while up (four in
//! all; one more for an interface born in another network namespace),
//! and every control or UAPI connection holds one while it lasts. A
//! service manager's soft limit (systemd's 1024) would stop wgd near 250
//! interfaces, so wgd raises its soft limit to the hard limit at start,
//! as systemd recommends for programs that do not use select(2) (wgd
//! does not, and the only programs it starts are wgd itself).
//!
//! Nothing is logged and nothing fails if the limit cannot be raised: it
//! runs before logging is set up and in every mode (launcher and
//! hand-over client included, where it does no harm), and a daemon at
//! its limit answers "Too many open files" where a descriptor was needed.

use std::io;

/// The soft and hard limits in force.
pub fn nofile() -> io::Result<(u64, u64)> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((r.rlim_cur, r.rlim_max))
}

fn set_soft(soft: u64, hard: u64) -> io::Result<()> {
    let r = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads one rlimit from the struct we own.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Raise the soft limit to the hard limit (or to the kernel's
/// `fs.nr_open`, if the hard limit was set above it since). Best effort.
pub fn raise_nofile() {
    let Ok((soft, hard)) = nofile() else { return };
    if soft >= hard {
        return;
    }
    if set_soft(hard, hard).is_ok() {
        return;
    }
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    if let Some(n) = nr_open.filter(|&n| n > soft && n < hard) {
        let _ = set_soft(n, hard);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_soft_limit_reaches_the_hard_limit() {
        super::raise_nofile();
        let (soft, hard) = super::nofile().unwrap();
        assert_eq!(soft, hard);
    }
}
