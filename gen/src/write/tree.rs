//! The output folder as a directory handle no path leads out of.
//!
//! The output folder is input too: a checkout can hold `out/evil -> ../victim`, a
//! FIFO or a link to `/dev/zero`. So everything meshgen reads, writes or deletes in
//! it goes through [`Tree`]: the folder is opened once (following the path the user
//! typed, a link included), and every path inside is walked one name at a time with
//! `openat(O_NOFOLLOW | O_DIRECTORY)` from that handle. A link anywhere inside stops
//! the walk instead of leading out; `..`, `.`, empty names and absolute paths are
//! refused before any system call. That is `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)`, done by hand so that it works on every Unix and every
//! Linux (openat2 needs 5.6), with one code path to test.
//!
//! Files are only read when they are regular files, looked at before opening
//! (opening a FIFO waits for a writer, opening a device may act) and again after
//! (`fstat` on what was opened), and never beyond a size cap.

use std::fmt;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, fstat, mkdirat, openat, statat};
use rustix::io::Errno;

/// What a name in the tree is, for messages and decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Fifo,
    Socket,
    Device,
    /// A regular file with other names: its contents may be a file outside
    /// the folder (`ln victim/secret out/20-workloads.yaml`). Replacing or
    /// removing the name is safe; reading it is not.
    HardLink,
}

impl Kind {
    fn of(stat: &Stat) -> Kind {
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            FileType::Fifo => Kind::Fifo,
            FileType::Socket => Kind::Socket,
            _ => Kind::Device,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::File => "a regular file",
            Kind::Dir => "a directory",
            Kind::Symlink => "a symbolic link",
            Kind::Fifo => "a FIFO",
            Kind::Socket => "a socket",
            Kind::Device => "a device",
            Kind::HardLink => "a hard link (a file with other names, perhaps outside the folder)",
        })
    }
}

/// Why a path of the tree was not used.
#[derive(Debug)]
pub enum Refused {
    /// `path` (the path asked for, or a directory on its way) is `kind`, which
    /// meshgen neither follows nor replaces.
    Kind {
        path: String,
        kind: Kind,
    },
    /// Not a relative path of plain names (`..`, `.`, empty, absolute).
    NotPlain(String),
    /// Larger than the cap for reading.
    TooLarge {
        path: String,
        cap: u64,
    },
    Io(std::io::Error),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Kind { path, kind } => write!(f, "{path} is {kind}"),
            Refused::NotPlain(path) => write!(f, "{path:?} is not a path inside the folder"),
            Refused::TooLarge { path, cap } => write!(f, "{path} is larger than {cap} bytes"),
            Refused::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<Errno> for Refused {
    fn from(e: Errno) -> Self {
        Refused::Io(e.into())
    }
}

/// What reading a path found.
#[derive(Debug)]
pub enum Contents {
    Missing,
    Bytes(Vec<u8>),
}

/// An open directory; every path given to it is relative to it and stays inside.
#[derive(Debug)]
pub struct Tree {
    fd: OwnedFd,
}

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

impl Tree {
    /// Opens the directory `path`. Links in `path` itself are followed: the user
    /// typed it. `NotFound` when it does not exist, `NotADirectory` when it is no
    /// directory.
    pub fn open(path: &Path) -> std::io::Result<Tree> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        Ok(Tree {
            fd: openat(rustix::fs::CWD, path, flags, Mode::empty())?,
        })
    }

    /// The directory holding `rel`'s last name (`None` when a directory on the way
    /// is missing and `create` is false), and that name.
    fn parent<'r>(
        &self,
        rel: &'r str,
        create: bool,
    ) -> Result<Option<(OwnedFd, &'r str)>, Refused> {
        let names = plain_names(rel)?;
        let (last, dirs) = names.split_last().expect("split yields one name at least");
        let mut held = self.fd.try_clone().map_err(Refused::Io)?;
        for (i, name) in dirs.iter().enumerate() {
            if create {
                match mkdirat(&held, *name, Mode::from_raw_mode(0o777)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            match openat(&held, *name, DIR_FLAGS, Mode::empty()) {
                Ok(fd) => held = fd,
                Err(e) => {
                    return match kind_at(&held, name)? {
                        None => Ok(None),
                        Some(Kind::Dir) => Err(e.into()),
                        Some(kind) => Err(Refused::Kind {
                            path: dirs[..=i].join("/"),
                            kind,
                        }),
                    };
                }
            }
        }
        Ok(Some((held, last)))
    }

    /// What `rel` is (`None`: nothing there), without following a link.
    pub fn kind(&self, rel: &str) -> Result<Option<Kind>, Refused> {
        match self.parent(rel, false)? {
            None => Ok(None),
            Some((dir, name)) => kind_at(&dir, name),
        }
    }

    /// The bytes of the regular file `rel`, at most `cap` of them.
    pub fn read(&self, rel: &str, cap: u64) -> Result<Contents, Refused> {
        let Some((dir, name)) = self.parent(rel, false)? else {
            return Ok(Contents::Missing);
        };
        let not_file = |kind| Refused::Kind {
            path: rel.to_owned(),
            kind,
        };
        match kind_at(&dir, name)? {
            None => return Ok(Contents::Missing),
            Some(Kind::File) => {}
            Some(kind) => return Err(not_file(kind)),
        }
        // NONBLOCK and NOCTTY in case it was swapped for a FIFO or a device since.
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match openat(&dir, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(Contents::Missing),
            Err(Errno::LOOP) => return Err(not_file(Kind::Symlink)),
            Err(e) => return Err(e.into()),
        };
        let stat = fstat(&fd)?;
        match Kind::of(&stat) {
            Kind::File if stat.st_nlink > 1 => return Err(not_file(Kind::HardLink)),
            Kind::File => {}
            kind => return Err(not_file(kind)),
        }
        let too_large = || Refused::TooLarge {
            path: rel.to_owned(),
            cap,
        };
        if u64::try_from(stat.st_size).unwrap_or(u64::MAX) > cap {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        std::fs::File::from(fd)
            .take(cap.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(Refused::Io)?;
        // It may have grown since fstat.
        if bytes.len() as u64 > cap {
            return Err(too_large());
        }
        Ok(Contents::Bytes(bytes))
    }

    /// Removes the regular file `rel`; nothing there is fine, anything else is refused.
    pub fn remove_file(&self, rel: &str) -> Result<(), Refused> {
        let Some((dir, name)) = self.parent(rel, false)? else {
            return Ok(());
        };
        match kind_at(&dir, name)? {
            None => Ok(()),
            // unlinkat never follows a link: were the file swapped for one since,
            // the link itself would go, inside the folder.
            Some(Kind::File) => match rustix::fs::unlinkat(&dir, name, AtFlags::empty()) {
                Ok(()) | Err(Errno::NOENT) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Some(kind) => Err(Refused::Kind {
                path: rel.to_owned(),
                kind,
            }),
        }
    }

    /// Removes the directories `rel` lies in, deepest first, while they are empty.
    pub fn remove_empty_parents(&self, rel: &str) {
        let Ok(names) = plain_names(rel) else { return };
        for depth in (1..names.len()).rev() {
            let dir = names[..depth].join("/");
            let Ok(Some((parent, name))) = self.parent(&dir, false) else {
                return;
            };
            if rustix::fs::unlinkat(&parent, name, AtFlags::REMOVEDIR).is_err() {
                return;
            }
        }
    }

    /// Moves `rel` of `from` to `rel` here, creating the directories on its way.
    /// The rename replaces a regular file (atomically) and never follows a link.
    pub fn move_in(&self, from: &Tree, rel: &str) -> Result<(), Refused> {
        let source = from.parent(rel, false)?;
        let target = self.parent(rel, true)?;
        let (Some((source_dir, name)), Some((target_dir, _))) = (source, target) else {
            return Err(Refused::Io(std::io::ErrorKind::NotFound.into()));
        };
        rustix::fs::renameat(&source_dir, name, &target_dir, name)?;
        Ok(())
    }

    /// Whether everything in the tree is a directory or a regular file `ours` accepts
    /// (by its relative path); a link, FIFO, socket or device is never ours.
    pub fn holds_only(&self, ours: &dyn Fn(&str) -> bool) -> bool {
        self.fd.try_clone().is_ok_and(|fd| holds_only(fd, "", ours))
    }
}

fn holds_only(dir: OwnedFd, prefix: &str, ours: &dyn Fn(&str) -> bool) -> bool {
    let Ok(mut entries) = rustix::fs::Dir::read_from(&dir) else {
        return false;
    };
    while let Some(entry) = entries.read() {
        let Ok(entry) = entry else { return false };
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        let Ok(name) = std::str::from_utf8(name) else {
            return false;
        };
        let rel = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}/{name}")
        };
        let fine = match kind_at(&dir, name) {
            Ok(Some(Kind::Dir)) => openat(&dir, name, DIR_FLAGS, Mode::empty())
                .is_ok_and(|sub| holds_only(sub, &rel, ours)),
            Ok(Some(Kind::File)) => ours(&rel),
            _ => false,
        };
        if !fine {
            return false;
        }
    }
    true
}

/// What `name` in `dir` is, without following a link; `None` when nothing is there.
fn kind_at(dir: impl AsFd, name: &str) -> Result<Option<Kind>, Refused> {
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(Kind::of(&stat))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The `/`-separated names of a relative path, each a plain name.
fn plain_names(rel: &str) -> Result<Vec<&str>, Refused> {
    let names: Vec<&str> = rel.split('/').collect();
    let plain = |n: &&str| !n.is_empty() && *n != "." && *n != ".." && !n.contains('\0');
    if names.iter().all(plain) {
        Ok(names)
    } else {
        Err(Refused::NotPlain(rel.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn never_walks_out_of_the_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, victim) = (tmp.path().join("out"), tmp.path().join("victim"));
        std::fs::create_dir_all(out.join("sub")).unwrap();
        std::fs::create_dir(&victim).unwrap();
        std::fs::write(victim.join("secret.txt"), "secret").unwrap();
        symlink("../victim", out.join("evil")).unwrap();
        symlink("../../victim", out.join("sub/evil")).unwrap();
        symlink(victim.join("secret.txt"), out.join("file.yaml")).unwrap();
        let tree = Tree::open(&out).unwrap();

        for rel in ["evil/secret.txt", "sub/evil/secret.txt", "file.yaml"] {
            assert!(
                matches!(tree.read(rel, 100), Err(Refused::Kind { .. })),
                "{rel}"
            );
            assert!(tree.remove_file(rel).is_err(), "{rel}");
            assert!(
                tree.parent(rel, true).is_err() || rel == "file.yaml",
                "{rel}"
            );
        }
        for rel in ["../victim/secret.txt", "/etc/passwd", "./x", "a//b", ""] {
            assert!(
                matches!(tree.read(rel, 100), Err(Refused::NotPlain(_))),
                "{rel}"
            );
        }
        assert_eq!(std::fs::read(victim.join("secret.txt")).unwrap(), b"secret");
        assert_eq!(std::fs::read_dir(&victim).unwrap().count(), 1);
        assert!(!tree.holds_only(&|_| true), "links are never ours");
    }

    #[test]
    fn reads_regular_files_under_a_cap_only() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.yaml"), "12345").unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            tmp.path().join("fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let tree = Tree::open(tmp.path()).unwrap();
        assert!(matches!(tree.read("a.yaml", 5), Ok(Contents::Bytes(b)) if b == b"12345"));
        assert!(matches!(
            tree.read("a.yaml", 4),
            Err(Refused::TooLarge { .. })
        ));
        assert!(matches!(
            tree.read("fifo", 5),
            Err(Refused::Kind {
                kind: Kind::Fifo,
                ..
            })
        ));
        assert!(matches!(tree.read("none", 5), Ok(Contents::Missing)));
        assert!(matches!(tree.read("none/x", 5), Ok(Contents::Missing)));
    }

    /// A hard link is a regular file whose contents are another name's,
    /// perhaps outside the folder: never read.
    #[test]
    fn never_reads_a_hard_link() {
        let tmp = tempfile::tempdir().unwrap();
        let (out, victim) = (tmp.path().join("out"), tmp.path().join("victim"));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&victim).unwrap();
        std::fs::write(victim.join("secret"), "secret").unwrap();
        std::fs::hard_link(victim.join("secret"), out.join("a.yaml")).unwrap();
        let tree = Tree::open(&out).unwrap();
        assert!(matches!(
            tree.read("a.yaml", 100),
            Err(Refused::Kind {
                kind: Kind::HardLink,
                ..
            })
        ));
    }
}
