//! Helpers shared by the integration tests: running the real binary and reading its output.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_vaetool"))
}

pub fn dataset(name: &str) -> String {
    format!("{}/datasets/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run vaetool")
}

pub fn ok(args: &[&str]) -> (String, String) {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "vaetool {args:?} failed:\n{err}");
    (String::from_utf8_lossy(&o.stdout).to_string(), err)
}

/// Runs a failing command; returns stderr after checking the exit code and that no panic or
/// backtrace leaked out.
pub fn fails(args: &[&str], code: i32) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(code), "vaetool {args:?}:\n{err}");
    assert!(!err.contains("panicked"), "panic for {args:?}:\n{err}");
    err
}

pub fn metric(stderr: &str, name: &str) -> f64 {
    let i = stderr
        .find(&format!("{name} "))
        .unwrap_or_else(|| panic!("no {name} in:\n{stderr}"));
    stderr[i + name.len() + 1..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

pub fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn s(p: &Path) -> String {
    p.display().to_string()
}

/// 120 rows of three separated blobs in four columns, row `i` in blob `i % 3`.
pub fn blobs() -> vaetool::data::Matrix {
    let mut v = Vec::new();
    for i in 0..120 {
        let c = (i % 3) as f32;
        let a = ((i * 7 % 13) as f32 - 6.0) / 20.0;
        let b = ((i * 5 % 11) as f32 - 5.0) / 20.0;
        v.extend([c * 3.0 + a, -c * 2.0 + b, c + a - b, 1.0 - c + b]);
    }
    vaetool::data::Matrix::new(120, 4, v)
}
