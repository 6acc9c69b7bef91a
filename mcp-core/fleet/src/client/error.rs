//! Errors talking to an agent ([`ApiError`]).

use mcp_model::ErrorKind;
use mcp_proto::convert::Malformed;
use mcp_proto::status::RemoteError;

/// Errors talking to an agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No address of the node answered.
    #[error("cannot reach the agent of node {node} ({tried}): {message}")]
    Connect {
        /// The node.
        node: String,
        /// The addresses tried, in order.
        tried: String,
        /// Why the last one failed.
        message: String,
    },
    /// The agent answered with an error.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// The agent's answer could not be understood.
    #[error("unexpected answer from the agent: {0}")]
    Protocol(String),
    /// TLS material for the connection is unusable.
    #[error("TLS setup for node {node}: {message}")]
    Tls {
        /// The node.
        node: String,
        /// What is wrong.
        message: String,
    },
}

impl ApiError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Connect { .. } => ErrorKind::Unreachable,
            ApiError::Remote(r) => r.kind,
            ApiError::Protocol(_) => ErrorKind::Internal,
            ApiError::Tls { .. } => ErrorKind::InvalidInput,
        }
    }
}

impl From<Malformed> for ApiError {
    fn from(m: Malformed) -> Self {
        ApiError::Protocol(m.0)
    }
}
