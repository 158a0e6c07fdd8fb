//! Default paths and the environment variable both programs read.

/// The control socket when neither `-S` nor `WGD_SOCKET` names one.
pub const DEFAULT_SOCKET: &str = "/var/run/wgd.sock";

/// Environment variable naming the control socket.
pub const SOCKET_ENV: &str = "WGD_SOCKET";

/// `-S path`, else `$WGD_SOCKET`, else the default.
pub fn control_socket(flag: Option<&str>) -> String {
    if let Some(p) = flag {
        return p.to_string();
    }
    match std::env::var(SOCKET_ENV) {
        Ok(p) if !p.is_empty() => p,
        _ => DEFAULT_SOCKET.to_string(),
    }
}

/// Where every WireGuard implementation's UAPI sockets live, shared by
/// every network namespace: interface names are host-wide.
pub const UAPI_DIR: &str = "/var/run/wireguard";

/// The UAPI socket of interface `ifname`.
pub fn uapi_socket(ifname: &str) -> String {
    format!("{UAPI_DIR}/{ifname}.sock")
}
