//! ifconfig(8) as on BSD: wg interfaces go to ifconfig-wg; any other
//! link is shown in BSD format from the kernel's state and configured
//! here with FreeBSD's meaning of the words (bsd::other), never by a
//! program that reads them differently; `-a` and no arguments list every
//! link, `-l` their names, `-C` the cloners. See bsd-commands(8).

use ifconfig_wg::bsd::dispatch::{is_wg_name, route, Listing, Route};
use ifconfig_wg::bsd::{find, format, links, other, rtnl};
use ifconfig_wg::client::{Client, ClientError};
use ifconfig_wg::{errln, out, outln, print};
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
    errln!("ifconfig: {msg}");
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
            Some(s) => out!("{}", print::status(s)),
            None => out!("{}", format::link(link)),
        }
    }
}

fn exec(program: std::path::PathBuf, args: &[String]) -> ! {
    let e = Command::new(&program).arg0("ifconfig").args(args).exec();
    die(format!(
        "{}: {}",
        program.display(),
        proto::errno::describe(&e)
    ))
}

/// A link that is not wg: its status, or FreeBSD's meaning of the
/// words, checked whole before anything changes.
fn configure(name: &str, words: &[String]) {
    let all = all_links();
    let Some(link) = all.iter().find(|k| k.name == name) else {
        if words.first().is_some_and(|w| w == "create" || w == "plumb") {
            // No cloner by that name here (FreeBSD's answer to one it lacks).
            die("SIOCIFCREATE2: Invalid argument");
        }
        die(format!("interface {name} does not exist"))
    };
    if words.is_empty() {
        out!("{}", format::link(link));
        return;
    }
    let line = other::parse(name, words).unwrap_or_else(|m| die(m));
    if line.status_only {
        out!(
            "{}",
            format::link_family(link, line.family == other::Family::Inet)
        );
        return;
    }
    let names: Vec<String> = all.iter().map(|k| k.name.clone()).collect();
    let mtus = line
        .steps
        .iter()
        .any(|s| matches!(s, other::Step::Mtu(_)))
        .then(|| rtnl::mtu_range(link.index).ok().flatten())
        .flatten();
    let plan = other::plan(&line, link, &names, mtus).unwrap_or_else(|m| die(m));
    for w in &plan.warnings {
        errln!("ifconfig: {w}");
    }
    let (renamed, done) = other::apply(link.index, &plan);
    // FreeBSD prints a new name on the way out, whatever happened after.
    if let Some(n) = renamed {
        outln!("{n}");
    }
    if let Err(m) = done {
        die(m);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        outln!("{USAGE}\n\nSee bsd-commands(8) and ifconfig-wg(8).");
        return;
    }
    let socket = proto::paths::control_socket(None);
    let names = listed(&socket, Request::List);
    let exists = |n: &str| nix::net::if_::if_nametoindex(n).is_ok();
    match route(&args, &|n, w| is_wg_name(n, &names, w, exists(n))) {
        Route::Wg(a) => match find::ours("ifconfig-wg") {
            Some(p) => exec(p, &a),
            None => die("ifconfig-wg: not found (is wgd installed?)"),
        },
        Route::Other { name, words } => configure(&name, &words),
        Route::All(l) => list_all(&socket, &l),
        Route::Names(l) => {
            let all = all_links();
            let shown: Vec<&str> = all
                .iter()
                .filter(|k| l.shows(k.is_up()))
                .map(|k| k.name.as_str())
                .collect();
            outln!("{}", shown.join(" "));
        }
        Route::Cloners => {
            outln!("{}", listed(&socket, Request::Cloners).join(" "));
        }
        Route::Usage => {
            errln!("{USAGE}");
            exit(1)
        }
    }
}
