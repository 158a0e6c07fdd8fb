//! The commands a BSD administrator types, on Linux: `ifconfig`,
//! `kldload`, `kldunload` and `kldstat` (installed by `make install-bsd`).
//!
//! `ifconfig` hands wg interfaces to ifconfig-wg and every other one to
//! the system's ifconfig, or prints it in BSD format itself; the kld
//! commands load and unload if_wg, that is, start and stop wgd.

pub mod dispatch;
pub mod find;
pub mod format;
pub mod getopt;
pub mod kld;
pub mod links;
