//! Snapshots through the engine: under the service's lock (a snapshot never sees a
//! deploy half done), each one an event.

use super::{Engine, Step, step_err};
use mcp_model::view::SnapshotInfo;

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
