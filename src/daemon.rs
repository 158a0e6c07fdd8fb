//! The daemon's life: take the control socket (refusing a live one,
//! replacing a stale one), detach, serve, and on SIGTERM/SIGINT destroy
//! every interface and remove the socket, like unloading if_wg.

use crate::registry::Registry;
use crate::sys::daemon::detach;
use nix::sys::signal::{SigSet, Signal};
use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Bind the control socket. A live daemon behind an existing socket wins;
/// a stale socket file is replaced. Anyone may connect (the daemon checks
/// credentials per request).
fn listen(path: &Path) -> Result<UnixListener, StartError> {
    if let Ok(meta) = fs::symlink_metadata(path) {
        if UnixStream::connect(path).is_ok() {
            return Err(StartError::AlreadyRunning);
        }
        if meta.file_type().is_socket() {
            let _ = fs::remove_file(path);
        }
    }
    let l = UnixListener::bind(path).map_err(StartError::Listen)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o666)).map_err(StartError::Listen)?;
    Ok(l)
}

pub fn run(opts: Options) -> Result<(), StartError> {
    if let Some(fd) = opts.takeover {
        return take_over(&opts, fd);
    }
    let listener = listen(&opts.socket)?;
    let detached = if opts.foreground {
        crate::log::to_stderr();
        None
    } else {
        crate::log::to_syslog();
        match detach() {
            Ok(d) => Some(d),
            Err(e) => {
                let _ = fs::remove_file(&opts.socket);
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
            let _ = fs::remove_file(&opts.socket);
            return Err(StartError::Pidfile(e));
        }
    }
    let reg = match start_plane(opts) {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_file(&opts.socket);
            if let Some(p) = &opts.pidfile {
                let _ = fs::remove_file(p);
            }
            return Err(e);
        }
    };
    if let Err(e) = start_watchers(opts, &reg, sigs) {
        let _ = fs::remove_file(&opts.socket);
        if let Some(p) = &opts.pidfile {
            let _ = fs::remove_file(p);
        }
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

/// Capabilities dropped, the data plane, the registry and the clock.
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
                    if crate::ctl::unloading() {
                        crate::log::info("unloaded".to_string());
                    } else {
                        crate::log::info(format!("{sig}: destroying all interfaces"));
                    }
                    reg.destroy_all();
                    let _ = fs::remove_file(&socket);
                    if let Some(p) = &pidfile {
                        let _ = fs::remove_file(p);
                    }
                    std::process::exit(0);
                }
                Err(_) => continue,
            }
        })
        .map_err(StartError::Detach)?;
    Ok(())
}

/// What a later hand-over needs: the binary's path as started (a new
/// file installed there is what the hand-over runs) and our arguments.
fn prepare_handover(opts: &Options, reg: &Arc<Registry>, listener: &UnixListener) {
    let (Ok(exe), Ok(control)) = (std::env::current_exe(), listener.try_clone()) else {
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
    });
}

/// `wgd --takeover FD`: started by a running wgd handing over. Serve
/// every interface it passes, then tell it so (it exits) and go on as
/// the daemon. On failure say why to the old process, which keeps
/// serving, and exit: nothing of its links or files is touched.
fn take_over(opts: &Options, fd: i32) -> Result<(), StartError> {
    if opts.foreground {
        crate::log::to_stderr();
    } else {
        crate::log::to_syslog();
    }
    let taking = crate::handover::take::Taking::start(fd).map_err(StartError::Takeover)?;
    let sigs = block_signals();
    let reg = start_plane(opts)?;
    let listener = taking.take(&reg).map_err(StartError::Takeover)?;
    start_watchers(opts, &reg, sigs)?;
    prepare_handover(opts, &reg, &listener);
    // For tests: a window to end this process in mid-hand-over.
    if let Some(ms) = std::env::var("WGD_TEST_TAKEOVER_PAUSE_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(std::time::Duration::from_millis(ms.min(60_000)));
    }
    taking.serving().map_err(StartError::Takeover)?;
    // The old process wrote our pid there already before it exited;
    // again, in case it could not.
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
