//! Proxy routes and edge routes as a node reports them: [`ProxyRouteRecord`],
//! the proxy's whole table ([`ProxyTable`]), and an edge node's public routes
//! ([`EdgeRouteStatus`]).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::spec::Mode;

/// An mc-proxy route as the agent knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// A node's proxy as the agent reports it: the proxy's status and every route,
/// each with the service that owns it in the registry (`None`: not a service's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyTable {
    /// The node.
    pub node: String,
    /// What the proxy says about itself.
    #[serde(rename = "proxy")]
    pub status: ProxyStatus,
    /// Every route.
    pub routes: Vec<ProxyRouteRecord>,
}

/// What the proxy says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyStatus {
    /// Its version.
    pub version: String,
    /// How long it has run.
    #[serde(
        rename = "uptime_seconds",
        serialize_with = "seconds",
        deserialize_with = "from_seconds"
    )]
    pub uptime: Duration,
    /// Connections since it started.
    pub total_connections: u64,
    /// Its listeners.
    pub listeners: Vec<ListenerStatus>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

fn from_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    Ok(Duration::from_secs(u64::deserialize(d)?))
}

/// One listener of the proxy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerStatus {
    /// Its address, e.g. `:443`.
    pub address: String,
    /// Routes on it.
    pub routes: u32,
    /// Connections open now.
    pub active_connections: u64,
}

/// An edge route an edge node is asked to set up: public traffic for `hostname`
/// goes to `service` on compute node `node`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeRouteRequest {
    /// The public hostname.
    pub hostname: String,
    /// The service it reaches.
    pub service: String,
    /// The compute node running it.
    pub node: String,
    /// The service's internal hostname there (`<service>.<zone>`), the SNI the
    /// edge proxy sends.
    pub backend_hostname: String,
    /// Where the edge proxy connects: the compute node's `address:port`.
    pub backend: String,
    /// The edge proxy's listener, e.g. `:443`.
    pub listener: String,
}

/// An edge route as an edge node keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(with = "crate::time::as_rfc3339")]
    pub updated_at: SystemTime,
}

/// An edge route with its certificate and, when probed, whether its backend
/// accepts connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeRouteStatus {
    /// The edge node it is on.
    pub edge: String,
    /// The route.
    #[serde(flatten)]
    pub route: EdgeRouteRecord,
    /// The public certificate's serial, hex.
    pub cert_serial: Option<String>,
    /// When the public certificate expires.
    #[serde(rename = "cert_expires", with = "crate::time::as_rfc3339_opt")]
    pub cert_not_after: Option<SystemTime>,
    /// Whether the backend accepted a connection (`None`: not probed).
    pub backend_reachable: Option<bool>,
    /// Why it did not.
    pub backend_error: Option<String>,
}
