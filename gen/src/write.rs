//! Writing rendered files into the output directory, and comparing with it.
//!
//! Safety rules: the manifest (`.meshgen-manifest`) lists what meshgen wrote last
//! time; meshgen never overwrites or deletes a file that is not in it, and removes
//! the files in it that are no longer produced. Nothing in the output directory is
//! touched until every file is rendered and staged on disk: a failed or killed
//! render before that point leaves the directory as it was. The commit is then one
//! rename per file (each file is replaced atomically) and the manifest last.

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
    let result = commit(dir, &staging, files, &stale);
    let _ = fs::remove_dir_all(&staging);
    result.map(|()| stale)
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
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{base}.meshgen-"))
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

/// Paths in `dir` that differ from `files` (changed, missing, or stale).
pub fn check(dir: &Path, files: &[File]) -> Result<Vec<String>, Error> {
    let mut differing = Vec::new();
    for f in files {
        match fs::read(dir.join(&f.path)) {
            Ok(bytes) if bytes == f.content.as_bytes() => {}
            Ok(_) => differing.push(format!("changed: {}", f.path)),
            Err(_) => differing.push(format!("missing: {}", f.path)),
        }
    }
    let produced: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for p in read_manifest(dir)? {
        if !produced.contains(p.as_str()) && dir.join(&p).exists() {
            differing.push(format!("stale: {p}"));
        }
    }
    if fs::read_to_string(dir.join(MANIFEST)).ok().as_deref() != Some(manifest_text(files).as_str())
    {
        differing.push(format!("changed: {MANIFEST}"));
    }
    Ok(differing)
}
