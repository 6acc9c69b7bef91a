//! Generated gRPC types and service stubs for the MCP agent API (`proto/mcp/v1`).
//! Only the agent, and the client in `mcp-core`'s frontends, use these types; the
//! conversions to and from domain types live in one place beside them.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `mcp.v1`: the agent API.
pub mod v1 {
    tonic::include_proto!("mcp.v1");
}

pub use tonic;
