//! The record types the registry stores and returns, in domain terms.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::RegistryError;
use crate::spec::{Mode, ServiceDefinition};

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

/// Whether a component should be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// Kept running.
    Running,
    /// Stopped on purpose.
    Stopped,
}

impl DesiredState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DesiredState::Running => "running",
            DesiredState::Stopped => "stopped",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Self, RegistryError> {
        match s {
            "running" => Ok(DesiredState::Running),
            "stopped" => Ok(DesiredState::Stopped),
            other => Err(RegistryError::Corrupt {
                what: "desired state",
                detail: other.to_owned(),
            }),
        }
    }
}

/// A host port leased to one route of one component.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortLease {
    /// The host port.
    pub port: u16,
    /// Service holding it.
    pub service: String,
    /// Component holding it.
    pub component: String,
    /// Route name (`None` for an unnamed route).
    pub route: Option<String>,
    /// When it was leased.
    pub leased_at: SystemTime,
}

/// A TLS certificate the agent provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertificateRecord {
    /// The hostname it covers.
    pub hostname: String,
    /// The service it was issued for (`None` for edge or manual certificates).
    pub service: Option<String>,
    /// Path of the full-chain PEM.
    pub cert_path: String,
    /// Path of the private key.
    pub key_path: String,
    /// Serial number, hex.
    pub serial: String,
    /// Expiry.
    pub not_after: SystemTime,
    /// Which issuer produced it (`metacrypt`, `acme`, `local`).
    pub issuer: String,
}

/// An mc-proxy route the agent registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyRouteRecord {
    /// Listener address, e.g. `:443`.
    pub listener: String,
    /// Hostname (SNI) routed.
    pub hostname: String,
    /// Backend `host:port`.
    pub backend: String,
    /// Routing mode.
    pub mode: Mode,
    /// Certificate path (l7).
    pub tls_cert: Option<String>,
    /// Key path (l7).
    pub tls_key: Option<String>,
    /// Whether the proxy re-encrypts to the backend.
    pub backend_tls: bool,
    /// Whether the proxy sends the PROXY protocol header.
    pub proxy_protocol: bool,
    /// Owning service (`None` for routes added by hand).
    pub service: Option<String>,
}

/// An edge route: public traffic for `hostname` goes to `service` on compute node
/// `node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeRouteRecord {
    /// The public hostname.
    pub hostname: String,
    /// The service it reaches.
    pub service: String,
    /// The compute node running it.
    pub node: String,
    /// The service's internal hostname there (`<service>.<zone>`).
    pub backend_hostname: String,
    /// Where the edge proxy connects: the compute node's `address:port`.
    pub backend: String,
    /// The edge proxy's listener, e.g. `:443`.
    pub listener: String,
    /// When it was last set up.
    pub updated_at: SystemTime,
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

/// A DNS record the agent registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// Zone, e.g. `svc.mcp.metacircular.net`.
    pub zone: String,
    /// Name within the zone.
    pub name: String,
    /// Record type (`A`, `AAAA`, `CNAME`).
    pub rtype: String,
    /// Record data.
    pub value: String,
    /// TTL in seconds.
    pub ttl: u32,
    /// Owning service.
    pub service: Option<String>,
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

/// The role of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Runs containers.
    #[default]
    Compute,
    /// Runs only proxy routes for public traffic.
    Edge,
}

impl NodeRole {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::Compute => "compute",
            NodeRole::Edge => "edge",
        }
    }

    /// `compute` or `edge`; anything else is an error naming both.
    pub fn from_name(s: &str) -> Result<Self, String> {
        Self::parse(s).map_err(|_| format!("unknown node role {s:?}: compute or edge"))
    }

    pub(super) fn parse(s: &str) -> Result<Self, RegistryError> {
        match s {
            "compute" => Ok(NodeRole::Compute),
            "edge" => Ok(NodeRole::Edge),
            other => Err(RegistryError::Corrupt {
                what: "node role",
                detail: other.to_owned(),
            }),
        }
    }
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

/// An event from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Increasing id.
    pub id: i64,
    /// When it was recorded.
    pub at: SystemTime,
    /// Who did it.
    pub actor: String,
    /// What was done.
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
