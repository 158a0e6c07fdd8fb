//! Handing the daemon over to a new wgd process with every interface up
//! (SIGUSR2, `wgd -R`): the old process passes its descriptors and a
//! snapshot of its state to the new one, which serves from there.
//! Being built: today the snapshot's format (`codec`) and the passing of
//! descriptors (`crate::sys::fdpass`) exist; the daemon does not hand
//! over yet.

pub mod codec;
