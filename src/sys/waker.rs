//! Waiting for a descriptor to become readable, with a way to be told to
//! stop: poll(2) on the descriptor and an eventfd.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, RawFd};

pub struct Waker {
    efd: EventFd,
}

pub enum Wait {
    Readable,
    Stop,
    Timeout,
}

impl Waker {
    pub fn new() -> io::Result<Waker> {
        let efd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?;
        Ok(Waker { efd })
    }

    /// Tell every waiter to stop; it stays signalled.
    pub fn stop(&self) {
        let _ = self.efd.write(1);
    }

    /// Wait until `fd` is readable, `stop` was called, or `timeout_ms`
    /// passed (-1: no timeout).
    pub fn wait(&self, fd: RawFd, timeout_ms: i32) -> io::Result<Wait> {
        // SAFETY: the caller owns `fd` for the duration of this call.
        let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
        let mut fds = [
            PollFd::new(bfd, PollFlags::POLLIN),
            PollFd::new(self.efd.as_fd(), PollFlags::POLLIN),
        ];
        let timeout = if timeout_ms < 0 {
            PollTimeout::NONE
        } else {
            PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX)
        };
        loop {
            match poll(&mut fds, timeout) {
                Ok(0) => return Ok(Wait::Timeout),
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if fds[1].revents().is_some_and(|r| !r.is_empty()) {
            return Ok(Wait::Stop);
        }
        Ok(Wait::Readable)
    }

    /// Block until `fd` is readable (true) or `stop` was called (false).
    /// A failing poll is retried after a pause rather than spun on.
    pub fn until_readable(&self, fd: RawFd) -> bool {
        loop {
            match self.wait(fd, -1) {
                Ok(Wait::Stop) => return false,
                Ok(_) => return true,
                Err(_) => {
                    if self.sleep(100) {
                        return false;
                    }
                }
            }
        }
    }

    /// Sleep up to `timeout_ms`; true if told to stop.
    pub fn sleep(&self, timeout_ms: i32) -> bool {
        let mut fds = [PollFd::new(self.efd.as_fd(), PollFlags::POLLIN)];
        let t = PollTimeout::try_from(timeout_ms).unwrap_or(PollTimeout::MAX);
        matches!(poll(&mut fds, t), Ok(n) if n > 0)
    }
}
