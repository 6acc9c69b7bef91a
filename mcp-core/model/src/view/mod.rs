//! The results MCP reports, one type each, shared by every side: the agent builds
//! them, the wire carries them (`mcp_proto::convert`), and the CLI's `--json`,
//! Python's records and their `to_dict()` all show them through serde, so every
//! frontend carries the same fields under the same names (docs/json.md).
//!
//! Times serialise as RFC 3339 strings ([`crate::time`]), exactly in a format
//! that is not human-readable (the Python SDK's pickles); vocabularies
//! ([`Step`], [`ComponentChange`], [`SyncAction`], …) as their one spelling
//! ([`crate::words!`]).

mod dns;
mod event;
mod exec;
mod node;
mod placement;
mod preview;
mod report;
mod revision;
mod routes;
mod snapshot;
mod status;
mod sync;
mod usage;

#[cfg(test)]
mod tests;

pub use dns::DnsRecord;
pub use event::{Event, LogLine, LogQuery, Since};
pub use exec::{ExecInput, ExecOutput, ExecResult, WindowSize};
pub use node::{NodeInfo, NodeRole};
pub use placement::Placement;
pub use preview::{DeployPreview, NEW_PORT, PlanChange, PlannedComponent, PlannedItem};
pub use report::{ChangedComponent, ComponentChange, PortAssignment, Report, Step};
pub use revision::{NodeRollback, Revision, RevisionImage, RevisionResult};
pub use routes::{
    EdgeRouteRecord, EdgeRouteRequest, EdgeRouteStatus, ListenerStatus, ProxyRouteRecord,
    ProxyStatus, ProxyTable,
};
pub use snapshot::SnapshotInfo;
pub use status::{CertificateRecord, ComponentStatus, DesiredState, ServiceStatus, StatusReport};
pub use sync::{SyncAction, SyncItem};
pub use usage::ComponentUsage;
