//! Anyone may read status, without secrets; only root changes anything.

mod common;
use common::*;

/// The two tests that load the daemon with many clients run one at a
/// time, so that one's flood does not slow the other's timed requests.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn non_root_reads_without_secrets_and_cannot_change() {
    require_root();
    let ns = Ns::new("p");
    let d = Wgd::start(&ns);
    let i = format!("wg{}", unique());
    let peer_ns = Ns::new("q");
    let pd = Wgd::start(&peer_ns);
    let pi = format!("wg{}", unique());
    pd.ok(&format!("{pi} create wgkey {}", genkey()));
    let peer = pubkey(&pd, &pi);
    d.ok(&format!("{i} create"));
    d.ok(&format!(
        "{i} wgkey {} wgport 51000 wgpeer {peer} wgpsk {} wgaip 10.1.0.0/16",
        genkey(),
        genkey()
    ));
    let root_view = d.ok(&format!("-k {i}"));
    assert!(root_view.contains("\twgkey: "), "{root_view}");
    assert!(root_view.contains("\t\twgpsk: ") && !root_view.contains("(present)"));
    assert!(d.ok(&i).contains("\t\twgpsk: (present)\n"));
    assert!(!d.ok(&i).contains("\twgkey: "));

    for args in [format!("-k {i}"), i.clone(), "-a -k".to_string()] {
        let o = d.ifc_as_nobody(&args);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{args}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("\twgpubkey: ") && out.contains(&peer), "{out}");
        assert!(
            !out.contains("wgkey:"),
            "private key shown to non-root: {out}"
        );
        assert!(!out.contains("wgpsk"), "psk shown to non-root: {out}");
    }
    assert!(d.ifc_as_nobody("-l").status.success());

    let other = format!("wg{}", unique());
    let eperm = |name: &str| format!("ifconfig-wg: {name}: SIOCSWG: Operation not permitted\n");
    for (args, name) in [
        (format!("{i} wgport 52000"), i.clone()),
        (format!("{i} down"), i.clone()),
        (format!("{i} -wgpeer {peer}"), i.clone()),
        (format!("{i} destroy"), i.clone()),
        (format!("{other} create"), other.clone()),
    ] {
        let o = d.ifc_as_nobody(&args);
        assert_eq!(o.status.code(), Some(1), "{args}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), eperm(&name), "{args}");
    }
    assert_eq!(
        d.ok(&format!("-k {i}")),
        root_view,
        "non-root changed state"
    );
    assert_eq!(d.ok("-l").trim(), i);
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    field(&s.replace(":\t", ": "), "VmRSS")
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Clients that send endless `=` lines and never end their request: as
/// `user`, `conns` connections of `bytes` each, held open for `hold`
/// seconds. Prints how many connections the daemon closed on them.
fn flood(d: &Wgd, user: &str, conns: u32, bytes: u32, hold: u32) -> std::process::Child {
    let script = format!(
        "import socket,time\n\
         cs=[]\n\
         closed=0\n\
         for i in range({conns}):\n\
         \x20 s=socket.socket(socket.AF_UNIX); s.connect('{sock}'); cs.append(s)\n\
         \x20 try:\n\
         \x20\x20 for j in range({bytes}//65536): s.sendall(b'=\\n'*32768)\n\
         \x20 except OSError: closed+=1\n\
         print(closed, flush=True)\n\
         time.sleep({hold})\n",
        sock = d.sock
    );
    std::process::Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={user}"),
            "--clear-groups",
        ])
        .args(["/usr/bin/python3", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3")
}

#[test]
fn unfinished_requests_cannot_make_the_daemon_hold_memory() {
    require_root();
    let _one_at_a_time = heavy();
    let ns = Ns::new("m");
    let d = Wgd::start(&ns);
    let before = rss_kb(d.pid());
    assert!(before > 0);
    // Unprivileged: a status request is a few lines; anything beyond a
    // small bound is refused and the connection closed.
    let mut nobody = flood(&d, "65534", 60, 1 << 20, 4);
    // Root: may send large requests, but a pending one is held as the
    // bytes received, not as parsed pairs.
    let mut root = flood(&d, "0", 8, 1000 << 10, 4);
    let closed = |c: &mut std::process::Child| {
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(c.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        line.trim().parse::<u32>().expect("flood result")
    };
    assert_eq!(closed(&mut nobody), 60, "unprivileged floods not cut off");
    assert_eq!(closed(&mut root), 0, "root's large requests refused");
    let during = rss_kb(d.pid());
    let o = d.ifc_as_nobody("-l");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    end_child(&mut nobody);
    end_child(&mut root);
    assert!(
        during < before + 40 * 1024,
        "wgd grew from {before} kB to {during} kB"
    );
}

/// Hundreds of connections held by one unprivileged user, idle or
/// dribbling bytes, reconnecting as soon as they are dropped: root still
/// creates, configures and reads status at once, and another user still
/// reads status.
#[test]
fn idle_and_slow_unprivileged_clients_keep_nobody_out() {
    require_root();
    let _one_at_a_time = heavy();
    let ns = Ns::new("f");
    let d = Wgd::start(&ns);
    let script = format!(
        "import socket,time,threading\n\
         end=time.time()+12\n\
         def hold(slow):\n\
         \x20 while time.time()<end:\n\
         \x20\x20 try:\n\
         \x20\x20\x20 s=socket.socket(socket.AF_UNIX); s.connect('{sock}')\n\
         \x20\x20\x20 while time.time()<end:\n\
         \x20\x20\x20\x20 if slow: s.sendall(b'o')\n\
         \x20\x20\x20\x20 time.sleep(0.5)\n\
         \x20\x20 except OSError: time.sleep(0.01)\n\
         for i in range(300): threading.Thread(target=hold,args=(i%2==0,),daemon=True).start()\n\
         print('holding',flush=True)\n\
         time.sleep(12)\n",
        sock = d.sock
    );
    let mut holder = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(["/usr/bin/python3", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    {
        use std::io::BufRead;
        std::io::BufReader::new(holder.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
    }
    assert_eq!(line.trim(), "holding");
    std::thread::sleep(std::time::Duration::from_secs(2));
    let i = format!("wg{}", unique());
    let timed = |what: &str, f: &dyn Fn() -> std::process::Output| {
        let t = std::time::Instant::now();
        let o = f();
        let took = t.elapsed();
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            took < std::time::Duration::from_secs(1),
            "{what} took {took:?}"
        );
    };
    timed("create", &|| d.ifc(&format!("{i} create")));
    timed("configure", &|| {
        d.ifc(&format!(
            "{i} wgkey {} wgport 51999 inet 10.9.9.1/24 up",
            genkey()
        ))
    });
    timed("status", &|| d.ifc(&i));
    // Another unprivileged user has a budget of its own.
    timed("status as another user", &|| {
        sh(&format!(
            "ip netns exec {} setpriv --reuid=65533 --regid=65533 --clear-groups {} -S {} -l",
            ns.name,
            bin("ifconfig-wg").display(),
            d.sock
        ))
    });
    end_child(&mut holder);
}
