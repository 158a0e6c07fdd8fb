//! The old process's side of a hand-over: start the new binary with one
//! end of a socketpair, wait for it to say it can read our snapshot,
//! hold the data plane still, send the snapshot and every descriptor,
//! and wait for "serving". Then the caller exits without touching a
//! link; on any failure the new process is ended and the plane moves
//! again. Once the snapshot went out, the new process held the session
//! keys and may have sent with them: a failure after that drops every
//! session (each tunnel handshakes again on its next packet), so that no
//! counter is ever used twice with one key.

use crate::handover::codec::{Writer, VERSION};
use crate::handover::{HELLO, SERVING};
use crate::registry::Registry;
use crate::sys::boottime::Instant;
use crate::sys::fdpass;
use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the new process has to start, and to take over.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const TAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// What a hand-over needs to know of this process: the binary's path
/// (as started: a new file installed there is what runs next) and the
/// arguments that make a daemon like this one.
pub struct Context {
    pub exe: PathBuf,
    pub args: Vec<OsString>,
    /// The pid file, which holds the new process's pid once it serves.
    pub pidfile: Option<PathBuf>,
    pub registry: Arc<Registry>,
    pub control: std::os::unix::net::UnixListener,
    /// The open lock file that makes this process the socket's owner:
    /// sent last, after every interface's descriptors (a new process
    /// that knows no lock ignores it), so the lock never lapses.
    pub lock: Option<std::fs::File>,
}

/// One hand-over at a time.
static BUSY: Mutex<()> = Mutex::new(());

/// Wait for a hand-over under way to end; whether one handed everything
/// over (then this process must exit without touching a link: they are
/// the new process's).
pub fn settled() -> bool {
    let _wait = BUSY.lock().unwrap_or_else(|e| e.into_inner());
    crate::handover::handed_over()
}

fn end(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Hand everything over; `Ok(new pid)` once the new process serves (the
/// caller then exits at once), `Err(why)` with everything still served
/// here.
pub fn give(ctx: &Context) -> Result<u32, String> {
    let _one = BUSY
        .try_lock()
        .map_err(|_| "a hand-over is already under way".to_string())?;
    let (ours, theirs) = UnixStream::pair().map_err(|e| format!("socketpair: {e}"))?;
    fdpass::keep_across_exec(&theirs).map_err(|e| format!("socketpair: {e}"))?;
    let child = Command::new(&ctx.exe)
        .args(&ctx.args)
        .arg("--takeover")
        .arg(std::os::fd::AsRawFd::as_raw_fd(&theirs).to_string())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", ctx.exe.display()))?;
    drop(theirs);
    let pid = child.id();
    let _ = ours.set_read_timeout(Some(START_TIMEOUT));
    let hello = match fdpass::recv(&ours, 64) {
        Ok((m, _)) => m,
        Err(e) => {
            end(child);
            return Err(format!("the new wgd (pid {pid}) did not start: {e}"));
        }
    };
    let want = format!("{HELLO} {VERSION}");
    if hello != want.as_bytes() {
        end(child);
        return Err(format!(
            "the new wgd (pid {pid}) reads another snapshot: {}",
            String::from_utf8_lossy(&hello)
        ));
    }

    // From here on nothing of any interface moves until we exit or give
    // up.
    let plane = ctx.registry.plane().clone();
    let still = plane.still();
    let now = Instant::now();
    let sent = (|| -> Result<(), String> {
        let handed = ctx
            .registry
            .carry_all(now)
            .map_err(|e| format!("cannot read the interfaces: {e}"))?;
        let mut w = Writer::new();
        w.u32(handed.len() as u32);
        let mut fds: Vec<BorrowedFd<'_>> = vec![ctx.control.as_fd()];
        for h in &handed {
            w.interface(&h.carried, now);
            fds.push(h.netns.as_fd());
            for f in [&h.v4, &h.v6, &h.birth, &h.uapi] {
                w.bool(f.is_some());
                fds.extend(f.as_ref().map(|f| f.as_fd()));
            }
        }
        fds.extend(ctx.lock.as_ref().map(|l| l.as_fd()));
        w.u32(fds.len() as u32);
        let bytes = w.into_bytes();
        let io = |e: std::io::Error| format!("cannot send the snapshot: {e}");
        let mut chunks = fds.chunks(fdpass::MAX_FDS);
        fdpass::send(&ours, &bytes, chunks.next().unwrap_or(&[])).map_err(io)?;
        for c in chunks {
            fdpass::send(&ours, &[], c).map_err(io)?;
        }
        Ok(())
    })();
    if let Err(e) = sent {
        // Part of the snapshot may have gone out.
        end(child);
        ctx.registry.forget_sessions();
        drop(still);
        return Err(e);
    }
    let _ = ours.set_read_timeout(Some(TAKE_TIMEOUT));
    // The new process has the keys now and may send with them before it
    // fails: if it does not take over, no session of ours is used again.
    let failed = |child: Child, still: std::sync::RwLockWriteGuard<'_, ()>| {
        end(child);
        ctx.registry.forget_sessions();
        drop(still);
    };
    match fdpass::recv(&ours, 4096) {
        Ok((m, _)) if m == SERVING.as_bytes() => {
            // The pid file and the service manager follow the new process.
            if let Some(p) = &ctx.pidfile {
                if let Err(e) = crate::handover::write_pidfile(p, pid) {
                    crate::log::error(format!("cannot write pidfile: {e}"));
                }
            }
            let _ = crate::sys::notify::send(&format!("MAINPID={pid}"));
            std::mem::forget(still);
            // Not reaped here: the caller exits now, and the new
            // process is handed to init (or systemd) as an orphan.
            std::mem::forget(child);
            Ok(pid)
        }
        Ok((m, _)) => {
            failed(child, still);
            Err(format!(
                "the new wgd (pid {pid}) refused: {}",
                String::from_utf8_lossy(&m)
            ))
        }
        Err(e) => {
            failed(child, still);
            Err(format!("the new wgd (pid {pid}) did not take over: {e}"))
        }
    }
}
