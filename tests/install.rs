//! `make install` puts everything under PREFIX inside DESTDIR, with the
//! scripts and units pointing at PREFIX; `make uninstall` removes it all.

mod common;
use common::*;

#[test]
fn make_install_and_uninstall_under_destdir() {
    let dest = format!("/tmp/wgt-dest-{}", unique());
    let _cleanup = Dir(dest.clone());
    let build = bin("wgd").parent().unwrap().display().to_string();
    let root = env!("CARGO_MANIFEST_DIR");
    ok(&format!(
        "make -C {root} install DESTDIR={dest} PREFIX=/opt/wgd BUILD={build}"
    ));
    let files = [
        "opt/wgd/sbin/wgd",
        "opt/wgd/sbin/ifconfig-wg",
        "opt/wgd/etc/rc.d/if_wg",
        "opt/wgd/etc/rc.d/wg",
        "opt/wgd/share/wgd/rc.subr",
        "opt/wgd/share/examples/wgd/bird.conf",
        "opt/wgd/share/examples/wgd/babeld.conf",
        "opt/wgd/share/man/man4/wg.4",
        "opt/wgd/share/man/man5/wg.conf.5",
        "opt/wgd/share/man/man8/wgd.8",
        "opt/wgd/share/man/man8/ifconfig-wg.8",
        "opt/wgd/lib/systemd/system/wgd.service",
        "opt/wgd/lib/systemd/system/wg-rc.service",
    ];
    for f in files {
        assert!(
            std::path::Path::new(&format!("{dest}/{f}")).exists(),
            "{f} not installed"
        );
    }
    let if_wg = std::fs::read_to_string(format!("{dest}/opt/wgd/etc/rc.d/if_wg")).unwrap();
    assert!(
        if_wg.contains(": \"${if_wg_program:=/opt/wgd/sbin/wgd}\""),
        "{if_wg}"
    );
    let wg = std::fs::read_to_string(format!("{dest}/opt/wgd/etc/rc.d/wg")).unwrap();
    assert!(wg.contains("/opt/wgd/sbin/ifconfig-wg") && !wg.contains("/usr/local/"));
    let unit =
        std::fs::read_to_string(format!("{dest}/opt/wgd/lib/systemd/system/wgd.service")).unwrap();
    // wgd reads rc.conf's if_wg_socket and if_wg_flags through if_wg.
    assert!(
        unit.contains("ExecStart=/opt/wgd/etc/rc.d/if_wg foreground"),
        "{unit}"
    );
    let unit = std::fs::read_to_string(format!("{dest}/opt/wgd/lib/systemd/system/wg-rc.service"))
        .unwrap();
    assert!(
        unit.contains("ExecStart=/opt/wgd/etc/rc.d/wg start"),
        "{unit}"
    );
    // The installed scripts find the installed rc.subr stand-in.
    std::fs::write(
        format!("{dest}/rc.conf"),
        format!("if_wg_pidfile={dest}/none.pid\n"),
    )
    .unwrap();
    let o = sh(&format!(
        "RC_CONF={dest}/rc.conf {dest}/opt/wgd/etc/rc.d/if_wg status"
    ));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "if_wg is not running.\n"
    );

    ok(&format!(
        "make -C {root} uninstall DESTDIR={dest} PREFIX=/opt/wgd"
    ));
    let _ = std::fs::remove_file(format!("{dest}/rc.conf"));
    // Neither files nor the directories install made under PREFIX (its
    // parents are not ours).
    let left = ok(&format!("find {dest} -mindepth 1 -not -path {dest}/opt"));
    assert_eq!(left, "", "left behind: {left}");
}

struct Dir(String);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The systemd units, installed for real under a scratch PREFIX (so the
/// programs they name exist), pass `systemd-analyze verify` without a
/// single complaint.
#[test]
fn systemd_units_verify_cleanly() {
    let prefix = format!("/tmp/wgt-prefix-{}", unique());
    let _cleanup = Dir(prefix.clone());
    let build = bin("wgd").parent().unwrap().display().to_string();
    let root = env!("CARGO_MANIFEST_DIR");
    ok(&format!(
        "make -C {root} install PREFIX={prefix} MANDIR={prefix}/man SYSTEMDDIR={prefix}/systemd BUILD={build}"
    ));
    let o = sh(&format!(
        "systemd-analyze verify --man=no {prefix}/systemd/wgd.service {prefix}/systemd/wg-rc.service"
    ));
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success() && out.is_empty(), "{out}");
    let unit = std::fs::read_to_string(format!("{prefix}/systemd/wgd.service")).unwrap();
    assert!(unit.contains("Type=notify\n"), "{unit}");
    assert!(unit.contains(&format!("ExecStart={prefix}/etc/rc.d/if_wg foreground\n")));
}

/// `make install-bsd` adds the four BSD commands and their page;
/// `make uninstall-bsd` takes everything away again.
#[test]
fn make_install_bsd_and_uninstall_bsd() {
    let dest = format!("/tmp/wgt-dest-{}", unique());
    let _cleanup = Dir(dest.clone());
    let build = bin("wgd").parent().unwrap().display().to_string();
    let root = env!("CARGO_MANIFEST_DIR");
    ok(&format!(
        "make -C {root} install-bsd DESTDIR={dest} PREFIX=/opt/wgd BUILD={build}"
    ));
    for f in [
        "sbin/wgd",
        "sbin/ifconfig-wg",
        "sbin/ifconfig",
        "sbin/kldload",
        "sbin/kldunload",
        "sbin/kldstat",
        "share/man/man8/bsd-commands.8",
        "etc/rc.d/if_wg",
    ] {
        assert!(
            std::path::Path::new(&format!("{dest}/opt/wgd/{f}")).exists(),
            "{f} not installed"
        );
    }
    ok(&format!(
        "make -C {root} uninstall-bsd DESTDIR={dest} PREFIX=/opt/wgd"
    ));
    let left = ok(&format!("find {dest} -mindepth 1 -not -path {dest}/opt"));
    assert_eq!(left, "", "left behind: {left}");
}
