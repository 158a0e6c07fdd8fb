//! Finding the programs the BSD commands hand over to: ours beside the
//! running binary first (an install keeps them in one directory), then
//! PATH.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn on_path(name: &str) -> impl Iterator<Item = PathBuf> + '_ {
    let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .filter(|p| executable(p))
        .collect::<Vec<_>>()
        .into_iter()
}

/// One of our programs (`wgd`, `ifconfig-wg`).
pub fn ours(name: &str) -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(name)));
    beside
        .filter(|p| executable(p))
        .or_else(|| on_path(name).next())
}
