//! Single files in a service's data directory (`PushFile`/`PullFile`): configs in,
//! logs and dumps out. Paths are confined to the data directory.

use std::path::{Component, Path, PathBuf};

use super::{Engine, EngineError};

use mcp_proto::MAX_FILE_BYTES;

impl Engine {
    /// The absolute path of `relative` inside `service`'s data directory; refuses
    /// absolute paths, `..` and empty paths.
    pub fn data_path(&self, service: &str, relative: &str) -> Result<PathBuf, EngineError> {
        let rel = Path::new(relative);
        let bad = rel.as_os_str().is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
        if bad {
            return Err(EngineError::Conflict(format!(
                "path {relative:?} must be relative to the data directory of {service}, without '..'"
            )));
        }
        self.deployed(service)?;
        Ok(self.config.conventions.data_root.join(service).join(rel))
    }

    /// Writes `content` to `relative` in `service`'s data directory, atomically, with
    /// `mode` (0 means 0644). Parent directories are created.
    pub fn push_file(
        &self,
        service: &str,
        relative: &str,
        content: &[u8],
        mode: u32,
        actor: &str,
    ) -> Result<u64, crate::Error> {
        if content.len() > MAX_FILE_BYTES {
            return Err(EngineError::Conflict(format!(
                "file is {} bytes; at most {MAX_FILE_BYTES} can be pushed",
                content.len()
            ))
            .into());
        }
        let path = self.data_path(service, relative)?;
        if let Some(parent) = path.parent() {
            self.runtime.ensure_dir(parent)?;
        }
        let mode = if mode == 0 { 0o644 } else { mode & 0o7777 };
        mcp_model::fsutil::write_atomic(&path, content, mode).map_err(|source| {
            crate::runtime::RuntimeError::Dir {
                path: path.clone(),
                source,
            }
        })?;
        self.event(
            actor,
            "push-file",
            service,
            format!("{relative} ({} bytes)", content.len()),
            None,
        );
        Ok(content.len() as u64)
    }

    /// Reads `relative` from `service`'s data directory.
    pub fn pull_file(&self, service: &str, relative: &str) -> Result<Vec<u8>, crate::Error> {
        let path = self.data_path(service, relative)?;
        let read_err = |source| crate::runtime::RuntimeError::Dir {
            path: path.clone(),
            source,
        };
        let len = std::fs::metadata(&path).map_err(read_err)?.len();
        if len > MAX_FILE_BYTES as u64 {
            return Err(EngineError::Conflict(format!(
                "{relative} is {len} bytes; at most {MAX_FILE_BYTES} can be pulled"
            ))
            .into());
        }
        Ok(std::fs::read(&path).map_err(read_err)?)
    }
}
