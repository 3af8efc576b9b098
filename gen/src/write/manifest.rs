//! `.meshgen-manifest`: the files meshgen wrote in a folder, which it alone may
//! overwrite or delete there.
//!
//! The manifest is read from the output folder, which is input like any other:
//! it is read only as a regular file of at most [`MAX_BYTES`], and a line is
//! trusted only when it names a file meshgen could have written ([`is_ours`]).
//! Other lines are ignored, each with a warning.

use std::collections::BTreeSet;

use super::tree::{Contents, Refused, Tree};
use crate::render::File;

pub const NAME: &str = ".meshgen-manifest";
const HEADER: &str =
    "# Files written by meshgen in this directory; it only ever overwrites or deletes these.\n";

/// A manifest lists a few dozen paths; a megabyte is far beyond any render.
pub const MAX_BYTES: u64 = 1 << 20;

/// The most names in one path meshgen writes (`addons/01-jaeger.yaml` has two).
const MAX_DEPTH: usize = 4;

/// The manifest's text for `files`.
pub fn text(files: &[File]) -> String {
    let mut s = String::from(HEADER);
    for f in files {
        s.push_str(&f.path);
        s.push('\n');
    }
    s
}

/// Whether meshgen could have written `path`: a relative path of at most
/// [`MAX_DEPTH`] names, each of ASCII letters, digits, `-`, `_` and `.` and not
/// starting with a dot, the last ending in `.yaml`. Every rendered file is one
/// (checked before writing), so this is also what a render may write.
pub fn is_ours(path: &str) -> bool {
    let names: Vec<&str> = path.split('/').collect();
    let plain = |n: &&str| {
        n.len() <= 255
            && n.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    names.len() <= MAX_DEPTH && names.iter().all(plain) && path.ends_with(".yaml")
}

/// What a folder's manifest says.
#[derive(Debug, Default)]
pub struct Manifest {
    /// Paths meshgen wrote there last time.
    pub listed: BTreeSet<String>,
    /// Why each other line was ignored, for the user.
    pub ignored: Vec<String>,
}

/// Reads the manifest of `tree` (an empty one when there is none). `shown` is the
/// manifest's path for messages.
pub fn read(tree: &Tree, shown: &str) -> Result<Manifest, String> {
    let bytes = match tree.read(NAME, MAX_BYTES) {
        Ok(Contents::Bytes(bytes)) => bytes,
        Ok(Contents::Missing) => return Ok(Manifest::default()),
        Err(Refused::Kind { kind, .. }) => {
            return Err(format!(
                "{shown} is {kind}, not the list of files meshgen wrote; remove it or choose another -o"
            ));
        }
        Err(Refused::TooLarge { .. }) => {
            return Err(format!(
                "{shown} is larger than {} KiB, too large for the list of files meshgen wrote; remove it or choose another -o",
                MAX_BYTES / 1024
            ));
        }
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(format!(
            "{shown} is not UTF-8 text, not the list of files meshgen wrote; remove it or choose another -o"
        ));
    };
    let mut manifest = Manifest::default();
    for (i, line) in text.lines().enumerate() {
        let path = line.trim();
        if path.is_empty() || path.starts_with('#') {
            continue;
        }
        if is_ours(path) {
            manifest.listed.insert(path.to_owned());
        } else {
            manifest.ignored.push(format!(
                "{shown}:{}: ignoring {path:?}: not a file meshgen writes (a relative path of plain names ending in .yaml)",
                i + 1
            ));
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::is_ours;

    #[test]
    fn ours_are_plain_relative_yaml_paths() {
        for p in [
            "20-workloads.yaml",
            "addons/01-jaeger.yaml",
            "istio/install.yaml",
        ] {
            assert!(is_ours(p), "{p}");
        }
        for p in [
            "../victim/secret.yaml",
            "/etc/x.yaml",
            "a/../../x.yaml",
            "./x.yaml",
            "a//x.yaml",
            ".meshgen-manifest",
            "evil/secret.txt",
            ".hidden.yaml",
            "a/b/c/d/e.yaml",
            "x\u{1b}.yaml",
            "x y.yaml",
            "",
        ] {
            assert!(!is_ours(p), "{p}");
        }
    }
}
