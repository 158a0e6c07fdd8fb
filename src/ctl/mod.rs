//! The control socket: the daemon's ioctl entry point.
//!
//! `server` accepts connections, learns the caller's uid (SO_PEERCRED) and
//! frames messages; `handler` turns a request into registry and interface
//! calls and typed errors into errno. Errno exists only here.

pub mod handler;
pub mod server;
