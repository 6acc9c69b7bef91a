//! `mcp_model`: the ground floor of the Metacircular Control Plane. Everything
//! here is plain data and pure functions, used by both halves above it (the node,
//! `mcp_node`, and the operator's side, `mcp_fleet`) and by every frontend:
//!
//! * [`spec`]: service definitions, the TOML files operators write. Parsing with
//!   file/line/column locations for every problem, validation, the platform's
//!   derivations (hostnames, `$PORT` names, container names, image references) and
//!   format-preserving edits.
//! * [`config`]: the agent's and the operator's configuration files, as data.
//! * [`view`]: the results MCP reports (status, reports, events, routes, …), one
//!   type each, serialised the same way for `--json`, the wire and Python.
//! * [`ports`]: the host-port range, the set of taken ports and the one leasing
//!   rule; [`ports::PortPlanner`] plans offline.
//! * [`plan`]: what the monitor must do to make observed containers match the
//!   desired ones.
//! * [`container`]: the labels, spec hash and run states containers carry.
//! * [`kind`]: [`ErrorKind`], the stable classification every frontend maps once.
//! * [`names`]: service, component, node and route names as types that only
//!   parsing makes.
//! * [`text`]: values from outside made safe to show in messages.
//! * [`words`](mod@words), [`time`], [`fsutil`]: vocabularies, times, atomic files.
//!
//! It does no I/O beyond reading and writing the files it is handed, and depends
//! on nothing of MCP's.
#![deny(missing_docs)]

pub mod config;
pub mod container;
pub mod fsutil;
pub mod kind;
pub mod names;
pub mod plan;
pub mod ports;
pub mod spec;
pub mod text;
pub mod time;
pub mod view;
#[macro_use]
pub mod words;

pub use kind::ErrorKind;

/// The version of MCP, which is the version of every MCP binary built from this
/// workspace.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
