//! The commands a BSD administrator types, on Linux: `ifconfig`,
//! `kldload`, `kldunload` and `kldstat` (installed by `make install-bsd`).
//!
//! `ifconfig` hands wg interfaces to ifconfig-wg and configures every
//! other link itself, with FreeBSD's meaning of the words (other, over
//! rtnl), printing it in BSD format (links, format); the kld commands
//! load and unload if_wg, that is, start and stop wgd.

pub mod dispatch;
pub mod find;
pub mod format;
pub mod getopt;
pub mod kld;
pub mod links;
pub mod other;
pub mod rtnl;
