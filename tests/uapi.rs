//! The UAPI socket with raw requests: exact errnos, nothing applied on
//! error, several requests per connection, bounds, permissions, and one
//! state shared with ifconfig-wg.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

fn sock(ifname: &str) -> String {
    format!("/var/run/wireguard/{ifname}.sock")
}

/// Send `req` and read one reply (up to and including the blank line).
fn exchange(s: &mut UnixStream, req: &[u8]) -> String {
    s.write_all(req).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut out = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        out.push_str(&line);
        if line == "\n" {
            break;
        }
    }
    out
}

fn request(ifname: &str, req: &str) -> String {
    let mut s = UnixStream::connect(sock(ifname)).unwrap();
    exchange(&mut s, req.as_bytes())
}

fn get(ifname: &str) -> String {
    request(ifname, "get=1\n\n")
}

fn hex_of(b64: &str) -> String {
    ok(&format!(
        "echo {b64} | base64 -d | od -An -tx1 | tr -d ' \\n'"
    ))
}

fn setup() -> (Ns, Wgd, String) {
    let ns = Ns::new("x");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!("{i} create wgport 51000"));
    let peer = ok("wg genkey | wg pubkey").trim().to_string();
    d.ok(&format!(
        "{i} wgkey {} wgpeer {peer} wgaip 10.1.0.0/16 wgpka 5",
        genkey()
    ));
    (ns, d, i)
}

#[test]
fn errors_have_exact_errno_and_change_nothing() {
    require_root();
    let (_ns, d, i) = setup();
    let before = get(&i);
    let status_before = d.ok(&format!("-k {i}"));
    let k = hex_of(ok("wg genkey | wg pubkey").trim());
    for (req, errno) in [
        ("set=1\nprivate_key=zz\n\n".to_string(), -22),
        (
            "set=1\nlisten_port=52000\nprivate_key=00\n\n".to_string(),
            -22,
        ),
        (
            format!("set=1\nlisten_port=52000\npublic_key={k}\nallowed_ip=10.9.0.0/33\n\n"),
            -22,
        ),
        (format!("set=1\npublic_key={k}\nallowed_ip=::/129\n\n"), -22),
        ("set=1\nlisten_port=65536\n\n".to_string(), -22),
        ("set=1\nlisten_port=-1\n\n".to_string(), -22),
        (
            "set=1\nlisten_port=52000\nfrobnicate=1\n\n".to_string(),
            -22,
        ),
        (format!("set=1\npublic_key={k}\nfrobnicate=1\n\n"), -22),
        (
            format!("set=1\npublic_key={k}\nprotocol_version=2\n\n"),
            -22,
        ),
        (
            "set=1\nlisten_port=52000\nno equals sign here\n\n".to_string(),
            -71,
        ),
        (format!("set=1\npublic_key={}\n\n", "0".repeat(64)), -22),
        // The daemon's own bound (43200 s), whatever wg(8) allows.
        (
            format!(
                "set=1\nlisten_port=52000\npublic_key={k}\npersistent_keepalive_interval=43201\n\n"
            ),
            -22,
        ),
    ] {
        let reply = request(&i, &req);
        assert_eq!(reply, format!("errno={errno}\n\n"), "{req:?}");
        assert_eq!(get(&i), before, "state changed by {req:?}");
    }
    assert_eq!(d.ok(&format!("-k {i}")), status_before);
}

#[test]
fn busy_port_is_eaddrinuse_and_changes_nothing() {
    require_root();
    let (_ns, d, i) = setup();
    let j = format!("wg{}", unique());
    d.ok(&format!("{j} create wgport 53000 up"));
    d.ok(&format!("{i} up"));
    let before = get(&i)
        .lines()
        .filter(|l| !l.starts_with("tx_bytes") && !l.starts_with("rx_bytes"))
        .collect::<Vec<_>>()
        .join("\n");
    let k = hex_of(ok("wg genkey | wg pubkey").trim());
    let reply = request(&i, &format!("set=1\nlisten_port=53000\npublic_key={k}\n\n"));
    assert_eq!(reply, "errno=-98\n\n");
    let after = get(&i)
        .lines()
        .filter(|l| !l.starts_with("tx_bytes") && !l.starts_with("rx_bytes"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(after, before);
}

#[test]
fn long_line_is_eio_and_ends_the_connection() {
    require_root();
    let (_ns, _d, i) = setup();
    let before = get(&i);
    let mut s = UnixStream::connect(sock(&i)).unwrap();
    let mut req = b"set=1\nlisten_port=5".to_vec();
    req.extend(std::iter::repeat_n(b'0', 200 * 1024));
    req.extend(b"\n\n");
    // The daemon may answer and close before reading it all.
    let _ = s.write_all(&req);
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert_eq!(reply, "errno=-5\n\n");
    assert_eq!(get(&i), before);
}

#[test]
fn several_requests_on_one_connection_and_shared_state() {
    require_root();
    let (_ns, d, i) = setup();
    let mut s = UnixStream::connect(sock(&i)).unwrap();
    let g1 = exchange(&mut s, b"get=1\n\n");
    assert!(
        g1.contains("listen_port=51000\n") && g1.ends_with("errno=0\n\n"),
        "{g1}"
    );
    let psk = ok("wg genpsk").trim().to_string();
    let peer = ok("wg genkey | wg pubkey").trim().to_string();
    let set = format!(
        "set=1\nlisten_port=51002\nfwmark=7\npublic_key={}\npreshared_key={}\nendpoint=[fd00::9]:4444\npersistent_keepalive_interval=15\nreplace_allowed_ips=true\nallowed_ip=10.2.0.0/16\nallowed_ip=fd02::/64\n\n",
        hex_of(&peer),
        hex_of(&psk)
    );
    assert_eq!(exchange(&mut s, set.as_bytes()), "errno=0\n\n");
    let g2 = exchange(&mut s, b"get=1\n\n");
    assert!(g2.contains("listen_port=51002\nfwmark=7\n"), "{g2}");
    assert!(
        g2.contains(&format!(
            "public_key={}\npreshared_key={}\n",
            hex_of(&peer),
            hex_of(&psk)
        )),
        "{g2}"
    );
    assert!(g2.contains("endpoint=[fd00::9]:4444\n"), "{g2}");
    // ifconfig-wg sees the same state at once.
    let st = d.ok(&format!("-k {i}"));
    assert!(st.contains("\twgport: 51002\n\twgcookie: 7\n"), "{st}");
    assert!(st.contains(&format!("\twgpeer: {peer}\n")), "{st}");
    assert!(st.contains(&format!("\t\twgpsk: {psk}\n")), "{st}");
    assert!(
        st.contains("\t\twgendpoint: fd00::9 4444\n\t\ttx: 0 (bytes), rx: 0 (bytes)\n"),
        "{st}"
    );
    // And the other way round.
    d.ok(&format!("{i} wgpeer {peer} -wgpsk wgaip 10.3.0.0/16"));
    let g3 = exchange(&mut s, b"get=1\n\n");
    assert!(
        g3.contains(&format!("preshared_key={}\n", "0".repeat(64))),
        "{g3}"
    );
    assert!(
        g3.contains("allowed_ip=10.3.0.0/16\n") && !g3.contains("10.2.0.0"),
        "{g3}"
    );
    // update_only does not create; remove and replace_peers do remove.
    let other = hex_of(ok("wg genkey | wg pubkey").trim());
    assert_eq!(
        exchange(
            &mut s,
            format!(
                "set=1\npublic_key={other}\nupdate_only=true\npersistent_keepalive_interval=9\n\n"
            )
            .as_bytes()
        ),
        "errno=0\n\n"
    );
    assert!(!exchange(&mut s, b"get=1\n\n").contains(&other));
    assert_eq!(
        exchange(
            &mut s,
            format!("set=1\npublic_key={}\nremove=true\n\n", hex_of(&peer)).as_bytes()
        ),
        "errno=0\n\n"
    );
    assert!(!d.ok(&i).contains(&peer));
    assert_eq!(
        exchange(&mut s, b"set=1\nreplace_peers=true\n\n"),
        "errno=0\n\n"
    );
    assert!(!d.ok(&i).contains("wgpeer"));
    // An all-zero private key removes it.
    let zero = "0".repeat(64);
    assert_eq!(
        exchange(&mut s, format!("set=1\nprivate_key={zero}\n\n").as_bytes()),
        "errno=0\n\n"
    );
    assert!(!exchange(&mut s, b"get=1\n\n").contains("private_key"));
    assert!(!d.ok(&i).contains("wgpubkey"));
}

#[test]
fn socket_lives_with_the_interface_and_is_root_only() {
    require_root();
    let (ns, d, i) = setup();
    let p = sock(&i);
    let meta = std::fs::metadata(&p).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir = std::fs::metadata("/var/run/wireguard").unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o755);
    let o = ns.exec(&format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('{p}')\""
    ));
    assert!(!o.status.success(), "nobody connected to the UAPI socket");
    d.ok(&format!("{i} destroy"));
    assert!(
        !std::path::Path::new(&p).exists(),
        "socket left after destroy"
    );
}
