//! ifconfig(8) as on BSD: wg interfaces go to ifconfig-wg, any other one
//! to the system's ifconfig (else it is printed in BSD format from the
//! kernel's state); `-a` and no arguments list every link, `-l` their
//! names, `-C` the cloners. See bsd-commands(8).

use ifconfig_wg::bsd::dispatch::{is_wg_name, route, Listing, Route};
use ifconfig_wg::bsd::{find, format, links};
use ifconfig_wg::client::{Client, ClientError};
use ifconfig_wg::print;
use proto::errno::strerror;
use proto::{InterfaceStatus, Request};
use std::os::unix::process::CommandExt;
use std::process::{exit, Command};

const USAGE: &str = "\
usage: ifconfig [-kLmnv] interface [create | destroy] [parameters]
       ifconfig -a [-dkLmnuv]
       ifconfig -l [-du]
       ifconfig -C
       ifconfig [-a] [-k] -g group";

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("ifconfig: {msg}");
    exit(1)
}

fn wgd(socket: &str) -> Option<Client> {
    Client::connect(socket).ok()
}

/// The values of wgd's reply to a listing (`List`: the names it serves,
/// `Cloners`); none when it is not loaded.
fn listed(socket: &str, req: Request) -> Vec<String> {
    wgd(socket)
        .and_then(|mut c| c.call(&req).ok())
        .map(|r| r.into_iter().map(|(_, v)| v).collect())
        .unwrap_or_default()
}

fn all_links() -> Vec<links::Link> {
    links::all().unwrap_or_else(|e| die(format!("getifaddrs: {}", proto::errno::describe(&e))))
}

/// wgd's status of its interfaces, for the listings.
fn wg_status(socket: &str, keys: bool) -> Vec<InterfaceStatus> {
    let Some(mut c) = wgd(socket) else {
        return Vec::new();
    };
    match c.call(&Request::Status { name: None, keys }) {
        Ok(r) => InterfaceStatus::decode_all(&r).unwrap_or_default(),
        Err(ClientError::Errno(n)) if keys => die(format!("SIOCGWG: {}", strerror(n))),
        Err(_) => Vec::new(),
    }
}

fn list_all(socket: &str, l: &Listing) {
    let wg = wg_status(socket, l.keys);
    for link in all_links().iter().filter(|k| l.shows(k.is_up())) {
        match wg.iter().find(|s| s.name == link.name) {
            Some(s) => print!("{}", print::status(s)),
            None => print!("{}", format::link(link)),
        }
    }
}

fn exec(program: std::path::PathBuf, args: &[String], passed_on: bool) -> ! {
    let mut cmd = Command::new(&program);
    cmd.arg0("ifconfig").args(args);
    if passed_on {
        cmd.env(find::PASSED_ON, "1");
    }
    let e = cmd.exec();
    die(format!(
        "{}: {}",
        program.display(),
        proto::errno::describe(&e)
    ))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}\n\nSee bsd-commands(8) and ifconfig-wg(8).");
        return;
    }
    let socket = proto::paths::control_socket(None);
    let names = listed(&socket, Request::List);
    match route(&args, &|n| is_wg_name(n, &names)) {
        Route::Wg(a) => match find::ours("ifconfig-wg") {
            Some(p) => exec(p, &a, false),
            None => die("ifconfig-wg: not found (is wgd installed?)"),
        },
        Route::Other { name, show } => {
            if let Some(p) = find::system_ifconfig() {
                exec(p, &args, true);
            }
            if !show {
                die(format!(
                    "{name}: not a wg interface, and there is no system ifconfig to configure it (install net-tools, or use ip(8))"
                ));
            }
            match all_links().into_iter().find(|k| k.name == name) {
                Some(link) => print!("{}", format::link(&link)),
                None => die(format!("interface {name} does not exist")),
            }
        }
        Route::All(l) => list_all(&socket, &l),
        Route::Names(l) => {
            let all = all_links();
            let shown: Vec<&str> = all
                .iter()
                .filter(|k| l.shows(k.is_up()))
                .map(|k| k.name.as_str())
                .collect();
            println!("{}", shown.join(" "));
        }
        Route::Cloners => {
            println!("{}", listed(&socket, Request::Cloners).join(" "));
        }
        Route::Usage => {
            eprintln!("{USAGE}");
            exit(1)
        }
    }
}
