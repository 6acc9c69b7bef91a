//! Moving a service's data between nodes: the snapshot file to send, receiving
//! one into the data directory (checked, atomic), and removing the data of a
//! service that left. Receiving and removing are refused while the service is
//! deployed on this node: its containers use that directory.

use std::path::PathBuf;

use super::{Engine, EngineError, Step, step_err};

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
