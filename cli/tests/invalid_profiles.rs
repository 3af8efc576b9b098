//! A corpus of bad and hostile profiles, one fault per file (in the style of toml-rs's
//! compliance fixtures), each with the exact stderr `meshgen render` must print.
//!
//! Layout, under `fixtures/invalid/`:
//! - `<area>/<case>.toml` is one case; `<area>/<case>.stderr` is its expected stderr.
//! - `<area>/<case>/main.toml` (a directory holding `main.toml`) is one case of several
//!   files, e.g. an `extends` loop: the whole directory is copied and `main.toml` rendered;
//!   its expected stderr is still `<area>/<case>.stderr`.
//!
//! Each case runs `meshgen render <file> [ARGS] -o out` with its cwd a fresh temp dir holding
//! only the case's file(s) and `out/keep.txt`, so paths in messages are relative and stable.
//! It must, within 20 s: exit 2; print nothing on stdout; print exactly the snapshot on
//! stderr; start every `error:` line with `<file>:LINE:COL:` (a file of the case) or
//! `--set ...:LINE:COL:` (only a "missing required key" error may name the file alone);
//! print no raw control (but newline) or bidi character, however hostile the input;
//! and leave the temp dir (`out/` included) exactly as it was.
//!
//! `ARGS`: a case whose first line is `# args: --set a.b=c` gets those arguments, split on
//! whitespace; `\n` in them stands for a newline (`# args: --set name=x\nistio.mtls=true`).
//! A case's bytes are copied as they are: `encoding/` holds UTF-16 and Latin-1 profiles
//! (their first line is read as UTF-8 for `# args:`, so they take none).
//!
//! `BLESS=1 cargo test -p meshgen-cli --test invalid_profiles` writes each snapshot from the
//! actual stderr instead of comparing, for the cases passing every other check; a case that
//! exits 0 or hangs is never blessed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIN_CASES: usize = 45;
const TIMEOUT: Duration = Duration::from_secs(20);
/// Bidirectional controls, which reorder what a terminal shows (U+061C, U+200E-F, U+202A-E, U+2066-9).
const BIDI: &[char] = &[
    '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}',
    '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
];
const KEEP: &[u8] = b"not meshgen's: must survive every failed render\n";

struct Case {
    /// `names/service-name-64-chars` or `extends/loop`.
    name: String,
    /// The file or directory to copy into the temp dir.
    src: PathBuf,
    /// The file to render, relative to the temp dir.
    main: String,
    snapshot: PathBuf,
}

/// Every case under `dir`, sorted by path.
fn collect(root: &Path, dir: &Path, cases: &mut Vec<Case>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let main = if path.join("main.toml").is_file() {
            "main.toml".to_string()
        } else if path.is_dir() {
            collect(root, &path, cases);
            continue;
        } else if path.extension().is_some_and(|e| e == "toml") {
            path.file_name().unwrap().to_str().unwrap().to_string()
        } else {
            let case = path.with_extension("");
            assert!(
                path.extension().is_some_and(|e| e == "stderr")
                    && (case.with_extension("toml").is_file() || case.join("main.toml").is_file()),
                "{}: neither a case nor the snapshot of one",
                path.display()
            );
            continue;
        };
        let name = path.strip_prefix(root).unwrap().with_extension("");
        cases.push(Case {
            name: name.display().to_string(),
            snapshot: path.with_extension("stderr"),
            src: path,
            main,
        });
    }
}

/// Every file under `dir` with its bytes (directories as empty entries ending in `/`).
fn tree(dir: &Path, base: &Path, files: &mut BTreeMap<String, Vec<u8>>) {
    for e in fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let rel = path.strip_prefix(base).unwrap().display().to_string();
        if path.is_dir() {
            files.insert(format!("{rel}/"), vec![]);
            tree(&path, base, files);
        } else {
            files.insert(rel, fs::read(&path).unwrap());
        }
    }
}

fn snapshot_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    tree(dir, dir, &mut files);
    files
}

/// The arguments of a `# args:` first line.
fn extra_args(profile: &str) -> Vec<String> {
    let first = profile.lines().next().unwrap_or("");
    first.strip_prefix("# args:").map_or(vec![], |args| {
        args.split_whitespace()
            .map(|a| a.replace("\\n", "\n"))
            .collect()
    })
}

/// `s` starts with `LINE:COL: `.
fn starts_with_position(s: &str) -> bool {
    let mut parts = s.splitn(3, ':');
    let mut number = || {
        parts
            .next()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    number() && number() && parts.next().is_some_and(|rest| rest.starts_with(' '))
}

/// The `error:` lines that name neither `file:LINE:COL:` (a file of `files`) nor `--set ...:LINE:COL:`.
fn unplaced_errors(stderr: &str, files: &[String]) -> Vec<String> {
    let placed = |line: &str| {
        let Some(msg) = line.strip_prefix("error: ") else {
            return false;
        };
        // A --set error names its argument, which is one line: the argument
        // is its position.
        if msg.starts_with("--set ") {
            return true;
        }
        files.iter().any(|f| {
            msg.strip_prefix(f.as_str())
                .and_then(|r| r.strip_prefix(':'))
                .is_some_and(|r| {
                    starts_with_position(r)
                        || (r.starts_with(' ') && msg.contains("missing required key"))
                })
        })
    };
    stderr
        .lines()
        .filter(|l| l.starts_with("error:") && !placed(l))
        .map(str::to_string)
        .collect()
}

/// Characters that must not reach a terminal raw: controls but newline, and bidi controls.
fn is_raw(c: char) -> bool {
    (c.is_control() && c != '\n') || BIDI.contains(&c)
}

/// `bytes` indented, raw characters escaped.
fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let escape = |c: char| match is_raw(c) {
        true => c.escape_unicode().to_string(),
        false => c.to_string(),
    };
    text.lines()
        .map(|l| format!("    {}\n", l.chars().map(escape).collect::<String>()))
        .collect()
}

/// Runs one case; `Err` says what is wrong with it.
fn run(case: &Case, bless: bool) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("case");
    fs::create_dir(&work).unwrap();
    if case.src.is_dir() {
        for e in fs::read_dir(&case.src).unwrap() {
            let path = e.unwrap().path();
            fs::copy(&path, work.join(path.file_name().unwrap())).unwrap();
        }
    } else {
        fs::copy(&case.src, work.join(&case.main)).unwrap();
    }
    fs::create_dir(work.join("out")).unwrap();
    fs::write(work.join("out/keep.txt"), KEEP).unwrap();
    let before = snapshot_of(&work);
    let files: Vec<String> = before
        .keys()
        .filter(|f| f.ends_with(".toml"))
        .cloned()
        .collect();

    // Bytes: some cases are not UTF-8 (UTF-16, Latin-1); their `# args:` line is
    // read as UTF-8 only.
    let profile = String::from_utf8_lossy(&fs::read(work.join(&case.main)).unwrap()).into_owned();
    let (out_path, err_path) = (tmp.path().join("stdout"), tmp.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshgen"))
        .arg("render")
        .arg(&case.main)
        .args(extra_args(&profile))
        .args(["-o", "out"])
        .current_dir(&work)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_path).unwrap())
        .stderr(fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("meshgen runs");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            return Err(format!("still running after {TIMEOUT:?}: killed"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, stderr) = (fs::read(&out_path).unwrap(), fs::read(&err_path).unwrap());

    let mut problems = vec![];
    if status.code() != Some(2) {
        problems.push(format!("{status}, expected exit status 2"));
    }
    if !stdout.is_empty() {
        problems.push(format!("stdout not empty:\n{}", show(&stdout)));
    }
    let after = snapshot_of(&work);
    if after != before {
        let changed: Vec<_> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        problems.push(format!("the temp dir changed: {changed:?}"));
    }
    let raw: Vec<char> = String::from_utf8_lossy(&stderr)
        .chars()
        .filter(|&c| is_raw(c))
        .collect();
    if !raw.is_empty() {
        problems.push(format!(
            "stderr prints raw control or bidi characters: {raw:?}"
        ));
    }
    let unplaced = unplaced_errors(&String::from_utf8_lossy(&stderr), &files);
    if !unplaced.is_empty() {
        problems.push(format!(
            "error lines without `file:LINE:COL:`: {unplaced:?}"
        ));
    }
    if problems.is_empty() && bless {
        fs::write(&case.snapshot, &stderr).unwrap();
    } else if let Ok(expected) = fs::read(&case.snapshot) {
        if expected != stderr {
            problems.push(format!(
                "stderr differs from {}:\nexpected:\n{}actual:\n{}",
                case.snapshot.display(),
                show(&expected),
                show(&stderr)
            ));
        }
    } else if !bless {
        problems.push(format!(
            "no {}: run with BLESS=1 to write it; stderr:\n{}",
            case.snapshot.display(),
            show(&stderr)
        ));
    } else {
        problems.push(format!("not blessed; stderr:\n{}", show(&stderr)));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n  "))
    }
}

#[test]
fn invalid_profiles_fail_with_their_snapshot_and_write_nothing() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut cases = vec![];
    collect(&root, &root, &mut cases);
    let bless = std::env::var_os("BLESS").is_some_and(|v| v == "1");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run(case, bless)
                .err()
                .map(|e| format!("{}: {e}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        cases.len() >= MIN_CASES,
        "only {} cases, expected at least {MIN_CASES}",
        cases.len()
    );
}
