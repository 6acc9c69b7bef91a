//! What a node is: its identity, role and capacity ([`NodeInfo`]).

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// A node's identity and capacity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Node name.
    pub node: String,
    /// Agent version.
    pub version: String,
    /// When the agent started.
    #[serde(with = "crate::time::as_rfc3339")]
    pub started_at: SystemTime,
    /// Registry schema version.
    pub registry_schema_version: u32,
    /// The container runtime and its version, or why it is unavailable.
    pub runtime: String,
    /// Services deployed.
    pub services: u32,
    /// Containers the registry holds.
    pub containers: u32,
    /// CPUs.
    pub cpus: u32,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Memory available, bytes.
    pub memory_available_bytes: u64,
    /// The 1-minute load average: runnable tasks, comparable with `cpus`.
    pub load_average: f64,
    /// Free disk under the data root, bytes.
    pub disk_free_bytes: u64,
    /// Host ports leased.
    pub ports_leased: u32,
    /// Host ports in the range.
    pub ports_total: u32,
    /// What the node does.
    pub role: NodeRole,
    /// The SHA-256 of the agent's executable (which build runs, whatever its version says).
    pub build: String,
}

crate::words! {
    /// The role of a node.
    #[derive(Default)]
    pub enum NodeRole: "node role" {
        /// Runs containers.
        #[default]
        Compute => "compute",
        /// Runs only proxy routes for public traffic.
        Edge => "edge",
    }
}
