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
    // Every thread started from here on inherits the blocked set, so only
    // the signal thread below sees these.
    let mut sigs = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        sigs.add(s);
    }
    let _ = sigs.thread_block();
    if let Some(p) = &opts.pidfile {
        if let Err(e) = fs::write(p, format!("{}\n", std::process::id())) {
            let _ = fs::remove_file(&opts.socket);
            return Err(StartError::Pidfile(e));
        }
    }
    // Before any thread exists: every thread inherits the reduced sets.
    if let Err(e) = crate::sys::caps::drop_to_minimum() {
        crate::log::error(format!(
            "cannot drop capabilities, keeping them: {}",
            proto::errno::describe(&e)
        ));
    }
    let started = crate::plane::Plane::start(opts.workers).and_then(|plane| {
        let reg = Arc::new(Registry::new(plane));
        crate::plane::clock::start(reg.clone())?;
        Ok(reg)
    });
    let reg = match started {
        Ok(r) => r,
        Err(e) => {
            let _ = fs::remove_file(&opts.socket);
            if let Some(p) = &opts.pidfile {
                let _ = fs::remove_file(p);
            }
            return Err(StartError::Workers(e));
        }
    };
    if let Err(e) = crate::linkwatch::start(reg.clone()) {
        let _ = fs::remove_file(&opts.socket);
        if let Some(p) = &opts.pidfile {
            let _ = fs::remove_file(p);
        }
        return Err(StartError::Netlink(e));
    }
    {
        let reg = reg.clone();
        let socket = opts.socket.clone();
        let pidfile = opts.pidfile.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || loop {
                match sigs.wait() {
                    Ok(Signal::SIGHUP) => continue,
                    Ok(sig) => {
                        crate::log::info(format!("{sig}: destroying all interfaces"));
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
    }
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
