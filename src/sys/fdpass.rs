//! Passing descriptors between processes (SCM_RIGHTS) over a Unix
//! stream socket, with a message beside them: what the hand-over moves
//! TUN queues, UDP sockets and listening sockets with. The receiver gets
//! the same kernel objects, not copies.

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// Descriptors in one message at most (the kernel's SCM_MAX_FD is 253).
pub const MAX_FDS: usize = 250;

/// Send `msg` (length-prefixed) with `fds` attached to its first byte.
pub fn send(sock: &UnixStream, msg: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    if fds.len() > MAX_FDS {
        return Err(io::Error::from_raw_os_error(libc::E2BIG));
    }
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let len = (msg.len() as u64).to_le_bytes();
    let iov = [IoSlice::new(&len)];
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    let n = sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None)?;
    let mut w = sock;
    w.write_all(&len[n..])?;
    w.write_all(msg)
}

/// Receive one message of at most `max` bytes and the descriptors sent
/// with it (closed on error: they are owned from the moment they arrive).
pub fn recv(sock: &UnixStream, max: usize) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    let mut len = [0u8; 8];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let (got, fds) = {
        let mut iov = [IoSliceMut::new(&mut len)];
        let m = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )?;
        let mut fds = Vec::new();
        for c in m.cmsgs()? {
            if let ControlMessageOwned::ScmRights(raw) = c {
                // SAFETY: the kernel just installed these descriptors in
                // this process for us; nobody else owns them.
                fds.extend(raw.into_iter().map(|r| unsafe { OwnedFd::from_raw_fd(r) }));
            }
        }
        (m.bytes, fds)
    };
    if got == 0 {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
    }
    let mut r = sock;
    r.read_exact(&mut len[got..])?;
    let n = u64::from_le_bytes(len) as usize;
    if n > max {
        return Err(io::Error::from_raw_os_error(libc::EMSGSIZE));
    }
    let mut msg = vec![0u8; n];
    r.read_exact(&mut msg)?;
    Ok((msg, fds))
}

/// The socket a parent process left open for us at descriptor `fd`
/// (`wgd --takeover FD`): ours from now on. Fails unless it is a Unix
/// stream socket.
pub fn inherited(fd: RawFd) -> io::Result<UnixStream> {
    if fd < 3 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: F_GETFD only reads the descriptor's flags; it fails with
    // EBADF if the number is not an open descriptor.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the descriptor is open and nothing else in this process
    // owns it (the parent put it there for us alone).
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let st = nix::sys::stat::fstat(&owned)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(io::Error::from_raw_os_error(libc::ENOTSOCK));
    }
    let _ = nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    Ok(UnixStream::from(owned))
}

/// Let `sock` survive an exec (the child's end of a socketpair).
pub fn keep_across_exec(sock: &UnixStream) -> io::Result<()> {
    nix::fcntl::fcntl(
        sock,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn the_same_objects_arrive_with_the_message() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send(&a, b"snapshot", &[r.as_fd(), w.as_fd()]).unwrap();
        send(&a, b"no descriptors", &[]).unwrap();
        let (msg, fds) = recv(&b, 1 << 20).unwrap();
        assert_eq!(msg, b"snapshot");
        assert_eq!(fds.len(), 2);
        // What is written to the original pipe is read from the passed one.
        nix::unistd::write(&w, b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(nix::unistd::read(&fds[0], &mut buf).unwrap(), 1);
        let (msg, fds) = recv(&b, 1 << 20).unwrap();
        assert_eq!((msg.as_slice(), fds.len()), (&b"no descriptors"[..], 0));
        send(&a, &[0; 100], &[]).unwrap();
        assert_eq!(
            recv(&b, 10).unwrap_err().raw_os_error(),
            Some(libc::EMSGSIZE)
        );
        drop(a);
        let mut rest = Vec::new();
        let _ = (&b).read_to_end(&mut rest);
        assert_eq!(
            recv(&b, 10).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
