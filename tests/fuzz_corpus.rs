//! Every input the fuzz targets (`fuzz/`) saved, and every input that ever
//! made one crash, replayed through the same entry points on stable Rust,
//! so `cargo test` keeps them covered. The grammar resolves host names, so
//! its inputs run in a network namespace of their own, with no network.

use std::path::Path;

fn inputs(target: &str) -> Vec<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut v = Vec::new();
    for dir in ["corpus", "artifacts", "regressions"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir).join(target)) {
            v.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    v.sort();
    v
}

fn replay(target: &str, f: fn(&[u8])) {
    let files = inputs(target);
    assert!(!files.is_empty(), "no saved inputs for {target}");
    for p in files {
        let data = std::fs::read(&p).unwrap();
        if std::panic::catch_unwind(|| f(&data)).is_err() {
            panic!("{} fails again", p.display());
        }
    }
}

#[test]
fn control_request_corpus() {
    replay("control_request", wgd::fuzzing::control_request);
}

#[test]
fn uapi_set_corpus() {
    replay("uapi_set", wgd::fuzzing::uapi_set);
}

#[test]
fn inbound_corpus() {
    replay("inbound", wgd::fuzzing::inbound);
}

#[test]
fn route_events_corpus() {
    replay("route_events", wgd::fuzzing::route_events);
}

#[test]
fn drain_corpus() {
    replay("drain", wgd::fuzzing::drain);
}

#[test]
fn grammar_corpus() {
    // A thread of its own in a new, empty network namespace: a name in an
    // input is looked up nowhere.
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("unshare(CLONE_NEWNET): run as root");
        replay("grammar", ifconfig_wg::fuzzing::grammar);
    })
    .join()
    .unwrap();
}

#[test]
fn tun_read_corpus() {
    replay("tun_read", wgd::fuzzing::tun_read);
}
