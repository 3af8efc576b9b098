//! The staging directory beside the output: the complete new output is written
//! there first, then swapped in or moved in file by file (`write/mod.rs`).
//!
//! The staging directory is made by meshgen, under a random name, in the folder
//! holding the output (from the path the user typed, trusted as typed), so plain
//! paths are fine here.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::manifest;
use crate::error::Error;
use crate::render::File;

/// The staging directory is private (0700) when created; give it the old
/// directory's mode, or for a new one what the user's umask gives a new
/// directory (read from one made inside it: the umask cannot be read
/// without changing it). Its subdirectories were made under the umask; those
/// the old directory had keep their old modes.
pub fn set_dir_mode(dir: &Path, old: Option<(fs::Permissions, &Path)>) {
    let probe = dir.join(".meshgen-mode");
    let fresh = fs::create_dir(&probe)
        .and_then(|()| fs::metadata(&probe))
        .map(|m| m.permissions());
    let _ = fs::remove_dir(&probe);
    let Some((perms, old_dir)) = old else {
        if let Ok(perms) = fresh {
            let _ = fs::set_permissions(dir, perms);
        }
        return;
    };
    let _ = fs::set_permissions(dir, perms);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        // `symlink_metadata`: a link where the old directory was is not its mode.
        let was = fs::symlink_metadata(old_dir.join(entry.file_name()));
        if let Ok(was) = was
            && was.is_dir()
            && entry.file_type().is_ok_and(|t| t.is_dir())
        {
            let _ = fs::set_permissions(entry.path(), was.permissions());
        }
    }
}

/// Writes everything into a fresh directory beside `dir` (same filesystem, so the
/// commit renames cannot fail half-way for lack of space). No fsync: the guarantee
/// is against failed and killed renders, not power loss, and syncing a dozen files
/// would cost more than the whole render.
pub fn stage(dir: &Path, files: &[File]) -> Result<PathBuf, Error> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent)
        .map_err(|e| Error::Output(format!("cannot create {}: {e}", parent.display())))?;
    let base = dir
        .file_name()
        .map_or("out".into(), |n| n.to_string_lossy().into_owned());
    remove_abandoned_staging(&parent, &base);
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{base}.meshgen-{}-", std::process::id()))
        .tempdir_in(&parent)
        .map_err(|e| {
            Error::Output(format!(
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
        fs::File::create(staging.join(manifest::NAME))?.write_all(manifest::text(files).as_bytes())
    };
    write_all().map_err(|e| {
        let _ = fs::remove_dir_all(&staging);
        Error::Output(format!(
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
/// another PID namespace sharing the directory), and which are real
/// directories this user owns. Anything else (a link, a file, another user's
/// directory of that name) is left alone.
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
        // `DirEntry::metadata` does not follow a link: only a real directory
        // that this user made, as a render of this user would have.
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 60));
        if meta.is_dir() && ours(&meta) && old && !process_exists(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether this process's user owns what `meta` describes.
#[cfg(unix)]
fn ours(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    meta.uid() == rustix::process::geteuid().as_raw()
}

#[cfg(not(unix))]
fn ours(_: &fs::Metadata) -> bool {
    false
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

/// Atomically exchanges two directories; `false` if the system cannot.
#[cfg(target_os = "linux")]
pub fn exchange(a: &Path, b: &Path) -> bool {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).is_ok()
}

#[cfg(not(target_os = "linux"))]
pub fn exchange(_: &Path, _: &Path) -> bool {
    false
}
