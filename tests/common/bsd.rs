//! The BSD commands of `make install-bsd` installed under a prefix of a
//! test's own, and a shell in a namespace that types them (tests/bsd.rs,
//! tests/bsd_links.rs).

use super::*;

/// The commands installed under a PREFIX of our own.
pub struct Installed {
    pub prefix: String,
}

impl Installed {
    pub fn new() -> Installed {
        let prefix = format!("/tmp/wgt-bsd-{}", unique());
        let build = bin("wgd").parent().unwrap().display().to_string();
        let root = env!("CARGO_MANIFEST_DIR");
        ok(&format!(
            "make -s -C {root} install-bsd PREFIX={prefix} BUILD={build} >/dev/null"
        ));
        Installed { prefix }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.prefix);
    }
}

/// A namespace where a BSD administrator types commands: our sbin
/// first on PATH (and the system's after it, when `system`), and a
/// control socket of its own.
pub struct Shell<'a> {
    pub ns: &'a Ns,
    pub path: String,
    pub sock: String,
}

pub struct Typed {
    pub code: Option<i32>,
    pub out: String,
    pub err: String,
}

impl<'a> Shell<'a> {
    pub fn new(ns: &'a Ns, i: &Installed, system: bool) -> Shell<'a> {
        let sys = if system {
            ":/usr/sbin:/usr/bin:/sbin:/bin"
        } else {
            ":/usr/bin:/bin"
        };
        Shell {
            ns,
            path: format!("{}/sbin{sys}", i.prefix),
            sock: format!("/tmp/wgt-bsd-{}.sock", unique()),
        }
    }

    pub fn without_system(&self) -> Shell<'a> {
        Shell {
            ns: self.ns,
            path: self.path.split(':').take(1).collect::<Vec<_>>().join(":") + ":/usr/bin:/bin",
            sock: self.sock.clone(),
        }
    }

    pub fn type_as(&self, user: Option<&str>, line: &str) -> Typed {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns.name]);
        if let Some(u) = user {
            c.args([
                "setpriv",
                &format!("--reuid={u}"),
                "--regid=65534",
                "--clear-groups",
            ]);
        }
        let o = c
            .arg("env")
            .arg(format!("PATH={}", self.path))
            .arg(format!("WGD_SOCKET={}", self.sock))
            .args(["sh", "-c", line])
            .output()
            .expect("sh");
        Typed {
            code: o.status.code(),
            out: String::from_utf8_lossy(&o.stdout).into_owned(),
            err: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub fn typed(&self, line: &str) -> Typed {
        self.type_as(None, line)
    }

    /// Must succeed; its standard output.
    pub fn ok(&self, line: &str) -> String {
        let t = self.typed(line);
        assert_eq!(t.code, Some(0), "`{line}`: {}{}", t.out, t.err);
        t.out
    }

    /// Must fail with this status, this one stderr line and no output.
    pub fn fails(&self, line: &str, code: i32, err: &str) {
        let t = self.typed(line);
        let want = if err.is_empty() {
            String::new()
        } else {
            format!("{err}\n")
        };
        assert_eq!(
            (t.code, t.err.as_str(), t.out.as_str()),
            (Some(code), want.as_str(), ""),
            "`{line}`"
        );
    }

    pub fn pidfile(&self) -> String {
        format!("{}.pid", self.sock.trim_end_matches(".sock"))
    }

    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.pidfile())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }
}

/// A daemon kldload started is not our child: end it by the pid it
/// wrote, if the test stops before kldunload did.
impl Drop for Shell<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.pid() {
            let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
            if exe.ends_with("sbin/wgd") {
                let _ = sh(&format!("kill -TERM {pid}"));
                wait_until(10, || !alive(pid));
            }
        }
        let _ = std::fs::remove_file(&self.sock);
        let _ = std::fs::remove_file(self.pidfile());
    }
}
