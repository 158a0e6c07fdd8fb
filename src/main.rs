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
    /// per CPU but one, at least one]; from 3, idle workers also help with
    /// large batches of one tunnel's crypto.
    #[arg(short = 'w', value_name = "workers", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,
    /// Hand the running daemon (the one serving -S) over to a new wgd
    /// started from the binary at its path, every interface up; return
    /// once the new one serves.
    #[arg(short = 'R')]
    handover: bool,
    /// (Internal) take over from the wgd that started us, through the
    /// socket at this descriptor.
    #[arg(long = "takeover", value_name = "fd", hide = true)]
    takeover: Option<i32>,
    /// Launcher mode for wg-quick(8): make sure a daemon runs, create this
    /// interface and its UAPI socket, and return.
    #[arg(value_name = "interface")]
    interface: Option<String>,
}

fn main() {
    wgd::sys::rlimit::raise_nofile();
    wgd::program::remember();
    let args = Args::parse();
    // Absolute: the daemon works from / (daemon(3)), and a hand-over
    // passes them on.
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let socket = absolute(PathBuf::from(proto::paths::control_socket(
        args.socket.as_deref(),
    )));
    if args.handover {
        match handover_client(&socket) {
            Ok(pid) => {
                println!("wgd: handed over to pid {pid}");
                return;
            }
            Err(e) => {
                eprintln!("wgd: {}: hand-over failed: {e}", socket.display());
                std::process::exit(1);
            }
        }
    }
    if let Some(name) = &args.interface {
        if let Err(e) = launcher::run(&socket, name) {
            eprintln!("wgd: {e}");
            std::process::exit(1);
        }
        return;
    }
    let opts = daemon::Options {
        socket: socket.clone(),
        takeover: args.takeover,
        workers: args
            .workers
            .map_or_else(plane::Plane::default_workers, usize::from),
        foreground: args.foreground,
        pidfile: args.pidfile.map(absolute),
    };
    if let Err(e) = daemon::run(opts) {
        eprintln!("wgd: {}: {e}", socket.display());
        std::process::exit(1);
    }
}

/// `wgd -R`: ask the daemon on `socket` to hand over, and wait for the
/// answer (the new process's pid, or why not).
fn handover_client(socket: &std::path::Path) -> Result<u32, String> {
    use proto::wire::{read_message, write_message, MAX_RESPONSE};
    let describe = |e: std::io::Error| proto::errno::describe(&e);
    let mut s = std::os::unix::net::UnixStream::connect(socket).map_err(describe)?;
    write_message(&mut s, &proto::Request::HandOver.encode()).map_err(describe)?;
    let mut r = std::io::BufReader::new(s);
    let reply = read_message(&mut r, MAX_RESPONSE, MAX_RESPONSE)
        .ok()
        .flatten()
        .ok_or("no reply from wgd")?;
    let get = |k: &str| reply.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match get("errno").as_deref() {
        Some("0") => get("pid")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| "malformed reply from wgd".to_string()),
        Some(n) => Err(get("error").unwrap_or_else(|| {
            proto::errno::strerror(n.parse().unwrap_or(proto::errno::EIO)).to_string()
        })),
        None => Err("malformed reply from wgd".into()),
    }
}
