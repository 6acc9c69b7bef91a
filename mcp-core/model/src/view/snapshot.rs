//! Snapshots of a service's data kept on a node ([`SnapshotInfo`]).

use std::path::PathBuf;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One snapshot kept on a node. Serialised without its `path` (the node's
/// own); read back, the path is its name, as the wire gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "SnapshotFields")]
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

/// [`SnapshotInfo`] as it is serialised.
#[derive(Deserialize)]
struct SnapshotFields {
    service: String,
    node: String,
    name: String,
    size_bytes: u64,
    sha256: String,
    #[serde(with = "crate::time::as_rfc3339")]
    created_at: SystemTime,
}

impl From<SnapshotFields> for SnapshotInfo {
    fn from(f: SnapshotFields) -> Self {
        SnapshotInfo {
            path: PathBuf::from(&f.name),
            service: f.service,
            node: f.node,
            name: f.name,
            size_bytes: f.size_bytes,
            sha256: f.sha256,
            created_at: f.created_at,
        }
    }
}
