//! The lock that makes one daemon the owner of a control socket: an
//! exclusive flock(2) on a file beside the socket (`<socket>.lock`),
//! taken before the socket is touched and held for the daemon's life
//! (and across a hand-over, whose new process receives the same open
//! file). Whoever holds it may replace a stale socket and bind; everyone
//! else waits or leaves.
//!
//! The lock belongs to the open file, not to a descriptor: it is never
//! released by hand (an old process handing over must not release it for
//! the new one), only when the last descriptor of that file closes, that
//! is when its holder exits.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The lock file of control socket `socket`.
pub fn path_of(socket: &Path) -> PathBuf {
    let mut p = socket.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// A held lock.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// Whether `file` is still the one at `path` (not unlinked or replaced
/// by its last holder between our open and our flock).
fn is_at(file: &File, path: &Path) -> io::Result<bool> {
    let (mine, there) = (file.metadata()?, std::fs::metadata(path));
    Ok(match there {
        Ok(t) => t.dev() == mine.dev() && t.ino() == mine.ino(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    })
}

impl Lock {
    /// Take the lock at `path` if nobody holds it: `Ok(None)` when
    /// another process does.
    pub fn try_take(path: &Path) -> io::Result<Option<Lock>> {
        // A file its last holder unlinked in the meantime: open again.
        for _ in 0..16 {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
                .open(path)?;
            // SAFETY: flock on a descriptor we own; no memory involved.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
                    return Ok(None);
                }
                return Err(e);
            }
            if is_at(&file, path)? {
                return Ok(Some(Lock {
                    file,
                    path: path.to_path_buf(),
                }));
            }
        }
        Err(io::Error::from_raw_os_error(libc::EAGAIN))
    }

    /// The lock a previous holder handed us (its open file), if `fd` is
    /// that file and holds the lock at `path`.
    pub fn adopt(fd: OwnedFd, path: &Path) -> io::Result<Lock> {
        let file = File::from(fd);
        if !is_at(&file, path)? {
            return Err(io::Error::from_raw_os_error(libc::ESTALE));
        }
        // Held by this open file already: taking it again succeeds at
        // once; held by another open file, it fails.
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Lock {
            file,
            path: path.to_path_buf(),
        })
    }

    /// The open file, for a hand-over.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Remove the lock file, still holding the lock (at exit): whoever
    /// opened it meanwhile finds it unlinked once it gets the lock, and
    /// opens the path again.
    pub fn remove(&self) {
        if is_at(&self.file, &self.path).unwrap_or(false) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("wgd-lock-{tag}-{}", std::process::id()))
    }

    #[test]
    fn one_holder_at_a_time() {
        let p = tmp("one");
        let a = Lock::try_take(&p).expect("take").expect("free");
        assert!(Lock::try_take(&p).expect("try").is_none());
        // The holder's own open file, handed on, still holds it.
        let fd = a.file().try_clone().expect("dup").into();
        let b = Lock::adopt(fd, &p).expect("adopt");
        drop(a);
        assert!(Lock::try_take(&p).expect("try").is_none());
        b.remove();
        drop(b);
        let c = Lock::try_take(&p).expect("take").expect("free again");
        c.remove();
    }

    #[test]
    fn a_lock_file_removed_under_a_waiter_is_opened_again() {
        let p = tmp("removed");
        let a = Lock::try_take(&p).expect("take").expect("free");
        // Opened before the holder removed it: not the file at the path.
        let old = File::open(&p).expect("open");
        a.remove();
        drop(a);
        assert!(!is_at(&old, &p).expect("stat"));
        let b = Lock::try_take(&p).expect("take").expect("free");
        assert!(Lock::adopt(old.into(), &p).is_err());
        b.remove();
    }
}
