//! `mcp_node`: one node of the Metacircular Control Plane: what `mcp-agent` runs.
//!
//! * [`wiring`]: the composition root: [`wiring::Node::open`] builds the registry,
//!   the container runtime, the certificate issuer, the DNS registrar and the proxy
//!   client from the agent's configuration, and the [`engine::Engine`] over them.
//! * [`engine`]: the lifecycle engine: deploy, stop, start, restart, undeploy,
//!   adopt, recover, sync, a service's data, edge routes; every step journaled and
//!   undone on failure.
//! * [`monitor`]: keeps what runs equal to the registry, with flap detection.
//! * [`metrics`]: what the node counts and shows to Prometheus.
//! * [`registry`]: the node's SQLite registry, the single source of truth for what
//!   it runs.
//! * [`runtime`]: the container runtime trait and its Podman driver.
//! * [`ports`]: the port allocator over the registry's leases.
//! * The node's integrations: [`proxy`] (mc-proxy), [`certs`] (issuers and the
//!   certificate store), [`dns`] (registrars), [`snapshot`] (the data archive
//!   format and store), [`auth`] (who is calling), [`access`] (what they may do), [`confined`] (files beneath a
//!   data directory, never outside it).
//! * [`local`]: a single-machine node (`mcp-agent init --local`).
//!
//! Nothing here talks to another node: what spans nodes is the operator's side
//! (`mcp_fleet`), which depends on none of this.
#![deny(missing_docs)]

pub mod access;
pub mod auth;
mod bridge;
pub mod certs;
pub mod confined;
pub mod dns;
pub mod engine;
mod error;
pub mod local;
pub mod metrics;
pub mod monitor;
pub mod ports;
pub mod proxy;
pub mod registry;
pub mod runtime;
pub mod snapshot;
pub mod wiring;

pub use error::{Error, Result};
