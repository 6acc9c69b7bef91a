//! Errors on the wire: a gRPC status code, plus metadata carrying the stable
//! [`ErrorKind`] name (`mcp-error-kind`) and, for a failed lifecycle step, the step
//! (`mcp-error-step`). The agent encodes with [`to_status`]; the client decodes with
//! [`from_status`].

use tonic::{Code, Status, metadata::MetadataValue};

use super::ApiError;
use crate::ErrorKind;

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
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        _ => Code::Internal,
    }
}

/// A status for `kind` with `message` and the kind in the metadata.
pub fn status(kind: ErrorKind, message: impl Into<String>) -> Status {
    let mut s = Status::new(code(kind), message);
    if let Ok(v) = MetadataValue::try_from(kind.as_str()) {
        s.metadata_mut().insert(KIND_KEY, v);
    }
    s
}

/// The status for an error of this crate.
pub fn to_status(e: &crate::Error) -> Status {
    let mut s = status(e.kind(), e.to_string());
    if let crate::Error::Engine(crate::engine::EngineError::Step { step, .. }) = e
        && let Ok(v) = MetadataValue::try_from(step.as_str())
    {
        s.metadata_mut().insert(STEP_KEY, v);
    }
    s
}

/// The error a status carries.
pub fn from_status(s: &Status) -> ApiError {
    let meta = |k: &str| s.metadata().get(k).and_then(|v| v.to_str().ok());
    let kind = meta(KIND_KEY)
        .and_then(ErrorKind::parse)
        .unwrap_or(match s.code() {
            Code::InvalidArgument => ErrorKind::InvalidInput,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists | Code::Aborted => ErrorKind::Conflict,
            Code::FailedPrecondition => ErrorKind::FailedPrecondition,
            Code::ResourceExhausted => ErrorKind::Exhausted,
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => ErrorKind::Unavailable,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            _ => ErrorKind::Internal,
        });
    ApiError::Remote {
        kind,
        step: meta(STEP_KEY).map(str::to_owned),
        message: s.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_survive_the_wire() {
        for kind in [
            ErrorKind::InvalidInput,
            ErrorKind::NotFound,
            ErrorKind::Conflict,
            ErrorKind::Exhausted,
            ErrorKind::FailedPrecondition,
            ErrorKind::Unavailable,
            ErrorKind::Io,
            ErrorKind::Internal,
            ErrorKind::Unauthenticated,
            ErrorKind::PermissionDenied,
            ErrorKind::NotConfigured,
        ] {
            let back = from_status(&status(kind, "m"));
            assert_eq!(back.kind(), kind);
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        }
        let bare = from_status(&Status::not_found("gone"));
        assert_eq!(bare.kind(), ErrorKind::NotFound, "code alone suffices");
    }
}
