//! `mcp_core`: the Metacircular Control Plane as a library, in two halves over one
//! ground floor. Other Rust tools depend on this crate and pick the halves they
//! need with cargo features:
//!
//! * always: the model ([`spec`], [`config`], [`view`], [`ports`], [`plan`],
//!   [`container`], [`ErrorKind`]): service definitions, configuration, results
//!   and the pure planners. A tool that only parses and validates definitions
//!   builds this alone (`default-features = false`).
//! * `node` ([`node`]): one node, what `mcp-agent` runs: the registry, the
//!   container runtime, the lifecycle engine, the monitor and the node's
//!   integrations, built from the agent's configuration by
//!   [`node::wiring::Node::open`].
//! * `fleet` ([`fleet`]): the operator's side, what `mcp` and the Python SDK run:
//!   the agent client and every operation that spans nodes.
//!
//! [`api`] is the wire both halves speak (the agent API, its one conversion to the
//! model, errors on the wire) and [`platform`] the clients of the services around
//! them (MCIAS, OCI registries, the PKI, Podman); both come with either half.
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
//! # Ok::<(), mcp_core::spec::SpecError>(())
//! ```
//!
//! # Quickstart
//!
//! Parse and validate offline, as above ([`spec::ServiceDefinition`]); plan
//! ports ([`ports::PortPlanner`]) and reconciliation ([`plan::plan`]) without
//! a node. With the `fleet` feature, the operator's side: load the fleet the
//! CLI uses, list every service on every node at once, deploy.
//!
//! ```no_run
//! # async fn quickstart() -> Result<(), mcp_core::fleet::Error> {
//! use mcp_core::fleet::Fleet;
//!
//! // $MCP_CONFIG, else ~/.config/mcp/mcp.toml: nodes, token, services directory.
//! let fleet = Fleet::load(None)?;
//! fleet.require_nodes()?;
//!
//! // Every node at once; a node that fails is reported beside the answers.
//! let all = fleet.services(None).await?.gather();
//! for s in &all.items {
//!     println!("{} on {}: {}/{} running", s.service, s.node, s.running(), s.components.len());
//! }
//! for failure in &all.failures {
//!     eprintln!("{failure}");
//! }
//!
//! // Deploy `<services dir>/hello.toml` on the node it names: the report
//! // says what changed and which host ports its routes got.
//! let (path, def) = fleet.definition("hello")?;
//! let deployed = fleet.deploy_file(&path, def).await?;
//! for p in &deployed.report.ports {
//!     println!("{} {:?} → {}", p.component, p.route, p.port);
//! }
//!
//! // One agent directly: its client, every RPC decoded into view types.
//! let mut agent = fleet.client("n1").await?;
//! println!("{:?}", agent.node_status().await?);
//! # Ok(()) }
//! ```
//!
//! The entry points, each with an example: [`fleet::Fleet`],
//! [`fleet::client::AgentClient`], [`spec::ServiceDefinition`],
//! [`ports::PortPlanner`], [`plan::plan`], [`node::engine::Engine`].
//!
//! Errors: each module has its own `thiserror` enum; each half gathers them in its
//! own `Error` ([`node::Error`], [`fleet::Error`]), whose [`ErrorKind`] is the
//! stable classification frontends map to gRPC status codes, exit codes and Python
//! exceptions.
#![deny(missing_docs)]

pub use mcp_model::{
    ErrorKind, VERSION, config, container, fsutil, kind, names, plan, ports, spec, text, time,
    view, words,
};

#[cfg(any(feature = "node", feature = "fleet"))]
pub use mcp_platform as platform;
#[cfg(any(feature = "node", feature = "fleet"))]
pub use mcp_proto as api;

#[cfg(feature = "fleet")]
pub use mcp_fleet as fleet;
#[cfg(feature = "node")]
pub use mcp_node as node;
