//! The render library stays pure: its dependency tree has no async runtime, no
//! RPC stack and no TLS (docs/architecture.md). `cargo tree` is the judge.

use std::process::Command;

#[test]
fn render_library_has_no_runtime_or_rpc_stack() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "meshgen",
            "-e",
            "normal",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(tree.lines().any(|l| l.starts_with("contract ")), "{tree}");
    for forbidden in [
        "tokio",
        "tonic",
        "hyper",
        "rustls",
        "opentelemetry",
        "h2",
        "hop",
    ] {
        let found: Vec<&str> = tree
            .lines()
            .filter(|l| {
                l.split(' ').next().is_some_and(|name| {
                    name == forbidden || name.starts_with(&format!("{forbidden}-"))
                })
            })
            .collect();
        assert!(found.is_empty(), "meshgen depends on {found:?}");
    }
}
