//! The control socket: the daemon's ioctl entry point.
//!
//! `server` accepts connections, learns the caller's uid (SO_PEERCRED) and
//! frames messages; `handler` turns a request into registry and interface
//! calls and typed errors into errno. Errno exists only here.

pub mod handler;
pub mod server;

use std::sync::atomic::{AtomicBool, Ordering};

/// Set by an unload request; acted on once its reply is written.
static UNLOADING: AtomicBool = AtomicBool::new(false);

fn unload_after_reply() {
    UNLOADING.store(true, Ordering::SeqCst);
}

/// Has an unload (kldunload) been asked for? The daemon then ends as on
/// SIGTERM.
pub fn unloading() -> bool {
    UNLOADING.load(Ordering::SeqCst)
}
