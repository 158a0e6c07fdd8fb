//! ifconfig-wg: ifconfig(8) for the wg interfaces that wgd owns.
//! Thin: options, then words → one request → the daemon → print.

use ifconfig_wg::{client, print, words};

use client::{Client, ClientError};
use proto::errno::{strerror, EEXIST, EINVAL, ENXIO};
use proto::{InterfaceStatus, Request};
use std::process::exit;

const USAGE: &str = "\
usage: ifconfig-wg [-S socket] [-k] interface [create [name ifname] | destroy] [parameters]
       ifconfig-wg [-S socket] -a [-k]
       ifconfig-wg [-S socket] -l
       ifconfig-wg [-S socket] -C";

const HELP: &str = "
Configure the wg(4) interfaces owned by wgd(8), as ifconfig(8) would.

options:
  -S socket   control socket (default: $WGD_SOCKET, else /var/run/wgd.sock)
  -k          show secrets (root only): wgkey, and wgpsk values
  -a          status of every wg interface
  -l          names of all wg interfaces
  -C          list the interface cloners
  -h, --help  this help

parameters:
  create [name ifname] | destroy
  up | down | debug | -debug | link0 | -link0 | link1 | -link1 | link2 | -link2
  mtu n | description text | -description
  inet addr[/plen] [dest] [netmask mask] [alias | -alias | delete]
  inet6 addr[/plen] [prefixlen n] [alias | -alias | delete]
  wgkey key|- | wgport port | wgcookie n | -wgcookie
  wgpeer pubkey | -wgpeer pubkey | -wgpeerall
    wgendpoint host port | wgaip addr[/plen] ... | wgpsk key|- | -wgpsk
    wgpka seconds | -wgpka | wgdescr text | -wgdescr

See ifconfig-wg(8) and wg(4).";

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("ifconfig-wg: {msg}");
    exit(1)
}

fn usage() -> ! {
    eprintln!("{USAGE}");
    exit(1)
}

struct Opts {
    socket: Option<String>,
    keys: bool,
    all: bool,
    list: bool,
    cloners: bool,
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
fn refused(name: &str, e: ClientError) -> ! {
    match e {
        ClientError::Errno(ENXIO) => die(format!("interface {name} does not exist")),
        ClientError::Errno(n) => die(format!("{name}: SIOCSWG: {}", strerror(n))),
        ClientError::Protocol(m) => die(format!("{name}: {m}")),
        ClientError::Connect(e) => die(proto::errno::describe(&e)),
    }
}

fn print_status(c: &mut Client, name: Option<&str>, keys: bool) {
    let req = Request::Status {
        name: name.map(String::from),
        keys,
    };
    let reply = c
        .call(&req)
        .unwrap_or_else(|e| refused(name.unwrap_or("wg"), e));
    let all = InterfaceStatus::decode_all(&reply).unwrap_or_else(|e| die(e));
    for s in &all {
        print!("{}", print::status(s));
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
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-h" || a == "--help" {
            println!("{USAGE}\n{HELP}");
            return;
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
    if rest.is_empty() && !(o.cloners || o.list || o.all) {
        o.all = true;
    }

    if o.cloners || o.list || o.all {
        if !rest.is_empty() || (o.cloners as u8 + o.list as u8 + o.all as u8) > 1 {
            usage();
        }
        let mut c = connect(&path);
        if o.all {
            print_status(&mut c, None, o.keys);
            return;
        }
        let req = if o.list {
            Request::List
        } else {
            Request::Cloners
        };
        let reply = c.call(&req).unwrap_or_else(|e| refused("wg", e));
        let names: Vec<&str> = reply.iter().map(|(_, v)| v.as_str()).collect();
        println!("{}", names.join(" "));
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
        };
        match c.call(&req) {
            Ok(reply) => {
                if let Some((_, n)) = reply.iter().find(|(k, _)| k == "ifname") {
                    if *n != name {
                        println!("{n}");
                    }
                    name = n.clone();
                }
            }
            Err(ClientError::Errno(EEXIST)) => die(format!(
                "interface {} already exists",
                cmd.rename.as_deref().unwrap_or(&name)
            )),
            // Only wgN can be cloned by name; say how to get another name.
            Err(ClientError::Errno(EINVAL)) if cmd.rename.is_none() && !name.starts_with("wg") => {
                die(format!(
                    "{name}: SIOCIFCREATE2: Invalid argument (only wgN names; for another name: ifconfig-wg wg create name {name})"
                ))
            }
            Err(e) => refused(&name, e),
        }
    }
    if cmd.destroy {
        if let Err(e) = c.call(&Request::Destroy { name: name.clone() }) {
            refused(&name, e);
        }
        return;
    }
    if !cmd.ops.is_empty() {
        if let Err(e) = c.call(&Request::Set {
            name: name.clone(),
            ops: cmd.ops,
        }) {
            refused(&name, e);
        }
    } else if !cmd.create {
        print_status(&mut c, Some(&name), o.keys);
    }
}
