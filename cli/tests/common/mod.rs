//! Helpers shared by the integration tests: run the real `meshgen` binary.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_norway::Value;

/// Random valid profiles (properties.rs).
pub mod random_profile;
/// The strict schema validators and the YAML 1.1 reader (schemas.rs, properties.rs).
pub mod schema;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn profile(name: &str) -> String {
    repo().join("profiles").join(name).display().to_string()
}

/// Every profile in profiles/, sorted.
pub fn shipped_profiles() -> Vec<PathBuf> {
    let mut profiles: Vec<PathBuf> = std::fs::read_dir(repo().join("profiles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    profiles.sort();
    assert!(profiles.len() >= 2, "expected the shipped profiles");
    profiles
}

pub fn meshgen_in(cwd: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_meshgen"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("meshgen runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

pub fn meshgen(args: &[&str]) -> Run {
    meshgen_in(&repo(), args)
}

/// Renders `args` into a fresh temp dir; returns it.
pub fn render(args: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut all: Vec<&str> = vec!["render"];
    all.extend_from_slice(args);
    let out_s = out.display().to_string();
    all.extend_from_slice(&["-o", &out_s]);
    let r = meshgen(&all);
    assert_eq!(r.code, 0, "render failed: {}", r.stderr);
    dir
}

/// All files under `dir` (relative path -> bytes), skipping nothing.
pub fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Every YAML document of every `.yaml` file under `dir`, with its file.
pub fn documents(dir: &Path) -> Vec<(String, Value)> {
    let mut docs = Vec::new();
    for (path, bytes) in snapshot(dir) {
        if !path.ends_with(".yaml") {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        for de in serde_norway::Deserializer::from_str(&text) {
            let v = Value::deserialize(de).unwrap();
            if !v.is_null() {
                docs.push((path.clone(), v));
            }
        }
    }
    docs
}

pub fn find<'a>(docs: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Writes a profile into `dir` and returns its path.
pub fn write_profile(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}
