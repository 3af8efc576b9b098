//! Writing rendered files into the output directory, and comparing with it.
//!
//! Safety rules: the manifest (`.meshgen-manifest`) lists what meshgen wrote last
//! time; meshgen never overwrites or deletes a file that is not in it, and removes
//! the files in it that are no longer produced.
//!
//! Atomicity: everything is rendered in memory, then the complete new directory is
//! staged beside the output. When the output holds only meshgen's files (the usual
//! case) the staged directory replaces it in one step (`renameat2` with
//! `RENAME_EXCHANGE` on Linux, a plain rename when there is no output yet), so a
//! failed or killed render leaves either the old directory or the new one. When the
//! output also holds foreign files, they must stay where they are, so the commit
//! falls back to one atomic rename per file, the manifest last.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::render::File;

pub const MANIFEST: &str = ".meshgen-manifest";
const MANIFEST_HEADER: &str =
    "# Files written by meshgen in this directory; it only ever overwrites or deletes these.\n";

fn out_err(msg: String) -> Error {
    Error::Output(msg)
}

/// Paths listed in `dir`'s manifest (empty when there is none).
fn read_manifest(dir: &Path) -> Result<BTreeSet<String>, Error> {
    match fs::read_to_string(dir.join(MANIFEST)) {
        Ok(text) => Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_owned)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(out_err(format!(
            "cannot read {}: {e}",
            dir.join(MANIFEST).display()
        ))),
    }
}

fn manifest_text(files: &[File]) -> String {
    let mut s = String::from(MANIFEST_HEADER);
    for f in files {
        s.push_str(&f.path);
        s.push('\n');
    }
    s
}

/// Writes `files` into `dir` (created if needed). Returns the paths removed as stale.
pub fn write(dir: &Path, files: &[File]) -> Result<Vec<String>, Error> {
    let previous = read_manifest(dir)?;
    // Refuse before touching anything.
    for f in files {
        let target = dir.join(&f.path);
        // A link inside the output (`out/istio -> /etc`) would be followed by the
        // per-file commit and write outside it.
        let mut inside = dir.to_path_buf();
        for part in Path::new(&f.path)
            .parent()
            .into_iter()
            .flat_map(Path::components)
        {
            inside.push(part);
            if inside.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
                return Err(out_err(format!(
                    "refusing to write into {}: it is not a plain directory (a link?)",
                    inside.display()
                )));
            }
        }
        if target.symlink_metadata().is_ok() && !previous.contains(&f.path) {
            return Err(out_err(format!(
                "refusing to overwrite {}: meshgen did not write it (not in {}); move it away or choose another -o",
                target.display(),
                dir.join(MANIFEST).display()
            )));
        }
    }
    let produced: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let stale: Vec<String> = previous
        .iter()
        .filter(|p| !produced.contains(p.as_str()))
        .filter(|p| safe_relative(p))
        .cloned()
        .collect();

    let staging = stage(dir, files)?;
    let result = swap(dir, &staging, &previous).and_then(|swapped| {
        if swapped {
            Ok(())
        } else {
            commit(dir, &staging, files, &stale)
        }
    });
    // After a swap the staging path holds the old directory.
    let _ = fs::remove_dir_all(&staging);
    result.map(|()| stale)
}

/// Replaces `dir` by `staging` in one step when that loses nothing; `false` when the
/// per-file commit must be used instead.
fn swap(dir: &Path, staging: &Path, previous: &BTreeSet<String>) -> Result<bool, Error> {
    match dir.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            set_dir_mode(staging, None);
            fs::rename(staging, dir)
                .map_err(|e| out_err(format!("cannot create {}: {e}", dir.display())))?;
            // Leave an empty directory for the caller's cleanup to find.
            let _ = fs::create_dir(staging);
            Ok(true)
        }
        Err(e) => Err(out_err(format!("cannot read {}: {e}", dir.display()))),
        // Swapping a symlink would replace the link, not what it points to.
        Ok(m) if m.file_type().is_symlink() => Ok(false),
        Ok(m) if !m.is_dir() => Err(out_err(format!("{} is not a directory", dir.display()))),
        Ok(m) => {
            if !only_ours(dir, dir, previous) {
                return Ok(false);
            }
            set_dir_mode(staging, Some(m.permissions()));
            Ok(exchange(staging, dir))
        }
    }
}

/// Whether everything under `dir` is a file meshgen wrote (or a directory of them).
fn only_ours(base: &Path, dir: &Path, previous: &BTreeSet<String>) -> bool {
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    entries.filter_map(Result::ok).all(|e| {
        let path = e.path();
        let Ok(ft) = e.file_type() else { return false };
        let rel = path
            .strip_prefix(base)
            .map(|p| p.to_string_lossy().into_owned());
        match rel {
            Ok(rel) if ft.is_dir() => !rel.is_empty() && only_ours(base, &path, previous),
            Ok(rel) if ft.is_file() => rel == MANIFEST || previous.contains(&rel),
            _ => false,
        }
    })
}

/// The staging directory is private (0700) when created; give it the old
/// directory's mode, or the usual 0755 for a new one.
fn set_dir_mode(dir: &Path, old: Option<fs::Permissions>) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let perms = old.unwrap_or_else(|| fs::Permissions::from_mode(0o755));
        let _ = fs::set_permissions(dir, perms);
    }
    #[cfg(not(unix))]
    let _ = (dir, old);
}

/// Atomically exchanges two directories; `false` if the system cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> bool {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (Ok(a), Ok(b)) = (
        CString::new(a.as_os_str().as_bytes()),
        CString::new(b.as_os_str().as_bytes()),
    ) else {
        return false;
    };
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call;
    // renameat2 only reads them. The raw syscall works with glibc and musl alike.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    rc == 0
}

#[cfg(not(target_os = "linux"))]
fn exchange(_: &Path, _: &Path) -> bool {
    false
}

/// A manifest entry is only ever a plain relative path; anything else is ignored
/// rather than followed out of the directory.
fn safe_relative(p: &str) -> bool {
    let path = Path::new(p);
    path.is_relative()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Writes everything into a fresh directory beside `dir` (same filesystem, so the
/// commit renames cannot fail half-way for lack of space). No fsync: the guarantee
/// is against failed and killed renders, not power loss, and syncing a dozen files
/// would cost more than the whole render.
fn stage(dir: &Path, files: &[File]) -> Result<PathBuf, Error> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)
        .map_err(|e| out_err(format!("cannot create {}: {e}", parent.display())))?;
    let base = dir
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    remove_abandoned_staging(&parent, &base);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{base}.meshgen-{}-", std::process::id()))
        .tempdir_in(&parent)
        .map_err(|e| {
            out_err(format!(
                "cannot create a staging directory in {}: {e}",
                parent.display()
            ))
        })?
        .keep();
    let write_all = || -> std::io::Result<()> {
        for f in files {
            let path = staging.join(&f.path);
            if let Some(p) = path.parent() {
                fs::create_dir_all(p)?;
            }
            fs::File::create(&path)?.write_all(f.content.as_bytes())?;
        }
        fs::File::create(staging.join(MANIFEST))?.write_all(manifest_text(files).as_bytes())
    };
    write_all().map_err(|e| {
        let _ = fs::remove_dir_all(&staging);
        out_err(format!(
            "cannot write staged output in {}: {e}",
            staging.display()
        ))
    })?;
    Ok(staging)
}

/// Staging directories are named `.<out>.meshgen-<pid>-<6 random>`. A render
/// killed before it could clean up (SIGKILL, power loss) leaves its own behind;
/// the next render removes those whose process is gone and which are over a
/// minute old (a render takes milliseconds; the age also covers a render in
/// another PID namespace sharing the directory). Anything else is left alone.
fn remove_abandoned_staging(parent: &Path, base: &str) {
    let prefix = format!(".{base}.meshgen-");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(staging_pid)
        else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 60));
        if old && !process_exists(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// `<pid>-<6 alphanumerics>` (tempfile's suffix), else None.
fn staging_pid(rest: &str) -> Option<i32> {
    let (pid, random) = rest.split_once('-')?;
    let random_ok = random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric());
    let pid_ok = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    if random_ok && pid_ok {
        pid.parse().ok()
    } else {
        None
    }
}

#[cfg(unix)]
fn process_exists(pid: i32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks the pid.
    let gone = unsafe { libc::kill(pid, 0) } == -1
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
    !gone
}

/// Without a way to ask, a staging directory is never taken for abandoned.
#[cfg(not(unix))]
fn process_exists(_: i32) -> bool {
    true
}

fn commit(dir: &Path, staging: &Path, files: &[File], stale: &[String]) -> Result<(), Error> {
    let io = |what: &str, p: &Path, e: std::io::Error| {
        out_err(format!("cannot {what} {}: {e}", p.display()))
    };
    fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    for f in files {
        let target = dir.join(&f.path);
        if let Some(p) = target.parent() {
            fs::create_dir_all(p).map_err(|e| io("create", p, e))?;
        }
        fs::rename(staging.join(&f.path), &target).map_err(|e| io("write", &target, e))?;
    }
    for p in stale {
        let target = dir.join(p);
        match fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove stale", &target, e)),
        }
        // Drop directories meshgen's files lived in once they are empty.
        if let Some(parent) = target.parent()
            && parent != dir
        {
            let _ = fs::remove_dir(parent);
        }
    }
    let manifest = dir.join(MANIFEST);
    fs::rename(staging.join(MANIFEST), &manifest).map_err(|e| io("write", &manifest, e))
}

/// A file of `dir` that differs from the render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The render has it, `dir` has other content (`None`: not text).
    Changed {
        path: String,
        old: Option<String>,
        new: String,
    },
    /// The render has it, `dir` does not.
    Missing { path: String, new: String },
    /// An earlier render wrote it, this one would remove it.
    Stale { path: String, old: Option<String> },
}

impl Difference {
    pub fn path(&self) -> &str {
        match self {
            Difference::Changed { path, .. }
            | Difference::Missing { path, .. }
            | Difference::Stale { path, .. } => path,
        }
    }

    /// `changed: PATH`, `missing: PATH` or `stale: PATH`.
    pub fn summary(&self) -> String {
        let what = match self {
            Difference::Changed { .. } => "changed",
            Difference::Missing { .. } => "missing",
            Difference::Stale { .. } => "stale",
        };
        format!("{what}: {}", self.path())
    }
}

/// What in `dir` differs from `files`: changed, missing and stale files, the
/// manifest of written files included.
pub fn check(dir: &Path, files: &[File]) -> Result<Vec<Difference>, Error> {
    let text = |p: &str| fs::read(dir.join(p)).ok().map(String::from_utf8);
    let mut differing = Vec::new();
    let manifest = File {
        path: MANIFEST.to_owned(),
        content: manifest_text(files),
        documents: 0,
    };
    for f in files.iter().chain([&manifest]) {
        match text(&f.path) {
            Some(Ok(old)) if old == f.content => {}
            Some(old) => differing.push(Difference::Changed {
                path: f.path.clone(),
                old: old.ok(),
                new: f.content.clone(),
            }),
            None => differing.push(Difference::Missing {
                path: f.path.clone(),
                new: f.content.clone(),
            }),
        }
    }
    let produced: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for p in read_manifest(dir)? {
        if !produced.contains(p.as_str()) && dir.join(&p).exists() {
            differing.push(Difference::Stale {
                old: text(&p).and_then(Result::ok),
                path: p,
            });
        }
    }
    Ok(differing)
}
