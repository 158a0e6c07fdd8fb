//! What the routing-daemon tests share: the example configurations they
//! run, and the files they write for them (removed on every exit path).

/// Files removed when this goes.
pub struct Files(pub Vec<String>);
impl Drop for Files {
    fn drop(&mut self) {
        for f in &self.0 {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// examples/NAME of the source tree.
pub fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}
