//! Files beneath a directory, never outside it: what the agent reads and writes
//! in a service's data directory on a caller's behalf. The directory belongs to
//! the service's containers, which are root in their own namespace and may plant
//! anything there (a symlink to `/etc`, a `..` link, a hard link to a file
//! elsewhere), so every path is resolved by the kernel with `openat2(2)` and
//! `RESOLVE_BENEATH`: a component that would leave the directory, an absolute
//! symlink or a magic link (`/proc/self/fd/…`) fails the call instead of being
//! followed. Writes create a temporary file beside the target and rename it into
//! place, so a planted symlink or hard link at the target is replaced, never
//! written through. A regular file with more than one link is not read: its other
//! name may be anywhere on the file system.
//!
//! Linux 5.6 or newer (openat2); see docs/decisions.md.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

use mcp_model::ErrorKind;
use mcp_model::text::quoted;
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};

/// How every path beneath the root is resolved.
const RESOLVE: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_MAGICLINKS);

/// Why a confined operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfinedError {
    /// The path is not a plain relative path (empty, absolute, `..`).
    #[error("path {} must be relative to the data directory, without '..'", quoted(.0))]
    BadPath(String),
    /// Resolving the path would leave the directory (through a symlink or `..`).
    #[error("{} leads out of the data directory; it is not followed", quoted(.0))]
    Escapes(String),
    /// The file has other names elsewhere (a hard link).
    #[error(
        "{} has {links} links; a file linked from elsewhere is not read",
        quoted(path)
    )]
    Linked {
        /// The path asked for.
        path: String,
        /// Its link count.
        links: u64,
    },
    /// The path names something that is not a regular file.
    #[error("{} is not a regular file", quoted(.0))]
    NotAFile(String),
    /// The file is larger than allowed.
    #[error("{} is {size} bytes; at most {max} can be transferred", quoted(path))]
    TooLarge {
        /// The path asked for.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The file or directory does not exist.
    #[error("{} does not exist in the data directory", quoted(.0))]
    NotFound(String),
    /// The system call failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// What was being opened, read or written.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl ConfinedError {
    /// The stable classification.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ConfinedError::BadPath(_)
            | ConfinedError::Escapes(_)
            | ConfinedError::Linked { .. }
            | ConfinedError::NotAFile(_) => ErrorKind::InvalidInput,
            ConfinedError::TooLarge { .. } => ErrorKind::Exhausted,
            ConfinedError::NotFound(_) => ErrorKind::NotFound,
            ConfinedError::Io { .. } => ErrorKind::Io,
        }
    }
}

/// A directory opened once, beneath which paths are resolved.
#[derive(Debug)]
pub struct Confined {
    root: OwnedFd,
    path: PathBuf,
}

impl Confined {
    /// Opens `dir` (which must be a directory, not a symlink to one).
    pub fn open(dir: &Path) -> Result<Self, ConfinedError> {
        let root = rustix::fs::open(
            dir,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::NOENT => ConfinedError::NotFound(dir.display().to_string()),
            e => ConfinedError::Io {
                path: dir.to_owned(),
                source: e.into(),
            },
        })?;
        Ok(Confined {
            root,
            path: dir.to_owned(),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the regular file `relative`, at most `max` bytes.
    pub fn read(&self, relative: &str, max: u64) -> Result<Vec<u8>, ConfinedError> {
        let rel = plain(relative)?;
        let fd = self.resolve(relative, &rel, OFlags::RDONLY)?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| self.io(&rel, e))?;
        if rustix::fs::FileType::from_raw_mode(stat.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(ConfinedError::NotAFile(relative.to_owned()));
        }
        if stat.st_nlink > 1 {
            return Err(ConfinedError::Linked {
                path: relative.to_owned(),
                links: stat.st_nlink as u64,
            });
        }
        let size = stat.st_size as u64;
        if size > max {
            return Err(ConfinedError::TooLarge {
                path: relative.to_owned(),
                size,
                max,
            });
        }
        let mut out = Vec::with_capacity(size as usize);
        std::fs::File::from(fd)
            .take(max + 1)
            .read_to_end(&mut out)
            .map_err(|e| ConfinedError::Io {
                path: self.path.join(&rel),
                source: e,
            })?;
        Ok(out)
    }

    /// Writes `content` to `relative` with `mode`, atomically: its parent
    /// directories are made beneath the root (owned by `owner`, if given), the
    /// content goes to a new file beside the target, and that file is renamed
    /// over it. Whatever was at the target (a symlink, a hard link) is replaced,
    /// never written through.
    pub fn write(
        &self,
        relative: &str,
        content: &[u8],
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> Result<(), ConfinedError> {
        let rel = plain(relative)?;
        let (parent, name) = match (rel.parent(), rel.file_name()) {
            (Some(p), Some(n)) => (p.to_owned(), n.to_owned()),
            _ => return Err(ConfinedError::BadPath(relative.to_owned())),
        };
        let dir = self.make_dirs(relative, &parent, owner)?;
        let temp = format!(".{}.mcp-{}", name.to_string_lossy(), std::process::id());
        let fd = rustix::fs::openat(
            &dir,
            temp.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode & 0o7777),
        )
        .map_err(|e| self.io(&parent.join(&temp), e))?;
        let written = (|| {
            if let Some((uid, gid)) = owner {
                rustix::fs::fchown(
                    &fd,
                    Some(rustix::fs::Uid::from_raw(uid)),
                    Some(rustix::fs::Gid::from_raw(gid)),
                )?;
            }
            rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode & 0o7777))?;
            let mut file = std::fs::File::from(fd);
            file.write_all(content)?;
            file.sync_all()?;
            rustix::fs::renameat(&dir, temp.as_str(), &dir, name.as_os_str())?;
            Ok::<_, std::io::Error>(())
        })();
        written.map_err(|e| {
            let _ = rustix::fs::unlinkat(&dir, temp.as_str(), AtFlags::empty());
            ConfinedError::Io {
                path: self.path.join(&rel),
                source: e,
            }
        })
    }

    /// Opens `rel` beneath the root with `flags`.
    fn resolve(&self, relative: &str, rel: &Path, flags: OFlags) -> Result<OwnedFd, ConfinedError> {
        let path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        rustix::fs::openat2(
            &self.root,
            path,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            RESOLVE,
        )
        .map_err(|e| match e {
            rustix::io::Errno::XDEV | rustix::io::Errno::LOOP => {
                ConfinedError::Escapes(relative.to_owned())
            }
            rustix::io::Errno::NOENT => ConfinedError::NotFound(relative.to_owned()),
            e => self.io(rel, e),
        })
    }

    /// Makes every directory of `parent` beneath the root that is missing, each
    /// owned by `owner`; the last one, opened.
    fn make_dirs(
        &self,
        relative: &str,
        parent: &Path,
        owner: Option<(u32, u32)>,
    ) -> Result<OwnedFd, ConfinedError> {
        let mut at = PathBuf::new();
        for part in parent.components() {
            at.push(part);
            let dir = self.resolve(
                relative,
                at.parent().unwrap_or(Path::new("")),
                OFlags::PATH | OFlags::DIRECTORY,
            )?;
            match rustix::fs::mkdirat(&dir, part.as_os_str(), Mode::from_raw_mode(0o755)) {
                Ok(()) => {
                    if let Some((uid, gid)) = owner {
                        rustix::fs::chownat(
                            &dir,
                            part.as_os_str(),
                            Some(rustix::fs::Uid::from_raw(uid)),
                            Some(rustix::fs::Gid::from_raw(gid)),
                            AtFlags::SYMLINK_NOFOLLOW,
                        )
                        .map_err(|e| self.io(&at, e))?;
                    }
                }
                Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(self.io(&at, e)),
            }
        }
        self.resolve(relative, parent, OFlags::RDONLY | OFlags::DIRECTORY)
    }

    fn io(&self, rel: &Path, e: rustix::io::Errno) -> ConfinedError {
        ConfinedError::Io {
            path: self.path.join(rel),
            source: e.into(),
        }
    }
}

/// `relative` as a plain relative path: not empty, not absolute, no `..`, no
/// NUL.
fn plain(relative: &str) -> Result<PathBuf, ConfinedError> {
    let rel = Path::new(relative);
    let bad = relative.is_empty()
        || relative.contains('\0')
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if bad {
        return Err(ConfinedError::BadPath(relative.to_owned()));
    }
    Ok(rel
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn bed() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().expect("tempdir");
        let data = t.path().join("data");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&data).expect("data");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("secret"), "host file").expect("secret");
        (t, data, outside)
    }

    #[test]
    fn plain_files_go_in_and_out() {
        let (_t, data, _) = bed();
        let c = Confined::open(&data).expect("open");
        c.write("etc/app.toml", b"x = 1\n", 0o640, None)
            .expect("write");
        assert_eq!(c.read("etc/app.toml", 100).expect("read"), b"x = 1\n");
        assert_eq!(c.read("./etc/app.toml", 100).expect("read"), b"x = 1\n");
        assert!(matches!(
            c.read("etc/app.toml", 3),
            Err(ConfinedError::TooLarge { .. })
        ));
        assert!(matches!(c.read("nope", 3), Err(ConfinedError::NotFound(_))));
    }

    #[test]
    fn bad_paths_are_refused() {
        let (_t, data, _) = bed();
        let c = Confined::open(&data).expect("open");
        for bad in ["", "/etc/passwd", "../outside/secret", "a/../../x", "a\0b"] {
            assert!(
                matches!(c.read(bad, 100), Err(ConfinedError::BadPath(_))),
                "{bad:?}"
            );
            assert!(
                matches!(
                    c.write(bad, b"x", 0o644, None),
                    Err(ConfinedError::BadPath(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn symlinks_out_are_not_followed_for_reads_or_writes() {
        let (_t, data, outside) = bed();
        symlink(&outside, data.join("dir-link")).expect("dir link");
        symlink(outside.join("secret"), data.join("file-link")).expect("file link");
        symlink("../outside/secret", data.join("dotdot-link")).expect("relative link");
        let c = Confined::open(&data).expect("open");
        for link in ["dir-link/secret", "file-link", "dotdot-link"] {
            let err = c.read(link, 100).expect_err(link);
            assert!(matches!(err, ConfinedError::Escapes(_)), "{link}: {err}");
        }
        let err = c
            .write("dir-link/planted", b"x", 0o644, None)
            .expect_err("write through");
        assert!(matches!(err, ConfinedError::Escapes(_)), "{err}");
        assert!(!outside.join("planted").exists());
        // A write at a symlink replaces the link, not the file it points at.
        c.write("file-link", b"mine", 0o644, None)
            .expect("replace the link");
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).expect("secret"),
            "host file"
        );
        assert_eq!(
            std::fs::read(data.join("file-link")).expect("new file"),
            b"mine"
        );
        // A symlink that stays inside is followed.
        std::fs::write(data.join("real"), "inside").expect("real");
        symlink("real", data.join("inner-link")).expect("inner link");
        assert_eq!(c.read("inner-link", 100).expect("inner"), b"inside");
    }

    #[test]
    fn hard_links_are_not_read_and_not_written_through() {
        let (_t, data, outside) = bed();
        std::fs::hard_link(outside.join("secret"), data.join("hard")).expect("hard link");
        let c = Confined::open(&data).expect("open");
        assert!(matches!(
            c.read("hard", 100),
            Err(ConfinedError::Linked { links: 2, .. })
        ));
        c.write("hard", b"mine", 0o644, None).expect("replace");
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).expect("secret"),
            "host file"
        );
    }

    #[test]
    fn the_root_itself_must_not_be_a_symlink() {
        let (t, _data, outside) = bed();
        let link = t.path().join("root-link");
        symlink(&outside, &link).expect("link");
        assert!(Confined::open(&link).is_err());
    }
}
