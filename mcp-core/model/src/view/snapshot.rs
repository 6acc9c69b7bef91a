//! Snapshots of a service's data kept on a node ([`SnapshotInfo`]).

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One snapshot kept on a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// The service.
    pub service: String,
    /// The node it is kept on.
    pub node: String,
    /// Its name (`<UTC time>.tar.zst`).
    pub name: String,
    /// Where it is on that node.
    #[serde(skip)]
    pub path: PathBuf,
    /// Its size.
    pub size_bytes: u64,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// When it was taken.
    #[serde(with = "crate::time::as_rfc3339")]
    pub created_at: SystemTime,
}
