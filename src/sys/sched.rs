//! Scheduling priority of the calling thread.

/// Make the calling thread `nice` steps less favoured than it is now
/// (Linux nice values are per thread). Failure leaves it as it was.
pub fn lower_priority(nice: i32) {
    // SAFETY: plain system calls on the calling thread, no pointers.
    unsafe {
        let tid = libc::gettid();
        let now = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, now + nice);
    }
}

/// Let another runnable thread of this CPU run before the calling one
/// goes on (`sched_yield`); returns at once when there is none.
pub fn yield_cpu() {
    // SAFETY: a system call without arguments.
    unsafe {
        libc::sched_yield();
    }
}
