//! `mcp_fleet`: the operator's side of the Metacircular Control Plane, what the
//! `mcp` CLI and the Python SDK run. It talks to agents and never runs containers
//! itself; it depends on no part of the node (`mcp_node`).
//!
//! * [`client`]: the gRPC client of one agent ([`client::AgentClient`]), and how
//!   to reach it ([`client::AgentEndpoint`]).
//! * [`fleet`]: [`Fleet`], the operator's view: the configuration, definitions,
//!   which node runs a service, and asking every node at once
//!   ([`results::NodeResults`]: answers and failures, reported the same way by every
//!   frontend).
//! * [`public`]: services with public hostnames, deployed and undeployed together
//!   with their edge routes.
//! * [`releases`]: what a deploy would do ([`Fleet::plan_deploy`]), a
//!   service's revisions, rolling back to one, restoring a snapshot of its data.
//! * [`exec`]: a command in a service's running container.
//! * [`migrate`]: moving a service to another node with its data.
//! * [`placement`]: putting a `worker` service that names no node on the
//!   compute node with the most free capacity.
//! * [`provision`] over [`ssh`]: making a Debian host a node, upgrading agents.
//! * [`routes`]: a node's proxy routes, and routes added and removed by hand.
//! * [`builder`]: building and pushing a service's images.
#![deny(missing_docs)]

pub mod builder;
pub mod client;
mod error;
pub mod exec;
pub mod fleet;
pub mod login;
pub mod migrate;
pub mod observe;
pub mod placement;
pub mod provision;
pub mod public;
pub mod releases;
pub mod results;
pub mod routes;
pub mod ssh;
pub mod survey;
pub mod sync;

pub use error::{Error, Result};
pub use fleet::Fleet;
