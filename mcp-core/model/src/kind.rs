//! The stable classification of errors: what every frontend maps, exactly once,
//! to a gRPC status, an exit code or a Python exception class. Imports nothing.

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
    /// A dependency failed or could not be reached; retrying later may succeed.
    Unavailable,
    /// The node's agent could not be reached at all: nothing was asked of it.
    Unreachable,
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
    /// Every kind.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::InvalidInput,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Exhausted,
        ErrorKind::FailedPrecondition,
        ErrorKind::Unavailable,
        ErrorKind::Unreachable,
        ErrorKind::Io,
        ErrorKind::Internal,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::NotConfigured,
    ];

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
            ErrorKind::Unreachable => "unreachable",
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
            "unreachable" => ErrorKind::Unreachable,
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

/// The error chain of `e` as one line, each cause once (tonic's and reqwest's
/// top-level messages are terse; the cause says what happened).
pub fn chain(e: &dyn std::error::Error) -> String {
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

#[cfg(test)]
mod tests {
    use super::ErrorKind;

    #[test]
    fn every_kind_has_a_name_that_parses_back() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
        }
    }
}
