//! What a component uses right now ([`ComponentUsage`]): CPU, memory and
//! processes as the runtime samples them, with its restarts and uptime. Feeds
//! `mcp top`, the dashboard and the agent's per-component metrics.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::container::ContainerState;

/// One component's resource use.
///
/// The usage fields are `None` when the runtime reports none for it: the
/// container is not running, or the runtime cannot measure it (rootless Podman
/// on a cgroup v1 host).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentUsage {
    /// The service.
    pub service: String,
    /// The component.
    pub component: String,
    /// The node it runs on.
    pub node: String,
    /// Its container.
    pub container: String,
    /// What the runtime says (`missing` when there is no container).
    pub state: ContainerState,
    /// CPU used between the node's last two samples, in percent of one core
    /// (200 is two cores busy).
    pub cpu_percent: Option<f64>,
    /// CPU time used since the container started, seconds.
    pub cpu_seconds: Option<f64>,
    /// Memory in use, bytes.
    pub memory_bytes: Option<u64>,
    /// The memory it may use (its limit, else the node's memory), bytes.
    pub memory_limit_bytes: Option<u64>,
    /// Processes in the container.
    pub pids: Option<u64>,
    /// Restarts by the runtime since the container was created.
    pub restart_count: u32,
    /// When the container last started (running only).
    #[serde(with = "crate::time::as_rfc3339_opt")]
    pub started_at: Option<SystemTime>,
    /// When the usage was sampled.
    #[serde(with = "crate::time::as_rfc3339")]
    pub sampled_at: SystemTime,
}

impl ComponentUsage {
    /// How long it has been running at `now` (`None` when it is not running).
    pub fn uptime(&self, now: SystemTime) -> Option<std::time::Duration> {
        self.started_at.and_then(|s| now.duration_since(s).ok())
    }
}
