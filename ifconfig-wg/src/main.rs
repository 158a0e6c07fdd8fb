//! ifconfig-wg: ifconfig(8) for the wg interfaces that wgd owns.
//! Thin: options, then words → one request → the daemon → print.

use ifconfig_wg::{client, errln, out, outln, print, words};

use client::{Client, ClientError};
use proto::errno::{strerror, EADDRINUSE, EEXIST, EINVAL, ENOENT, ENXIO, EPERM};
use proto::{InterfaceStatus, Op, Request};
use std::process::exit;

const USAGE: &str = "\
usage: ifconfig-wg [-S socket] [--libxo fmt] [-k] interface [create [name ifname] | destroy] [parameters]
       ifconfig-wg [-S socket] [--libxo fmt] -a [-k] [-g group]
       ifconfig-wg [-S socket] -g group
       ifconfig-wg [-S socket] -l
       ifconfig-wg [-S socket] -C";

const HELP: &str = "
Configure the wg(4) interfaces owned by wgd(8), as ifconfig(8) would.

options:
  -S socket   control socket (default: $WGD_SOCKET, else /var/run/wgd.sock)
  --libxo fmt status as json or json,pretty (or text, the default)
  -k          show secrets (root only): wgkey, and wgpsk values
  -a          status of every wg interface
  -g group    names of the interfaces in a group (with -a: their status)
  -l          names of all wg interfaces
  -C          list the interface cloners
  -h, --help  this help

parameters:
  create [name ifname] | destroy | name newname | vnet netns | -vnet netns
  up | down | debug | -debug | link0 | -link0 | link1 | -link1 | link2 | -link2
  mtu n | description text | -description | group name | -group name
  inet addr[/plen] [dest] [netmask mask] [alias | -alias | delete]
  inet6 addr[/plen] [prefixlen n] [alias | -alias | delete]
  wgkey key|- | wgport port | wgcookie n | -wgcookie
  wgpeer pubkey | -wgpeer pubkey | -wgpeerall
    wgendpoint host port | wgaip addr[/plen] ... | wgpsk key|- | -wgpsk
    wgpka seconds | -wgpka | wgdescr text | -wgdescr

See ifconfig-wg(8) and wg(4).";

/// The name messages begin with: `ifconfig` when run as the BSD
/// command (the `ifconfig` of `make install-bsd` runs us by that name),
/// else `ifconfig-wg`.
fn prog() -> &'static str {
    let arg0 = std::env::args_os().next().unwrap_or_default();
    match std::path::Path::new(&arg0).file_name() {
        Some(n) if n == "ifconfig" => "ifconfig",
        _ => "ifconfig-wg",
    }
}

fn die(msg: impl std::fmt::Display) -> ! {
    errln!("{}: {msg}", prog());
    exit(1)
}

fn usage() -> ! {
    errln!("{}", USAGE.replace("ifconfig-wg", prog()));
    exit(1)
}

struct Opts {
    socket: Option<String>,
    keys: bool,
    all: bool,
    list: bool,
    cloners: bool,
    group: Option<String>,
    /// `--libxo json[,pretty]`: Some(pretty).
    json: Option<bool>,
}

fn connect(path: &str) -> Client {
    match Client::connect(path) {
        Ok(c) => c,
        Err(ClientError::Connect(e)) => die(format!(
            "cannot reach wgd at {path}: {} (is if_wg loaded?)",
            proto::errno::describe(&e)
        )),
        Err(_) => die(format!("cannot reach wgd at {path}")),
    }
}

/// Report a daemon refusal the way ifconfig reports a failed ioctl.
/// wg and a unit number: a name the cloner makes by itself.
fn is_unit_name(name: &str) -> bool {
    name.strip_prefix("wg")
        .is_some_and(|u| !u.is_empty() && u.bytes().all(|b| b.is_ascii_digit()))
}

fn refused(name: &str, e: ClientError) -> ! {
    match e {
        ClientError::Errno(ENXIO) => die(format!("interface {name} does not exist")),
        ClientError::Errno(n) => die(format!("{name}: SIOCSWG: {}", strerror(n))),
        ClientError::Protocol(m) => die(format!("{name}: {m}")),
        ClientError::Said(m) => die(m),
        ClientError::Connect(e) => die(proto::errno::describe(&e)),
    }
}

fn get_status(c: &mut Client, name: Option<&str>, keys: bool) -> Vec<InterfaceStatus> {
    let req = Request::Status {
        name: name.map(String::from),
        keys,
    };
    let reply = c
        .call(&req)
        .unwrap_or_else(|e| refused(name.unwrap_or("wg"), e));
    InterfaceStatus::decode_all(&reply).unwrap_or_else(|e| die(e))
}

fn print_all(all: &[InterfaceStatus], json: Option<bool>) {
    match json {
        Some(pretty) => out!("{}", ifconfig_wg::json::status(all, pretty)),
        None => {
            for s in all {
                out!("{}", print::status(s));
            }
        }
    }
}

fn print_status(c: &mut Client, name: Option<&str>, o: &Opts) {
    print_all(&get_status(c, name, o.keys), o.json);
}

/// FreeBSD's `--libxo` formats that make sense here.
fn libxo(fmt: &str) -> Option<bool> {
    match fmt {
        "json" => Some(false),
        "json,pretty" | "pretty,json" => Some(true),
        "text" => None,
        _ => die(format!(
            "--libxo: unsupported format {fmt} (json, json,pretty or text)"
        )),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut o = Opts {
        socket: None,
        keys: false,
        all: false,
        list: false,
        cloners: false,
        group: None,
        json: None,
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-h" || a == "--help" {
            outln!("{}\n{HELP}", USAGE.replace("ifconfig-wg", prog()));
            return;
        }
        if let Some(fmt) = a.strip_prefix("--libxo=") {
            o.json = libxo(fmt);
            i += 1;
            continue;
        }
        if a == "--libxo" {
            let fmt = args.get(i + 1).cloned().unwrap_or_else(|| usage());
            o.json = libxo(&fmt);
            i += 2;
            continue;
        }
        if a == "-g" {
            o.group = Some(args.get(i + 1).cloned().unwrap_or_else(|| usage()));
            i += 2;
            continue;
        }
        if a == "-S" {
            o.socket = Some(args.get(i + 1).cloned().unwrap_or_else(|| usage()));
            i += 2;
            continue;
        }
        let Some(letters) = a.strip_prefix('-') else {
            break;
        };
        if letters.is_empty() || !letters.chars().all(|c| "aklC".contains(c)) {
            usage();
        }
        for c in letters.chars() {
            match c {
                'a' => o.all = true,
                'k' => o.keys = true,
                'l' => o.list = true,
                _ => o.cloners = true,
            }
        }
        i += 1;
    }
    let rest = &args[i..];
    let path = proto::paths::control_socket(o.socket.as_deref());
    // No interface and no option: as BSD ifconfig, the status of all.
    if rest.is_empty() && !(o.cloners || o.list || o.all || o.group.is_some()) {
        o.all = true;
    }
    if let Some(g) = &o.group {
        if !rest.is_empty() || o.cloners || o.list {
            usage();
        }
        let mut c = connect(&path);
        let members: Vec<InterfaceStatus> = get_status(&mut c, None, o.keys)
            .into_iter()
            .filter(|s| s.groups.iter().any(|x| x == g))
            .collect();
        if o.all {
            print_all(&members, o.json);
        } else {
            for s in members {
                outln!("{}", s.name);
            }
        }
        return;
    }

    if o.cloners || o.list || o.all {
        if !rest.is_empty() || (o.cloners as u8 + o.list as u8 + o.all as u8) > 1 {
            usage();
        }
        let mut c = connect(&path);
        if o.all {
            print_status(&mut c, None, &o);
            return;
        }
        let req = if o.list {
            Request::List
        } else {
            Request::Cloners
        };
        let reply = c.call(&req).unwrap_or_else(|e| refused("wg", e));
        let names: Vec<&str> = reply.iter().map(|(_, v)| v.as_str()).collect();
        outln!("{}", names.join(" "));
        return;
    }

    let Some(name) = rest.first() else { usage() };
    let cmd = words::parse(&rest[1..], &mut words::Stdin).unwrap_or_else(|e| die(e));
    let mut c = connect(&path);
    let mut name = name.clone();
    if cmd.create {
        let req = Request::Create {
            name: name.clone(),
            rename: cmd.rename.clone(),
            here: false,
        };
        match c.call(&req) {
            Ok(reply) => {
                if let Some((_, n)) = reply.iter().find(|(k, _)| k == "ifname") {
                    if *n != name {
                        outln!("{n}");
                    }
                    name = n.clone();
                }
            }
            Err(ClientError::Errno(EEXIST)) => die(format!(
                "interface {} already exists",
                cmd.rename.as_deref().unwrap_or(&name)
            )),
            // Interface names are host-wide: another daemon (another
            // namespace) or WireGuard serves this one.
            Err(ClientError::Errno(EADDRINUSE)) => {
                let n = cmd.rename.as_deref().unwrap_or(&name);
                die(format!(
                    "interface {n} exists elsewhere: {} is served by another daemon",
                    proto::paths::uapi_socket(n)
                ))
            }
            // Only wgN can be cloned by name; say how to get another name.
            Err(ClientError::Errno(EINVAL)) if cmd.rename.is_none() && !is_unit_name(&name) => {
                die(format!(
                    "{name}: SIOCIFCREATE2: Invalid argument (only wgN names; for another name: {} wg create name {name})",
                    prog()
                ))
            }
            Err(e) => refused(&name, e),
        }
    }
    if let (false, Some(new)) = (cmd.create, &cmd.rename) {
        let req = Request::Rename {
            name: name.clone(),
            new: new.clone(),
        };
        match c.call(&req) {
            // FreeBSD prints the new name.
            Ok(_) => {
                outln!("{new}");
                name = new.clone();
            }
            Err(ClientError::Errno(EADDRINUSE)) => die(format!(
                "interface {new} exists elsewhere: {} is served by another daemon",
                proto::paths::uapi_socket(new)
            )),
            Err(ClientError::Errno(n)) if n != ENXIO && n != EPERM => {
                die(format!("ioctl SIOCSIFNAME (set name): {}", strerror(n)))
            }
            Err(e) => refused(&name, e),
        }
    }
    if let Some((netns, _)) = &cmd.vnet {
        // Said here, in words, rather than as a bare errno.
        if !std::path::Path::new("/var/run/netns").join(netns).exists() {
            die(format!(
                "vnet: no network namespace {netns} (see ip netns list)"
            ));
        }
    }
    if cmd.destroy {
        if let Err(e) = c.call(&Request::Destroy { name: name.clone() }) {
            refused(&name, e);
        }
        return;
    }
    if !cmd.ops.is_empty() {
        let leaves_group = cmd.ops.iter().any(|o| matches!(o, Op::DeleteGroup(_)));
        if let Err(e) = c.call(&Request::Set {
            name: name.clone(),
            ops: cmd.ops,
        }) {
            // BSD names the group ioctl when leaving a group fails.
            if let (ClientError::Errno(n @ (ENOENT | EPERM)), true) = (&e, leaves_group) {
                die(format!("SIOCDIFGROUP: {}", strerror(*n)));
            }
            refused(&name, e);
        }
    } else if !cmd.create && cmd.rename.is_none() && cmd.vnet.is_none() {
        print_status(&mut c, Some(&name), &o);
    }
    // Last, as the interface leaves (or comes back) as configured.
    if let Some((netns, back)) = cmd.vnet {
        let req = Request::Vnet {
            name: name.clone(),
            netns,
            back,
        };
        if let Err(e) = c.call(&req) {
            match e {
                ClientError::Errno(n) if n != ENXIO && n != EPERM => {
                    let ioctl = if back { "SIOCSIFRVNET" } else { "SIOCSIFVNET" };
                    die(format!("{ioctl}: {}", strerror(n)))
                }
                e => refused(&name, e),
            }
        }
    }
}
