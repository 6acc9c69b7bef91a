//! The agent daemon: the gRPC adapter over `mcp_core`, served over TLS 1.3 with every
//! RPC authenticated. `server` wires configuration into a running server, `auth`
//! authenticates every call, `service` maps each RPC onto one `mcp_core` call,
//! `metrics` serves the node's metrics to Prometheus.

mod auth;
mod failure;
mod metrics;
mod server;
mod service;
mod slots;

use std::net::SocketAddr;
use std::path::Path;

pub use server::{AgentError, router, serve};

/// `mcp-agent init --local`: prints what was created and how to use it.
pub fn init_local(dir: &Path, node: &str, listen: SocketAddr) -> Result<(), AgentError> {
    let n = mcp_core::node::local::init_local(dir, node, listen)?;
    for f in &n.created {
        println!("created {}", f.display());
    }
    println!(
        "start the agent:  mcp-agent serve --config {}",
        n.agent_config.display()
    );
    println!(
        "use the CLI:      mcp --config {} ps",
        n.cli_config.display()
    );
    Ok(())
}

/// `mcp-agent schema`: creates the registry or upgrades its schema.
pub fn schema(db: &Path) -> Result<(), AgentError> {
    let v = mcp_core::node::registry::Registry::open(db)
        .and_then(|r| r.schema_version())
        .map_err(mcp_core::node::Error::from)?;
    println!("registry {} is at schema version {v}", db.display());
    Ok(())
}
