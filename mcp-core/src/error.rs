//! The crate-wide error: one variant per module error, and the stable [`ErrorKind`]
//! every frontend maps exactly once (to a gRPC status, an exit code or a Python
//! exception class).

use crate::{
    engine::EngineError, ports::PortError, registry::RegistryError, runtime::RuntimeError,
    spec::SpecError,
};

/// The stable classification of an error. Frontends match on this, never on the
/// module-specific variants, so new variants do not break them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input is wrong (a bad service definition, a bad argument).
    InvalidInput,
    /// The named thing does not exist.
    NotFound,
    /// The request conflicts with existing state (a port already leased, a name taken).
    Conflict,
    /// A finite resource ran out (the port range is full).
    Exhausted,
    /// The system is not in a state where the operation can run (for example a
    /// registry written by a newer MCP).
    FailedPrecondition,
    /// A dependency could not be reached; retrying later may succeed.
    Unavailable,
    /// Reading or writing a local file failed.
    Io,
    /// A bug or corrupted state: should never happen.
    Internal,
}

impl ErrorKind {
    /// A short, stable, machine-readable name (`invalid_input`, `not_found`, …),
    /// used as the reason code on the wire and in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Exhausted => "exhausted",
            ErrorKind::FailedPrecondition => "failed_precondition",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Io => "io",
            ErrorKind::Internal => "internal",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any error from `mcp_core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A service definition could not be read or is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Port allocation failed.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// The container runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// A lifecycle operation failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Error {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Spec(e) => e.kind(),
            Error::Registry(e) => e.kind(),
            Error::Ports(e) => e.kind(),
            Error::Runtime(e) => e.kind(),
            Error::Engine(e) => e.kind(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
