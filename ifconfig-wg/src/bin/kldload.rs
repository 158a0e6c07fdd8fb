//! kldload(8) for if_wg: start wgd (see bsd-commands(8)).

use ifconfig_wg::bsd::{getopt, kld};
use ifconfig_wg::{errln, outln};
use proto::errno::{strerror, EEXIST, ENOENT};
use std::process::exit;

fn usage() -> ! {
    errln!("usage: kldload [-nqv] file ...");
    exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut verbose, mut check_loaded) = (false, false);
    let (letters, i) = getopt::letters(&args).unwrap_or_else(|| usage());
    for c in letters {
        match c {
            'n' => check_loaded = true,
            'v' => verbose = true,
            'q' => verbose = false,
            _ => usage(),
        }
    }
    let files = &args[i..];
    if files.is_empty() {
        usage();
    }
    let socket = proto::paths::control_socket(None);
    let mut errors = 0;
    for f in files {
        let loaded = if kld::names_if_wg(f) {
            kld::load(&socket)
        } else {
            Err(ENOENT)
        };
        match loaded {
            Ok(l) if verbose => outln!("Loaded {f}, id={}", l.pid),
            Ok(_) => {}
            Err(EEXIST) if check_loaded => {
                if verbose {
                    outln!("{f} is already loaded");
                }
            }
            Err(EEXIST) => {
                errln!("kldload: can't load {f}: module already loaded or in kernel");
                errors += 1;
            }
            Err(n) => {
                errln!("kldload: can't load {f}: {}", strerror(n));
                errors += 1;
            }
        }
    }
    exit(i32::from(errors > 0))
}
