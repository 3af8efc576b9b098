//! Writing rendered files into the output folder, and comparing with it.
//!
//! Safety rules: the manifest (`.meshgen-manifest`, [`manifest`]) lists what
//! meshgen wrote last time; meshgen never overwrites or deletes a file that is not
//! in it, and removes the files in it that are no longer produced.
//!
//! Confinement: the output folder is input too (a checkout may hold links, FIFOs,
//! a hostile manifest). Nothing meshgen reads, writes or deletes resolves outside
//! it: every path inside is walked from a handle on the folder without following
//! links ([`tree`]); only regular files are read, under a size cap, and only
//! regular files are replaced or deleted. The folder itself may be a link: the
//! user typed that path.
//!
//! Atomicity: everything is rendered in memory, then the complete new directory is
//! staged beside the output ([`staging`]). When the output holds only meshgen's
//! files (the usual case) the staged directory replaces it in one step (`renameat2`
//! with `RENAME_EXCHANGE` on Linux, a plain rename when there is no output yet), so
//! a failed or killed render leaves either the old directory or the new one. When
//! the output also holds foreign files, they must stay where they are, so the
//! commit falls back to one atomic rename per file, the manifest last.

#[cfg(not(unix))]
compile_error!("meshgen writes its output folder with openat(2) and friends: a Unix system");

mod manifest;
mod staging;
mod tree;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::error::Error;
use crate::render::File;
pub use manifest::{NAME as MANIFEST, is_ours};
use tree::{Contents, Refused, Tree};

/// The largest file `--check` reads from the output folder besides the render's
/// own size: a stale file is only read to show its diff.
pub const MAX_READ_BYTES: u64 = 64 << 20;

fn out_err(msg: String) -> Error {
    Error::Output(msg)
}

/// `dir/rel` as shown in messages.
fn shown(dir: &Path, rel: &str) -> String {
    dir.join(rel).display().to_string()
}

/// The output folder: `None` when it does not exist yet. `-o` must name a
/// directory (or a link to one), never another kind of file.
fn open_output(dir: &Path) -> Result<Option<Tree>, Error> {
    let link = match dir.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(out_err(format!("cannot read {}: {e}", dir.display()))),
        Ok(m) => m.file_type().is_symlink(),
    };
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(out_err(format!(
                "-o {}: not a folder; -o names the folder to write the manifests into (created \
                 if missing), or - for one YAML stream on stdout",
                dir.display()
            )));
        }
        Err(e) if link && e.kind() == std::io::ErrorKind::NotFound => {
            return Err(out_err(format!(
                "-o {}: a symbolic link to nothing; -o names the folder meshgen writes its files in",
                dir.display()
            )));
        }
        Err(e) => return Err(out_err(format!("cannot read {}: {e}", dir.display()))),
    }
    Tree::open(dir)
        .map(Some)
        .map_err(|e| out_err(format!("cannot open {}: {e}", dir.display())))
}

/// The manifest of `out` (empty when there is no output yet).
fn read_manifest(dir: &Path, out: Option<&Tree>) -> Result<manifest::Manifest, Error> {
    match out {
        None => Ok(manifest::Manifest::default()),
        Some(tree) => manifest::read(tree, &shown(dir, MANIFEST)).map_err(out_err),
    }
}

/// A rendered path meshgen would refuse to find in a manifest is a bug, not input.
fn check_rendered_paths(files: &[File]) -> Result<(), Error> {
    match files.iter().find(|f| !is_ours(&f.path)) {
        Some(f) => Err(out_err(format!(
            "internal error: rendered file {:?} is not a plain relative .yaml path",
            f.path
        ))),
        None => Ok(()),
    }
}

/// Listed files no longer produced, split into those to remove (regular files) and
/// warnings about the others, which stay.
fn stale(
    dir: &Path,
    out: Option<&Tree>,
    listed: &BTreeSet<String>,
    files: &[File],
) -> Result<(Vec<String>, Vec<String>), Error> {
    let (mut remove, mut warnings) = (Vec::new(), Vec::new());
    let Some(tree) = out else {
        return Ok((remove, warnings));
    };
    let produced: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for p in listed.iter().filter(|p| !produced.contains(p.as_str())) {
        match tree.kind(p) {
            Ok(None) => {}
            Ok(Some(tree::Kind::File)) => remove.push(p.clone()),
            Ok(Some(kind)) => warnings.push(format!(
                "left {} alone: it is {kind}, which meshgen never writes",
                shown(dir, p)
            )),
            Err(Refused::Kind { path, kind }) => warnings.push(format!(
                "left {} alone: {} is {kind}, which meshgen does not follow",
                shown(dir, p),
                shown(dir, &path)
            )),
            Err(e) => return Err(out_err(format!("cannot read {}: {e}", shown(dir, p)))),
        }
    }
    Ok((remove, warnings))
}

/// What a render changed in the output folder.
#[derive(Debug, Default)]
pub struct Written {
    /// Files of an earlier render removed as stale.
    pub removed: Vec<String>,
    /// What was found in the folder and left alone, for the user.
    pub warnings: Vec<String>,
}

/// Writes `files` into `dir` (created if needed).
pub fn write(dir: &Path, files: &[File]) -> Result<Written, Error> {
    check_rendered_paths(files)?;
    let out = open_output(dir)?;
    let previous = read_manifest(dir, out.as_ref())?;
    // Refuse before touching anything.
    if let Some(tree) = &out {
        for f in files {
            let target = shown(dir, &f.path);
            match tree.kind(&f.path) {
                Ok(None) => {}
                Ok(Some(tree::Kind::File)) if previous.listed.contains(&f.path) => {}
                Ok(Some(tree::Kind::File)) => {
                    return Err(out_err(format!(
                        "refusing to overwrite {target}: meshgen did not write it (not in {}); move it away or choose another -o",
                        shown(dir, MANIFEST)
                    )));
                }
                Ok(Some(kind)) => {
                    return Err(out_err(format!(
                        "refusing to replace {target}: it is {kind}; meshgen only replaces regular files it wrote"
                    )));
                }
                Err(Refused::Kind { path, kind }) => {
                    return Err(out_err(format!(
                        "refusing to write into {}: it is {kind}, not a plain directory (meshgen follows no link inside its output folder)",
                        shown(dir, &path)
                    )));
                }
                Err(e) => return Err(out_err(format!("cannot read {target}: {e}"))),
            }
        }
    }
    let (stale, mut warnings) = stale(dir, out.as_ref(), &previous.listed, files)?;

    // Stage beside the folder itself, not beside a link to it (`-o` may be one), so
    // that every rename stays on one filesystem.
    let real = match dir.symlink_metadata() {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(dir)
            .map_err(|e| out_err(format!("cannot resolve {}: {e}", dir.display())))?,
        _ => dir.to_path_buf(),
    };
    let staging = staging::stage(&real, files)?;
    let result = swap(dir, out.as_ref(), &staging, &previous.listed).and_then(|swapped| {
        if swapped {
            Ok(())
        } else {
            commit(dir, &staging, files, &stale)
        }
    });
    // After a swap the staging path holds the old directory (only meshgen's files
    // and directories: `remove_dir_all` follows no link anyway).
    let _ = fs::remove_dir_all(&staging);
    result?;
    warnings.splice(0..0, previous.ignored);
    Ok(Written {
        removed: stale,
        warnings,
    })
}

/// Replaces `dir` by `staging` in one step when that loses nothing; `false` when the
/// per-file commit must be used instead.
fn swap(
    dir: &Path,
    out: Option<&Tree>,
    staging: &Path,
    previous: &BTreeSet<String>,
) -> Result<bool, Error> {
    let Some(tree) = out else {
        staging::set_dir_mode(staging, None);
        fs::rename(staging, dir)
            .map_err(|e| out_err(format!("cannot create {}: {e}", dir.display())))?;
        // Leave an empty directory for the caller's cleanup to find.
        let _ = fs::create_dir(staging);
        return Ok(true);
    };
    let m = dir
        .symlink_metadata()
        .map_err(|e| out_err(format!("cannot read {}: {e}", dir.display())))?;
    // Swapping a symlink would replace the link, not what it points to.
    if m.file_type().is_symlink() || !m.is_dir() {
        return Ok(false);
    }
    if !tree.holds_only(&|rel| rel == MANIFEST || previous.contains(rel)) {
        return Ok(false);
    }
    staging::set_dir_mode(staging, Some((m.permissions(), dir)));
    Ok(staging::exchange(staging, dir))
}

/// Moves each staged file into `dir` (atomically replacing its old version), removes
/// the stale files, then moves the manifest in.
fn commit(dir: &Path, staging: &Path, files: &[File], stale: &[String]) -> Result<(), Error> {
    let io = |what: &str, rel: &str, e: Refused| {
        out_err(format!("cannot {what} {}: {e}", shown(dir, rel)))
    };
    fs::create_dir_all(dir)
        .map_err(|e| out_err(format!("cannot create {}: {e}", dir.display())))?;
    let out = Tree::open(dir).map_err(|e| io("open", "", Refused::Io(e)))?;
    let staged = Tree::open(staging)
        .map_err(|e| out_err(format!("cannot open {}: {e}", staging.display())))?;
    for f in files {
        out.move_in(&staged, &f.path)
            .map_err(|e| io("write", &f.path, e))?;
    }
    for p in stale {
        out.remove_file(p).map_err(|e| io("remove stale", p, e))?;
        // Drop directories meshgen's files lived in once they are empty.
        out.remove_empty_parents(p);
    }
    out.move_in(&staged, MANIFEST)
        .map_err(|e| io("write", MANIFEST, e))
}

/// What `--check` found of a file in the output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Old {
    Text(String),
    /// A regular file, not UTF-8.
    NotText,
    /// Not read, and why: not a regular file, or too large.
    Unread(String),
}

/// A file of `dir` that differs from the render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The render has it, `dir` has something else there.
    Changed { path: String, old: Old, new: String },
    /// The render has it, `dir` does not.
    Missing { path: String, new: String },
    /// An earlier render wrote it, this one would remove it.
    Stale { path: String, old: Old },
}

impl Difference {
    pub fn path(&self) -> &str {
        match self {
            Difference::Changed { path, .. }
            | Difference::Missing { path, .. }
            | Difference::Stale { path, .. } => path,
        }
    }

    /// `changed: PATH`, `missing: PATH` or `stale: PATH`, and why a file was not
    /// read.
    pub fn summary(&self) -> String {
        let (what, old) = match self {
            Difference::Changed { old, .. } => ("changed", Some(old)),
            Difference::Missing { .. } => ("missing", None),
            Difference::Stale { old, .. } => ("stale", Some(old)),
        };
        match old {
            Some(Old::Unread(why)) => format!("{what}: {} ({why}, not read)", self.path()),
            _ => format!("{what}: {}", self.path()),
        }
    }
}

/// What `--check` found.
#[derive(Debug, Default)]
pub struct Checked {
    pub differences: Vec<Difference>,
    /// What was found in the folder and would be left alone, for the user.
    pub warnings: Vec<String>,
}

/// `rel` of the output as `--check` sees it: `None` when missing.
fn old_file(dir: &Path, tree: &Tree, rel: &str, cap: u64) -> Result<Option<Old>, Error> {
    Ok(Some(match tree.read(rel, cap) {
        Ok(Contents::Missing) => return Ok(None),
        Ok(Contents::Bytes(bytes)) => String::from_utf8(bytes).map_or(Old::NotText, Old::Text),
        Err(Refused::Kind { path, kind }) if path == rel => Old::Unread(kind.to_string()),
        Err(Refused::Kind { path, kind }) => Old::Unread(format!(
            "{} is {kind}, which meshgen does not follow",
            shown(dir, &path)
        )),
        Err(Refused::TooLarge { cap, .. }) => {
            Old::Unread(format!("larger than {} KiB", cap / 1024))
        }
        Err(e) => return Err(out_err(format!("cannot read {}: {e}", shown(dir, rel)))),
    }))
}

/// What in `dir` differs from `files`: changed, missing and stale files, the
/// manifest of written files included. Reads only regular files inside `dir`.
pub fn check(dir: &Path, files: &[File]) -> Result<Checked, Error> {
    check_rendered_paths(files)?;
    let out = open_output(dir)?;
    let previous = read_manifest(dir, out.as_ref())?;
    let manifest = File {
        path: MANIFEST.to_owned(),
        content: manifest::text(files),
        documents: 0,
    };
    let mut differences = Vec::new();
    for f in files.iter().chain([&manifest]) {
        let cap = MAX_READ_BYTES.max(f.content.len() as u64);
        let old = match &out {
            Some(tree) => old_file(dir, tree, &f.path, cap)?,
            None => None,
        };
        match old {
            Some(Old::Text(old)) if old == f.content => {}
            Some(old) => differences.push(Difference::Changed {
                path: f.path.clone(),
                old,
                new: f.content.clone(),
            }),
            None => differences.push(Difference::Missing {
                path: f.path.clone(),
                new: f.content.clone(),
            }),
        }
    }
    let (stale, mut warnings) = stale(dir, out.as_ref(), &previous.listed, files)?;
    if let Some(tree) = &out {
        for path in stale {
            if let Some(old) = old_file(dir, tree, &path, MAX_READ_BYTES)? {
                differences.push(Difference::Stale { path, old });
            }
        }
    }
    warnings.splice(0..0, previous.ignored);
    Ok(Checked {
        differences,
        warnings,
    })
}
