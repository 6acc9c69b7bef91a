//! A service's data directory (`/srv/<service>`): single files in and out
//! (`PushFile`/`PullFile`, paths confined to the directory), snapshots of it
//! (under the service's lock, so a snapshot never sees a deploy half done), and
//! moving it between nodes: the snapshot file to send, receiving one into the
//! directory (checked, atomic), and removing the data of a service that left.
//! Receiving and removing are refused while the service is deployed on this
//! node: its containers use that directory. Restoring one of the node's own
//! snapshots stops the service around it instead.

use std::path::PathBuf;

use mcp_model::view::{Report, SnapshotInfo, Step};
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
        Ok(self.snapshot_info(service, name)?.path)
    }

    /// Snapshot `name` of `service`; a name that is not a plain file name is
    /// refused before the store is asked.
    fn snapshot_info(
        &self,
        service: &ServiceName,
        name: &str,
    ) -> Result<SnapshotInfo, crate::Error> {
        let plain = !name.is_empty()
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !plain {
            return Err(crate::confined::ConfinedError::BadPath(name.to_owned()).into());
        }
        Ok(self.config.snapshots.get(service, name)?)
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

    /// Restores snapshot `name` of `service` (the newest when `None`) into its
    /// data directory: checked against its SHA-256, unpacked beside the
    /// directory and renamed into place, with the service stopped around it when
    /// it runs. A directory holding data is replaced only with `force`; that is
    /// refused before anything stops.
    pub fn restore_snapshot(
        &self,
        service: &ServiceName,
        name: Option<&str>,
        force: bool,
        actor: &str,
    ) -> super::Result<Report> {
        self.recorded(
            actor,
            "restore-snapshot",
            service,
            || self.restore_locked(service, name, force),
            |(snapshot, _)| Some(format!("{} restored", snapshot.name)),
        )
        .map(|(_, report)| report)
    }

    fn restore_locked(
        &self,
        service: &ServiceName,
        name: Option<&str>,
        force: bool,
    ) -> super::Result<(SnapshotInfo, Report)> {
        let fail = |e: crate::Error| step_err("restore", service, Step::Snapshot)(e);
        let snapshot = match name {
            Some(n) => self.snapshot_info(service, n).map_err(fail)?,
            None => self
                .snapshots(service)
                .map_err(fail)?
                .pop()
                .ok_or_else(|| {
                    EngineError::Precondition(format!(
                        "no snapshot of {service} is kept on this node (mcp snapshot {service} takes one)"
                    ))
                })?,
        };
        let target = self.config.conventions.data_root.join(service);
        let holds_data = std::fs::read_dir(&target).is_ok_and(|mut d| d.next().is_some());
        if holds_data && !force {
            return Err(EngineError::Conflict(format!(
                "the data directory of {service} holds data; --force replaces it with snapshot {}",
                snapshot.name
            )));
        }
        let running = self
            .registry
            .service(service)
            .map_err(|e| fail(e.into()))?
            .is_some_and(|r| r.active);
        let mut report = if running {
            self.stop_locked(service)?
        } else {
            Report::new(service, &self.config.node)
        };
        let owner = self.runtime.data_owner();
        let restored =
            crate::snapshot::restore(&snapshot.path, &snapshot.sha256, &target, true, owner)
                .map_err(|e| fail(e.into()));
        if running {
            // Started again whether or not the restore went through.
            report = self.start_locked(service)?;
        }
        restored?;
        Ok((snapshot, report))
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
