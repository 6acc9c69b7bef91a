//! A service's data directory (`/srv/<service>`): single files in and out
//! (`PushFile`/`PullFile`, paths confined to the directory), snapshots of it
//! (under the service's lock, so a snapshot never sees a deploy half done), and
//! moving it between nodes: the snapshot file to send, receiving one into the
//! directory (checked, atomic), and removing the data of a service that left.
//! Receiving and removing are refused while the service is deployed on this
//! node: its containers use that directory.

use std::path::{Component, Path, PathBuf};

use mcp_model::view::{SnapshotInfo, Step};
use mcp_proto::MAX_FILE_BYTES;

use super::{Engine, EngineError, step_err};

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

impl Engine {
    /// Snapshots `service`'s data directory (its `[snapshot] exclude` paths left
    /// out) into the node's snapshot store, keeping the newest configured number.
    pub fn snapshot(&self, service: &str, actor: &str) -> super::Result<SnapshotInfo> {
        self.recorded(
            actor,
            "snapshot",
            service,
            || {
                let rec = self.deployed(service)?;
                let data_dir = self.config.conventions.data_root.join(service);
                let excludes = rec
                    .definition
                    .snapshot
                    .as_ref()
                    .map(|s| s.exclude.clone())
                    .unwrap_or_default();
                self.config
                    .snapshots
                    .create(service, &data_dir, &excludes)
                    .map_err(|e| step_err("snapshot", service, Step::Snapshot)(e.into()))
            },
            |s| format!("{} ({} bytes, sha256 {})", s.name, s.size_bytes, s.sha256),
        )
    }

    /// The snapshots of `service` on this node, oldest first.
    pub fn snapshots(&self, service: &str) -> Result<Vec<SnapshotInfo>, crate::Error> {
        Ok(self.config.snapshots.list(service)?)
    }
}

impl Engine {
    /// The file of snapshot `name` of `service`, to stream it elsewhere.
    pub fn snapshot_file(&self, service: &str, name: &str) -> Result<PathBuf, crate::Error> {
        Ok(self.config.snapshots.get(service, name)?.path)
    }

    /// A fresh file to receive a snapshot of `service` into (in the snapshot
    /// store, so it is on the data's file system).
    pub fn incoming_file(&self, service: &str) -> Result<tempfile::NamedTempFile, crate::Error> {
        let dir = self.config.snapshots.dir.join(service);
        std::fs::create_dir_all(&dir).map_err(|e| crate::snapshot::SnapshotError::Io {
            path: dir.clone(),
            message: e.to_string(),
        })?;
        tempfile::Builder::new()
            .prefix(".incoming-")
            .tempfile_in(&dir)
            .map_err(|e| {
                crate::snapshot::SnapshotError::Io {
                    path: dir,
                    message: e.to_string(),
                }
                .into()
            })
    }

    fn refuse_if_deployed(
        &self,
        service: &str,
        operation: &'static str,
    ) -> Result<(), EngineError> {
        if self
            .registry
            .service(service)
            .map_err(|e| step_err(operation, service, Step::Validate)(e.into()))?
            .is_some()
        {
            return Err(EngineError::Conflict(format!(
                "{service} is deployed on this node; its data directory is in use"
            )));
        }
        Ok(())
    }

    /// Restores the received snapshot `archive` (SHA-256 `sha256`) into `service`'s
    /// data directory; `force` replaces data already there.
    pub fn import_data(
        &self,
        service: &str,
        archive: &std::path::Path,
        sha256: &str,
        force: bool,
        actor: &str,
    ) -> super::Result<u64> {
        self.recorded(
            actor,
            "import-data",
            service,
            || {
                self.refuse_if_deployed(service, "import")?;
                let target = self.config.conventions.data_root.join(service);
                let owner = self.runtime.data_owner();
                crate::snapshot::restore(archive, sha256, &target, force, owner)
                    .map_err(|e| step_err("import", service, Step::Snapshot)(e.into()))?;
                Ok(std::fs::metadata(archive).map_or(0, |m| m.len()))
            },
            |n| format!("{n} bytes restored"),
        )
    }

    /// Removes `service`'s data directory on this node.
    pub fn remove_data(&self, service: &str, actor: &str) -> super::Result<()> {
        self.recorded(
            actor,
            "remove-data",
            service,
            || {
                self.refuse_if_deployed(service, "remove data")?;
                let dir = self.config.conventions.data_root.join(service);
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(step_err("remove data", service, Step::Remove)(
                            crate::snapshot::SnapshotError::Io {
                                path: dir,
                                message: e.to_string(),
                            }
                            .into(),
                        ))
                    }
                    _ => Ok(()),
                }
            },
            |()| "data directory removed".to_owned(),
        )
    }
}
