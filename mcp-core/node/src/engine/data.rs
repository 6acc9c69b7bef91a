//! A service's data directory (`/srv/<service>`): single files in and out
//! (`PushFile`/`PullFile`, paths confined to the directory), snapshots of it
//! (under the service's lock, so a snapshot never sees a deploy half done), and
//! moving it between nodes: the snapshot file to send, receiving one into the
//! directory (checked, atomic), and removing the data of a service that left.
//! Receiving and removing are refused while the service is deployed on this
//! node: its containers use that directory.

use std::path::PathBuf;

use mcp_model::view::{SnapshotInfo, Step};
use mcp_proto::MAX_FILE_BYTES;

use mcp_model::names::ServiceName;
use mcp_model::text::escaped;

use super::{Engine, EngineError, step_err};
use crate::confined::Confined;

impl Engine {
    /// `service`'s data directory (`<data root>/<service>`), made if missing; the
    /// service must be deployed here.
    fn data_dir(&self, service: &ServiceName) -> Result<Confined, crate::Error> {
        self.deployed(service)?;
        let dir = self.config.conventions.data_root.join(service.as_str());
        self.runtime.ensure_dir(&dir)?;
        Ok(Confined::open(&dir)?)
    }

    /// Writes `content` to `relative` in `service`'s data directory, atomically, with
    /// `mode` (0 means 0644). Parent directories are created. The path is resolved
    /// beneath the directory and never through a symlink out of it
    /// ([`Confined`]).
    pub fn push_file(
        &self,
        service: &ServiceName,
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
        let mode = if mode == 0 { 0o644 } else { mode & 0o7777 };
        self.data_dir(service)?
            .write(relative, content, mode, self.runtime.data_owner())?;
        self.event(
            actor,
            "push-file",
            service,
            format!("{} ({} bytes)", escaped(relative), content.len()),
            None,
        );
        Ok(content.len() as u64)
    }

    /// Reads `relative` from `service`'s data directory, resolved as
    /// [`Engine::push_file`] resolves it; a file with other links is refused.
    pub fn pull_file(
        &self,
        service: &ServiceName,
        relative: &str,
    ) -> Result<Vec<u8>, crate::Error> {
        Ok(self
            .data_dir(service)?
            .read(relative, MAX_FILE_BYTES as u64)?)
    }
}

impl Engine {
    /// Snapshots `service`'s data directory (its `[snapshot] exclude` paths left
    /// out) into the node's snapshot store, keeping the newest configured number.
    pub fn snapshot(&self, service: &ServiceName, actor: &str) -> super::Result<SnapshotInfo> {
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
            |s| {
                Some(format!(
                    "{} ({} bytes, sha256 {})",
                    s.name, s.size_bytes, s.sha256
                ))
            },
        )
    }

    /// The snapshots of `service` on this node, oldest first.
    pub fn snapshots(&self, service: &ServiceName) -> Result<Vec<SnapshotInfo>, crate::Error> {
        Ok(self.config.snapshots.list(service)?)
    }
}

impl Engine {
    /// The file of snapshot `name` of `service`, to stream it elsewhere.
    pub fn snapshot_file(
        &self,
        service: &ServiceName,
        name: &str,
    ) -> Result<PathBuf, crate::Error> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !plain {
            return Err(crate::confined::ConfinedError::BadPath(name.to_owned()).into());
        }
        Ok(self.config.snapshots.get(service, name)?.path)
    }

    /// A fresh file to receive a snapshot of `service` into (in the snapshot
    /// store, so it is on the data's file system).
    pub fn incoming_file(
        &self,
        service: &ServiceName,
    ) -> Result<tempfile::NamedTempFile, crate::Error> {
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
        service: &ServiceName,
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
            |n| Some(format!("{n} bytes restored")),
        )
    }

    /// Removes `service`'s data directory on this node.
    pub fn remove_data(&self, service: &ServiceName, actor: &str) -> super::Result<()> {
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
            |()| Some("data directory removed".to_owned()),
        )
    }
}
