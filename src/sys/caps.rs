//! Least privilege: once the control socket is bound, wgd keeps only the
//! capabilities it uses.
//!
//! - CAP_NET_ADMIN: creating TUN devices and setting their offloads, link
//!   changes over rtnetlink (flags, MTU, addresses, groups), SO_MARK for
//!   `wgcookie`, and socket buffers beyond the system maximum.
//! - CAP_NET_BIND_SERVICE: a `wgport` below 1024.
//! - CAP_NET_BROADCAST: link notifications from the namespaces our links
//!   were moved to (NETLINK_LISTEN_ALL_NSID).
//! - CAP_SYS_ADMIN: joining such a namespace (setns), from a short-lived
//!   thread, to open the netlink socket that changes a moved link there.
//!
//! Everything else leaves the effective, permitted and inheritable sets
//! and the bounding set, and no-new-privileges is set. The daemon stays
//! uid 0, which owns the files it writes (`/var/run/wireguard`, its
//! socket and pidfile), so it needs no file-permission override.
//!
//! Capabilities belong to threads: this must run before any thread is
//! started, so that every thread inherits the reduced sets.

use std::io;

const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_NET_BROADCAST: u32 = 11;
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const KEEP: u64 = (1 << CAP_NET_BIND_SERVICE)
    | (1 << CAP_NET_BROADCAST)
    | (1 << CAP_NET_ADMIN)
    | (1 << CAP_SYS_ADMIN);
/// _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
const VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct Header {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

pub fn drop_to_minimum() -> io::Result<()> {
    // The bounding set first: dropping from it needs CAP_SETPCAP, which
    // the capset below removes.
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(40);
    for cap in 0..=last {
        // SAFETY: prctl with integer arguments only.
        let bounded = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
        // Gone already (a wgd started by one handing over): nothing to
        // drop, and no CAP_SETPCAP left to drop it with.
        if KEEP & (1u64 << cap) == 0 && bounded != 0 {
            // SAFETY: prctl with integer arguments only.
            let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if r < 0 {
                let e = io::Error::last_os_error();
                // EINVAL: a capability this kernel does not know.
                if e.raw_os_error() != Some(libc::EINVAL) {
                    return Err(e);
                }
            }
        }
    }
    let mut hdr = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    for (i, d) in data.iter_mut().enumerate() {
        let word = (KEEP >> (32 * i)) as u32;
        d.effective = word;
        d.permitted = word;
        d.inheritable = 0;
    }
    // SAFETY: a version-3 header and two data words, as capset(2) wants.
    let r = unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut Header, data.as_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
