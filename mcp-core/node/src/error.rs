//! The node's error: one variant per module error. [`Error::kind`] is the stable
//! classification the agent maps to a gRPC status; [`Error::step`] the lifecycle
//! step that failed, if one did.

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

use crate::certs::CertError;
use crate::confined::ConfinedError;
use crate::dns::DnsError;
use crate::engine::EngineError;
use crate::ports::LeaseError;
use crate::proxy::RouteError;
use crate::registry::RegistryError;
use crate::runtime::RuntimeError;
use crate::snapshot::SnapshotError;

/// Any error of a node.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A service definition could not be read or is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A name in a request breaks its rule.
    #[error(transparent)]
    Name(#[from] NameError),
    /// The configuration is missing or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Port allocation failed.
    #[error(transparent)]
    Ports(#[from] PortError),
    /// Leasing ports in the registry failed.
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// The container runtime failed.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The Podman command failed.
    #[error(transparent)]
    Podman(#[from] PodmanError),
    /// A lifecycle operation failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Authentication failed or is misconfigured.
    #[error(transparent)]
    Auth(#[from] AuthError),
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
    /// A snapshot could not be made or restored.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A file in a data directory was refused or could not be read or written.
    #[error(transparent)]
    Confined(#[from] ConfinedError),
    /// Talking to the proxy failed, or a route is malformed.
    #[error(transparent)]
    Route(#[from] RouteError),
}

impl Error {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Spec(e) => e.kind(),
            Error::Name(e) => e.kind(),
            Error::Config(e) => e.kind(),
            Error::Registry(e) => e.kind(),
            Error::Ports(e) => e.kind(),
            Error::Lease(e) => e.kind(),
            Error::Runtime(e) => e.kind(),
            Error::Podman(e) => e.kind(),
            Error::Engine(e) => e.kind(),
            Error::Auth(e) => e.kind(),
            Error::Image(e) => e.kind(),
            Error::Pki(e) => e.kind(),
            Error::Cert(e) => e.kind(),
            Error::Dns(e) => e.kind(),
            Error::Snapshot(e) => e.kind(),
            Error::Route(e) => e.kind(),
            Error::Confined(e) => e.kind(),
        }
    }

    /// The lifecycle step that failed, when one did.
    pub fn step(&self) -> Option<Step> {
        match self {
            Error::Engine(e) => e.step(),
            _ => None,
        }
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
