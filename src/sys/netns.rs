//! Network namespaces. wgd's threads all live in the namespace it was
//! started in (its home: where every interface is born and its UDP
//! sockets stay); a link moved elsewhere is worked on through netlink
//! sockets opened there by a short-lived thread that joins that
//! namespace (setns), so no thread of ours ever moves and no socket of
//! ours outlives the operation that needs it (a socket would keep a
//! deleted namespace alive).

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::sync::OnceLock;

/// What identifies a namespace: the device and inode of its nsfs file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NsId {
    dev: u64,
    ino: u64,
}

pub fn id_of(fd: BorrowedFd<'_>) -> io::Result<NsId> {
    let m = File::from(fd.try_clone_to_owned()?).metadata()?;
    Ok(NsId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

/// The namespace wgd started in. Read once, before any namespace work.
pub fn home() -> io::Result<NsId> {
    static HOME: OnceLock<NsId> = OnceLock::new();
    if let Some(h) = HOME.get() {
        return Ok(*h);
    }
    let f = File::open("/proc/self/ns/net")?;
    let id = id_of(f.as_fd())?;
    Ok(*HOME.get_or_init(|| id))
}

/// Whether `fd` is a network namespace (an nsfs file of that type).
pub fn is_netns(fd: BorrowedFd<'_>) -> bool {
    // NS_GET_NSTYPE = _IO(0xb7, 0x3).
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // SAFETY: an ioctl without argument on a descriptor we hold.
    let t = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
    t == libc::CLONE_NEWNET
}

/// A handle on the home namespace, to move a link back there.
pub fn open_home() -> io::Result<OwnedFd> {
    Ok(File::open("/proc/self/ns/net")?.into())
}

/// Where `ip netns` keeps its names.
pub const NAMED_DIR: &str = "/var/run/netns";

/// The namespace `ip netns add NAME` made.
pub fn open_named(name: &str) -> io::Result<OwnedFd> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let f = File::open(format!("{NAMED_DIR}/{name}"))?;
    // Anything else there (a leftover file) is not a namespace.
    if f.metadata()?.dev() != id_of(open_home()?.as_fd())?.dev {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    Ok(f.into())
}

/// Run `f` on a thread that has joined namespace `ns`, and return what
/// it returns. Only for making sockets: they stay in the namespace they
/// were made in.
pub fn run_in<T: Send>(
    ns: BorrowedFd<'_>,
    f: impl FnOnce() -> io::Result<T> + Send,
) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("namespace thread panicked")))
    })
}
