//! What a node's logs say: the event log as it is read back ([`Event`]), and a
//! container's output, line by line ([`LogLine`]).

use std::time::SystemTime;

use serde::Serialize;

/// An event from a node's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// Increasing id, per node: the cursor to read on from.
    pub id: i64,
    /// The node it happened on.
    pub node: String,
    /// When it was recorded.
    #[serde(with = "crate::time::as_rfc3339")]
    pub at: SystemTime,
    /// Who did it (an account name, or `agent` for the agent's own actions).
    pub actor: String,
    /// What was done (`deploy`, `stop`, `drift`, …).
    pub action: String,
    /// The service concerned, if any.
    pub service: Option<String>,
    /// Human-readable detail.
    pub detail: String,
    /// The error, when the action failed.
    pub error: Option<String>,
}

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The container.
    pub container: String,
    /// The line, without its newline.
    pub line: String,
}
