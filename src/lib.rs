//! The daemon's layers, as a library: `src/main.rs` is the daemon, and
//! the benchmarks (`benches/`) and fuzz targets (`fuzz/`) reach the pieces
//! they exercise through it.
//!
//! ```text
//!   daemon, registry, ctl, uapi, linkwatch, launcher   control and life
//!   wg                                                 driver core (no I/O)
//!   plane, data                                        the packet path
//!   sys                                                all unsafe, all Linux
//! ```

pub mod ctl;
pub mod daemon;
pub mod data;
pub mod fuzzing;
pub mod launcher;
pub mod linkwatch;
pub mod log;
pub mod noise;
pub mod plane;
pub mod registry;
pub mod sys;
pub mod uapi;
pub mod wg;
