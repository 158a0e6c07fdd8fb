//! One request in, one reply out. Only root changes anything or sees
//! secrets; anyone may read status.

use crate::registry::{CloneError, Registry, CLONER};
use crate::wg::config::ConfigError;
use crate::wg::interface::SetError;
use proto::errno::*;
use proto::{Op, Request};
use std::io;
use std::os::fd::{AsFd, OwnedFd};

type Reply = Vec<(String, String)>;

fn done(mut r: Reply, n: i32) -> Reply {
    r.push(("errno".to_string(), n.to_string()));
    r
}

fn fail(n: i32) -> Reply {
    done(Vec::new(), n)
}

fn io_errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(EIO)
}

fn set_errno(e: &SetError) -> i32 {
    match e {
        SetError::Config(ConfigError::Invalid(_)) => EINVAL,
        SetError::Config(ConfigError::NoSuchAddress) => EADDRNOTAVAIL,
        SetError::Config(ConfigError::NoSuchGroup) => ENOENT,
        SetError::Config(ConfigError::ClonerGroup) => EPERM,
        SetError::Bind(e) | SetError::Link(e) => io_errno(e),
        SetError::Gone => ENXIO,
    }
}

fn clone_errno(e: &CloneError) -> i32 {
    match e {
        CloneError::Exists => EEXIST,
        CloneError::Elsewhere => EADDRINUSE,
        CloneError::BadName => EINVAL,
        CloneError::NotFound => ENXIO,
        CloneError::Io(e) => io_errno(e),
    }
}

/// The network namespace the caller sent with a create that asks to be
/// born where it runs, or `None` if that is ours.
fn callers_netns(passed: Option<OwnedFd>) -> Result<Option<OwnedFd>, i32> {
    let fd = passed.ok_or(EINVAL)?;
    if !crate::sys::netns::is_netns(fd.as_fd()) {
        return Err(EINVAL);
    }
    let here = crate::sys::netns::id_of(fd.as_fd()).map_err(|e| io_errno(&e))?;
    let home = crate::sys::netns::home().map_err(|e| io_errno(&e))?;
    Ok((here != home).then_some(fd))
}

/// `passed`: a descriptor the client sent with the request.
pub fn handle(
    reg: &Registry,
    msg: &[(String, String)],
    root: bool,
    passed: Option<OwnedFd>,
) -> Reply {
    let req = match Request::decode(msg) {
        Ok(r) => r,
        Err(_) => return fail(EINVAL),
    };
    // Host names are looked up first, outside every lock and hold (a
    // lookup may take seconds): the request then carries their addresses.
    let req = match req {
        Request::Set { name, ops }
            if root && ops.iter().any(|o| matches!(o, Op::EndpointName(_))) =>
        {
            let ops = match reg.get(&name) {
                Some(ifc) => match crate::resolver::resolve_ops(&ifc, &ops) {
                    Ok(o) => o,
                    Err(why) => return done(vec![("error".into(), why)], EINVAL),
                },
                None => ops,
            };
            Request::Set { name, ops }
        }
        r => r,
    };
    // Nothing changes while a hand-over reads the state (it holds the
    // plane still); the hand-over itself takes that hold.
    let _moving = (req != Request::HandOver).then(|| reg.plane().moving());
    match req {
        Request::Create { name, rename, here } => {
            if !root {
                return fail(EPERM);
            }
            let birth = if here {
                match callers_netns(passed) {
                    Ok(b) => b,
                    Err(e) => return fail(e),
                }
            } else {
                None
            };
            match reg.create(&name, rename.as_deref(), birth) {
                Ok(n) => done(vec![("ifname".into(), n)], 0),
                Err(e) => fail(clone_errno(&e)),
            }
        }
        Request::Destroy { name } => {
            if reg.get(&name).is_none() {
                return fail(ENXIO);
            }
            if !root {
                return fail(EPERM);
            }
            match reg.destroy(&name) {
                Ok(()) => fail(0),
                Err(e) => fail(clone_errno(&e)),
            }
        }
        Request::Rename { name, new } => {
            if reg.get(&name).is_none() {
                return fail(ENXIO);
            }
            if !root {
                return fail(EPERM);
            }
            match reg.rename(&name, &new) {
                Ok(()) => done(vec![("ifname".into(), new)], 0),
                Err(e) => fail(clone_errno(&e)),
            }
        }
        Request::Vnet { name, netns, back } => {
            let Some(ifc) = reg.get(&name) else {
                return fail(ENXIO);
            };
            if !root {
                return fail(EPERM);
            }
            match ifc.vnet(&netns, back) {
                Ok(()) => fail(0),
                Err(e) => fail(io_errno(&e)),
            }
        }
        Request::List => done(
            reg.all()
                .iter()
                .map(|i| ("ifname".to_string(), i.name()))
                .collect(),
            0,
        ),
        Request::Cloners => done(vec![("cloner".into(), CLONER.into())], 0),
        Request::HandOver => {
            if !root {
                return fail(EPERM);
            }
            match crate::handover::give_now() {
                Ok(pid) => done(vec![("pid".into(), pid.to_string())], 0),
                Err(why) => done(vec![("error".into(), why)], EIO),
            }
        }
        Request::Module => {
            let program = std::env::current_exe()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            done(
                vec![
                    ("pid".into(), std::process::id().to_string()),
                    ("interfaces".into(), reg.all().len().to_string()),
                    ("program".into(), program),
                ],
                0,
            )
        }
        Request::Unload { force } => {
            if !root {
                return fail(EPERM);
            }
            // A module in use cannot be unloaded; forced, it destroys
            // its interfaces first.
            if !reg.all().is_empty() {
                if !force {
                    return fail(EBUSY);
                }
                reg.destroy_all();
            }
            super::unload_after_reply();
            done(vec![("pid".into(), std::process::id().to_string())], 0)
        }
        Request::Status { name, keys } => {
            let ifaces = match name {
                Some(n) => match reg.get(&n) {
                    Some(i) => vec![i],
                    None => return fail(ENXIO),
                },
                None => reg.all(),
            };
            let mut r = Vec::new();
            for i in ifaces {
                i.status(root, keys).encode(&mut r);
            }
            done(r, 0)
        }
        Request::Set { name, ops } => {
            let Some(ifc) = reg.get(&name) else {
                return fail(ENXIO);
            };
            if !root {
                return fail(EPERM);
            }
            match ifc.set(&ops) {
                Ok(()) => fail(0),
                Err(e) => fail(set_errno(&e)),
            }
        }
    }
}
