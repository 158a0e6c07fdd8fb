//! Who is on the other end of the control socket.

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::os::unix::net::UnixStream;

/// The connecting process's effective uid, or `None` if unknown.
pub fn peer_uid(s: &UnixStream) -> Option<u32> {
    getsockopt(s, PeerCredentials).ok().map(|c| c.uid())
}
