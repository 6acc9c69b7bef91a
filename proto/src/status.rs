//! Errors on the wire: a gRPC status code, plus metadata carrying the stable
//! [`ErrorKind`] name (`mcp-error-kind`) and, for a failed lifecycle step, the step
//! (`mcp-error-step`). The agent encodes with [`status`]; the client decodes with
//! [`from_status`]. The only mapping between errors and gRPC statuses.

use mcp_model::ErrorKind;
use mcp_model::view::Step;
use tonic::{Code, Status, metadata::MetadataValue};

/// Metadata key of the error kind.
pub const KIND_KEY: &str = "mcp-error-kind";
/// Metadata key of the failed step.
pub const STEP_KEY: &str = "mcp-error-step";

/// The gRPC code for a kind.
pub fn code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::Conflict | ErrorKind::FailedPrecondition | ErrorKind::NotConfigured => {
            Code::FailedPrecondition
        }
        ErrorKind::Exhausted => Code::ResourceExhausted,
        ErrorKind::Unavailable | ErrorKind::Unreachable => Code::Unavailable,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        _ => Code::Internal,
    }
}

/// An error the agent answered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RemoteError {
    /// Its stable classification.
    pub kind: ErrorKind,
    /// The lifecycle step that failed, when one did.
    pub step: Option<Step>,
    /// The agent's message.
    pub message: String,
}

/// A status for an error of `kind` (failed at `step`, if any) saying `message`,
/// with the kind and the step in the metadata.
pub fn status(kind: ErrorKind, step: Option<Step>, message: impl Into<String>) -> Status {
    let mut s = Status::new(code(kind), message);
    if let Ok(v) = MetadataValue::try_from(kind.as_str()) {
        s.metadata_mut().insert(KIND_KEY, v);
    }
    if let Some(step) = step
        && let Ok(v) = MetadataValue::try_from(step.as_str())
    {
        s.metadata_mut().insert(STEP_KEY, v);
    }
    s
}

/// The error a status carries.
pub fn from_status(s: &Status) -> RemoteError {
    let meta = |k: &str| s.metadata().get(k).and_then(|v| v.to_str().ok());
    let kind = meta(KIND_KEY)
        .and_then(ErrorKind::parse)
        .unwrap_or(match s.code() {
            Code::InvalidArgument => ErrorKind::InvalidInput,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists | Code::Aborted => ErrorKind::Conflict,
            Code::FailedPrecondition => ErrorKind::FailedPrecondition,
            Code::ResourceExhausted => ErrorKind::Exhausted,
            // The agent always names the kind: `Unknown` without it is tonic's word
            // for a connection that broke off mid-call, as unavailable as a
            // refused one.
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
                ErrorKind::Unavailable
            }
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Internal,
        });
    RemoteError {
        kind,
        step: meta(STEP_KEY).and_then(Step::parse),
        message: s.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_survive_the_wire() {
        for kind in ErrorKind::ALL {
            let back = from_status(&status(kind, None, "m"));
            assert_eq!(back.kind, kind);
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        }
        let bare = from_status(&Status::not_found("gone"));
        assert_eq!(bare.kind, ErrorKind::NotFound, "code alone suffices");
        let broken = from_status(&Status::unknown("transport error"));
        assert_eq!(broken.kind, ErrorKind::Unavailable, "a call that broke off");
        let failed = from_status(&status(ErrorKind::Unavailable, Some(Step::Health), "m"));
        assert_eq!(failed.step, Some(Step::Health));
    }
}
