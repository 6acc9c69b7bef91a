//! The agent API as the frontends use it: the gRPC client ([`AgentClient`]) shared by
//! the CLI and the Python bindings, the conversions between the wire types
//! (`mcp_proto::v1`) and this crate's types ([`convert`]), and the encoding of errors
//! on the wire ([`wire`]), which the agent uses to answer and the client to read.

mod client;
pub mod convert;
pub mod wire;

pub use client::{AgentClient, AgentEndpoint, ApiStream, LogLine};

use crate::ErrorKind;

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
    #[error("{message}")]
    Remote {
        /// Its stable classification.
        kind: ErrorKind,
        /// The lifecycle step that failed, when one did.
        step: Option<String>,
        /// The agent's message.
        message: String,
    },
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
            ApiError::Connect { .. } => ErrorKind::Unavailable,
            ApiError::Remote { kind, .. } => *kind,
            ApiError::Protocol(_) => ErrorKind::Internal,
            ApiError::Tls { .. } => ErrorKind::InvalidInput,
        }
    }
}
