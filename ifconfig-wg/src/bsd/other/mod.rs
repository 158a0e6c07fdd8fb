//! `ifconfig` on a link that is not wg, with FreeBSD's meaning of the
//! words (sbin/ifconfig: ifconfig.c, af_inet.c, af_inet6.c):
//!
//! ```text
//! words --parse--> Line --plan(link, names, MTU range)--> Plan --apply--> kernel
//!        (syntax,          (every check the kernel        (rtnetlink, in
//!         FreeBSD's         would make, before any         FreeBSD's order)
//!         messages)         change)
//! ```
//!
//! FreeBSD acts on `up`, `down`, `mtu`, `name` … as it meets them and
//! changes addresses once, at the end: first the deletion (`clearaddr`:
//! without `alias`, the link's first address of the family), then the
//! addition. So does this one, but only after the whole line and every
//! change it asks for have been checked: a refused line changes nothing.
//! Parsing and planning are pure; `apply` is the only part that talks
//! to the kernel.

mod apply;
mod parse;
mod plan;
#[cfg(test)]
mod tests;

pub use apply::*;
pub use parse::*;
pub use plan::*;
