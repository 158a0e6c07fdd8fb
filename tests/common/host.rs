//! A BSD-like host in a namespace for the boot tests: its own rc.conf,
//! wg.conf directory, socket and pidfile; the wgd that rc.d/if_wg started
//! is ended by the PID it wrote.

use super::*;
use std::path::Path;

pub struct Host {
    pub ns: Ns,
    pub dir: String,
    pub rc_conf: String,
    pub sock: String,
    pub pidfile: String,
}

impl Host {
    pub fn new(tag: &str, load: &str, interfaces: &str) -> Host {
        let ns = Ns::new(tag);
        let dir = format!("/tmp/wgt-boot-{}", unique());
        ok(&format!(
            "mkdir -p {dir}/wireguard && chmod 700 {dir}/wireguard"
        ));
        let (sock, pidfile) = (format!("{dir}/wgd.sock"), format!("{dir}/wgd.pid"));
        let rc_conf = format!("{dir}/rc.conf");
        std::fs::write(
            &rc_conf,
            format!(
                "if_wg_load=\"{load}\"\nif_wg_socket=\"{sock}\"\nif_wg_pidfile=\"{pidfile}\"\nif_wg_program=\"{}\"\nwg_enable=\"YES\"\nwg_interfaces=\"{interfaces}\"\nwg_config_dir=\"{dir}/wireguard\"\nwg_ifconfig_program=\"{}\"\n",
                bin("wgd").display(),
                bin("ifconfig-wg").display()
            ),
        )
        .unwrap();
        Host {
            ns,
            dir,
            rc_conf,
            sock,
            pidfile,
        }
    }

    pub fn rc(&self, script: &str, args: &str) -> std::process::Output {
        self.ns.exec(&format!(
            "env RC_CONF={} {}/rc.d/{script} {args}",
            self.rc_conf,
            env!("CARGO_MANIFEST_DIR")
        ))
    }

    pub fn conf(&self, ifname: &str, text: &str) -> String {
        let p = format!("{}/wireguard/{ifname}.conf", self.dir);
        std::fs::write(&p, text).unwrap();
        p
    }

    pub fn ifc(&self, args: &str) -> String {
        self.ns.run(&format!(
            "{} -S {} {args}",
            bin("ifconfig-wg").display(),
            self.sock
        ))
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        // The wgd that if_wg started: end it by the PID it wrote.
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = sh(&format!("kill -TERM {}", pid.trim()));
            let p = format!("/proc/{}", pid.trim());
            wait_until(5, || !Path::new(&p).exists());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
