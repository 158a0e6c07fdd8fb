//! The path this program was started by, as given: what a hand-over runs
//! and what the launcher starts the daemon from.
//!
//! Not `current_exe()`, which follows links once, at start: with the
//! installed path a symbolic link (stow, update-alternatives, a profile
//! directory), switching the link and handing over must run the binary
//! the link names then. So the path is kept as typed (made absolute
//! against the directory we started in, or found in `PATH` as a shell
//! would), and the kernel resolves it when it is executed.

use std::ffi::{OsStr, OsString};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

static STARTED_AS: OnceLock<PathBuf> = OnceLock::new();

/// Where `argv0` leads, from `cwd` and `path` (the `PATH` variable):
/// a name with a slash is a path (relative to `cwd`), a bare name is
/// looked up in `path`'s directories, first executable file wins.
pub fn resolve(argv0: &OsStr, cwd: &Path, path: Option<&OsStr>) -> Option<PathBuf> {
    let given = Path::new(argv0);
    if argv0.is_empty() {
        return None;
    }
    if argv0.as_encoded_bytes().contains(&b'/') {
        return Some(if given.is_absolute() {
            given.to_path_buf()
        } else {
            cwd.join(given)
        });
    }
    std::env::split_paths(path?)
        .map(|d| {
            if d.as_os_str().is_empty() {
                cwd.to_path_buf()
            } else {
                cwd.join(d)
            }
        })
        .map(|d| d.join(given))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Record the path we were started by; call once, before changing
/// directory. Falls back to `current_exe()` when argv[0] leads nowhere.
pub fn remember() {
    let found = std::env::current_dir().ok().and_then(|cwd| {
        let argv0: OsString = std::env::args_os().next()?;
        resolve(&argv0, &cwd, std::env::var_os("PATH").as_deref())
    });
    if let Some(p) = found.or_else(|| std::env::current_exe().ok()) {
        let _ = STARTED_AS.set(p);
    }
}

/// The path recorded by [`remember`], else `current_exe()`.
pub fn path() -> std::io::Result<PathBuf> {
    match STARTED_AS.get() {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_kept_as_given() {
        let cwd = Path::new("/srv/here");
        let r = |a: &str| resolve(OsStr::new(a), cwd, None);
        assert_eq!(r("/usr/local/sbin/wgd"), Some("/usr/local/sbin/wgd".into()));
        assert_eq!(r("./bin/wgd"), Some("/srv/here/./bin/wgd".into()));
        assert_eq!(r("bin/wgd"), Some("/srv/here/bin/wgd".into()));
        assert_eq!(r(""), None);
        assert_eq!(r("wgd"), None);
    }

    #[test]
    fn bare_names_are_looked_up_in_path() {
        let dir = std::env::temp_dir().join(format!("wgd-program-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        // Not executable in a: skipped; executable in b: found.
        std::fs::write(a.join("wgd"), "").unwrap();
        std::fs::write(b.join("wgd"), "").unwrap();
        std::fs::set_permissions(b.join("wgd"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        let found = resolve(OsStr::new("wgd"), Path::new("/"), Some(&path));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(found, Some(b.join("wgd")));
    }
}
