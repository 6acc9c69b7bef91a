//! The crate-wide error: one variant per module error, and the stable [`ErrorKind`]
//! every frontend maps exactly once (to a gRPC status, an exit code or a Python
//! exception class).

use crate::api::ApiError;
use crate::auth::AuthError;
use crate::build::BuildError;
use crate::certs::CertError;
use crate::config::ConfigError;
use crate::dns::DnsError;
use crate::edge::EdgeError;
use crate::engine::EngineError;
use crate::images::ImageError;
use crate::migrate::MigrateError;
use crate::pki::PkiError;
use crate::ports::PortError;
use crate::provision::ProvisionError;
use crate::registry::RegistryError;
use crate::routes::RouteError;
use crate::runtime::RuntimeError;
use crate::snapshot::SnapshotError;
use crate::spec::SpecError;
use crate::ssh::SshError;

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
    /// No valid credentials (missing, malformed, expired or unknown token).
    Unauthenticated,
    /// Valid credentials, but not allowed (for example a guest account).
    PermissionDenied,
    /// The feature needs configuration this node does not have.
    NotConfigured,
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
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotConfigured => "not_configured",
        }
    }

    /// The kind named `s` (the inverse of [`ErrorKind::as_str`]).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "invalid_input" => ErrorKind::InvalidInput,
            "not_found" => ErrorKind::NotFound,
            "conflict" => ErrorKind::Conflict,
            "exhausted" => ErrorKind::Exhausted,
            "failed_precondition" => ErrorKind::FailedPrecondition,
            "unavailable" => ErrorKind::Unavailable,
            "io" => ErrorKind::Io,
            "internal" => ErrorKind::Internal,
            "unauthenticated" => ErrorKind::Unauthenticated,
            "permission_denied" => ErrorKind::PermissionDenied,
            "not_configured" => ErrorKind::NotConfigured,
            _ => return None,
        })
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
    /// Talking to an agent failed, or the agent reported an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Authentication failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A configuration file is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Building or pushing an image failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A registry operation failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Certificate material could not be made or read.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// A certificate could not be issued, or a certificate file is unusable.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// A DNS update failed.
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// An edge node refused or failed a service's edge routes.
    #[error(transparent)]
    Edge(#[from] EdgeError),
    /// Provisioning or an upgrade could not proceed.
    #[error(transparent)]
    Provision(#[from] ProvisionError),
    /// A command over SSH failed.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// A migration stopped (and what was put back).
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// A snapshot could not be made or restored.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// Talking to the proxy failed, or a route is malformed.
    #[error(transparent)]
    Route(#[from] RouteError),
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
            Error::Api(e) => e.kind(),
            Error::Auth(e) => e.kind(),
            Error::Config(e) => e.kind(),
            Error::Pki(e) => e.kind(),
            Error::Image(e) => e.kind(),
            Error::Build(e) => e.kind(),
            Error::Route(e) => e.kind(),
            Error::Cert(e) => e.kind(),
            Error::Dns(e) => e.kind(),
            Error::Snapshot(e) => e.kind(),
            Error::Migrate(e) => e.kind(),
            Error::Edge(e) => e.kind(),
            Error::Provision(e) => e.kind(),
            Error::Ssh(e) => e.kind(),
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error chain of `e` as one line, each cause once (tonic's and reqwest's
/// top-level messages are terse; the cause says what happened).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
