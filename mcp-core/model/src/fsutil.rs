//! Small filesystem helpers shared by every module that writes files operators or
//! other daemons read: atomic replacement, so a reader never sees half a file; and
//! the SHA-256 of a file (snapshots, agent builds); and reading a secret only
//! when nobody but its owner can (as OpenSSH does with keys).

use std::io::Write;
use std::path::Path;

/// A secret file (token, private key) that its group or others can read.
#[derive(Debug, thiserror::Error)]
#[error("{} can be read by others (mode {mode:04o}); run `chmod 600 {}`", path.display(), path.display())]
pub struct Exposed {
    /// The file.
    pub path: std::path::PathBuf,
    /// Its permission bits.
    pub mode: u32,
}

/// Reads the secret in `path`, refusing it when group or others may read it.
pub fn read_secret(path: &Path) -> Result<Vec<u8>, SecretError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(SecretError::Io)?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o044 != 0 {
        return Err(SecretError::Exposed(Exposed {
            path: path.to_owned(),
            mode,
        }));
    }
    std::fs::read(path).map_err(SecretError::Io)
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Others can read it.
    #[error(transparent)]
    Exposed(#[from] Exposed),
    /// It could not be read.
    #[error(transparent)]
    Io(std::io::Error),
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory is
/// written, flushed to disk and renamed over `path`. `mode` (Unix permission bits) is
/// applied to the temporary file before any content is written, so a secret is never
/// readable with looser permissions.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;

    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name")
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The SHA-256 of the file at `path`, hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;

    let mut f = std::fs::File::open(path)?;
    let mut hash = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The SHA-256 (hex) of the running executable, read once from `/proc/self/exe`:
/// which build of a binary runs, whatever its version says. Empty when the
/// executable cannot be read.
pub fn build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| sha256_file(Path::new("/proc/self/exe")).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_contents_and_sets_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("key.pem");
        std::fs::write(&p, "old").expect("seed");
        write_atomic(&p, b"new", 0o600).expect("write");
        assert_eq!(std::fs::read_to_string(&p).expect("read"), "new");
        let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "temporary file left behind: {leftovers:?}"
        );
    }
}
