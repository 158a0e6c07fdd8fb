//! Detaching from the terminal like a BSD daemon(3), but only after the
//! caller says the control socket accepts requests.

use nix::unistd::{fork, setsid, ForkResult};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// Fork. The parent blocks until the child calls [`Detached::ready`] (then
/// exits 0), [`Detached::fail`] (then prints the child's error on its own
/// standard error and exits 1) or dies (then exits 1). Must be called
/// before any thread is started. Returns in the child only.
pub fn detach() -> io::Result<Detached> {
    let (r, w) = nix::unistd::pipe()?;
    // SAFETY: called while the process is single-threaded.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => {
            drop(w);
            let f = File::from(r);
            let mut said = Vec::new();
            let _ = f.take(4096).read_to_end(&mut said);
            match said.split_first() {
                Some((b'1', _)) => std::process::exit(0),
                Some((b'E', msg)) => {
                    eprintln!("{}", String::from_utf8_lossy(msg));
                    std::process::exit(1)
                }
                _ => {
                    eprintln!("wgd: the daemon exited while starting");
                    std::process::exit(1)
                }
            }
        }
        ForkResult::Child => {
            drop(r);
            setsid()?;
            redirect_stdio()?;
            Ok(Detached { pipe: Some(w) })
        }
    }
}

fn redirect_stdio() -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors, which we own.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

pub struct Detached {
    pipe: Option<OwnedFd>,
}

impl Detached {
    /// Let the parent exit: we are serving.
    pub fn ready(&mut self) {
        if let Some(w) = self.pipe.take() {
            let _ = File::from(w).write_all(b"1");
        }
    }

    /// Starting failed: the parent prints `msg` and exits 1.
    pub fn fail(&mut self, msg: &str) {
        if let Some(w) = self.pipe.take() {
            let _ = File::from(w).write_all(format!("E{msg}").as_bytes());
        }
    }
}
