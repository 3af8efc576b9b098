//! The README's "More commands", run as written and in order, in a copy of
//! `profiles/` and `out/` with a fresh home folder: each succeeds, and the
//! committed `out/` stays as it was (`render --check` still passes after
//! them all). The lines that need a cluster (kubectl), Envoy and minutes (up,
//! compare) or a file of the reader's own (my-overrides.toml) are left out.

use std::path::Path;
use std::process::Command;

const SKIPPED: [&str; 4] = ["kubectl", "meshgen up", "meshgen compare", "my-overrides"];

fn repo() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The lines of the README's sh block that follows "More commands".
fn more_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let after = &readme[readme
        .find("More commands")
        .expect("a More commands section")..];
    let block = after
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("its sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readmes_more_commands_run_as_written_and_leave_out_alone() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    for d in ["profiles", "out"] {
        let ok = Command::new("cp")
            .arg("-a")
            .arg(repo().join(d))
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "copy {d}");
    }
    let bin = Path::new(env!("CARGO_BIN_EXE_meshgen")).parent().unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin.to_owned())
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let bash = |line: &str| {
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", line])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    let lines = more_commands();
    let mut ran = 0;
    for line in &lines {
        if SKIPPED.iter().any(|s| line.contains(s)) {
            continue;
        }
        let out = bash(line);
        assert!(
            out.status.success(),
            "`{line}` failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 7, "ran {ran} of {lines:?}");
    let out = bash("meshgen render profiles/demo.toml --check");
    assert!(
        out.status.success(),
        "out/ changed:\n{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!dir.path().join("out/kustomization.yaml").exists());
    assert!(
        home.join(".local/share/man/man1/meshgen-render.1")
            .is_file()
    );
    assert!(
        home.join(".local/share/bash-completion/completions/meshgen")
            .is_file()
    );
}
