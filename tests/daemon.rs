//! The daemon process: detach with pidfile, one daemon per socket, stale
//! sockets replaced, SIGTERM destroys every interface (spec §1, §2).

mod common;
use common::*;
use std::os::unix::net::UnixListener;

#[test]
fn sigterm_destroys_every_interface_and_removes_the_socket() {
    require_root();
    let ns = Ns::new("d");
    let mut d = Wgd::start(&ns);
    let (i, j) = (format!("wg{}", unique()), format!("wg{}", unique()));
    d.ok(&format!("{i} create wgport 51000 up"));
    d.ok(&format!("{j} create"));
    assert!(ns.link_exists(&i) && ns.link_exists(&j));
    let st = d.stop().expect("wgd exits on SIGTERM");
    assert!(st.success(), "{st:?}");
    assert!(!ns.link_exists(&i) && !ns.link_exists(&j));
    assert!(
        !std::path::Path::new(&d.sock).exists(),
        "socket left behind"
    );
}

#[test]
fn second_daemon_refuses_and_stale_socket_is_replaced() {
    require_root();
    let ns = Ns::new("d");
    let d = Wgd::start(&ns);
    let o = ns.exec(&format!("{} -f -S {}", bin("wgd").display(), d.sock));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!(
            "wgd: {}: another wgd is already serving this socket\n",
            d.sock
        )
    );
    assert_eq!(d.ok("-C"), "wg\n", "first daemon still serves");

    // A socket file nobody listens on.
    let stale = format!("/tmp/wgt-stale-{}.sock", unique());
    drop(UnixListener::bind(&stale).unwrap());
    assert!(std::path::Path::new(&stale).exists());
    let pidfile = format!("/tmp/wgt-{}.pid", unique());
    // Detached: returns once the socket accepts requests.
    ns.run(&format!("{} -S {stale} -p {pidfile}", bin("wgd").display()));
    let pid = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .to_string();
    let o = ns.exec(&format!("{} -S {stale} -C", bin("ifconfig-wg").display()));
    let served = String::from_utf8_lossy(&o.stdout).into_owned();
    ok(&format!("kill -TERM {pid}"));
    assert!(wait_until(5, || !std::path::Path::new(&format!(
        "/proc/{pid}"
    ))
    .exists()));
    assert_eq!(served, "wg\n");
    assert!(!std::path::Path::new(&stale).exists());
    assert!(!std::path::Path::new(&pidfile).exists());
}

/// Once running, wgd holds CAP_NET_ADMIN and CAP_NET_BIND_SERVICE and
/// nothing else, in every set and every thread, and still does its work:
/// TUN devices, addresses, a port below 1024, a fwmark.
#[test]
fn only_the_capabilities_it_needs() {
    require_root();
    let ns = Ns::new("c");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    d.ok(&format!(
        "{i} create wgkey {} wgport 853 wgcookie 7 inet 10.8.8.1/24 inet6 fd88::1/64 mtu 1400 link1 up",
        genkey()
    ));
    assert!(ns.link_exists(&i));
    let want = format!("{:016x}", (1u64 << 12) | (1 << 10) | (1 << 11) | (1 << 21));
    let tasks = std::fs::read_dir(format!("/proc/{}/task", d.pid())).unwrap();
    let mut n = 0;
    for t in tasks {
        let st = std::fs::read_to_string(t.unwrap().path().join("status")).unwrap();
        let get = |k: &str| field(&st.replace(":\t", ": "), k);
        assert_eq!(get("CapEff").as_deref(), Some(want.as_str()), "{st}");
        assert_eq!(get("CapPrm").as_deref(), Some(want.as_str()));
        assert_eq!(get("CapBnd").as_deref(), Some(want.as_str()));
        assert_eq!(get("CapInh").as_deref(), Some("0000000000000000"));
        assert_eq!(get("NoNewPrivs").as_deref(), Some("1"));
        n += 1;
    }
    assert!(n > 3, "threads: {n}");
    let st = d.ok(&i);
    assert!(
        st.contains("\twgport: 853\n") && st.contains("\twgcookie: 7\n"),
        "{st}"
    );
    d.ok(&format!("{i} destroy"));
    assert!(!ns.link_exists(&i));
}

/// A wgd that detaches still reports a startup error on the launching
/// command's standard error, exits 1, and leaves no socket behind.
#[test]
fn detached_startup_errors_are_reported() {
    require_root();
    let ns = Ns::new("e");
    let sock = format!("/tmp/wgt-{}.sock", unique());
    let o = ns.exec(&format!(
        "{} -S {sock} -p /nonexistent/dir/wgd.pid",
        bin("wgd").display()
    ));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        format!("wgd: {sock}: cannot write pidfile: No such file or directory\n")
    );
    assert!(!std::path::Path::new(&sock).exists());
}

/// Under a notify-aware supervisor (NOTIFY_SOCKET), `wgd -f` says
/// READY=1 only once its control socket accepts requests: a request
/// sent right after it is served.
#[test]
fn ready_is_notified_once_the_socket_accepts() {
    require_root();
    let ns = Ns::new("n");
    let n = unique();
    let (notify, sock) = (format!("/tmp/wgt-notify-{n}"), format!("/tmp/wgt-{n}.sock"));
    let listener = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    listener
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut child = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "env",
            &format!("NOTIFY_SOCKET={notify}"),
        ])
        .arg(bin("wgd"))
        .args(["-f", "-S", &sock])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 64];
    let got = listener.recv(&mut buf);
    let served = ns.exec(&format!("{} -S {sock} -C", bin("ifconfig-wg").display()));
    end_child(&mut child);
    let _ = std::fs::remove_file(&notify);
    let _ = std::fs::remove_file(&sock);
    let n = got.expect("READY=1 within 10 s");
    assert_eq!(&buf[..n], b"READY=1");
    assert!(served.status.success());
    assert_eq!(String::from_utf8_lossy(&served.stdout).trim(), "wg");
}
