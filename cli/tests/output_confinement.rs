//! The output folder is untrusted input (a checkout may hold anything): nothing
//! meshgen reads, writes or deletes resolves outside it, whatever links, FIFOs and
//! manifest lines it holds.
//!
//! Each case puts a `victim/` folder beside `out/`, holding files with a secret
//! marker (and a FIFO, which would hang whoever opened it), and plants links into
//! it inside `out/`. After `render` and `render --check`, `victim/` must be byte for
//! byte what it was (and nothing else be left beside `out/`), the secret must appear on neither stdout nor stderr, every run
//! must end (a FIFO read would hang), and stderr must hold no raw control byte.
//!
//! Decided: `-o` itself may be a link (the user typed that path, as with any
//! tool), and meshgen writes into the folder it points to; links *inside* the
//! folder are never followed, replaced or deleted through.
//!
//! The examples of issue 18 are tests below; the property at the end draws random
//! link layouts (links to the victim's folder, its files, its FIFO, `/dev/zero`,
//! `..`, absolute and relative, at names meshgen writes and others; FIFOs; files)
//! and random manifests (lines escaping the folder, through links, absolute,
//! junk with control characters; the manifest itself a FIFO, a link, huge).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::profile;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

const SECRET: &str = "SECRET-7c1f4b-victim-content";
const MANIFEST: &str = ".meshgen-manifest";
/// Far beyond a render here; a run that takes it is hung.
const TIMEOUT: Duration = Duration::from_secs(20);

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs meshgen in `cwd` with a deadline (a FIFO read would otherwise hang the suite).
fn meshgen(cwd: &Path, args: &[&str]) -> Result<Run, String> {
    let out = tempfile::tempdir().unwrap();
    let (so, se) = (out.path().join("stdout"), out.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshgen"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&so).unwrap())
        .stderr(fs::File::create(&se).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            return Err(format!("meshgen {args:?} still running after {TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let text = |p: &Path| String::from_utf8_lossy(&fs::read(p).unwrap()).into_owned();
    Ok(Run {
        code: status.code(),
        stdout: text(&so),
        stderr: text(&se),
    })
}

fn render(cwd: &Path, extra: &[&str]) -> Run {
    let demo = profile("demo.toml");
    let mut args = vec!["render", demo.as_str(), "-o", "out"];
    args.extend_from_slice(extra);
    meshgen(cwd, &args).unwrap()
}

/// What a tree holds, links and FIFOs included, following nothing.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            let rel = path.strip_prefix(base).unwrap().display().to_string();
            let ft = fs::symlink_metadata(&path).unwrap().file_type();
            let what = if ft.is_symlink() {
                format!("link to {}", fs::read_link(&path).unwrap().display())
            } else if ft.is_dir() {
                walk(base, &path, out);
                "dir".to_owned()
            } else if ft.is_file() {
                format!("file {:?}", fs::read(&path).unwrap())
            } else {
                "special".to_owned()
            };
            out.insert(rel, what);
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A temp dir with `victim/` (secret files, a subfolder, a FIFO) beside where
/// `out/` goes.
fn with_victim() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    fs::create_dir_all(victim.join("sub")).unwrap();
    for f in [
        "secret.yaml",
        "secret.txt",
        "20-workloads.yaml",
        "sub/secret.yaml",
    ] {
        fs::write(victim.join(f), format!("{SECRET} {f}\n")).unwrap();
    }
    mkfifo(&victim.join("fifo"));
    (tmp, victim)
}

/// No raw control character but newline, no bidirectional control.
fn assert_printable(stderr: &str) {
    let raw: Vec<char> = stderr
        .chars()
        .filter(|&c| (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c))
        .collect();
    assert!(raw.is_empty(), "raw characters {raw:?} in:\n{stderr}");
}

fn assert_untouched(victim: &Path, before: &BTreeMap<String, String>, runs: &[&Run]) {
    assert_eq!(&tree(victim), before, "the folder beside out/ changed");
    for r in runs {
        assert!(
            !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
            "a file outside out/ was printed:\n{}\n{}",
            r.stdout,
            r.stderr
        );
        assert_printable(&r.stderr);
    }
}

fn append(path: &Path, text: &str) {
    let mut old = fs::read_to_string(path).unwrap();
    old.push_str(text);
    fs::write(path, old).unwrap();
}

#[test]
fn a_linked_folder_inside_out_is_not_followed_to_remove_stale_files() {
    let (tmp, victim) = with_victim();
    let out = tmp.path().join("out");
    assert_eq!(render(tmp.path(), &[]).code, Some(0));
    symlink("../victim", out.join("evil")).unwrap();
    // The case (a .txt line) and the same through a name meshgen could write.
    append(
        &out.join(MANIFEST),
        "evil/secret.txt\nevil/secret.yaml\nevil/sub/secret.yaml\n",
    );
    let before = tree(&victim);

    let check = render(tmp.path(), &["--check"]);
    assert_eq!(check.code, Some(1), "{}", check.stderr);
    assert!(
        check
            .stderr
            .contains("warning: left out/evil/secret.yaml alone: out/evil is a symbolic link"),
        "{}",
        check.stderr
    );
    let r = render(tmp.path(), &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!r.stderr.contains("removed stale"), "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "warning: out/.meshgen-manifest:16: ignoring \"evil/secret.txt\": not a file meshgen writes"
        ),
        "{}",
        r.stderr
    );
    assert_untouched(&victim, &before, &[&check, &r]);
    assert!(fs::symlink_metadata(out.join("evil")).unwrap().is_symlink());
}

#[test]
fn manifest_lines_leaving_the_folder_are_ignored_with_a_warning() {
    let (tmp, victim) = with_victim();
    let out = tmp.path().join("out");
    assert_eq!(render(tmp.path(), &[]).code, Some(0));
    let abs = victim.join("secret.yaml").display().to_string();
    append(
        &out.join(MANIFEST),
        &format!(
            "../victim/secret.yaml\n{abs}\naddons/../../victim/secret.yaml\n./x.yaml\n\u{1b}[2J.yaml\n"
        ),
    );
    let before = tree(&victim);
    let check = render(tmp.path(), &["--check"]);
    let r = render(tmp.path(), &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    for line in [
        "\"../victim/secret.yaml\"",
        &format!("{abs:?}"),
        "\"addons/../../victim/secret.yaml\"",
        "\"./x.yaml\"",
        "\"\\u{1b}[2J.yaml\"",
    ] {
        assert!(
            r.stderr.contains(&format!("ignoring {line}")),
            "{line}: {}",
            r.stderr
        );
        assert!(
            check.stderr.contains(&format!("ignoring {line}")),
            "{line}: {}",
            check.stderr
        );
    }
    assert_untouched(&victim, &before, &[&check, &r]);
}

#[test]
fn a_link_at_a_rendered_path_is_neither_read_nor_replaced() {
    let (tmp, victim) = with_victim();
    let out = tmp.path().join("out");
    assert_eq!(render(tmp.path(), &[]).code, Some(0));
    fs::remove_file(out.join("20-workloads.yaml")).unwrap();
    symlink("../victim/20-workloads.yaml", out.join("20-workloads.yaml")).unwrap();
    fs::remove_file(out.join("30-ingress.yaml")).unwrap();
    symlink("/dev/zero", out.join("30-ingress.yaml")).unwrap();
    let before = tree(&victim);

    let check = render(tmp.path(), &["--check"]);
    assert_eq!(check.code, Some(1));
    assert!(
        check
            .stderr
            .contains("changed: 20-workloads.yaml (a symbolic link, not read)"),
        "{}",
        check.stderr
    );
    assert!(
        check.stdout.contains(
            "Files a/20-workloads.yaml and b/20-workloads.yaml differ (a/20-workloads.yaml: a symbolic link, not read)"
        ),
        "{}",
        check.stdout
    );
    let r = render(tmp.path(), &[]);
    assert_eq!(r.code, Some(2));
    assert_eq!(
        r.stderr.trim_end(),
        "error: refusing to replace out/20-workloads.yaml: it is a symbolic link; meshgen only replaces regular files it wrote"
    );
    assert_untouched(&victim, &before, &[&check, &r]);
}

#[test]
fn a_linked_folder_at_a_rendered_path_is_not_written_into() {
    let (tmp, victim) = with_victim();
    let out = tmp.path().join("out");
    assert_eq!(render(tmp.path(), &[]).code, Some(0));
    fs::remove_dir_all(out.join("addons")).unwrap();
    symlink("../victim", out.join("addons")).unwrap();
    let before = tree(&victim);

    let check = render(tmp.path(), &["--check"]);
    assert_eq!(check.code, Some(1));
    assert!(
        check.stderr.contains(
            "changed: addons/01-jaeger.yaml (out/addons is a symbolic link, which meshgen does not follow, not read)"
        ),
        "{}",
        check.stderr
    );
    let r = render(tmp.path(), &[]);
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.starts_with(
            "error: refusing to write into out/addons: it is a symbolic link, not a plain directory"
        ),
        "{}",
        r.stderr
    );
    assert_untouched(&victim, &before, &[&check, &r]);
}

/// Makes a manifest at the path.
type Make = dyn Fn(&Path);

/// A manifest that is not a small regular file is a clear error, at once.
#[test]
fn a_manifest_that_is_no_small_regular_file_is_refused() {
    let cases: [(&str, &Make, &str); 4] = [
        ("FIFO", &|m| mkfifo(m), "out/.meshgen-manifest is a FIFO"),
        (
            "/dev/zero",
            &|m| symlink("/dev/zero", m).unwrap(),
            "out/.meshgen-manifest is a symbolic link",
        ),
        (
            "link out",
            &|m| symlink("../victim/secret.yaml", m).unwrap(),
            "out/.meshgen-manifest is a symbolic link",
        ),
        (
            "huge",
            &|m| fs::write(m, "x.yaml\n".repeat(200_000)).unwrap(),
            "out/.meshgen-manifest is larger than 1024 KiB",
        ),
    ];
    for (what, make, expected) in cases {
        let (tmp, victim) = with_victim();
        let out = tmp.path().join("out");
        assert_eq!(render(tmp.path(), &[]).code, Some(0));
        fs::remove_file(out.join(MANIFEST)).unwrap();
        make(&out.join(MANIFEST));
        let before = tree(&victim);
        let out_before = tree(&out);
        let check = render(tmp.path(), &["--check"]);
        let r = render(tmp.path(), &[]);
        for run in [&check, &r] {
            assert_eq!(run.code, Some(2), "{what}: {}", run.stderr);
            assert!(
                run.stderr.starts_with(&format!("error: {expected}")),
                "{what}: {}",
                run.stderr
            );
        }
        assert_untouched(&victim, &before, &[&check, &r]);
        assert_eq!(tree(&out), out_before, "{what}: out/ changed");
    }
}

/// A FIFO listed as a stale file is left alone, not opened.
#[test]
fn a_stale_entry_that_is_no_regular_file_is_left_alone() {
    let (tmp, victim) = with_victim();
    let out = tmp.path().join("out");
    assert_eq!(render(tmp.path(), &[]).code, Some(0));
    mkfifo(&out.join("99-old.yaml"));
    append(&out.join(MANIFEST), "99-old.yaml\n");
    let before = tree(&victim);
    let check = render(tmp.path(), &["--check"]);
    assert_eq!(check.code, Some(1));
    assert!(
        check.stderr.contains(
            "warning: left out/99-old.yaml alone: it is a FIFO, which meshgen never writes"
        ),
        "{}",
        check.stderr
    );
    let r = render(tmp.path(), &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(fs::symlink_metadata(out.join("99-old.yaml")).is_ok());
    assert_untouched(&victim, &before, &[&check, &r]);
}

#[test]
fn out_itself_may_be_a_link_the_user_typed() {
    let (tmp, victim) = with_victim();
    fs::create_dir(tmp.path().join("real")).unwrap();
    symlink("real", tmp.path().join("out")).unwrap();
    let before = tree(&victim);
    let r = render(tmp.path(), &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(tmp.path().join("real/20-workloads.yaml").is_file());
    assert!(
        fs::symlink_metadata(tmp.path().join("out"))
            .unwrap()
            .is_symlink()
    );
    let check = render(tmp.path(), &["--check"]);
    assert_eq!(check.code, Some(0), "{}", check.stderr);
    // Stale files go from the folder it points to.
    let r = render(tmp.path(), &["--set", "istio.mtls=false"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!tmp.path().join("real/10-security.yaml").exists());
    assert_untouched(&victim, &before, &[&check, &r]);
}

/// A link to a folder on another filesystem: staged beside the folder, so the
/// renames do not cross filesystems.
#[test]
fn out_may_link_to_another_filesystem() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let Ok(other) = tempfile::tempdir_in("/dev/shm") else {
        return; // no second filesystem here
    };
    let dev = |p: &Path| fs::metadata(p).unwrap().dev();
    if dev(tmp.path()) == dev(other.path()) {
        return;
    }
    let real = other.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::write(real.join("notes.txt"), "mine").unwrap();
    symlink(&real, tmp.path().join("out")).unwrap();
    for extra in [&[][..], &["--set", "istio.mtls=false"][..]] {
        let r = render(tmp.path(), extra);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    assert!(real.join("20-workloads.yaml").is_file());
    assert!(!real.join("10-security.yaml").exists());
    assert_eq!(fs::read(real.join("notes.txt")).unwrap(), b"mine");
    let beside: Vec<_> = fs::read_dir(other.path()).unwrap().collect();
    assert_eq!(beside.len(), 1, "staging left beside the folder");
}

#[test]
fn out_naming_a_file_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("out"), "mine").unwrap();
    symlink("nowhere", tmp.path().join("dangling")).unwrap();
    for extra in [&[][..], &["--check"][..]] {
        let r = render(tmp.path(), extra);
        assert_eq!(r.code, Some(2));
        assert_eq!(
            r.stderr.trim_end(),
            "error: -o out: not a folder; -o names the folder to write the manifests into (created if missing), or - for one YAML stream on stdout"
        );
        let demo = profile("demo.toml");
        let mut args = vec!["render", demo.as_str(), "-o", "dangling"];
        args.extend_from_slice(extra);
        let r = meshgen(tmp.path(), &args).unwrap();
        assert_eq!(r.code, Some(2));
        assert!(
            r.stderr
                .starts_with("error: -o dangling: a symbolic link to nothing"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(fs::read(tmp.path().join("out")).unwrap(), b"mine");
    let names: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing staged or left: {names:?}");
}

// ---------------------------------------------------------------------------
// The property: random link layouts and manifests
// ---------------------------------------------------------------------------

/// Names inside out/: ones meshgen writes (files and folders) and others.
const NAMES: &[&str] = &[
    "evil",
    "addons",
    "istio",
    "applyset",
    "sub",
    "20-workloads.yaml",
    "00-namespace.yaml",
    "99-old.yaml",
    "addons/01-jaeger.yaml",
    "addons/evil",
    "istio/install.yaml",
    "sub/evil",
    "sub/x.yaml",
    MANIFEST,
];

/// Where planted links point (`ABS` is the victim's absolute path).
const TARGETS: &[&str] = &[
    "../victim",
    "../../victim",
    "../victim/secret.yaml",
    "../victim/20-workloads.yaml",
    "../victim/fifo",
    "../victim/sub",
    "ABS",
    "ABS/secret.yaml",
    "ABS/fifo",
    "/dev/zero",
    "..",
    ".",
    "nowhere",
];

/// Manifest lines (`ABS` as above).
const LINES: &[&str] = &[
    "evil/secret.yaml",
    "evil/secret.txt",
    "evil/20-workloads.yaml",
    "evil/sub/secret.yaml",
    "evil/fifo",
    "sub/evil/secret.yaml",
    "addons/evil/secret.yaml",
    "addons/secret.yaml",
    "../victim/secret.yaml",
    "addons/../../victim/secret.yaml",
    "ABS/secret.yaml",
    "ABS",
    "20-workloads.yaml",
    "99-old.yaml",
    "sub/x.yaml",
    "./x.yaml",
    "evil",
    "",
    "# a comment",
];

#[derive(Debug, Clone)]
enum Plant {
    Link(&'static str),
    Fifo,
    File,
    Dir,
}

#[derive(Debug, Clone)]
enum ManifestKind {
    /// The render's own, with these lines added.
    Lines(Vec<String>),
    Absent,
    Fifo,
    Link(&'static str),
    Huge,
}

#[derive(Debug, Clone)]
struct Layout {
    rendered_first: bool,
    plants: Vec<(&'static str, Plant)>,
    manifest: ManifestKind,
}

fn layout() -> impl Strategy<Value = Layout> {
    let plant = prop_oneof![
        4 => proptest::sample::select(TARGETS).prop_map(Plant::Link),
        1 => Just(Plant::Fifo),
        1 => Just(Plant::File),
        1 => Just(Plant::Dir),
    ];
    let line = prop_oneof![
        4 => proptest::sample::select(LINES).prop_map(str::to_owned),
        1 => "[\\PC\\p{Cc}\u{202e}\u{85}\u{9b}]{0,30}",
    ];
    let manifest = prop_oneof![
        6 => proptest::collection::vec(line, 0..12).prop_map(ManifestKind::Lines),
        1 => Just(ManifestKind::Absent),
        1 => Just(ManifestKind::Fifo),
        1 => proptest::sample::select(TARGETS).prop_map(ManifestKind::Link),
        1 => Just(ManifestKind::Huge),
    ];
    (
        any::<bool>(),
        proptest::collection::vec((proptest::sample::select(NAMES), plant), 0..6),
        manifest,
    )
        .prop_map(|(rendered_first, plants, manifest)| Layout {
            rendered_first,
            plants,
            manifest,
        })
}

/// Creates `rel` under `out` as `plant`, only through real folders (the test
/// itself must not write through a planted link); false if it cannot.
fn plant(out: &Path, rel: &str, plant: &Plant, abs: &str) -> bool {
    let path = out.join(rel);
    let mut dir = out.to_path_buf();
    for part in Path::new(rel)
        .parent()
        .into_iter()
        .flat_map(Path::components)
    {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return false,
            Err(_) => fs::create_dir(&dir).unwrap(),
        }
    }
    if fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
        fs::remove_dir_all(&path).unwrap();
    } else if fs::symlink_metadata(&path).is_ok() {
        fs::remove_file(&path).unwrap();
    }
    match plant {
        Plant::Link(target) => symlink(target.replace("ABS", abs), &path).unwrap(),
        Plant::Fifo => mkfifo(&path),
        Plant::File => fs::write(&path, "planted\n").unwrap(),
        Plant::Dir => fs::create_dir(&path).unwrap(),
    }
    true
}

fn set_up(layout: &Layout, dir: &Path, victim: &Path) {
    let out = dir.join("out");
    let abs = victim.display().to_string();
    if layout.rendered_first {
        assert_eq!(render(dir, &[]).code, Some(0));
    } else {
        fs::create_dir(&out).unwrap();
    }
    for (rel, p) in &layout.plants {
        plant(&out, rel, p, &abs);
    }
    let manifest = out.join(MANIFEST);
    let own = match fs::symlink_metadata(&manifest) {
        Ok(m) if m.is_file() => fs::read_to_string(&manifest).unwrap(),
        Ok(_) => return, // a plant took its place
        Err(_) => String::new(),
    };
    let _ = fs::remove_file(&manifest);
    match &layout.manifest {
        ManifestKind::Lines(lines) => {
            let mut text = own;
            for l in lines {
                text.push_str(&l.replace("ABS", &abs));
                text.push('\n');
            }
            fs::write(&manifest, text).unwrap();
        }
        ManifestKind::Absent => {}
        ManifestKind::Fifo => mkfifo(&manifest),
        ManifestKind::Link(target) => symlink(target.replace("ABS", &abs), &manifest).unwrap(),
        ManifestKind::Huge => fs::write(&manifest, "x.yaml\n".repeat(200_000)).unwrap(),
    }
}

fn nothing_outside_is_touched(layout: Layout) -> Result<(), TestCaseError> {
    let (tmp, victim) = with_victim();
    set_up(&layout, tmp.path(), &victim);
    let before = tree(&victim);
    let mut runs = Vec::new();
    for extra in [
        &["--check"][..],
        &[][..],
        &["--check", "--set", "istio.mtls=false"][..],
        &["--set", "istio.mtls=false"][..],
    ] {
        let demo = profile("demo.toml");
        let mut args = vec!["render", demo.as_str(), "-o", "out"];
        args.extend_from_slice(extra);
        let run = meshgen(tmp.path(), &args).map_err(TestCaseError::fail)?;
        prop_assert!(
            matches!(run.code, Some(0..=2)),
            "{extra:?} exited {:?}: {}",
            run.code,
            run.stderr
        );
        runs.push(run);
    }
    let after = tree(&victim);
    prop_assert_eq!(&after, &before, "the folder beside out/ changed");
    let mut beside: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    beside.sort();
    prop_assert_eq!(beside, ["out", "victim"], "left beside out/ (staging?)");
    for r in &runs {
        prop_assert!(
            !r.stdout.contains(SECRET) && !r.stderr.contains(SECRET),
            "a file outside out/ was printed:\n{}\n{}",
            r.stdout,
            r.stderr
        );
        let raw: Vec<char> = r
            .stderr
            .chars()
            .filter(|&c| (c.is_control() && c != '\n') || c == '\u{202e}')
            .collect();
        prop_assert!(raw.is_empty(), "raw {raw:?} in stderr:\n{}", r.stderr);
    }
    Ok(())
}

#[test]
fn random_links_and_manifests_never_reach_outside_out() {
    let mut config = Config::with_cases(64);
    config.failure_persistence = None;
    match TestRunner::new(config).run(&layout(), nothing_outside_is_touched) {
        Ok(()) => {}
        Err(TestError::Fail(why, layout)) => {
            panic!("property failed: {why}\nminimal layout: {layout:#?}")
        }
        Err(e) => panic!("{e}"),
    }
}
