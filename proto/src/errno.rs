//! errno values as they cross the control socket, and their texts.
//!
//! Only the control boundary speaks errno; the layers below use typed
//! errors. Numbers are the Linux ones (the daemon runs on Linux today);
//! where BSD's texts differ (ENXIO, EBUSY, ETIMEDOUT) the texts are BSD's, as the
//! commands that print them are BSD's.

pub const EPERM: i32 = 1;
pub const ENOENT: i32 = 2;
pub const EIO: i32 = 5;
pub const ENXIO: i32 = 6;
pub const EBUSY: i32 = 16;
pub const EEXIST: i32 = 17;
pub const ENODEV: i32 = 19;
pub const EINVAL: i32 = 22;
pub const ENOSPC: i32 = 28;
pub const EPROTO: i32 = 71;
pub const EMSGSIZE: i32 = 90;
pub const EAFNOSUPPORT: i32 = 97;
pub const EADDRINUSE: i32 = 98;
pub const EADDRNOTAVAIL: i32 = 99;
pub const ETIMEDOUT: i32 = 110;

/// strerror(3) for the values the daemon returns.
pub fn strerror(errno: i32) -> String {
    match errno {
        EPERM => "Operation not permitted".into(),
        ENOENT => "No such file or directory".into(),
        EIO => "Input/output error".into(),
        ENXIO => "Device not configured".into(),
        EBUSY => "Device busy".into(),
        EEXIST => "File exists".into(),
        ENODEV => "No such device".into(),
        EINVAL => "Invalid argument".into(),
        ENOSPC => "No space left on device".into(),
        EPROTO => "Protocol error".into(),
        EMSGSIZE => "Message too long".into(),
        EAFNOSUPPORT => "Address family not supported by protocol".into(),
        EADDRINUSE => "Address already in use".into(),
        EADDRNOTAVAIL => "Cannot assign requested address".into(),
        ETIMEDOUT => "Operation timed out".into(),
        n => format!("Unknown error {n}"),
    }
}

/// strerror(3) text of an I/O error, without Rust's " (os error N)".
pub fn describe(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn describe_drops_the_os_error_suffix() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(super::describe(&e), "No such file or directory");
    }
}
