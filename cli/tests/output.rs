//! Writing safely: atomic on failure, stale files removed, foreign files untouched,
//! `--check`, and the freshness of the committed `out/`.

mod common;

use common::*;

fn render_to(out: &std::path::Path, extra: &[&str]) -> Run {
    let out_s = out.display().to_string();
    let demo = profile("demo.toml");
    let mut args = vec!["render", demo.as_str(), "-o", out_s.as_str()];
    args.extend_from_slice(extra);
    meshgen(&args)
}

#[test]
fn committed_out_is_fresh() {
    let r = meshgen(&["render", "profiles/demo.toml", "--check"]);
    assert_eq!(
        r.code, 0,
        "out/ is stale; run `cargo run --bin meshgen -- render profiles/demo.toml`:\n{}",
        r.stderr
    );
}

#[test]
fn check_reports_differences() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = render_to(&out, &["--check"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("missing: 20-workloads.yaml"),
        "{}",
        r.stderr
    );
    assert!(!out.exists(), "--check writes nothing");

    assert_eq!(render_to(&out, &[]).code, 0);
    assert_eq!(render_to(&out, &["--check"]).code, 0);

    std::fs::write(out.join("30-ingress.yaml"), "edited").unwrap();
    let r = render_to(&out, &["--check", "--set", "istio.tracing=false"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("changed: 30-ingress.yaml"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("stale: addons/01-jaeger.yaml"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("10-security.yaml"), "{}", r.stderr);

    // What would change, as a unified diff on stdout, for `git apply`-minded readers.
    let patch = &r.stdout;
    assert!(
        patch.contains("--- a/30-ingress.yaml\n+++ b/30-ingress.yaml\n"),
        "{patch}"
    );
    assert!(patch.contains("\n-edited"), "{patch}");
    assert!(patch.contains("\n+kind: Gateway\n"), "{patch}");
    // A stale file goes away entirely.
    assert!(
        patch.contains("--- a/addons/01-jaeger.yaml\n+++ /dev/null\n"),
        "{patch}"
    );
    assert!(!patch.contains("a/10-security.yaml"), "{patch}");
}

#[test]
fn failed_render_leaves_the_old_output_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(render_to(&out, &[]).code, 0);
    let before = snapshot(tmp.path());

    // Bad input.
    let r = render_to(
        &out,
        &["--set", "istio.mtls=3", "--set", "namespace=changed"],
    );
    assert_eq!(r.code, 2);
    // A template that fails at render time, after others rendered fine.
    let tpl = tmp.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    std::fs::write(tpl.join("04-kiali.yaml.j2"), "{{ nope.nope }}").unwrap();
    let tpl_s = tpl.display().to_string();
    let r = render_to(&out, &["--set", "namespace=changed", "--templates", &tpl_s]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    std::fs::remove_dir_all(&tpl).unwrap();

    assert_eq!(
        snapshot(tmp.path()),
        before,
        "the old out/ must be untouched, with no leftovers"
    );
}

#[test]
fn stale_files_are_removed_and_foreign_files_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(render_to(&out, &[]).code, 0);
    std::fs::write(out.join("99-mine.yaml"), "mine").unwrap();

    let r = render_to(
        &out,
        &["--set", "istio.tracing=false", "--set", "istio.mtls=false"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("removed stale"), "{}", r.stderr);
    for gone in [
        "addons/01-jaeger.yaml",
        "addons/05-telemetry.yaml",
        "10-security.yaml",
    ] {
        assert!(!out.join(gone).exists(), "{gone} should be removed");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("99-mine.yaml")).unwrap(),
        "mine"
    );
    let manifest = std::fs::read_to_string(out.join(".meshgen-manifest")).unwrap();
    assert!(!manifest.contains("addons/01-jaeger.yaml") && manifest.contains("20-workloads.yaml"));
    assert!(!manifest.contains("99-mine.yaml"));
    // No staging directories left beside out/.
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("out")]);
}

#[test]
fn refuses_to_overwrite_files_it_did_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("20-workloads.yaml"), "hand-written").unwrap();
    let r = render_to(&out, &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("refusing to overwrite"), "{}", r.stderr);
    assert!(r.stderr.contains("20-workloads.yaml"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(out.join("20-workloads.yaml")).unwrap(),
        "hand-written"
    );
    let names: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "nothing else written: {names:?}");

    // A file listed in no manifest is never deleted, even if meshgen could produce it.
    let other = tmp.path().join("other");
    assert_eq!(render_to(&other, &[]).code, 0);
    std::fs::write(other.join(".meshgen-manifest"), "# emptied by hand\n").unwrap();
    let r = render_to(&other, &[]);
    assert_eq!(r.code, 2);
    assert!(other.join("addons/01-jaeger.yaml").exists());
}

#[test]
fn check_refuses_stdout() {
    let r = meshgen(&["render", &profile("demo.toml"), "-o", "-", "--check"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--check needs a directory"));
}

#[cfg(target_os = "linux")]
#[test]
fn an_output_of_only_meshgen_files_is_swapped_in_whole() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(render_to(&out, &[]).code, 0);
    let meta = std::fs::metadata(&out).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o755,
        "a new out/ is not private"
    );
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o750)).unwrap();
    let before = std::fs::metadata(&out).unwrap().ino();

    // Only meshgen's files: the whole directory is replaced in one step (new inode),
    // keeping its mode.
    assert_eq!(render_to(&out, &["--set", "istio.mtls=false"]).code, 0);
    let after = std::fs::metadata(&out).unwrap();
    assert_ne!(after.ino(), before);
    assert_eq!(after.permissions().mode() & 0o777, 0o750);
    assert!(!out.join("10-security.yaml").exists());

    // A foreign file in it: files are replaced one by one, the directory stays.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let before = after.ino();
    assert_eq!(render_to(&out, &[]).code, 0);
    assert_eq!(std::fs::metadata(&out).unwrap().ino(), before);
    assert!(out.join("10-security.yaml").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("out")],
        "no staging left behind"
    );
}

/// A render killed mid-way (SIGKILL) leaves its staging directory beside the
/// output; the next render removes it once it is over a minute old, and
/// nothing that is not one.
#[cfg(target_os = "linux")]
#[test]
fn a_killed_render_s_staging_is_removed_by_the_next_one() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let staging = |name: &str, modified| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("20-workloads.yaml"), "half").unwrap();
        std::fs::File::open(&dir)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        dir
    };
    // pid_max is at most 2^22: this render's process cannot be alive.
    let abandoned = staging(".out.meshgen-4194305-Ab12Cd", hour_ago);
    // Just made: maybe a render of another PID namespace.
    let recent = staging(".out.meshgen-4194306-Ef34Gh", std::time::SystemTime::now());
    // pid 1 is alive: a render in progress.
    let live = staging(".out.meshgen-1-Ij56Kl", hour_ago);
    // Not tempfile's name.
    let other = staging(".out.meshgen-4194305-notes", hour_ago);

    assert_eq!(render_to(&out, &[]).code, 0);
    assert!(!abandoned.exists());
    for kept in [recent, live, other] {
        assert!(
            kept.join("20-workloads.yaml").exists(),
            "{}",
            kept.display()
        );
    }
}

fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// A render keeps the modes the user gave the output folder and its
/// subfolders, and a new folder gets what the umask gives, as its files do.
#[test]
fn renders_keep_the_folders_modes() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    assert_eq!(render_to(&out, &[]).code, 0);
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    set(&out, 0o750);
    set(&out.join("addons"), 0o700);
    let r = render_to(&out, &["--set", "istio.mtls=false"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(mode(&out), 0o750);
    assert_eq!(mode(&out.join("addons")), 0o700);

    // umask 077: the new folder and its subfolders are the user's alone.
    let private = dir.path().join("private");
    let r = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 077 && exec \"$0\" render {} -o {}",
            profile("demo.toml"),
            private.display()
        ))
        .arg(env!("CARGO_BIN_EXE_meshgen"))
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    for p in [
        private.clone(),
        private.join("addons"),
        private.join("istio"),
    ] {
        assert_eq!(mode(&p), 0o700, "{}", p.display());
    }
}
