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
pub const ENFILE: i32 = 23;
pub const EMFILE: i32 = 24;
pub const ENOSPC: i32 = 28;
pub const EPROTO: i32 = 71;
pub const EMSGSIZE: i32 = 90;
pub const EAFNOSUPPORT: i32 = 97;
pub const EADDRINUSE: i32 = 98;
pub const EADDRNOTAVAIL: i32 = 99;
pub const ETIMEDOUT: i32 = 110;

/// strerror(3): BSD's text where it differs from Linux's and the commands
/// that print it are BSD's, else the C library's, for every errno (the
/// daemon passes on whatever the kernel said, "Too many open files"
/// included).
pub fn strerror(errno: i32) -> String {
    match errno {
        ENXIO => "Device not configured".into(),
        EBUSY => "Device busy".into(),
        ETIMEDOUT => "Operation timed out".into(),
        n => describe(&std::io::Error::from_raw_os_error(n)),
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
    use super::*;

    #[test]
    fn strerror_knows_every_errno() {
        assert_eq!(strerror(EMFILE), "Too many open files");
        assert_eq!(strerror(ENFILE), "Too many open files in system");
        for (n, text) in [
            (EPERM, "Operation not permitted"),
            (ENOENT, "No such file or directory"),
            (EIO, "Input/output error"),
            (EEXIST, "File exists"),
            (ENODEV, "No such device"),
            (EINVAL, "Invalid argument"),
            (ENOSPC, "No space left on device"),
            (EPROTO, "Protocol error"),
            (EMSGSIZE, "Message too long"),
            (EAFNOSUPPORT, "Address family not supported by protocol"),
            (EADDRINUSE, "Address already in use"),
            (EADDRNOTAVAIL, "Cannot assign requested address"),
            (12, "Cannot allocate memory"),
            (105, "No buffer space available"),
        ] {
            assert_eq!(strerror(n), text, "errno {n}");
        }
        // BSD's words where the commands are BSD's.
        assert_eq!(strerror(ENXIO), "Device not configured");
        assert_eq!(strerror(EBUSY), "Device busy");
        assert_eq!(strerror(ETIMEDOUT), "Operation timed out");
        // Every Linux errno has its own text (41 and 58 are unassigned).
        for n in (1..=133).filter(|n| ![41, 58].contains(n)) {
            let t = strerror(n);
            assert!(
                !t.starts_with("Unknown error") && !t.contains("os error"),
                "{n}: {t}"
            );
        }
        assert_eq!(strerror(4242), "Unknown error 4242");
    }

    #[test]
    fn describe_drops_the_os_error_suffix() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(super::describe(&e), "No such file or directory");
    }
}
