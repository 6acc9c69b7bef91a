//! Exit codes, and the one place an error becomes one.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | invalid input: a bad definition or argument (and `validate` finding problems) |
//! | 2 | usage error (from clap) |
//! | 3 | not found |
//! | 4 | conflict, failed precondition or not configured (the node's state prevents it) |
//! | 5 | unavailable, unreachable or exhausted: retrying later, or freeing resources, may help |
//! | 6 | local I/O or internal error |
//! | 7 | authentication: no valid token, or not allowed |

use std::process::ExitCode;

use mcp_core::ErrorKind;
use mcp_core::fleet::results::NodeFailure;

use crate::output;

/// How a command ended, when it did not fail with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExitStatus {
    /// Everything as asked.
    Success,
    /// The command ran and found problems (invalid definitions, failed sync items,
    /// unreachable nodes).
    Problems,
    /// The command ran, but a node refused the caller's credentials (exit 7).
    Refused,
    /// `mcp exec`: the command's own exit status.
    Code(u8),
    /// `mcp diff` found a difference (exit 1, as `diff` does).
    Differs,
    /// `mcp diff` could not compare: invalid input, which is exit 1 elsewhere,
    /// is exit 2 here so that 1 always means a difference (as `diff`'s trouble).
    Trouble,
}

impl ExitStatus {
    /// `Problems` when `problems`, else `Success`.
    pub(crate) fn problems_if(problems: bool) -> Self {
        if problems {
            ExitStatus::Problems
        } else {
            ExitStatus::Success
        }
    }

    /// `Problems` when this is, or when `problems`.
    pub(crate) fn or_problems_if(self, problems: bool) -> Self {
        Self::problems_if(problems || self == ExitStatus::Problems)
    }

    /// Prints each node's failure to stderr; `Problems` when there was one.
    pub(crate) fn after(failures: &[NodeFailure]) -> Self {
        for f in failures {
            output::error(&f.to_string());
        }
        Self::problems_if(!failures.is_empty())
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> Self {
        match s {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Problems => ExitCode::from(1),
            ExitStatus::Refused => ExitCode::from(code(ErrorKind::Unauthenticated)),
            ExitStatus::Code(code) => ExitCode::from(code),
            ExitStatus::Differs => ExitCode::from(1),
            ExitStatus::Trouble => ExitCode::from(2),
        }
    }
}

/// The exit code for an error of `kind`.
pub(crate) fn code(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidInput => 1,
        ErrorKind::NotFound => 3,
        ErrorKind::Conflict | ErrorKind::FailedPrecondition | ErrorKind::NotConfigured => 4,
        ErrorKind::Unavailable | ErrorKind::Unreachable | ErrorKind::Exhausted => 5,
        ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => 7,
        _ => 6,
    }
}

/// Prints `message` to stderr and returns the exit code of `kind`.
pub(crate) fn fail(kind: ErrorKind, message: &str) -> ExitCode {
    output::error(&format!("error: {message}"));
    ExitCode::from(code(kind))
}

/// Prints `e` to stderr and returns its exit code.
pub(crate) fn report(e: &mcp_core::fleet::Error) -> ExitCode {
    fail(e.kind(), &e.to_string())
}
