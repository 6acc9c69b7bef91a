//! The engine's errors: a step that failed (and was undone), or a request the
//! engine refuses before any step.

use mcp_model::ErrorKind;
use mcp_model::view::{NodeRole, Step};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A step failed; everything done before it was undone.
    #[error("{operation} {service}: step {}: {source}", step.as_str())]
    Step {
        /// The operation (`deploy`, `stop`, …).
        operation: &'static str,
        /// The service.
        service: String,
        /// The step that failed.
        step: Step,
        /// Why.
        #[source]
        source: Box<crate::Error>,
    },
    /// The definition is for another node.
    #[error("service {service} is for node {wanted}, but this is node {this}")]
    WrongNode {
        /// The service.
        service: String,
        /// The node the definition names.
        wanted: String,
        /// This node.
        this: String,
    },
    /// The definition names no node: the operator's side places a `worker`
    /// service before sending it.
    #[error("service {service} names no node: place it first (`mcp deploy` and `mcp sync` do)")]
    NotPlaced {
        /// The service.
        service: String,
    },
    /// A name breaks its rule.
    #[error(transparent)]
    Name(#[from] mcp_model::names::NameError),
    /// The service is not deployed here.
    #[error("service {0} is not deployed on this node")]
    NotDeployed(String),
    /// No container runs under the name a component to adopt should have.
    #[error("no such container to adopt (expected {container} for component {component})")]
    NothingToAdopt {
        /// The conventional container name.
        container: String,
        /// The component.
        component: String,
    },
    /// The operation conflicts with the service's state.
    #[error("{0}")]
    Conflict(String),
    /// A new container was not ready (its health check, or it did not keep
    /// running for its `ready_after`); the previous version serves. Boxed: it
    /// carries the container's last log lines.
    #[error(transparent)]
    Unhealthy(Box<super::health::HealthError>),
    /// The feature is not available yet, or not configured here.
    #[error("{0}")]
    Unsupported(String),
    /// The request does not fit this node's role (an edge route asked of a
    /// compute node, a deploy asked of an edge node).
    #[error("{node} is a{} {} node: {what} go to {} nodes", article(*role), role.as_str(), wanted.as_str())]
    WrongRole {
        /// This node.
        node: String,
        /// Its role.
        role: NodeRole,
        /// The role the request needs.
        wanted: NodeRole,
        /// What was asked (`edge routes`).
        what: &'static str,
    },
    /// An edge route this node must not serve.
    #[error("{0}")]
    EdgeRefused(#[from] EdgeRefusal),
    /// The service's state does not allow what was asked (a rollback with
    /// nothing to roll back to).
    #[error("{0}")]
    Precondition(String),
    /// The node runs as many of these as it takes at once (exec sessions).
    #[error("{0}")]
    Busy(String),
    /// A request that cannot be carried out as it is (an empty command).
    #[error("{0}")]
    Invalid(String),
    /// The service has no such revision kept on this node.
    #[error(
        "service {service} has no revision {number} on this node (mcp history {service} lists those kept)"
    )]
    NoRevision {
        /// The service.
        service: String,
        /// The revision asked for.
        number: u32,
    },
}

/// Why an edge node refuses an edge route.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EdgeRefusal {
    /// The public hostname is not a hostname.
    #[error("public hostname {hostname:?}: {problem}")]
    BadHostname {
        /// The hostname asked for.
        hostname: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The public hostname is outside `[edge] allowed_domains`.
    #[error("public hostname {hostname} is not under an allowed domain of {node} ([edge] allowed_domains: {})", if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") })]
    NotAllowed {
        /// The hostname asked for.
        hostname: String,
        /// The edge node.
        node: String,
        /// Its allowed domains.
        allowed: Vec<String>,
    },
    /// The backend hostname is outside the platform's zone.
    #[error("backend hostname {backend} is not in the platform zone {zone}")]
    BackendOutsideZone {
        /// The backend hostname asked for.
        backend: String,
        /// The zone.
        zone: String,
    },
    /// The service or node it is for is not a valid name.
    #[error("edge route: {0}")]
    BadName(#[from] mcp_model::names::NameError),
}

/// `n` before a vowel.
fn article(role: NodeRole) -> &'static str {
    if role.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
        "n"
    } else {
        ""
    }
}

impl From<super::health::HealthError> for EngineError {
    fn from(e: super::health::HealthError) -> Self {
        EngineError::Unhealthy(Box::new(e))
    }
}

impl EngineError {
    /// The stable classification of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Step { source, .. } => source.kind(),
            EngineError::WrongNode { .. } | EngineError::NotPlaced { .. } => {
                ErrorKind::InvalidInput
            }
            EngineError::Name(e) => e.kind(),
            EngineError::NotDeployed(_) | EngineError::NothingToAdopt { .. } => ErrorKind::NotFound,
            EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::Unhealthy(_) => ErrorKind::FailedPrecondition,
            EngineError::Unsupported(_) => ErrorKind::NotConfigured,
            EngineError::WrongRole { .. } => ErrorKind::FailedPrecondition,
            EngineError::EdgeRefused(_) => ErrorKind::InvalidInput,
            EngineError::Precondition(_) => ErrorKind::FailedPrecondition,
            EngineError::Invalid(_) => ErrorKind::InvalidInput,
            EngineError::Busy(_) => ErrorKind::Exhausted,
            EngineError::NoRevision { .. } => ErrorKind::NotFound,
        }
    }

    /// The failed step, for [`EngineError::Step`].
    pub fn step(&self) -> Option<Step> {
        match self {
            EngineError::Step { step, .. } => Some(*step),
            _ => None,
        }
    }
}

/// Maps an error of `step` of `operation` on `service` to [`EngineError::Step`].
pub(super) fn step_err(
    operation: &'static str,
    service: &str,
    step: Step,
) -> impl FnOnce(crate::Error) -> EngineError {
    let service = service.to_owned();
    move |e| EngineError::Step {
        operation,
        service,
        step,
        source: Box::new(e),
    }
}
