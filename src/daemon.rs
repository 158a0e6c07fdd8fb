//! The daemon's life: take the control socket (one owner, decided by a
//! lock taken before the socket is touched; a stale socket is replaced),
//! detach, serve, and on SIGTERM/SIGINT destroy every interface and
//! remove the socket, like unloading if_wg.
//!
//! ```text
//!   lock <socket>.lock ──held──> another wgd serves: refuse
//!        │ (flock, for life;     another wgd is starting: wait for it
//!        │  handed over)
//!   replace a stale socket, bind, chdir /, detach, serve
//!   exit: remove the socket if its inode is ours, the pid file if it
//!         names us, the lock file
//! ```

use crate::registry::Registry;
use crate::sys::daemon::detach;
use crate::sys::lock::Lock;
use nix::sys::signal::{SigSet, Signal};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How long a daemon that finds another one starting on its socket waits
/// for it to serve (then it leaves it that socket) or to fail (then it
/// takes the socket itself).
const STARTING_WAIT: Duration = Duration::from_secs(20);

/// The lock we hold for our life, and the inode of the socket we bound.
static LOCK: OnceLock<Lock> = OnceLock::new();
static SOCKET_INODE: OnceLock<(u64, u64)> = OnceLock::new();

pub struct Options {
    pub socket: PathBuf,
    /// `--takeover FD`: take over from the wgd that started us, through
    /// the socket at this descriptor, instead of starting afresh.
    pub takeover: Option<i32>,
    /// Data-plane workers.
    pub workers: usize,
    pub foreground: bool,
    pub pidfile: Option<PathBuf>,
}

#[derive(Debug)]
pub enum StartError {
    AlreadyRunning,
    /// Another process holds the lock and does not serve.
    Stuck(PathBuf),
    Lock(io::Error),
    Listen(io::Error),
    Detach(io::Error),
    Pidfile(io::Error),
    Netlink(io::Error),
    Workers(io::Error),
    /// Taking over from the old process failed (it keeps serving).
    Takeover(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::AlreadyRunning => write!(f, "another wgd is already serving this socket"),
            StartError::Stuck(lock) => write!(
                f,
                "another wgd holds {} but has not served for {} s",
                lock.display(),
                STARTING_WAIT.as_secs()
            ),
            StartError::Lock(e) => write!(f, "cannot lock: {}", proto::errno::describe(e)),
            StartError::Listen(e) => write!(f, "cannot listen: {}", proto::errno::describe(e)),
            StartError::Detach(e) => write!(f, "cannot detach: {}", proto::errno::describe(e)),
            StartError::Pidfile(e) => {
                write!(f, "cannot write pidfile: {}", proto::errno::describe(e))
            }
            StartError::Netlink(e) => {
                write!(f, "cannot watch links: {}", proto::errno::describe(e))
            }
            StartError::Workers(e) => {
                write!(f, "cannot start workers: {}", proto::errno::describe(e))
            }
            StartError::Takeover(why) => write!(f, "cannot take over: {why}"),
        }
    }
}

/// Become the one owner of the control socket and bind it. The lock
/// decides: while another process holds it, a daemon that answers on the
/// socket wins, and one still starting is waited for. With the lock, a
/// socket file left behind is stale and replaced (unless a wgd that takes
/// no lock, an older one, answers on it). Anyone may connect (the daemon
/// checks credentials per request).
fn claim(path: &Path) -> Result<UnixListener, StartError> {
    let lock_path = crate::sys::lock::path_of(path);
    let end = Instant::now() + STARTING_WAIT;
    let lock = loop {
        if let Some(l) = Lock::try_take(&lock_path).map_err(StartError::Lock)? {
            break l;
        }
        if UnixStream::connect(path).is_ok() {
            return Err(StartError::AlreadyRunning);
        }
        if Instant::now() >= end {
            return Err(StartError::Stuck(lock_path));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Ok(meta) = fs::symlink_metadata(path) {
        if UnixStream::connect(path).is_ok() {
            return Err(StartError::AlreadyRunning);
        }
        if meta.file_type().is_socket() {
            let _ = fs::remove_file(path);
        }
    }
    let l = UnixListener::bind(path).map_err(StartError::Listen)?;
    remember_socket(path);
    if let Err(e) = fs::set_permissions(path, fs::Permissions::from_mode(0o666)) {
        remove_socket(path);
        return Err(StartError::Listen(e));
    }
    let _ = LOCK.set(lock);
    Ok(l)
}

/// The inode of the socket file we serve, so that we never remove
/// another daemon's.
fn remember_socket(path: &Path) {
    if let Ok(m) = fs::symlink_metadata(path) {
        let _ = SOCKET_INODE.set((m.dev(), m.ino()));
    }
}

/// Remove the control socket if the file at `path` is the one we bound.
fn remove_socket(path: &Path) {
    let ours = SOCKET_INODE.get();
    if let Ok(m) = fs::symlink_metadata(path) {
        if ours == Some(&(m.dev(), m.ino())) {
            let _ = fs::remove_file(path);
        }
    }
}

/// What a daemon leaves behind at exit: nothing of its own. The pid
/// file goes only if it names us; the lock file goes last, still held.
fn remove_files(socket: &Path, pidfile: Option<&Path>) {
    remove_socket(socket);
    if let Some(p) = pidfile {
        let named = fs::read_to_string(p).ok();
        if named.as_deref().map(str::trim) == Some(&std::process::id().to_string()) {
            let _ = fs::remove_file(p);
        }
    }
    if let Some(l) = LOCK.get() {
        l.remove();
    }
}

/// daemon(3)'s working directory, and a umask of our own: the files we
/// make (pid file, lock file) are 0644 whatever the caller's umask; the
/// sockets get their modes explicitly.
fn settle_process() {
    let _ = std::env::set_current_dir("/");
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
}

pub fn run(opts: Options) -> Result<(), StartError> {
    if let Some(fd) = opts.takeover {
        return take_over(&opts, fd);
    }
    settle_process();
    let listener = claim(&opts.socket)?;
    let detached = if opts.foreground {
        crate::log::to_stderr();
        None
    } else {
        crate::log::to_syslog();
        match detach() {
            Ok(d) => Some(d),
            Err(e) => {
                remove_files(&opts.socket, None);
                return Err(StartError::Detach(e));
            }
        }
    };
    let mut detached = detached;
    match serve(&opts, listener, &mut detached) {
        Ok(()) => Ok(()),
        Err(e) => {
            // A detached daemon's standard error is /dev/null: the
            // launching process prints the error instead.
            if let Some(d) = detached.as_mut() {
                d.fail(&format!("wgd: {}: {e}", opts.socket.display()));
            }
            Err(e)
        }
    }
}

fn serve(
    opts: &Options,
    listener: UnixListener,
    detached: &mut Option<crate::sys::daemon::Detached>,
) -> Result<(), StartError> {
    let sigs = block_signals();
    if let Some(p) = &opts.pidfile {
        if let Err(e) = fs::write(p, format!("{}\n", std::process::id())) {
            remove_files(&opts.socket, None);
            return Err(StartError::Pidfile(e));
        }
    }
    let reg = match start_plane(opts) {
        Ok(r) => r,
        Err(e) => {
            remove_files(&opts.socket, opts.pidfile.as_deref());
            return Err(e);
        }
    };
    if let Err(e) = start_watchers(opts, &reg, sigs) {
        remove_files(&opts.socket, opts.pidfile.as_deref());
        return Err(e);
    }
    prepare_handover(opts, &reg, &listener);
    crate::log::info(format!("listening on {}", opts.socket.display()));
    if let Some(d) = detached.as_mut() {
        d.ready();
    }
    if let Err(e) = crate::sys::notify::ready() {
        crate::log::error(format!(
            "cannot notify the service manager: {}",
            proto::errno::describe(&e)
        ));
    }
    crate::ctl::server::serve(listener, reg);
    Ok(())
}

/// Block the signals the signal thread waits for. Every thread started
/// from here on inherits the blocked set, so only that thread sees them.
fn block_signals() -> SigSet {
    let mut sigs = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR2,
    ] {
        sigs.add(s);
    }
    let _ = sigs.thread_block();
    sigs
}

/// Capabilities dropped, the data plane, the registry, the clock and
/// the resolver.
fn start_plane(opts: &Options) -> Result<Arc<Registry>, StartError> {
    // Before any thread exists: every thread inherits the reduced sets.
    if let Err(e) = crate::sys::caps::drop_to_minimum() {
        crate::log::error(format!(
            "cannot drop capabilities, keeping them: {}",
            proto::errno::describe(&e)
        ));
    }
    crate::plane::Plane::start(opts.workers)
        .and_then(|plane| {
            let reg = Arc::new(Registry::new(plane));
            crate::plane::clock::start(reg.clone())?;
            crate::resolver::start()?;
            Ok(reg)
        })
        .map_err(StartError::Workers)
}

/// The link watcher and the signal thread: SIGTERM/SIGINT destroy every
/// interface and remove the socket and pid file; SIGUSR2 hands over to
/// a new process of the binary at our path.
fn start_watchers(opts: &Options, reg: &Arc<Registry>, sigs: SigSet) -> Result<(), StartError> {
    crate::linkwatch::start(reg.clone()).map_err(StartError::Netlink)?;
    let reg = reg.clone();
    let socket = opts.socket.clone();
    let pidfile = opts.pidfile.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            match sigs.wait() {
                Ok(Signal::SIGHUP) => continue,
                Ok(Signal::SIGUSR2) => {
                    if crate::handover::give_now().is_ok() {
                        std::process::exit(0);
                    }
                }
                Ok(sig) => {
                    // A hand-over under way (wgd -R) finishes first; if
                    // it handed everything over, the links and files are
                    // the new process's now.
                    if crate::handover::give::settled() {
                        std::process::exit(0);
                    }
                    if crate::ctl::unloading() {
                        crate::log::info("unloaded".to_string());
                    } else {
                        crate::log::info(format!("{sig}: destroying all interfaces"));
                    }
                    reg.destroy_all();
                    remove_files(&socket, pidfile.as_deref());
                    std::process::exit(0);
                }
                Err(_) => continue,
            }
        })
        .map_err(StartError::Detach)?;
    Ok(())
}

/// What a later hand-over needs: the path we were started by, as given
/// (what it names when the hand-over runs is what runs next: a new file
/// installed there, or the target a symbolic link points to by then),
/// our arguments, the control socket and the lock.
fn prepare_handover(opts: &Options, reg: &Arc<Registry>, listener: &UnixListener) {
    let (Ok(exe), Ok(control)) = (crate::program::path(), listener.try_clone()) else {
        crate::log::error("cannot hand over later: the binary's path is unknown".to_string());
        return;
    };
    let mut args: Vec<std::ffi::OsString> = vec!["-S".into(), opts.socket.clone().into()];
    if let Some(p) = &opts.pidfile {
        args.extend(["-p".into(), p.clone().into()]);
    }
    args.extend(["-w".into(), opts.workers.to_string().into()]);
    if opts.foreground {
        args.push("-f".into());
    }
    crate::handover::prepare(crate::handover::give::Context {
        exe,
        args,
        pidfile: opts.pidfile.clone(),
        registry: reg.clone(),
        control,
        lock: LOCK.get().and_then(|l| l.file().try_clone().ok()),
    });
}

/// `wgd --takeover FD`: started by a running wgd handing over. Serve
/// every interface it passes, then tell it so (it exits) and go on as
/// the daemon. On failure say why to the old process, which keeps
/// serving, and exit: nothing of its links or files is touched. Once
/// everything is ours, nothing stops us: should the old process be gone
/// before it hears that we serve, we serve on without it.
fn take_over(opts: &Options, fd: i32) -> Result<(), StartError> {
    if opts.foreground {
        crate::log::to_stderr();
    } else {
        crate::log::to_syslog();
    }
    settle_process();
    let taking = crate::handover::take::Taking::start(fd).map_err(StartError::Takeover)?;
    let sigs = block_signals();
    let reg = start_plane(opts)?;
    let (listener, lock) = taking.take(&reg).map_err(StartError::Takeover)?;
    hold_handed_lock(&opts.socket, lock);
    remember_socket(&opts.socket);
    start_watchers(opts, &reg, sigs)?;
    prepare_handover(opts, &reg, &listener);
    // For tests: a window to end this process in mid-hand-over.
    if let Some(ms) = std::env::var("WGD_TEST_TAKEOVER_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
    }
    if let Err(why) = taking.serving() {
        crate::log::error(format!(
            "the old wgd is gone before it heard that we serve ({why}): serving on"
        ));
    }
    // The old process wrote our pid there already before it exited;
    // again, in case it could not (or is gone).
    if let Some(p) = &opts.pidfile {
        if let Err(e) = crate::handover::write_pidfile(p, std::process::id()) {
            crate::log::error(format!(
                "cannot write pidfile: {}",
                proto::errno::describe(&e)
            ));
        }
    }
    crate::log::info(format!(
        "took over {} interfaces on {}",
        reg.all().len(),
        opts.socket.display()
    ));
    let _ = crate::sys::notify::send(&format!("MAINPID={}", std::process::id()));
    let _ = crate::sys::notify::ready();
    crate::ctl::server::serve(listener, reg);
    Ok(())
}

/// The lock the old process handed over with everything else (the same
/// open file: it stays held when that process exits). From a wgd that
/// held none (an older one), take it now: nobody else may.
fn hold_handed_lock(socket: &Path, handed: Option<std::os::fd::OwnedFd>) {
    let path = crate::sys::lock::path_of(socket);
    let lock = match handed {
        Some(fd) => Lock::adopt(fd, &path).map_err(|e| proto::errno::describe(&e)),
        None => match Lock::try_take(&path) {
            Ok(Some(l)) => Ok(l),
            Ok(None) => Err("another process holds it".to_string()),
            Err(e) => Err(proto::errno::describe(&e)),
        },
    };
    match lock {
        Ok(l) => {
            let _ = LOCK.set(l);
        }
        Err(why) => crate::log::error(format!("cannot hold {}: {why}", path.display())),
    }
}
