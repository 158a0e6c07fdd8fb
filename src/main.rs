//! wgd: the wg(4) driver as a userspace daemon. Thin: flags, then
//! `daemon::run`.

use wgd::{daemon, launcher, plane};

use clap::Parser;
use std::path::PathBuf;

/// The wg(4) WireGuard driver as a userspace daemon. It owns every wgN
/// interface; configure them with ifconfig-wg(8).
#[derive(Parser)]
#[command(name = "wgd", version, about, long_about = None)]
struct Args {
    /// Stay in the foreground and log to stderr.
    #[arg(short = 'f')]
    foreground: bool,
    /// Write the daemon's process id to this file.
    #[arg(short = 'p', value_name = "pidfile")]
    pidfile: Option<PathBuf>,
    /// Control socket [default: $WGD_SOCKET, else /var/run/wgd.sock].
    #[arg(short = 'S', value_name = "socket")]
    socket: Option<String>,
    /// Data-plane worker threads shared by all interfaces [default: one
    /// per CPU]; from 3, idle workers also help with large batches of one
    /// tunnel's crypto.
    #[arg(short = 'w', value_name = "workers", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    /// Launcher mode for wg-quick(8): make sure a daemon runs, create this
    /// interface and its UAPI socket, and return.
    #[arg(value_name = "interface")]
    interface: Option<String>,
}

fn main() {
    let args = Args::parse();
    let socket = PathBuf::from(proto::paths::control_socket(args.socket.as_deref()));
    if let Some(name) = &args.interface {
        if let Err(e) = launcher::run(&socket, name) {
            eprintln!("wgd: {e}");
            std::process::exit(1);
        }
        return;
    }
    let opts = daemon::Options {
        socket: socket.clone(),
        workers: args
            .workers
            .map_or_else(plane::Plane::default_workers, usize::from),
        foreground: args.foreground,
        pidfile: args.pidfile,
    };
    if let Err(e) = daemon::run(opts) {
        eprintln!("wgd: {}: {e}", socket.display());
        std::process::exit(1);
    }
}
