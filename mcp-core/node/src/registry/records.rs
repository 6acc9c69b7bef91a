//! The record types the registry stores and returns, in domain terms.

use std::time::SystemTime;

pub use mcp_model::ports::PortLease;
use mcp_model::spec::ServiceDefinition;
pub use mcp_model::view::{
    CertificateRecord, DesiredState, DnsRecord, EdgeRouteRecord, Event, NodeRole, ProxyRouteRecord,
};

/// A service as deployed on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    /// The definition as deployed (stored in canonical form).
    pub definition: ServiceDefinition,
    /// Whether the agent keeps it running (`stop` clears this, `start` sets it).
    pub active: bool,
    /// Its components, in definition order.
    pub components: Vec<ComponentRecord>,
    /// When it was last deployed.
    pub deployed_at: SystemTime,
    /// When the record last changed.
    pub updated_at: SystemTime,
}

impl ServiceRecord {
    /// The service name.
    pub fn name(&self) -> &str {
        &self.definition.name
    }
}

/// One component of a deployed service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRecord {
    /// Component name.
    pub name: String,
    /// The container's name.
    pub container_name: String,
    /// Full image reference deployed.
    pub image: String,
    /// Version (image tag) deployed.
    pub version: String,
    /// Whether it should be running.
    pub desired: DesiredState,
    /// Hash of the container specification deployed (the `mcp.spec-hash` label).
    pub spec_hash: String,
    /// Since when the monitor has held the component stopped for flapping.
    pub flapping_since: Option<SystemTime>,
}

/// An open journal entry: an operation that has not committed (see
/// [`crate::engine`]), with what undoes it so far (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// Its id.
    pub id: i64,
    /// The service.
    pub service: String,
    /// The operation (`deploy`, `stop`, …).
    pub operation: String,
    /// When it began.
    pub started_at: SystemTime,
    /// The undo steps, oldest first, as the engine serialized them.
    pub undo: String,
}

/// A container the agent manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRecord {
    /// Container name.
    pub name: String,
    /// Service.
    pub service: String,
    /// Component.
    pub component: String,
    /// The runtime's container id.
    pub container_id: String,
    /// Image it was created from.
    pub image: String,
    /// When it was created.
    pub created_at: SystemTime,
}

/// A node of the fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// Node name.
    pub name: String,
    /// What it does.
    pub role: NodeRole,
    /// Agent addresses (`host:port`), tried in order.
    pub addresses: Vec<String>,
    /// SSH target for provisioning and upgrades.
    pub ssh: Option<String>,
    /// Architecture (`amd64`, `arm64`).
    pub arch: String,
    /// Agent version last seen.
    pub agent_version: Option<String>,
    /// When the agent last answered.
    pub last_seen: Option<SystemTime>,
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewEvent {
    /// Who did it (an account name, or `agent` for the agent's own actions).
    pub actor: String,
    /// What was done (`deploy`, `stop`, `drift`, …).
    pub action: String,
    /// The service concerned, if any.
    pub service: Option<String>,
    /// Human-readable detail.
    pub detail: String,
    /// The error, when the action failed.
    pub error: Option<String>,
}

/// Which events to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventQuery {
    /// Only this service's events.
    pub service: Option<String>,
    /// Only events with a larger id (for following the log).
    pub after_id: Option<i64>,
    /// At most this many, the oldest first (for paging forward).
    pub limit: Option<u32>,
    /// Only the newest this many (still returned oldest first).
    pub last: Option<u32>,
}
