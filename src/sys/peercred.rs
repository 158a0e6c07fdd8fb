//! Who is on the other end of the control socket, and descriptors
//! passed over it (the launcher's network namespace).

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use std::io::{self, IoSlice, IoSliceMut, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// The connecting process's effective uid, or `None` if unknown.
pub fn peer_uid(s: &UnixStream) -> Option<u32> {
    getsockopt(s, PeerCredentials).ok().map(|c| c.uid())
}

/// Send `data` with descriptor `fd` attached (SCM_RIGHTS): the launcher
/// hands the daemon its network namespace this way.
pub fn send_with_fd(s: &UnixStream, data: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd.as_raw_fd()];
    let n = sendmsg::<()>(
        s.as_raw_fd(),
        &[IoSlice::new(data)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )?;
    if n < data.len() {
        // The rest, without the descriptor (sent once).
        let mut w = s;
        w.write_all(&data[n..])?;
    }
    Ok(())
}

/// Read like `read`, also taking any descriptors sent along; only the
/// newest is kept (`last`), the others are closed at once.
pub fn recv_keeping_fd(
    s: &UnixStream,
    buf: &mut [u8],
    last: &mut Option<OwnedFd>,
) -> io::Result<usize> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut space = nix::cmsg_space!([RawFd; 4]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        s.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let n = msg.bytes;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for fd in fds {
                // SAFETY: the kernel just installed this descriptor for
                // us; nobody else owns it.
                *last = Some(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Ok(n)
}
