//! Handing the daemon over to a new wgd process with every interface up
//! (SIGUSR2, `wgd -R`): the old process (`give`) holds its data plane
//! still and passes its descriptors and a snapshot of its state to the
//! new one (`take`), which serves from there.
//!
//! ```text
//!   old: spawn new ──hello(version)──>  hold the plane still
//!        snapshot (codec, snapshot) + descriptors (sys::fdpass) ──>
//!   new: attach a TUN queue per link, adopt sockets, Interface::adopt,
//!        serve ──"serving"──> old: pid file, MAINPID=, exit
//! ```
//!
//! Sessions travel as values (`crate::noise::session::Carried`), so the
//! tunnels need no new handshake; if the new process fails after it had
//! the keys, the old one drops every session before it moves again.

pub mod codec;
pub mod give;
pub mod snapshot;
pub mod take;

/// What the new process says first, with the snapshot version it reads.
pub const HELLO: &str = "wgd-takeover";
/// What it says once it serves every interface.
pub const SERVING: &str = "serving";

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

static CONTEXT: OnceLock<give::Context> = OnceLock::new();
static HANDED_OVER: AtomicBool = AtomicBool::new(false);

/// What a later hand-over needs, set once the daemon serves.
pub fn prepare(ctx: give::Context) {
    let _ = CONTEXT.set(ctx);
}

/// Hand over now (SIGUSR2, `wgd -R`): the new process's pid once it
/// serves; the caller then exits. Logged either way.
pub fn give_now() -> Result<u32, String> {
    let Some(ctx) = CONTEXT.get() else {
        return Err("this wgd cannot hand over (not serving yet)".into());
    };
    crate::log::info(format!("handing over to {}", ctx.exe.display()));
    match give::give(ctx) {
        Ok(pid) => {
            HANDED_OVER.store(true, Ordering::SeqCst);
            crate::log::info(format!("handed over to pid {pid}"));
            Ok(pid)
        }
        Err(why) => {
            crate::log::error(format!("hand-over failed, still serving: {why}"));
            Err(why)
        }
    }
}

/// A hand-over succeeded: this process must exit.
pub fn handed_over() -> bool {
    HANDED_OVER.load(Ordering::SeqCst)
}

/// Write `pid` to the pid file, replacing it whole (a reader never sees
/// it empty or half written). The old and the new process both write
/// it at the end of a hand-over: each through a file of its own.
pub fn write_pidfile(p: &std::path::Path, pid: u32) -> std::io::Result<()> {
    let mut tmp = p.as_os_str().to_owned();
    tmp.push(format!(".handover.{}", std::process::id()));
    let tmp = std::path::PathBuf::from(tmp);
    std::fs::write(&tmp, format!("{pid}\n")).and_then(|()| std::fs::rename(&tmp, p))
}
