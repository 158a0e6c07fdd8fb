//! The new process's side of a hand-over (`wgd --takeover FD`): say
//! which snapshot version we read, receive the snapshot and the
//! descriptors, serve every interface from them, and say "serving".
//! Anything wrong, and we say why and exit: the old process keeps
//! serving.

use crate::handover::codec::{CodecError, Reader, VERSION};
use crate::handover::{HELLO, SERVING};
use crate::registry::{Handed, Registry};
use crate::sys::boottime::Instant;
use crate::sys::fdpass;
use std::collections::VecDeque;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

/// The largest snapshot we read (about 64 KiB per interface, with room).
const MAX_SNAPSHOT: usize = 256 << 20;

pub struct Taking {
    sock: UnixStream,
}

impl Taking {
    /// The socket the old process left us, and our hello on it.
    pub fn start(fd: i32) -> Result<Taking, String> {
        let sock = fdpass::inherited(fd).map_err(|e| format!("takeover descriptor {fd}: {e}"))?;
        let _ = sock.set_read_timeout(Some(Duration::from_secs(30)));
        fdpass::send(&sock, format!("{HELLO} {VERSION}").as_bytes(), &[])
            .map_err(|e| format!("cannot greet the old wgd: {e}"))?;
        Ok(Taking { sock })
    }

    /// Receive everything and serve every interface through `reg`; the
    /// control listener to serve from, and the old process's lock file
    /// if it sent one.
    pub fn take(&self, reg: &Registry) -> Result<(UnixListener, Option<OwnedFd>), String> {
        let r = self.receive(reg);
        if let Err(why) = &r {
            let _ = fdpass::send(&self.sock, why.as_bytes(), &[]);
        }
        r
    }

    fn receive(&self, reg: &Registry) -> Result<(UnixListener, Option<OwnedFd>), String> {
        let io = |e: std::io::Error| format!("cannot receive the snapshot: {e}");
        let (bytes, first) = fdpass::recv(&self.sock, MAX_SNAPSHOT).map_err(io)?;
        let bytes = zeroize::Zeroizing::new(bytes);
        let now = Instant::now();
        let bad = |e: CodecError| e.to_string();
        let mut r = Reader::new(&bytes).map_err(bad)?;
        let n = r.u32().map_err(bad)? as usize;
        let mut layout = Vec::with_capacity(n.min(1 << 16));
        for _ in 0..n {
            let c = r.interface(now).map_err(bad)?;
            let mut has = [false; 4];
            for h in has.iter_mut() {
                *h = r.bool().map_err(bad)?;
            }
            layout.push((c, has));
        }
        let total = r.u32().map_err(bad)? as usize;
        r.finish().map_err(bad)?;
        let mut fds: VecDeque<OwnedFd> = first.into();
        while fds.len() < total {
            let (_, more) = fdpass::recv(&self.sock, 0).map_err(io)?;
            if more.is_empty() {
                return Err("the old wgd sent fewer descriptors than it said".into());
            }
            fds.extend(more);
        }
        let short = || "descriptors missing".to_string();
        let control = UnixListener::from(fds.pop_front().ok_or_else(short)?);
        let mut take = |yes: bool| -> Result<Option<OwnedFd>, String> {
            if yes {
                fds.pop_front().map(Some).ok_or_else(short)
            } else {
                Ok(None)
            }
        };
        for (carried, [v4, v6, birth, uapi]) in layout {
            let netns = take(true)?.ok_or_else(short)?;
            let h = Handed {
                netns,
                v4: take(v4)?,
                v6: take(v6)?,
                birth: take(birth)?,
                uapi: take(uapi)?,
                carried,
            };
            let name = h.carried.name.clone();
            reg.adopt(h, Instant::now())
                .map_err(|e| format!("cannot take {name} over: {e}"))?;
        }
        // After every interface: the lock file (none from an older wgd).
        Ok((control, fds.pop_front()))
    }

    /// Tell the old process we serve: it exits now.
    pub fn serving(self) -> Result<(), String> {
        fdpass::send(&self.sock, SERVING.as_bytes(), &[])
            .map_err(|e| format!("cannot tell the old wgd: {e}"))
    }
}
