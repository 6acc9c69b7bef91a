//! The operator side's error: one variant per module error. [`Error::kind`] is the
//! stable classification frontends map once (exit codes, Python exceptions);
//! [`Error::step`] the lifecycle step an agent reported failing, if any.

use mcp_model::ErrorKind;
use mcp_model::config::ConfigError;
use mcp_model::names::NameError;
use mcp_model::ports::PortError;
use mcp_model::spec::SpecError;
use mcp_model::view::Step;
use mcp_platform::images::ImageError;
use mcp_platform::mcias::AuthError;
use mcp_platform::pki::PkiError;
use mcp_platform::podman::PodmanError;

use crate::builder::BuildError;
use crate::client::ApiError;
use crate::migrate::MigrateError;
use crate::placement::PlacementError;
use crate::provision::ProvisionError;
use crate::public::EdgeError;
use crate::ssh::SshError;

/// Any error of the operator's side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A service definition could not be read or is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A name given breaks its rule.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The configuration is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Planning ports offline failed.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// Talking to an agent failed, or the agent reported an error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Logging in failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Building or pushing an image failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// A registry operation failed.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// Certificate material could not be made or read.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// The Podman command failed.
    #[error(transparent)]
    Podman(#[from] PodmanError),
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
    /// A service could not be placed, or names no node.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// A service that was deployed does not run.
    #[error("{0}")]
    NotRunning(String),
    /// The fleet is not configured for what was asked.
    #[error("{0}")]
    NotConfigured(String),
    /// A call did not finish within the time it was given.
    #[error("{0}")]
    TimedOut(String),
    /// The error of `node`, said to be that node's: the first failure of a
    /// query every node was asked and none answered
    /// ([`crate::results::NodeResults::require_any`]).
    #[error("{error}")]
    OnNode {
        /// The node.
        node: String,
        /// Its error.
        error: Box<Error>,
    },
    /// Something on the operator's machine failed (a listener, a file).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Spec(e) => e.kind(),
            Error::Name(e) => e.kind(),
            Error::Config(e) => e.kind(),
            Error::Ports(e) => e.kind(),
            Error::Api(e) => e.kind(),
            Error::Auth(e) => e.kind(),
            Error::Build(e) => e.kind(),
            Error::Image(e) => e.kind(),
            Error::Pki(e) => e.kind(),
            Error::Podman(e) => e.kind(),
            Error::Edge(e) => e.kind(),
            Error::Provision(e) => e.kind(),
            Error::Ssh(e) => e.kind(),
            Error::Migrate(e) => e.kind(),
            Error::Placement(e) => e.kind(),
            Error::NotRunning(_) => ErrorKind::FailedPrecondition,
            Error::NotConfigured(_) => ErrorKind::NotConfigured,
            Error::TimedOut(_) => ErrorKind::Unavailable,
            Error::Io { .. } => ErrorKind::Io,
            Error::OnNode { error, .. } => error.kind(),
        }
    }

    /// The node the error happened on, when the error itself knows it (it
    /// could not be reached, its TLS material is unusable, an edge node
    /// refused).
    pub fn node(&self) -> Option<&str> {
        match self {
            Error::Api(ApiError::Connect { node, .. } | ApiError::Tls { node, .. }) => Some(node),
            Error::Edge(e) => Some(&e.node),
            Error::OnNode { node, .. } => Some(node),
            _ => None,
        }
    }

    /// The lifecycle step an agent reported failing, when one did.
    pub fn step(&self) -> Option<Step> {
        match self {
            Error::Api(ApiError::Remote(r)) => r.step,
            Error::Edge(e) => e.source.step(),
            Error::Migrate(e) => e.source.step(),
            Error::OnNode { error, .. } => error.step(),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
