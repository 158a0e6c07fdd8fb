//! The daemon's layers, as a library: `src/main.rs` is the daemon, and
//! the benchmarks (`benches/`) and fuzz targets (`fuzz/`) reach the pieces
//! they exercise through it.
//!
//! ```text
//!   daemon, registry, ctl, uapi, linkwatch, launcher,  control and life
//!   program, handover, resolver
//!   plane, data                                        the packet path
//!   wg, noise                                          driver core (no I/O)
//!   sys                                                all unsafe, all Linux
//! ```
//!
//! Imports point down only: the core decides and writes what to send into
//! an outbox its caller hands in (`wg::outbox`), and is served from above
//! through the `wg::interface::Wiring` the registry gives each interface.
//! The README's ARCHITECTURE section says more.

pub mod ctl;
pub mod daemon;
pub mod data;
pub mod fuzzing;
pub mod handover;
pub mod launcher;
pub mod linkwatch;
pub mod log;
pub mod noise;
pub mod plane;
pub mod program;
pub mod registry;
pub mod resolver;
pub mod routewatch;
pub mod sys;
pub mod uapi;
pub mod wg;
