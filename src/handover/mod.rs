//! Handing the daemon over to a new wgd process with every interface up
//! (SIGUSR2, `wgd -R`): the old process passes its descriptors and a
//! snapshot of its state to the new one, which serves from there.
//! Being built: today the snapshot's format (`codec`), interfaces
//! written and read in it (`snapshot`; `Interface::carry` and
//! `Interface::adopt` in `crate::wg::interface`), sessions carried
//! as values (`crate::noise::session::Carried`), descriptors passed
//! (`crate::sys::fdpass`), UDP sockets adopted (`Sockets::adopt`) and a
//! second TUN queue attached to a live link (`Tun::attach`; every wgN's
//! TUN device is multi-queue for this) exist; the daemon does not hand
//! over yet.

pub mod codec;
pub mod snapshot;
