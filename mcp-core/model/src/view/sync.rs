//! A sync plan, line by line ([`SyncItem`]).

use serde::{Deserialize, Serialize};

crate::words! {
    /// What sync does with one service.
    pub enum SyncAction: "sync action" {
        /// An image the registry lacks is built and pushed (done by the operator's side).
        Build => "build",
        /// A new service.
        Deploy => "deploy",
        /// Its definition changed.
        Redeploy => "redeploy",
        /// `active = false` for a running service.
        Stop => "stop",
        /// `active = true` again for a service its definition had stopped.
        Start => "start",
        /// No definition any more (with prune).
        Undeploy => "undeploy",
        /// Nothing to do.
        Unchanged => "unchanged",
        /// A public service's edge routes set up or removed on the edge nodes (done by
        /// the operator's side).
        Edge => "edge",
        /// A `worker` service naming no node placed on a compute node (done by
        /// the operator's side).
        Place => "place",
    }
}

/// One line of a sync plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncItem {
    /// The service.
    pub service: String,
    /// What is (or would be) done.
    pub action: SyncAction,
    /// Why.
    pub reason: String,
    /// The error, when applying it failed.
    pub error: Option<String>,
}
