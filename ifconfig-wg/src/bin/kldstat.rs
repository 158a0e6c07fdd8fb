//! kldstat(8): if_wg is listed while wgd runs; its id is the daemon's
//! pid, its size the memory it takes (see bsd-commands(8)).

use ifconfig_wg::bsd::kld::{self, Loaded};
use ifconfig_wg::{errln, out, outln};
use proto::errno::{strerror, ENOENT};
use std::process::exit;

/// `%p` is this wide on a 64-bit system, `0x` included.
const PTR_WIDTH: usize = 18;

fn usage() -> ! {
    errln!("usage: kldstat [-dhqv] [-i id] [-n filename]\n       kldstat [-dq] [-m modname]");
    exit(1)
}

fn warn_exit(quiet: bool, msg: String) -> ! {
    if !quiet {
        errln!("kldstat: {msg}: {}", strerror(ENOENT));
    }
    exit(1)
}

/// humanize_number(3) as kldstat -h calls it: powers of 1024, at most
/// four characters, one decimal below ten.
fn humanize(n: u64) -> String {
    if n < 1000 {
        return n.to_string();
    }
    let mut v = n as f64;
    for unit in ["K", "M", "G", "T", "P", "E"] {
        v /= 1024.0;
        if v < 9.95 {
            return format!("{v:.1}{unit}");
        }
        if v < 999.5 {
            return format!("{v:.0}{unit}");
        }
    }
    format!("{v:.0}E")
}

fn print_file(l: &Loaded, verbose: bool, human: bool) {
    let size = kld::size(l);
    let addr = format!("{:#x}", kld::address(l));
    let size = if human {
        format!("{:>5}", humanize(size))
    } else {
        format!("{size:8x}")
    };
    out!(
        "{:2} {:4} {addr:>PTR_WIDTH$} {size} {}",
        l.pid,
        l.refs(),
        kld::FILE
    );
    if verbose {
        outln!(" ({})", l.program);
        outln!("\tContains modules:");
        outln!("\t\t Id Name");
        outln!("\t\t{:3} {}", l.pid, kld::MODULE);
    } else {
        outln!();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mut data, mut human, mut quiet, mut verbose) = (false, false, false, false);
    let (mut id, mut module, mut file): (Option<u64>, Option<String>, Option<String>) =
        (None, None, None);
    let mut i = 0;
    while let Some(a) = args.get(i).and_then(|a| a.strip_prefix('-')) {
        i += 1;
        if a == "-" {
            break;
        }
        if a.is_empty() {
            usage();
        }
        for (at, c) in a.char_indices() {
            match c {
                'd' => data = true,
                'h' => human = true,
                'q' => quiet = true,
                'v' => verbose = true,
                'i' | 'm' | 'n' => {
                    // The value is the rest of this word, or the next one.
                    let rest = &a[at + 1..];
                    let v = if rest.is_empty() {
                        i += 1;
                        args.get(i - 1).cloned().unwrap_or_else(|| usage())
                    } else {
                        rest.to_string()
                    };
                    match c {
                        'i' => id = Some(v.parse().unwrap_or_else(|_| usage())),
                        'm' => module = Some(v),
                        _ => file = Some(v),
                    }
                    break;
                }
                _ => usage(),
            }
        }
    }
    if i != args.len() {
        usage();
    }
    let loaded = kld::loaded(&proto::paths::control_socket(None));
    if let Some(m) = module {
        let Some(l) = loaded.filter(|_| m == kld::MODULE) else {
            warn_exit(quiet, format!("can't find module {m}"));
        };
        if quiet {
            return;
        }
        if data {
            outln!("Id  Refs Name data..(int, uint, ulong)");
            outln!("{:3} {:4} {} (0, 0, 0x0)", l.pid, l.refs(), kld::MODULE);
        } else {
            outln!("Id  Refs Name");
            outln!("{:3} {:4} {}", l.pid, l.refs(), kld::MODULE);
        }
        return;
    }
    if let Some(f) = &file {
        if loaded.is_none() || !kld::names_if_wg(f) {
            warn_exit(quiet, format!("can't find file {f}"));
        }
        if quiet {
            return;
        }
    }
    let pad = PTR_WIDTH - 7;
    let width = if human { 5 } else { 8 };
    outln!("Id Refs Address{:pad$} {:>width$} Name", "", "Size");
    match (id, loaded) {
        (Some(n), Some(l)) if n == u64::from(l.pid) => print_file(&l, verbose, human),
        (Some(n), _) => {
            errln!("kldstat: can't stat file id {n}: {}", strerror(ENOENT));
            exit(1)
        }
        (None, Some(l)) => print_file(&l, verbose, human),
        (None, None) => {}
    }
}
