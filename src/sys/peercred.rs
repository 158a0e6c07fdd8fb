//! Who is on the other end of the control socket.

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::os::unix::net::UnixStream;

/// The connecting process's effective uid, or `None` if unknown.
/// The process on the other end of the socket.
pub fn peer_pid(s: &UnixStream) -> Option<i32> {
    getsockopt(s, PeerCredentials).ok().map(|c| c.pid())
}

pub fn peer_uid(s: &UnixStream) -> Option<u32> {
    getsockopt(s, PeerCredentials).ok().map(|c| c.uid())
}
