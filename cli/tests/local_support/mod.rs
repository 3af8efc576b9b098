//! Shared by the local_* tests: the real programs (Envoy on PATH, the chain
//! binaries built next to meshgen), profile variants, and the mesh itself.
//! A missing program fails the test loudly; nothing is ever skipped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use meshgen::model::{Model, Protocol};
use meshgen::profile::{Layers, load as load_profile};
use meshgen_cli::local::{Mesh, Options, RetryMode, load};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn profile_path(name: &str) -> PathBuf {
    repo()
        .join("profiles")
        .join(name)
        .canonicalize()
        .expect("profile exists")
}

/// Directory of meshgen, chain-http and chain-grpc.
pub fn bin_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_meshgen"))
        .parent()
        .expect("bin dir")
        .to_owned();
    for b in ["chain-http", "chain-grpc"] {
        assert!(
            dir.join(b).is_file(),
            "{b} not found in {}: run the tests with scripts/test (`cargo test --workspace` builds \
             every binary), or `cargo build -p chain-http -p chain-grpc` first",
            dir.display()
        );
    }
    dir
}

/// Envoy (scripts/test installs it into .tools/bin and puts that on PATH).
pub fn envoy() -> PathBuf {
    hop::testkit::tool("envoy")
}

pub fn demo(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Http => "demo.toml",
        Protocol::Grpc => "demo-grpc.toml",
    }
}

/// The profile `base` (in profiles/) with an optional TOML layer and `--set`s.
pub fn model(base: &str, layer: Option<&str>, sets: &[&str]) -> Model {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = Vec::new();
    if let Some(text) = layer {
        let f = dir.path().join("layer.toml");
        std::fs::write(&f, text).expect("write layer");
        files.push(f);
    }
    let loaded = load_profile(&Layers {
        profile: profile_path(base),
        files,
        sets: sets.iter().map(|s| s.to_string()).collect(),
    })
    .unwrap_or_else(|e| panic!("profile {base}: {e:?}"));
    meshgen::validate::resolve(&loaded).unwrap_or_else(|e| panic!("profile {base}: {e:?}"))
}

pub fn options() -> Options {
    Options {
        envoy: Some(envoy()),
        bin_dir: Some(bin_dir()),
        stub_external: true,
        ..Options::default()
    }
}

/// Meshes of one test binary take turns: each takes a dozen free ports and frees
/// some between Envoy restarts, so meshes started side by side could race for one.
pub async fn one_mesh_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

/// [`one_mesh_at_a_time`] for tests that run `meshgen up` / `compare` as programs.
pub fn one_program_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A failed test poisons the lock; the next one may still run.
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

pub async fn start(model: Model, opts: &Options) -> Mesh {
    Mesh::start(model, opts)
        .await
        .unwrap_or_else(|e| panic!("mesh did not start: {e}"))
}

pub async fn start_mode(model: Model, mode: RetryMode) -> Mesh {
    start(
        model,
        &Options {
            retry_mode: Some(mode),
            ..options()
        },
    )
    .await
}

/// `n` requests through the ingress with `headers`, 8 at a time.
pub async fn drive(mesh: &Mesh, n: usize, headers: &[(&str, &str)]) -> load::Outcome {
    let spec = load::Spec {
        requests: n,
        concurrency: 8,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        timeout: std::time::Duration::from_secs(60),
        rate: None,
        duration: None,
    };
    load::run(mesh.protocol(), mesh.ingress_port(), &spec, None)
        .await
        .expect("load")
}

/// Every descendant of `pid`, from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok()) {
            parent_of.push((p, ppid));
        }
    }
    let mut out = vec![];
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parent_of {
            if parent == p {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}
