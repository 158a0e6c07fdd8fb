//! kldunload(8) for if_wg: stop wgd, refused while it has interfaces
//! unless -f (see bsd-commands(8)).

use ifconfig_wg::bsd::{getopt, kld};
use ifconfig_wg::{errln, outln};
use proto::errno::{strerror, ENOENT};
use std::process::exit;

/// sysexits(3) EX_USAGE, as kldunload exits on a usage error.
const EX_USAGE: i32 = 64;

fn usage() -> ! {
    errln!("usage: kldunload [-fv] -i id ...\n       kldunload [-fv] [-n] name ...");
    exit(EX_USAGE)
}

fn fail(msg: String) -> ! {
    errln!("kldunload: {msg}");
    exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut force, mut by_id, mut verbose) = (false, false, false);
    let (letters, i) = getopt::letters(&args).unwrap_or_else(|| usage());
    for c in letters {
        match c {
            'f' => force = true,
            'i' => by_id = true,
            // Accepted and ignored, as FreeBSD does.
            'n' => {}
            'v' => verbose = true,
            _ => usage(),
        }
    }
    let targets = &args[i..];
    if targets.is_empty() {
        usage();
    }
    let socket = proto::paths::control_socket(None);
    for t in targets {
        let l = kld::loaded(&socket);
        let pid = if by_id {
            let id: i64 = t.parse().unwrap_or(0);
            if id < 0 {
                fail(format!("Invalid ID {t}"));
            }
            match l {
                Some(l) if i64::from(l.pid) == id => l.pid,
                _ => fail(format!("can't unload file: {}", strerror(ENOENT))),
            }
        } else {
            match l {
                Some(l) if kld::names_if_wg(t) => l.pid,
                _ => fail(format!("can't find file {t}")),
            }
        };
        if verbose {
            outln!("Unloading {}, id={pid}", kld::FILE);
        }
        if let Err(n) = kld::unload(&socket, force) {
            fail(format!("can't unload file: {}", strerror(n)));
        }
    }
}
