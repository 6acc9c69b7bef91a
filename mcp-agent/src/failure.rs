//! How an RPC fails: the node's errors, and what the adapter itself finds wrong
//! with a request or a transfer. Mapped to a gRPC status here and nowhere else
//! (through `mcp_core::api::status`, which puts the kind and the step in the
//! status's metadata).

use mcp_core::ErrorKind;
use tonic::Status;

/// Why an RPC failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Failure {
    /// The node refused or failed.
    #[error(transparent)]
    Node(#[from] mcp_core::node::Error),
    /// The request itself makes no sense (a missing field, a bad stream).
    #[error("{0}")]
    Request(String),
    /// Reading or writing a file for a transfer failed.
    #[error("{0}")]
    Transfer(String),
    /// The task serving the request died.
    #[error("request task failed: {0}")]
    Task(String),
}

impl From<Failure> for Status {
    fn from(f: Failure) -> Status {
        let (kind, step) = match &f {
            Failure::Node(e) => (e.kind(), e.step()),
            Failure::Request(_) => (ErrorKind::InvalidInput, None),
            Failure::Transfer(_) => (ErrorKind::Io, None),
            Failure::Task(_) => (ErrorKind::Internal, None),
        };
        mcp_core::api::status::status(kind, step, f.to_string())
    }
}
