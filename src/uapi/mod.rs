//! The per-interface UAPI socket, `/var/run/wireguard/<ifname>.sock`, so
//! that wg(8) and wg-quick(8) manage wgd interfaces as they manage
//! wireguard-go's. Created with the interface, removed with it; root only
//! (mode 0600 in a 0755 directory, and the peer's uid is checked).
//!
//! A `set=1` request is read whole (bounded), translated to `Op`s and
//! applied with the same atomic `Interface::set` as ifconfig-wg's
//! requests: a failure applies nothing.

pub mod codec;

use crate::sys::peercred::peer_uid;
use crate::sys::waker::Waker;
use crate::wg::config::ConfigError;
use crate::wg::interface::{Interface, SetError};
use proto::errno::{EINVAL, EIO, ENODEV};
use proto::wire::{read_line, WireError};
use std::fs;
use std::io::{self, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use zeroize::Zeroize;

pub const UAPI_DIR: &str = "/var/run/wireguard";
/// Longest line; a longer one ends the connection with EIO, as in wireguard-go.
const MAX_LINE: usize = 4096;
/// Largest `set` request (a big `wg setconf`).
const MAX_REQUEST: usize = 16 << 20;
const MAX_CONNECTIONS: usize = 16;
const IDLE: Duration = Duration::from_secs(30);

pub fn path_of(ifname: &str) -> PathBuf {
    Path::new(UAPI_DIR).join(format!("{ifname}.sock"))
}

/// Claim the socket path: a live socket belongs to someone else (an
/// interface of that name in another namespace, or wireguard-go).
pub fn bind(ifname: &str) -> io::Result<UnixListener> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(UAPI_DIR)?;
    let path = path_of(ifname);
    if path.exists() {
        if UnixStream::connect(&path).is_ok() {
            return Err(io::Error::from(io::ErrorKind::AlreadyExists));
        }
        fs::remove_file(&path)?;
    }
    let l = UnixListener::bind(&path)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

pub struct UapiSocket {
    path: PathBuf,
    waker: Arc<Waker>,
    handle: Option<JoinHandle<()>>,
}

impl UapiSocket {
    pub fn start(ifc: Arc<Interface>, listener: UnixListener) -> io::Result<UapiSocket> {
        let path = path_of(&ifc.name);
        let waker = Arc::new(Waker::new()?);
        let w = waker.clone();
        let handle = std::thread::Builder::new()
            .name(format!("{}-uapi", ifc.name))
            .spawn(move || serve(&ifc, &listener, &w))?;
        Ok(UapiSocket {
            path,
            waker,
            handle: Some(handle),
        })
    }

    /// Stop accepting and remove the socket file.
    pub fn stop(mut self) {
        self.waker.stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}

fn serve(ifc: &Arc<Interface>, listener: &UnixListener, waker: &Waker) {
    let active = Arc::new(AtomicUsize::new(0));
    loop {
        if !waker.until_readable(listener.as_raw_fd()) {
            return;
        }
        while let Ok((stream, _)) = listener.accept() {
            if peer_uid(&stream) != Some(0) {
                continue;
            }
            if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                active.fetch_sub(1, Ordering::SeqCst);
                continue;
            }
            let (ifc, counter) = (ifc.clone(), active.clone());
            let spawned = std::thread::Builder::new()
                .name("uapi-conn".into())
                .spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    connection(&ifc, stream);
                    counter.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                active.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

fn set_errno(e: &SetError) -> i32 {
    match e {
        SetError::Config(ConfigError::Invalid(_))
        | SetError::Config(ConfigError::NoSuchAddress) => EINVAL,
        SetError::Bind(e) | SetError::Link(e) => e.raw_os_error().unwrap_or(EIO),
        SetError::Gone => ENODEV,
    }
}

/// Serve `get=1` / `set=1` requests until the client closes.
fn connection(ifc: &Arc<Interface>, mut stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let Ok(r) = stream.try_clone() else { return };
    let mut r = BufReader::new(r);
    loop {
        let op = match read_line(&mut r, MAX_LINE) {
            Ok(Some(l)) => l,
            _ => return,
        };
        let reply = match op.as_slice() {
            b"get=1" => match read_line(&mut r, MAX_LINE) {
                Ok(Some(l)) if l.is_empty() => {
                    let mut body = codec::render_get(&ifc.status(true, true));
                    body.push_str("errno=0\n\n");
                    body
                }
                Ok(Some(_)) => format!("errno=-{EINVAL}\n\n"),
                _ => return,
            },
            b"set=1" => {
                let (mut request, errno) = read_set(&mut r);
                let errno = match errno {
                    Some(n) => n,
                    None => match codec::parse_set(&request) {
                        Ok(ops) => ifc.set(&ops).err().map_or(0, |e| set_errno(&e)),
                        Err(n) => n,
                    },
                };
                request.zeroize();
                if errno == EIO {
                    // The stream cannot be followed any further.
                    let _ = stream.write_all(format!("errno=-{EIO}\n\n").as_bytes());
                    return;
                }
                if errno == 0 {
                    "errno=0\n\n".to_string()
                } else {
                    format!("errno=-{errno}\n\n")
                }
            }
            _ => return,
        };
        let mut reply = reply;
        let sent = stream.write_all(reply.as_bytes());
        reply.zeroize();
        if sent.is_err() {
            return;
        }
    }
}

/// The lines of a `set` request up to the blank line, held as the raw
/// text received (bounded by `MAX_REQUEST`); `Some(EIO)` if a line or the
/// request is too long or the stream broke.
fn read_set(r: &mut BufReader<UnixStream>) -> (String, Option<i32>) {
    let mut request = String::new();
    loop {
        match read_line(r, MAX_LINE) {
            Ok(Some(l)) if l.is_empty() => return (request, None),
            Ok(Some(mut l)) => {
                if request.len() + l.len() + 1 > MAX_REQUEST {
                    l.zeroize();
                    return (request, Some(EIO));
                }
                match std::str::from_utf8(&l) {
                    Ok(s) => {
                        request.push_str(s);
                        request.push('\n');
                    }
                    Err(_) => {
                        l.zeroize();
                        return (request, Some(EIO));
                    }
                }
                l.zeroize();
            }
            Ok(None) | Err(WireError::LineTooLong) | Err(_) => return (request, Some(EIO)),
        }
    }
}
