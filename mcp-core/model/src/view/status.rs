//! What a service looks like right now ([`ServiceStatus`]): the registry's desired
//! state joined with what the runtime reports, per component.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{Event, PortAssignment, ProxyRouteRecord};
use crate::container::ContainerState;
use crate::spec::ServiceDefinition;

/// One service's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// The service.
    pub service: String,
    /// The node it is deployed on.
    pub node: String,
    /// Whether MCP keeps it running.
    pub active: bool,
    /// Its components.
    pub components: Vec<ComponentStatus>,
    /// Proxy routes MCP registered for it (one service's status only; empty in a
    /// listing of every service).
    pub routes: Vec<ProxyRouteRecord>,
    /// Its certificates (one service's status only).
    pub certificates: Vec<CertificateRecord>,
    /// Integration steps this node skips for it, and why.
    pub skipped: Vec<String>,
}

impl ServiceStatus {
    /// How many components run.
    pub fn running(&self) -> usize {
        self.components
            .iter()
            .filter(|c| c.state == ContainerState::Running)
            .count()
    }

    /// Whether a component is held stopped for flapping.
    pub fn is_flapping(&self) -> bool {
        self.components.iter().any(ComponentStatus::is_flapping)
    }
}

/// A service's status, the definition it was deployed from and its newest events.
/// Serialised human-readably (JSON) as the status with `recent_events`, the
/// definition left out; otherwise (the Python SDK's pickles) whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// Its status, with routes and certificates.
    pub status: ServiceStatus,
    /// The definition it was deployed from.
    pub definition: ServiceDefinition,
    /// Its newest events, oldest first.
    pub events: Vec<Event>,
}

/// [`StatusReport`] as JSON shows it.
#[derive(Serialize)]
struct ShownReport<'a> {
    #[serde(flatten)]
    status: &'a ServiceStatus,
    recent_events: &'a [Event],
}

/// [`StatusReport`] whole.
#[derive(Serialize)]
struct WholeRef<'a> {
    status: &'a ServiceStatus,
    definition: &'a ServiceDefinition,
    events: &'a [Event],
}

/// [`StatusReport`] whole, read back.
#[derive(Deserialize)]
struct WholeReport {
    status: ServiceStatus,
    definition: ServiceDefinition,
    events: Vec<Event>,
}

impl Serialize for StatusReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let shown = ShownReport {
                status: &self.status,
                recent_events: &self.events,
            };
            return shown.serialize(s);
        }
        WholeRef {
            status: &self.status,
            definition: &self.definition,
            events: &self.events,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for StatusReport {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            return Err(serde::de::Error::custom(
                "a status report's JSON leaves out its definition: it cannot be read back",
            ));
        }
        let whole = WholeReport::deserialize(d)?;
        Ok(StatusReport {
            status: whole.status,
            definition: whole.definition,
            events: whole.events,
        })
    }
}

/// One component's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentStatus {
    /// The component.
    pub name: String,
    /// Its container.
    pub container: String,
    /// Whether it should run.
    pub desired: DesiredState,
    /// What the runtime says (`missing` when there is no container).
    pub state: ContainerState,
    /// The image deployed.
    pub image: String,
    /// The version deployed.
    pub version: String,
    /// The host port of each of its routes.
    pub ports: Vec<PortAssignment>,
    /// Restarts by the runtime since the container was created.
    pub restart_count: u32,
    /// When the container last started.
    #[serde(with = "crate::time::as_rfc3339_opt")]
    pub started_at: Option<SystemTime>,
    /// Since when the monitor holds it stopped for flapping.
    #[serde(with = "crate::time::as_rfc3339_opt")]
    pub flapping_since: Option<SystemTime>,
}

impl ComponentStatus {
    /// Whether the component is held stopped for flapping.
    pub fn is_flapping(&self) -> bool {
        self.flapping_since.is_some()
    }

    /// The state to show: `flapping` for a component held down, else the
    /// runtime's word.
    pub fn shown_state(&self) -> &str {
        if self.is_flapping() {
            "flapping"
        } else {
            self.state.as_str()
        }
    }
}

crate::words! {
    /// Whether a component should be running.
    pub enum DesiredState: "desired state" {
        /// Kept running.
        Running => "running",
        /// Stopped on purpose.
        Stopped => "stopped",
    }
}

/// A TLS certificate the agent provisioned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(with = "crate::time::as_rfc3339")]
    pub not_after: SystemTime,
    /// Which issuer produced it (`metacrypt`, `acme`, `local`).
    pub issuer: String,
}
