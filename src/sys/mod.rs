//! The system layer: the only place with `unsafe`, and the only place that
//! knows about Linux. Everything above talks to these small types.
//!
//! ```text
//!   tun.rs       the wgN TUN device (tun-rs)
//!   udp.rs       the interface's IPv4+IPv6 UDP sockets, recvmmsg/sendmmsg batches
//!   netlink.rs   link flags, MTU, addresses (rtnetlink over netlink-sys)
//!   waker.rs     poll(2) on a descriptor plus an eventfd used to stop workers
//!   peercred.rs  SO_PEERCRED on the control socket
//!   daemon.rs    fork/setsid for wgd's detach
//! ```

pub mod daemon;
pub mod netlink;
pub mod peercred;
pub mod tun;
pub mod udp;
pub mod waker;
