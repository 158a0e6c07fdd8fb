//! Anyone may read status, without secrets; only root changes anything.

mod common;
use common::*;

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
