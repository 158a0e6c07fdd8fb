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
use crate::sys::spare::{transient, Accepted, Backoff, Spare};
use crate::wg::config::ConfigError;
use crate::wg::interface::{Interface, SetError};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use proto::errno::{EINVAL, EIO, ENODEV};
use proto::wipe::{self, Text};
use proto::wire::{read_line, WireError};
use proto::Op;
use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;
use zeroize::Zeroize;

pub use proto::paths::UAPI_DIR;
/// Longest line; a longer one ends the connection with EIO, as in wireguard-go.
const MAX_LINE: usize = 4096;
/// Largest `set` request (a big `wg setconf`).
const MAX_REQUEST: usize = 16 << 20;
const MAX_CONNECTIONS: usize = 16;
const IDLE: Duration = Duration::from_secs(30);

pub fn path_of(ifname: &str) -> PathBuf {
    Path::new(UAPI_DIR).join(format!("{ifname}.sock"))
}

/// Whether another process (a wgd in another namespace, wireguard-go)
/// serves an interface of this name: its UAPI socket answers.
pub fn live(ifname: &str) -> bool {
    UnixStream::connect(path_of(ifname)).is_ok()
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

/// An interface's UAPI socket, served by the one acceptor thread that
/// all interfaces share; each connection gets a short-lived thread.
pub struct UapiSocket {
    path: PathBuf,
    token: u64,
}

/// A listener and the interface it serves.
type Listening = (Weak<Interface>, Arc<UnixListener>);

/// Every UAPI listener in one epoll set, served by one thread.
struct Acceptor {
    epoll: Epoll,
    listeners: Mutex<HashMap<u64, Listening>>,
    next: AtomicU64,
    active: Arc<AtomicUsize>,
}

static ACCEPTOR: OnceLock<io::Result<Acceptor>> = OnceLock::new();

fn acceptor() -> io::Result<&'static Acceptor> {
    let a = ACCEPTOR.get_or_init(|| {
        let a = Acceptor {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            listeners: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            active: Arc::new(AtomicUsize::new(0)),
        };
        std::thread::Builder::new()
            .name("uapi".into())
            .spawn(serve)?;
        Ok(a)
    });
    a.as_ref()
        .map_err(|e| io::Error::new(e.kind(), e.to_string()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl UapiSocket {
    /// Serve `listener`, bound at the path of `ifname`.
    pub fn start(
        ifc: Arc<Interface>,
        listener: UnixListener,
        ifname: &str,
    ) -> io::Result<UapiSocket> {
        let a = acceptor()?;
        let path = path_of(ifname);
        let token = a.next.fetch_add(1, Ordering::Relaxed);
        let listener = Arc::new(listener);
        a.epoll.add(
            listener.as_fd(),
            EpollEvent::new(EpollFlags::EPOLLIN, token),
        )?;
        lock(&a.listeners).insert(token, (Arc::downgrade(&ifc), listener));
        Ok(UapiSocket { path, token })
    }

    /// A second descriptor of the listening socket (for a hand-over).
    pub fn listener(&self) -> io::Result<OwnedFd> {
        let a = acceptor()?;
        let l = lock(&a.listeners);
        let (_, l) = l
            .get(&self.token)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        l.as_fd().try_clone_to_owned()
    }

    /// Stop accepting, leaving the socket file (a new process serves it
    /// from now on).
    pub fn hand_over(self) {
        if let Ok(a) = acceptor() {
            if let Some((_, l)) = lock(&a.listeners).remove(&self.token) {
                let _ = a.epoll.delete(l.as_fd());
            }
        }
    }

    /// Stop accepting and remove the socket file.
    pub fn stop(self) {
        if let Ok(a) = acceptor() {
            if let Some((_, l)) = lock(&a.listeners).remove(&self.token) {
                let _ = a.epoll.delete(l.as_fd());
            }
        }
        let _ = fs::remove_file(&self.path);
    }
}

/// What a wg(8) client is told when no descriptor could be had for it,
/// the way it reads an error: a `get` reply's errno positive, a `set`
/// reply's negated (as wireguard-go sends it).
fn refusal(n: i32, request: &[u8]) -> Vec<u8> {
    if request.starts_with(b"set=1\n") {
        format!("errno=-{n}\n\n").into_bytes()
    } else {
        format!("errno={n}\n\n").into_bytes()
    }
}

fn serve() {
    let Ok(a) = acceptor() else { return };
    let mut events = [EpollEvent::empty(); 16];
    // At the descriptor limit, clients are answered EMFILE rather than
    // left queued while the level-triggered listener wakes us at once,
    // over and over.
    let mut spare = Spare::new();
    let mut backoff = Backoff::new();
    loop {
        let n = match a.epoll.wait(&mut events, EpollTimeout::NONE) {
            Ok(n) => n,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let mut starved = false;
        for ev in &events[..n] {
            let entry = lock(&a.listeners).get(&ev.data()).cloned();
            let Some((ifc, listener)) = entry else {
                continue;
            };
            loop {
                let stream = match spare.accept(&listener, &refusal) {
                    Accepted::Client(s) => s,
                    Accepted::Refused => continue,
                    Accepted::Failed(e) if transient(&e) => continue,
                    Accepted::Empty => break,
                    // Out of descriptors without a spare, or out of
                    // memory (ENOBUFS, ENOMEM).
                    Accepted::Starved | Accepted::Failed(_) => {
                        starved = true;
                        break;
                    }
                };
                let Some(ifc) = ifc.upgrade() else { break };
                if peer_uid(&stream) != Some(0) {
                    continue;
                }
                if a.active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                    a.active.fetch_sub(1, Ordering::SeqCst);
                    continue;
                }
                let counter = a.active.clone();
                let spawned =
                    std::thread::Builder::new()
                        .name("uapi-conn".into())
                        .spawn(move || {
                            let _ = stream.set_nonblocking(false);
                            connection(&ifc, stream);
                            counter.fetch_sub(1, Ordering::SeqCst);
                        });
                if spawned.is_err() {
                    a.active.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        // The listeners stay ready while accept cannot succeed: wait a
        // little before polling them again.
        if starved {
            backoff.wait();
        } else {
            backoff.reset();
        }
    }
}

fn set_errno(e: &SetError) -> i32 {
    match e {
        SetError::Config(ConfigError::Invalid(_))
        | SetError::Config(ConfigError::NoSuchAddress)
        | SetError::Config(ConfigError::NoSuchGroup)
        | SetError::Config(ConfigError::ClonerGroup) => EINVAL,
        SetError::Bind(e) | SetError::Link(e) => e.raw_os_error().unwrap_or(EIO),
        SetError::Gone => ENODEV,
    }
}

/// What a connection reads its requests through: a buffer wiped when the
/// connection ends (a `set` request holds the private key).
pub fn request_reader<S: Read>(stream: S) -> wipe::Reader<S> {
    wipe::Reader::new(stream)
}

/// Serve `get=1` / `set=1` requests until the client closes.
fn connection(ifc: &Arc<Interface>, stream: UnixStream) {
    let _ = stream.set_read_timeout(Some(IDLE));
    // Read and written through shared references: one descriptor a
    // connection, not two.
    let mut r = request_reader(&stream);
    let mut writer = &stream;
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
                Ok(Some(_)) => Text::from(format!("errno=-{EINVAL}\n\n").as_str()),
                _ => return,
            },
            b"set=1" => {
                let errno = match read_set_ops(&mut r) {
                    Ok(ops) => ifc.set(&ops).err().map_or(0, |e| set_errno(&e)),
                    Err(n) => n,
                };
                if errno == EIO {
                    // The stream cannot be followed any further.
                    let _ = writer.write_all(format!("errno=-{EIO}\n\n").as_bytes());
                    return;
                }
                if errno == 0 {
                    Text::from("errno=0\n\n")
                } else {
                    Text::from(format!("errno=-{errno}\n\n").as_str())
                }
            }
            _ => return,
        };
        // Wiped when dropped (a `get` reply holds the private key).
        let sent = writer.write_all(reply.as_bytes());
        drop(reply);
        if sent.is_err() {
            return;
        }
    }
}

/// The rest of a `set=1` request (after that line), up to the blank
/// line, as `Op`s; the errno to answer if it is malformed or the stream
/// broke (`EIO`: the stream cannot be followed any further).
pub fn read_set_ops<R: BufRead>(r: &mut R) -> Result<Vec<Op>, i32> {
    let (mut request, errno) = read_set(r);
    let ops = match errno {
        Some(n) => Err(n),
        None => codec::parse_set(&request),
    };
    request.zeroize();
    ops
}

/// The lines of a `set` request up to the blank line, held as the raw
/// text received (bounded by `MAX_REQUEST`); `Some(EIO)` if a line or the
/// request is too long or the stream broke.
fn read_set<R: BufRead>(r: &mut R) -> (String, Option<i32>) {
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
                        // Grows without leaving a copy of the key behind.
                        wipe::push_str(&mut request, s);
                        wipe::push_str(&mut request, "\n");
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
