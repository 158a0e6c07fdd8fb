//! The system layer: the only place with `unsafe`, and the only place that
//! knows about Linux. Everything above talks to these small types.
//!
//! ```text
//!   boottime.rs  CLOCK_BOOTTIME: the clock of every protocol age, and
//!                the time the machine has slept
//!   alarm.rs     a CLOCK_BOOTTIME timerfd the clock thread sleeps on
//!   tun.rs       the wgN TUN device (tun-rs, with TSO/USO offloads): split
//!                reads, GRO-coalesced writes
//!   udp.rs       the interface's IPv4+IPv6 UDP sockets (quinn-udp): GRO
//!                receive batches, GSO sends
//!   netlink.rs   link flags, MTU, addresses (rtnetlink over netlink-sys)
//!   peercred.rs  SO_PEERCRED on the control socket
//!   routes.rs    routes over a link (dump, events), for link2 interfaces
//!   crew.rs      lending a job to idle workers (scoped, without threads)
//!   caps.rs      dropping every capability but CAP_NET_ADMIN and
//!                CAP_NET_BIND_SERVICE once started
//!   daemon.rs    fork/setsid for wgd's detach
//!   lock.rs      the flock that makes one daemon a control socket's owner
//!   fdpass.rs    descriptors to another process (SCM_RIGHTS), for the
//!                hand-over
//!   notify.rs    READY=1 for a Type=notify service manager
//!   sched.rs     a thread's scheduling priority (the handshake service)
//!   rlimit.rs    the descriptor limit, raised to the hard limit at start
//!   resolve.rs   the system resolver (getaddrinfo), for endpoints by name
//!   spare.rs     a spare descriptor, for answering "Too many open files"
//!                at the descriptor limit instead of spinning on accept
//! ```

pub mod alarm;
pub mod boottime;
pub mod caps;
pub mod crew;
pub mod daemon;
pub mod fdpass;
pub mod lock;
pub mod netlink;
pub mod netns;
pub mod notify;
pub mod peercred;
pub mod resolve;
pub mod rlimit;
pub mod routes;
pub mod sched;
pub mod spare;
pub mod tun;
pub mod udp;
pub mod unlink;
