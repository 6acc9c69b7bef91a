//! The wire: generated gRPC types and service stubs for the MCP agent API
//! (`proto/mcp/v1`) and for mc-proxy's admin API (`proto/mcproxy/v1`), compiled
//! with protox; the one conversion between the agent API's types and the model's
//! ([`convert`]); and errors on the wire ([`status`]).

pub mod convert;
pub mod status;

/// `mcp.v1`: the agent API.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod v1 {
    tonic::include_proto!("mcp.v1");
}

/// `mcproxy.v1`: mc-proxy's admin API (the client in `mcp_node::proxy`, a
/// recording server in the test kit).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
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

/// The largest file `PushFile` and `PullFile` carry in one call; messages may be a
/// little larger.
pub const MAX_FILE_BYTES: usize = 64 << 20;

pub use prost_types;
pub use tonic;
