//! Generated gRPC types and service stubs for the MCP agent API (`proto/mcp/v1`) and
//! for mc-proxy's admin API (`proto/mcproxy/v1`), compiled with protox. The conversions between these types and `mcp_core`'s live
//! in one place, `mcp_core::api::convert`.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `mcp.v1`: the agent API.
pub mod v1 {
    tonic::include_proto!("mcp.v1");
}

/// `mcproxy.v1`: mc-proxy's admin API (the client in `mcp_core::routes`, a
/// recording server in the test harness).
pub mod mcproxy {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("mcproxy.v1");
    }
}

/// The encoded `FileDescriptorSet` of the API, for tools and tests that enumerate
/// its services and methods.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/mcp_descriptor.bin"));

pub use prost_types;
pub use tonic;
