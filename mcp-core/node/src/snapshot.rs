//! Snapshots of a service's data directory (`/srv/<service>/`): a consistent copy
//! of every SQLite database (`VACUUM INTO`, so a live service keeps running), then
//! a zstd-compressed tar of the directory without the live database files
//! (`*.db`, `*.db-wal`, `*.db-shm`), without `backups/` and the definition's
//! `[snapshot] exclude` paths, with the vacuumed copies under their original
//! names. Each archive is written under a temporary name, synced and renamed, with
//! its SHA-256 beside it; the newest `retain` are kept. [`restore`] checks the
//! checksum and unpacks into a directory that must not exist (or is replaced with
//! `force`), atomically.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use mcp_model::ErrorKind;
use mcp_model::view::SnapshotInfo;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Reading or writing a file failed.
    #[error("{}: {message}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What happened.
        message: String,
    },
    /// A database could not be copied.
    #[error("VACUUM INTO of {}: {message}", path.display())]
    Vacuum {
        /// The database.
        path: PathBuf,
        /// SQLite's word.
        message: String,
    },
    /// The archive is not what its checksum says.
    #[error("{}: checksum mismatch (expected {expected}, found {found})", path.display())]
    Checksum {
        /// The archive.
        path: PathBuf,
        /// The recorded checksum.
        expected: String,
        /// What the file hashes to.
        found: String,
    },
    /// The target directory exists and `force` was not given.
    #[error("{} exists; restoring over it needs --force", path.display())]
    Exists {
        /// The directory.
        path: PathBuf,
    },
    /// A file in the data directory has other names elsewhere (a hard link): its
    /// content may be a file outside the directory, so it is not archived.
    #[error("{} has {links} links; a file linked from elsewhere is not archived (remove the extra link)", path.display())]
    Linked {
        /// The file.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// No such snapshot.
    #[error("no snapshot {name} of {service}")]
    NotFound {
        /// The service.
        service: String,
        /// The snapshot's file name.
        name: String,
    },
}

impl SnapshotError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SnapshotError::Io { .. } | SnapshotError::Vacuum { .. } => ErrorKind::Io,
            SnapshotError::Checksum { .. } | SnapshotError::Linked { .. } => {
                ErrorKind::InvalidInput
            }
            SnapshotError::Exists { .. } => ErrorKind::Conflict,
            SnapshotError::NotFound { .. } => ErrorKind::NotFound,
        }
    }
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> SnapshotError + '_ {
    move |e| SnapshotError::Io {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Where snapshots are kept: `<dir>/<service>/<UTC time>.tar.zst` (+ `.sha256`).
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    /// The node the store is on (what its snapshots say).
    pub node: String,
    /// The root directory.
    pub dir: PathBuf,
    /// How many snapshots of a service are kept.
    pub retain: usize,
}

/// A writer that hashes what passes through.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `2026-11-27T21-24-41.123Z`: sortable, and a valid file name.
fn stamp(t: SystemTime) -> String {
    let millis = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_millis();
    let second = mcp_model::time::rfc3339(t);
    format!(
        "{}.{millis:03}Z",
        second.trim_end_matches('Z').replace(':', "-")
    )
}

/// Whether `rel` (relative to the data directory) stays out of archives.
fn excluded(rel: &Path, excludes: &[String]) -> bool {
    let text = rel.to_string_lossy();
    if text == "backups" || text.starts_with("backups/") {
        return true;
    }
    if text.ends_with(".db-wal") || text.ends_with(".db-shm") {
        return true;
    }
    excludes.iter().any(|e| {
        let e = e.trim_end_matches('/');
        !e.is_empty() && (text == e || text.starts_with(&format!("{e}/")))
    })
}

fn is_sqlite(path: &Path) -> bool {
    let mut head = [0u8; 16];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"SQLite format 3\0")
}

/// Files under `dir`, relative, sorted (so archives are reproducible in order).
fn walk(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<(), SnapshotError> {
    let here = dir.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&here)
        .map_err(io_err(&here))?
        .collect::<Result<_, _>>()
        .map_err(io_err(&here))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let r = rel.join(e.file_name());
        let kind = e.file_type().map_err(io_err(&e.path()))?;
        if kind.is_dir() {
            out.push(r.clone());
            walk(dir, &r, out)?;
        } else if kind.is_file() || kind.is_symlink() {
            out.push(r);
        }
    }
    Ok(())
}

/// Appends `rel` of `data_dir` to `tar` without following a link: a directory
/// as a directory, a symlink as a symlink, a SQLite database as a `VACUUM INTO`
/// copy made in `copy`, any other regular file by a descriptor opened with
/// `O_NOFOLLOW`. A regular file with other links is refused.
fn append_entry<W: io::Write>(
    tar: &mut tar::Builder<W>,
    data_dir: &Path,
    rel: &Path,
    copy: &Path,
) -> Result<(), SnapshotError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let full = data_dir.join(rel);
    let meta = std::fs::symlink_metadata(&full).map_err(io_err(&full))?;
    if meta.is_dir() {
        return tar.append_dir(rel, &full).map_err(io_err(&full));
    }
    if meta.file_type().is_symlink() {
        return tar.append_path_with_name(&full, rel).map_err(io_err(&full));
    }
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc_o_nofollow())
        .open(&full)
        .map_err(io_err(&full))?;
    let meta = file.metadata().map_err(io_err(&full))?;
    if !meta.is_file() {
        return Ok(());
    }
    if meta.nlink() > 1 {
        return Err(SnapshotError::Linked {
            path: full,
            links: meta.nlink(),
        });
    }
    if rel.to_string_lossy().ends_with(".db") && is_sqlite(&full) {
        vacuum_into(&full, copy)?;
        return tar.append_path_with_name(copy, rel).map_err(io_err(&full));
    }
    tar.append_file(rel, &mut file).map_err(io_err(&full))
}

/// `O_NOFOLLOW`, from rustix's flags (std has no constant for it).
fn libc_o_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// A consistent copy of the SQLite database `db` at `copy`, taken while it may be
/// in use.
fn vacuum_into(db: &Path, copy: &Path) -> Result<(), SnapshotError> {
    let vacuum = |e: rusqlite::Error| SnapshotError::Vacuum {
        path: db.to_owned(),
        message: e.to_string(),
    };
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(vacuum)?;
    conn.execute("VACUUM INTO ?1", [copy.to_string_lossy().as_ref()])
        .map_err(vacuum)?;
    Ok(())
}

impl SnapshotStore {
    fn service_dir(&self, service: &str) -> PathBuf {
        self.dir.join(service)
    }

    /// Snapshots `data_dir` of `service`, leaving out `excludes` (relative paths).
    pub fn create(
        &self,
        service: &str,
        data_dir: &Path,
        excludes: &[String],
    ) -> Result<SnapshotInfo, SnapshotError> {
        let out_dir = self.service_dir(service);
        std::fs::create_dir_all(&out_dir).map_err(io_err(&out_dir))?;
        let now = SystemTime::now();
        let name = format!("{}.tar.zst", stamp(now));
        let path = out_dir.join(&name);
        let partial = out_dir.join(format!(".{name}.partial"));
        let scratch = tempfile::Builder::new()
            .prefix(".vacuum-")
            .tempdir_in(&out_dir)
            .map_err(io_err(&out_dir))?;
        let result = self.write_archive(data_dir, excludes, &partial, scratch.path());
        let sha256 = match result {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        // The listing reads the time back from the file: the same as this
        // answer's (a coarse clock would have stamped it at some tick).
        let stamped = std::fs::File::options()
            .write(true)
            .open(&partial)
            .and_then(|f| f.set_modified(now));
        if let Err(e) = stamped {
            let _ = std::fs::remove_file(&partial);
            return Err(io_err(&partial)(e));
        }
        std::fs::rename(&partial, &path).map_err(io_err(&path))?;
        mcp_model::fsutil::write_atomic(
            &out_dir.join(format!("{name}.sha256")),
            format!("{sha256}  {name}\n").as_bytes(),
            0o600,
        )
        .map_err(io_err(&out_dir))?;
        let size_bytes = std::fs::metadata(&path).map_err(io_err(&path))?.len();
        self.prune(service)?;
        Ok(SnapshotInfo {
            service: service.to_owned(),
            node: self.node.clone(),
            name,
            path,
            size_bytes,
            sha256,
            created_at: now,
        })
    }

    fn write_archive(
        &self,
        data_dir: &Path,
        excludes: &[String],
        partial: &Path,
        scratch: &Path,
    ) -> Result<String, SnapshotError> {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode_0600()
            .open(partial)
            .map_err(io_err(partial))?;
        let hashing = Hashing {
            inner: file,
            hash: Sha256::new(),
        };
        let encoder = zstd::Encoder::new(hashing, 3).map_err(io_err(partial))?;
        let mut tar = tar::Builder::new(encoder);
        tar.follow_symlinks(false);
        let mut files = Vec::new();
        if data_dir.exists() {
            walk(data_dir, Path::new(""), &mut files)?;
        }
        for (i, rel) in files.iter().enumerate() {
            if !excluded(rel, excludes) {
                append_entry(&mut tar, data_dir, rel, &scratch.join(format!("{i}.db")))?;
            }
        }
        let encoder = tar.into_inner().map_err(io_err(partial))?;
        let hashing = encoder.finish().map_err(io_err(partial))?;
        hashing.inner.sync_all().map_err(io_err(partial))?;
        Ok(hex(&hashing.hash.finalize()))
    }

    /// Deletes all but the newest `retain` snapshots of `service`.
    fn prune(&self, service: &str) -> Result<(), SnapshotError> {
        let list = self.list(service)?;
        let keep = self.retain.max(1);
        if list.len() > keep {
            for old in &list[..list.len() - keep] {
                let _ = std::fs::remove_file(&old.path);
                let _ = std::fs::remove_file(old.path.with_extension("zst.sha256"));
            }
        }
        Ok(())
    }

    /// The snapshots of `service`, oldest first.
    pub fn list(&self, service: &str) -> Result<Vec<SnapshotInfo>, SnapshotError> {
        let dir = self.service_dir(service);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&dir)(e)),
        };
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(io_err(&dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".tar.zst") || name.starts_with('.') {
                continue;
            }
            let meta = e.metadata().map_err(io_err(&e.path()))?;
            let sha256 = std::fs::read_to_string(dir.join(format!("{name}.sha256")))
                .ok()
                .and_then(|t| t.split_whitespace().next().map(str::to_owned))
                .unwrap_or_default();
            out.push(SnapshotInfo {
                service: service.to_owned(),
                node: self.node.clone(),
                path: e.path(),
                size_bytes: meta.len(),
                sha256,
                created_at: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                name,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The snapshot `name` of `service`.
    pub fn get(&self, service: &str, name: &str) -> Result<SnapshotInfo, SnapshotError> {
        self.list(service)?
            .into_iter()
            .find(|s| s.name == name)
            .ok_or_else(|| SnapshotError::NotFound {
                service: service.to_owned(),
                name: name.to_owned(),
            })
    }
}

/// The SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, SnapshotError> {
    mcp_model::fsutil::sha256_file(path).map_err(io_err(path))
}

/// Unpacks `archive` (whose SHA-256 must be `sha256`) into `target`. The target
/// must not exist, or `force` replaces it. Unpacked beside it first and renamed
/// into place, so a failure leaves `target` as it was; entries that would land
/// outside it are refused. `target` gets mode 0755, like a data directory made for
/// a deploy; with `owner` (uid, gid) every restored file is given to that user
/// (the runtime's, when Podman runs as another user than the caller).
pub fn restore(
    archive: &Path,
    sha256: &str,
    target: &Path,
    force: bool,
    owner: Option<(u32, u32)>,
) -> Result<(), SnapshotError> {
    let found = sha256_file(archive)?;
    if !found.eq_ignore_ascii_case(sha256) {
        return Err(SnapshotError::Checksum {
            path: archive.to_owned(),
            expected: sha256.to_owned(),
            found,
        });
    }
    let exists = target.exists();
    if exists && !force {
        return Err(SnapshotError::Exists {
            path: target.to_owned(),
        });
    }
    let parent = target.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(parent)
        .map_err(io_err(parent))?;
    let file = File::open(archive).map_err(io_err(archive))?;
    let decoder = zstd::Decoder::new(file).map_err(io_err(archive))?;
    let mut tar = tar::Archive::new(decoder);
    for entry in tar.entries().map_err(io_err(archive))? {
        let mut entry = entry.map_err(io_err(archive))?;
        let rel = entry.path().map_err(io_err(archive))?.into_owned();
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(SnapshotError::Io {
                path: archive.to_owned(),
                message: format!("entry {} leaves the data directory", rel.display()),
            });
        }
        entry
            .unpack_in(staging.path())
            .map_err(io_err(&staging.path().join(&rel)))?;
    }
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(io_err(staging.path()))?;
    }
    if let Some((uid, gid)) = owner {
        chown_tree(staging.path(), uid, gid)?;
    }
    let unpacked = staging.keep();
    if exists {
        let old = parent.join(format!(
            ".{}.replaced-{}",
            target
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            std::process::id()
        ));
        std::fs::rename(target, &old).map_err(io_err(target))?;
        if let Err(e) = std::fs::rename(&unpacked, target) {
            let _ = std::fs::rename(&old, target);
            return Err(io_err(target)(e));
        }
        let _ = std::fs::remove_dir_all(&old);
    } else {
        std::fs::rename(&unpacked, target).map_err(io_err(target))?;
    }
    Ok(())
}

/// Gives `path` and everything under it to `uid:gid`, never following a link.
fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), SnapshotError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_err(path))?;
    if std::fs::symlink_metadata(path)
        .map_err(io_err(path))?
        .is_dir()
    {
        for entry in std::fs::read_dir(path).map_err(io_err(path))? {
            chown_tree(&entry.map_err(io_err(path))?.path(), uid, gid)?;
        }
    }
    Ok(())
}

trait Mode0600 {
    fn mode_0600(&mut self) -> &mut Self;
}

impl Mode0600 for std::fs::OpenOptions {
    fn mode_0600(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.mode(0o600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(path: &Path, rows: &[&str]) {
        let c = rusqlite::Connection::open(path).expect("db");
        c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t (v TEXT);")
            .expect("schema");
        for r in rows {
            c.execute("INSERT INTO t VALUES (?1)", [r]).expect("insert");
        }
        // The connection stays open elsewhere in real life: leave the WAL in place.
        std::mem::forget(c);
    }

    fn rows(path: &Path) -> Vec<String> {
        let c = rusqlite::Connection::open(path).expect("db");
        let mut s = c.prepare("SELECT v FROM t ORDER BY rowid").expect("select");
        s.query_map([], |r| r.get(0))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("rows")
    }

    #[test]
    fn snapshots_restore_and_retention() {
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("srv/svc");
        std::fs::create_dir_all(data.join("backups")).expect("mkdir");
        std::fs::create_dir_all(data.join("layers/x")).expect("mkdir");
        std::fs::create_dir_all(data.join("conf")).expect("mkdir");
        std::fs::write(data.join("svc.toml"), "a = 1\n").expect("toml");
        std::fs::write(data.join("conf/key.pem"), "pem").expect("pem");
        std::fs::write(data.join("backups/old.db"), "old").expect("backup");
        std::fs::write(data.join("layers/x/blob"), "big").expect("layer");
        db(&data.join("svc.db"), &["one", "two"]);
        assert!(
            data.join("svc.db-wal").exists(),
            "the database is live (WAL)"
        );

        let store = SnapshotStore {
            node: "n".into(),
            dir: tmp.path().join("snapshots"),
            retain: 2,
        };
        let s = store
            .create("svc", &data, &["layers/".to_owned()])
            .expect("snapshot");
        assert_eq!(s.sha256, sha256_file(&s.path).expect("hash"));

        let target = tmp.path().join("restored/svc");
        restore(&s.path, &s.sha256, &target, false, None).expect("restore");
        assert_eq!(rows(&target.join("svc.db")), ["one", "two"]);
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&target)
                .expect("target")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o755, "a data directory's mode");
        }
        // Given to the runtime's user when there is one (only root can give files
        // away, so only then is it tried).
        use std::os::unix::fs::MetadataExt;
        if std::fs::metadata(&target).expect("target").uid() == 0 {
            let owned = tmp.path().join("owned/svc");
            restore(&s.path, &s.sha256, &owned, false, Some((65534, 65533))).expect("owned");
            for file in [
                owned.clone(),
                owned.join("svc.db"),
                owned.join("conf/key.pem"),
            ] {
                let meta = std::fs::symlink_metadata(&file).expect("restored");
                assert_eq!(
                    (meta.uid(), meta.gid()),
                    (65534, 65533),
                    "{}",
                    file.display()
                );
            }
        }
        assert_eq!(
            std::fs::read_to_string(target.join("svc.toml")).expect("toml"),
            "a = 1\n"
        );
        assert!(target.join("conf/key.pem").exists());
        for gone in ["svc.db-wal", "svc.db-shm", "backups", "layers"] {
            assert!(!target.join(gone).exists(), "{gone} left out");
        }
        // An existing target is refused without force, replaced with it.
        let err = restore(&s.path, &s.sha256, &target, false, None).expect_err("exists");
        assert_eq!(err.kind(), ErrorKind::Conflict);
        std::fs::write(target.join("stray"), "x").expect("stray");
        restore(&s.path, &s.sha256, &target, true, None).expect("force");
        assert!(!target.join("stray").exists());
        // A checksum that does not match: refused, target untouched.
        let err = restore(&s.path, "00", &target, true, None).expect_err("checksum");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(target.join("svc.db").exists());

        // Retention: the newest two stay.
        std::thread::sleep(std::time::Duration::from_millis(5));
        store.create("svc", &data, &[]).expect("second");
        std::thread::sleep(std::time::Duration::from_millis(5));
        let third = store.create("svc", &data, &[]).expect("third");
        let names: Vec<String> = store
            .list("svc")
            .expect("list")
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(names.last(), Some(&third.name));
        assert!(!names.contains(&s.name));
    }

    #[test]
    fn snapshots_never_read_through_a_link() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().expect("tmp");
        let data = tmp.path().join("srv/svc");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&data).expect("data");
        std::fs::create_dir_all(outside.join("etc")).expect("outside");
        std::fs::write(outside.join("etc/shadow"), "host secret").expect("secret");
        db(&outside.join("host.db"), &["host row"]);
        // What a container could plant: links to a host database, file and directory.
        symlink(outside.join("host.db"), data.join("stolen.db")).expect("db link");
        symlink(outside.join("etc/shadow"), data.join("shadow")).expect("file link");
        symlink(outside.join("etc"), data.join("etc")).expect("dir link");
        std::fs::write(data.join("own.txt"), "mine").expect("own");
        let store = SnapshotStore {
            node: "n".into(),
            dir: tmp.path().join("snapshots"),
            retain: 2,
        };
        let s = store.create("svc", &data, &[]).expect("snapshot");
        let target = tmp.path().join("restored/svc");
        restore(&s.path, &s.sha256, &target, false, None).expect("restore");
        assert_eq!(
            std::fs::read_to_string(target.join("own.txt")).expect("own"),
            "mine"
        );
        for link in ["stolen.db", "shadow", "etc"] {
            let meta = std::fs::symlink_metadata(target.join(link)).expect(link);
            assert!(
                meta.file_type().is_symlink(),
                "{link} is kept as a link, not its target"
            );
        }
        let archive = std::fs::read(&s.path).expect("archive");
        let tar = zstd::decode_all(archive.as_slice()).expect("zstd");
        let text = String::from_utf8_lossy(&tar);
        assert!(
            !text.contains("host secret") && !text.contains("host row"),
            "no host data"
        );

        // A hard link to a file elsewhere is refused, naming it.
        std::fs::hard_link(outside.join("etc/shadow"), data.join("hard")).expect("hard link");
        let err = store.create("svc", &data, &[]).expect_err("linked");
        assert!(
            matches!(err, SnapshotError::Linked { links: 2, .. }),
            "{err}"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
    }

    #[test]
    fn stamps_are_sortable_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_814_681_123);
        assert_eq!(stamp(t), "2026-11-27T21-24-41.123Z");
    }
}
