//! `mcp_core`: every domain operation of the Metacircular Control Plane, as a library.
//!
//! The agent daemon (`mcp-agent`), the operator CLI (`mcp`) and the Python bindings
//! (`metacircular_mcp`) are thin frontends over this crate: they parse input, call a
//! function here and render the result. Anything two frontends would need lives here.
//!
//! The pieces, bottom up:
//!
//! * [`spec`]: service definitions, the TOML files operators write. Parsing with
//!   file/line/column locations for every problem, validation, the platform's
//!   derivations (hostnames, `$PORT` names, container names, image references) and
//!   format-preserving edits.
//! * [`registry`]: the agent's SQLite registry, the single source of truth for what a
//!   node runs: services as deployed, port leases, certificates, proxy routes, DNS
//!   records, containers, nodes and an append-only event log.
//! * [`ports`]: the host-port allocator, backed by the registry's leases.
//!
//! ```
//! use mcp_core::spec::{Conventions, ServiceDefinition};
//!
//! let def = ServiceDefinition::parse(
//!     r#"
//!     name = "hello"
//!     node = "local"
//!     [[components]]
//!     name = "hello"
//!     image = "localhost/hello:v0.1.0"
//!     [[components.routes]]
//!     port = 8443
//!     mode = "l7"
//!     "#,
//!     None,
//! )?;
//! let service = def.resolve(&Conventions::default());
//! let route = &service.components[0].routes[0];
//! assert_eq!(route.hostname, "hello.svc.mcp.metacircular.net");
//! assert_eq!(route.port_env, ["PORT"]);
//! assert_eq!(service.components[0].version, "v0.1.0");
//! # Ok::<(), mcp_core::Error>(())
//! ```
//!
//! Errors: each module has its own `thiserror` enum; all of them convert into
//! [`Error`], whose [`ErrorKind`] is the stable classification frontends map to gRPC
//! status codes, exit codes and Python exceptions.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
mod bridge;
pub mod build;
pub mod certs;
pub mod config;
pub mod dns;
pub mod edge;
pub mod engine;
pub mod error;
pub mod fleet;
pub mod fsutil;
pub mod images;
pub mod local;
pub mod migrate;
pub mod pki;
pub mod ports;
pub mod provision;
pub mod reconcile;
pub mod registry;
pub mod routes;
pub mod runtime;
pub mod snapshot;
pub mod spec;
pub mod ssh;

pub use error::{Error, ErrorKind, Result};

/// The version of this crate, which is the version of every MCP binary built from it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The SHA-256 (hex) of the running executable, read once from `/proc/self/exe`:
/// which build of a binary runs, whatever its version says. `agent upgrade`
/// checks it. Empty when the executable cannot be read.
pub fn build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        snapshot::sha256_file(std::path::Path::new("/proc/self/exe")).unwrap_or_default()
    })
}
