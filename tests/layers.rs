//! The floors of the README's ARCHITECTURE section, read from the source:
//! the driver core (src/wg, src/noise) names nothing above it outside
//! comments, and no source file grows past 600 lines.

use std::path::{Path, PathBuf};

const ABOVE_THE_CORE: &[&str] = &[
    "data",
    "plane",
    "registry",
    "uapi",
    "ctl",
    "daemon",
    "launcher",
    "linkwatch",
    "routewatch",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a line, without a `//` comment (good enough for our
/// sources: no `//` inside the string literals of these files' paths).
fn code(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

/// Every `crate::X` a file names in code, and in `use crate::{X, ...}`.
fn crate_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_block_comment = false;
    let mut joined = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if in_block_comment {
            if t.contains("*/") {
                in_block_comment = false;
            }
            continue;
        }
        if t.starts_with("/*") {
            in_block_comment = !t.contains("*/");
            continue;
        }
        joined.push_str(code(line));
        joined.push('\n');
    }
    let mut rest = joined.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let head = item.trim().split("::").next().unwrap_or("").trim();
                found.push(head.to_string());
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(head);
        }
    }
    found
}

#[test]
fn the_driver_core_points_only_down() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root.join("wg"), &mut files);
    rust_files(&root.join("noise"), &mut files);
    assert!(files.len() > 10, "read the core's files");
    let mut up = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for m in crate_paths(&text) {
            if ABOVE_THE_CORE.contains(&m.as_str()) {
                up.push(format!("{} uses crate::{m}", f.display()));
            }
        }
    }
    assert!(up.is_empty(), "the core reaches up:\n{}", up.join("\n"));
}

#[test]
fn the_checker_sees_what_it_looks_for() {
    let text = "use crate::wg::peer::Peer;\n// crate::plane in a comment\nuse crate::{data::tx, sys};\nlet x = crate::uapi::bind(n);\n";
    assert_eq!(crate_paths(text), ["wg", "data", "sys", "uapi"]);
}

#[test]
fn no_source_file_is_over_600_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["src", "proto/src", "ifconfig-wg/src"] {
        rust_files(&root.join(d), &mut files);
    }
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 600).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "{}", long.join("\n"));
}
